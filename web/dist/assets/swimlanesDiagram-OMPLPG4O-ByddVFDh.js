import{r as e,t}from"./chunk-QB3YPZ4I--2g90WEg.js";import"./chunk-TU62E6Q5-BXqV2Ynm.js";import{xn as n}from"./mermaid.core-i7oOOYzM.js";import"./chunk-HFQBQIA3-DFV2DOKP.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};