import{r as e,t}from"./chunk-QB3YPZ4I-C30mYRP4.js";import"./chunk-TU62E6Q5-P5sqBZgR.js";import{xn as n}from"./mermaid.core-Cp0c6-0T.js";import"./chunk-HFQBQIA3-BjL4T0xI.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};