import{r as e,t}from"./chunk-QB3YPZ4I-50EKrK0U.js";import"./chunk-TU62E6Q5-CYqhujPS.js";import{xn as n}from"./mermaid.core-ClaOzkIX.js";import"./chunk-HFQBQIA3-xzOOhpb6.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};