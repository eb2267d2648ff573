import{r as e,t}from"./chunk-QB3YPZ4I-BUoBE3x_.js";import"./chunk-TU62E6Q5-CAB6MVXu.js";import{xn as n}from"./mermaid.core-QnOx5H5j.js";import"./chunk-HFQBQIA3-CQMNHXcL.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};