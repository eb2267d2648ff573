import{r as e,t}from"./chunk-QB3YPZ4I-B4GhRmIq.js";import"./chunk-TU62E6Q5-DX3kgZUO.js";import{xn as n}from"./mermaid.core-CS4JRkym.js";import"./chunk-HFQBQIA3-C2cPZDlW.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};