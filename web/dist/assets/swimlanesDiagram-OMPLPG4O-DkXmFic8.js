import{r as e,t}from"./chunk-QB3YPZ4I-DGN9uJ01.js";import"./chunk-TU62E6Q5-DsNirWlX.js";import{xn as n}from"./mermaid.core-J8ZukKuX.js";import"./chunk-HFQBQIA3-OqqZ6SGg.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};