import{r as e,t}from"./chunk-QB3YPZ4I-BMBZiEPy.js";import"./chunk-TU62E6Q5-AzHuLo9Q.js";import{xn as n}from"./mermaid.core-BiLdvOsh.js";import"./chunk-HFQBQIA3-CyH9a1dx.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};