// One conversation block, as the server's assembler made it. Every string shown comes from an
// agent and is rendered as text (or sanitized Markdown), never as HTML.
import { createContext, memo, useContext } from "react";
import { navigate } from "./App";
import type { ConversationBlock, TokenUsage, ToolResultContent } from "./protocol";
import { Markdown } from "./Markdown";
import { fileChange } from "./ToolView";

/** Tool output longer than this many characters starts folded. */
const FOLD_CHARS = 600;

/** Every token a turn used, cached ones included, as the header's session total counts them. */
export function totalTokens(u: TokenUsage | null | undefined): number {
  if (!u) return 0;
  return (u.input_tokens ?? 0) + (u.output_tokens ?? 0) + (u.cache_read_tokens ?? 0) + (u.cache_creation_tokens ?? 0);
}

/** Notices whose text already says what they are ("… hook: success", "loaded skill …"). */
const SELF_NAMED_NOTICES = new Set(["hook", "skill_load"]);

/** The label shown before a notice's text: its kind in words, or none when the text names it. */
function noticeLabel(kind: string): string | null {
  return SELF_NAMED_NOTICES.has(kind) ? null : kind.replace(/_/g, " ");
}

/** The session whose blocks are shown, when they are a session's (the subagent links need it). */
export const SessionContext = createContext<string | null>(null);

/** The address of a subagent run's own page. */
export function subagentPath(session: string, blockId: string): string {
  return `/sessions/${encodeURIComponent(session)}/agents/${encodeURIComponent(blockId)}`;
}

export function resultText(r: ToolResultContent | null | undefined): string {
  if (r == null) return "";
  if (typeof r === "string") return r;
  return r
    .map((part) => {
      const p = part as { type?: string; text?: string };
      return p.type === "text" && typeof p.text === "string" ? p.text : JSON.stringify(part);
    })
    .join("\n");
}

function Folded({ summary, text }: { summary: string; text: string }) {
  if (!text) return null;
  if (text.length <= FOLD_CHARS) return <pre className="out">{text}</pre>;
  return (
    <details>
      <summary>{summary} ({text.length} characters)</summary>
      <pre className="out">{text}</pre>
    </details>
  );
}

export function inputSummary(name: string, input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const pick = (k: string) => (typeof i[k] === "string" ? (i[k] as string) : undefined);
  return (
    (name === "Bash" && pick("command")) ||
    pick("file_path") ||
    pick("filePath") ||
    pick("path") ||
    pick("pattern") ||
    pick("description") ||
    ""
  );
}

/**
 * One block. Memoized: a block the server did not change keeps its object, so the rows that
 * scroll in and out of a long list re-render only when their block changed. A `light` block (a
 * row that came into view during fast scrolling) shows its text without Markdown, highlighting
 * or diffs, which cost far more than a frame when a screenful of rows arrives at once; its list
 * renders it in full once the scrolling stops.
 */
export const Block = memo(function Block({ block, light }: { block: ConversationBlock; light?: boolean }) {
  if (light && block.type === "assistant_text")
    return (
      <div className="block assistant light" data-kind="assistant_text">
        <div className="md">
          <p className="plain">{block.text}</p>
        </div>
      </div>
    );
  return <BlockBody block={block} light={light} />;
});

function SubagentLink({ id }: { id: string }) {
  const session = useContext(SessionContext);
  if (!session) return null;
  const href = subagentPath(session, id);
  return (
    <a
      href={href}
      className="open-run"
      data-action="open-subagent"
      onClick={(e) => {
        e.preventDefault();
        e.stopPropagation();
        navigate(href);
      }}
    >
      Open run
    </a>
  );
}

function BlockBody({ block, light }: { block: ConversationBlock; light?: boolean }) {
  switch (block.type) {
    case "user_message":
      return (
        <div className="block user" data-kind="user_message">
          <div className="who">You</div>
          <div className="text">{block.text}</div>
        </div>
      );
    case "assistant_text":
      return (
        <div className="block assistant" data-kind="assistant_text">
          <Markdown text={block.text} />
        </div>
      );
    case "thinking":
      return (
        <details className="block thinking" data-kind="thinking">
          <summary>Thinking</summary>
          {block.redacted ? <em>redacted</em> : <pre className="out">{block.text}</pre>}
        </details>
      );
    case "tool_call":
      return (
        <div className={`block tool status-${block.status}`} data-kind="tool_call">
          <div className="tool-head">
            <span className="tool-name">{block.name}</span>{" "}
            <code className="tool-arg">{inputSummary(block.name, block.input)}</code>{" "}
            <span className="tool-status">{block.status}</span>
          </div>
          {(!light && fileChange(block.name, block.input)) || (
            <details>
              <summary>input</summary>
              <pre className="out">{JSON.stringify(block.input, null, 2)}</pre>
            </details>
          )}
          <Folded summary="output" text={resultText(block.result)} />
        </div>
      );
    case "subagent_run":
      return (
        <details className="block subagent" data-kind="subagent_run" open>
          <summary>
            Subagent {block.subagent_type ?? block.name}: {block.description ?? ""} ({block.status}){" "}
            <SubagentLink id={block.id} />
          </summary>
          <div className="nested">
            {block.blocks.map((b) => (
              <Block key={b.id} block={b} />
            ))}
          </div>
        </details>
      );
    case "permission":
      return (
        <div className="block permission" data-kind="permission">
          Permission for <b>{block.tool_name}</b>:{" "}
          {block.decision ? <span className={`decision-${block.decision}`}>{block.decision}</span> : <em>waiting</em>}
          {block.message ? <span> ({block.message})</span> : null}
        </div>
      );
    case "system_notice": {
      const label = noticeLabel(block.kind);
      return (
        <div className="block notice" data-kind="system_notice">
          {label ? <span className="kind">{label}</span> : null} {block.text}
        </div>
      );
    }
    case "compaction_summary":
      return (
        <details className="block notice" data-kind="compaction_summary">
          <summary>Earlier conversation, summarized</summary>
          <Markdown text={block.text} />
        </details>
      );
    case "turn_summary":
      return (
        <div className={`block turn status-${block.status}`} data-kind="turn_summary">
          Turn {block.status}
          {block.duration_ms != null ? ` · ${(block.duration_ms / 1000).toFixed(1)} s` : ""}
          {block.cost_usd != null ? ` · $${block.cost_usd.toFixed(4)}` : ""}
          {block.usage ? ` · ${totalTokens(block.usage).toLocaleString()} tokens` : ""}
          {block.error ? <div className="error">{block.error}</div> : null}
        </div>
      );
    case "error":
      return (
        <div className="block error" data-kind="error">
          {block.code ? <b>{block.code}: </b> : null}
          {block.message}
        </div>
      );
    case "raw":
      return (
        <details className="block raw" data-kind="raw">
          <summary>{block.source ?? "unrecognized line"}</summary>
          <pre className="out">{JSON.stringify(block.json, null, 2)}</pre>
        </details>
      );
  }
}
