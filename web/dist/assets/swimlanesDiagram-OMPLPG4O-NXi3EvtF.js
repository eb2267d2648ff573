import{r as e,t}from"./chunk-QB3YPZ4I-DRske8TK.js";import"./chunk-TU62E6Q5-sEgn4S-W.js";import{xn as n}from"./mermaid.core-B-xtTXg-.js";import"./chunk-HFQBQIA3-CAHZ2HMe.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};