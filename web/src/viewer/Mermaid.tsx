// A Mermaid diagram, drawn by the `mermaid` package. The package is large, so it is its own
// chunk, loaded the first time a page holds a diagram; it is bundled with the app and needs no
// network. `securityLevel: "strict"` makes Mermaid sanitize labels and refuse click handlers.
import { useEffect, useRef, useState } from "react";

type MermaidApi = (typeof import("mermaid"))["default"];

let loading: Promise<MermaidApi> | null = null;
let nextId = 0;

function loadMermaid(): Promise<MermaidApi> {
  loading ??= import("mermaid").then((m) => {
    const dark = window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
    m.default.initialize({ startOnLoad: false, securityLevel: "strict", theme: dark ? "dark" : "default" });
    return m.default;
  });
  return loading;
}

export function Mermaid({ source }: { source: string }) {
  const target = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<"drawing" | "drawn" | { error: string }>("drawing");
  useEffect(() => {
    let current = true;
    const id = `mermaid-${++nextId}`;
    loadMermaid()
      .then((m) => m.render(id, source))
      .then(({ svg }) => {
        if (!current || !target.current) return;
        target.current.innerHTML = svg;
        setState("drawn");
      })
      .catch((e: unknown) => {
        // Mermaid leaves its scratch element behind when the source does not parse.
        document.getElementById(`d${id}`)?.remove();
        if (current) setState({ error: e instanceof Error ? e.message : String(e) });
      });
    return () => {
      current = false;
    };
  }, [source]);
  return (
    <div className="mermaid-diagram" data-diagram="mermaid">
      <div ref={target} />
      {state === "drawing" ? <p className="muted">Drawing the diagram…</p> : null}
      {typeof state === "object" ? (
        <div className="error">
          <p>This Mermaid diagram could not be drawn: {state.error}</p>
          <pre>{source}</pre>
        </div>
      ) : null}
    </div>
  );
}
