import{r as e,t}from"./chunk-QB3YPZ4I-DufZ_JbQ.js";import"./chunk-TU62E6Q5-Dena1vtN.js";import{xn as n}from"./mermaid.core-DC-9KteM.js";import"./chunk-HFQBQIA3-Bqn0CaAi.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};