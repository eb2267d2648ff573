import{r as e,t}from"./chunk-QB3YPZ4I-BZlbQ-5u.js";import"./chunk-TU62E6Q5-bkryNq2K.js";import{xn as n}from"./mermaid.core-D36BRzEV.js";import"./chunk-HFQBQIA3-BKzvWaqh.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};