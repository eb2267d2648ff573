import{r as e,t}from"./chunk-QB3YPZ4I-BAODGFoC.js";import"./chunk-TU62E6Q5-BO9067zH.js";import{xn as n}from"./mermaid.core-BG59dnuL.js";import"./chunk-HFQBQIA3-Dnt9aAWL.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};