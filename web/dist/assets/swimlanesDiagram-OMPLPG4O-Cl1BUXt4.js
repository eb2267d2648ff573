import{r as e,t}from"./chunk-QB3YPZ4I-BfX6WgkZ.js";import"./chunk-TU62E6Q5-Dw84tI0m.js";import{xn as n}from"./mermaid.core-Ci-uuhJS.js";import"./chunk-HFQBQIA3-CguGuwM3.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};