import{r as e,t}from"./chunk-QB3YPZ4I-CqKu9NSu.js";import"./chunk-TU62E6Q5-V0Bjy9Q3.js";import{xn as n}from"./mermaid.core-L72KryVg.js";import"./chunk-HFQBQIA3-CUNKm4Xx.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};