import{r as e,t}from"./chunk-QB3YPZ4I-D57pR_9Q.js";import"./chunk-TU62E6Q5-CE0fxdJG.js";import{xn as n}from"./mermaid.core-Dnv3RX-U.js";import"./chunk-HFQBQIA3-BWxFGbSb.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};