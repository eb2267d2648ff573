import{r as e,t}from"./chunk-QB3YPZ4I-BqRKssiv.js";import"./chunk-TU62E6Q5-CkuBmFpc.js";import{xn as n}from"./mermaid.core-DsSFu3t3.js";import"./chunk-HFQBQIA3-CJeJ7qVd.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};