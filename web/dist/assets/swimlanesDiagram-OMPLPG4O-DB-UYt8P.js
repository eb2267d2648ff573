import{r as e,t}from"./chunk-QB3YPZ4I-CWqdBZwt.js";import"./chunk-TU62E6Q5-jlZ7R50U.js";import{xn as n}from"./mermaid.core-Df21aHLK.js";import"./chunk-HFQBQIA3-D2Gfr0GA.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};