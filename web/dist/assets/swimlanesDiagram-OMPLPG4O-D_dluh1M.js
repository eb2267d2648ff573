import{r as e,t}from"./chunk-QB3YPZ4I-D9X4p4U8.js";import"./chunk-TU62E6Q5-DYoShzNi.js";import{xn as n}from"./mermaid.core-Dwn5aVhF.js";import"./chunk-HFQBQIA3-BOCQihq7.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};