import{r as e,t}from"./chunk-QB3YPZ4I-BTsiG71a.js";import"./chunk-TU62E6Q5-w6t0rDSj.js";import{xn as n}from"./mermaid.core-C1A9AbzN.js";import"./chunk-HFQBQIA3-C1BxjIaZ.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};