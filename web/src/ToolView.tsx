// How a file-changing tool call is shown: Write as the file it creates, Edit and MultiEdit as a
// line diff (computed by the `diff` library), for Claude Code's and OpenCode's spellings of the
// same tools. Everything is rendered as text.
import type { ReactElement } from "react";
import { diffLines } from "diff";

/** A diff or a new file longer than this many lines starts folded after its head. */
const HEAD_LINES = 40;

interface Line {
  kind: "add" | "del" | "same";
  text: string;
}

function linesOf(text: string, kind: Line["kind"]): Line[] {
  const parts = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  return parts.map((t) => ({ kind, text: t }));
}

function diff(oldText: string, newText: string): Line[] {
  const out: Line[] = [];
  for (const change of diffLines(oldText, newText)) {
    out.push(...linesOf(change.value, change.added ? "add" : change.removed ? "del" : "same"));
  }
  return out;
}

function Lines({ lines }: { lines: Line[] }) {
  const sign = { add: "+", del: "-", same: " " };
  const render = (ls: Line[], offset: number) =>
    ls.map((l, i) => (
      <div key={offset + i} className={`dl dl-${l.kind}`}>
        <span className="sign">{sign[l.kind]}</span>
        {l.text}
      </div>
    ));
  if (lines.length <= HEAD_LINES) return <pre className="diff">{render(lines, 0)}</pre>;
  return (
    <div>
      <pre className="diff">{render(lines.slice(0, HEAD_LINES), 0)}</pre>
      <details>
        <summary>{lines.length - HEAD_LINES} more lines</summary>
        <pre className="diff">{render(lines.slice(HEAD_LINES), HEAD_LINES)}</pre>
      </details>
    </div>
  );
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The diff view of a tool call, or null when the tool changes no file this way. */
export function fileChange(name: string, input: unknown): ReactElement | null {
  const i = (input ?? {}) as Record<string, unknown>;
  const tool = name.toLowerCase();
  if (tool === "write") {
    const content = str(i.content);
    if (content === undefined) return null;
    return <Lines lines={linesOf(content, "add")} />;
  }
  if (tool === "edit") {
    const oldText = str(i.old_string) ?? str(i.oldString);
    const newText = str(i.new_string) ?? str(i.newString);
    if (oldText === undefined || newText === undefined) return null;
    return <Lines lines={diff(oldText, newText)} />;
  }
  if (tool === "multiedit" && Array.isArray(i.edits)) {
    const lines: Line[] = [];
    for (const e of i.edits as Record<string, unknown>[]) {
      const oldText = str(e.old_string) ?? str(e.oldString) ?? "";
      const newText = str(e.new_string) ?? str(e.newString) ?? "";
      if (lines.length) lines.push({ kind: "same", text: "⋯" });
      lines.push(...diff(oldText, newText));
    }
    return <Lines lines={lines} />;
  }
  return null;
}
