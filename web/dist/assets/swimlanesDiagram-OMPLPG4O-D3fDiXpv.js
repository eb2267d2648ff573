import{r as e,t}from"./chunk-QB3YPZ4I-BuWSOXMc.js";import"./chunk-TU62E6Q5-qT1tkOid.js";import{xn as n}from"./mermaid.core-wTrKuCy3.js";import"./chunk-HFQBQIA3-DAKiFpwY.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};