// One subagent's run on a page of its own (`/sessions/<id>/agents/<block id>`): the prompt it
// was given, its tool calls, everything it did in order, and the result it handed back. The run
// is a block of the session's conversation, kept live like the conversation itself.
import { NoToken, navigate } from "./App";
import { Block, SessionContext, inputSummary, resultText } from "./Block";
import { BlockList } from "./BlockList";
import { Markdown } from "./Markdown";
import type { ConversationBlock } from "./protocol";
import { useSessionBlocks } from "./sessionBlocks";

type Run = Extract<ConversationBlock, { type: "subagent_run" }>;

/** The subagent run with this block id, wherever it is nested. */
export function findRun(blocks: ConversationBlock[], id: string): Run | null {
  for (const b of blocks) {
    if (b.type !== "subagent_run") continue;
    if (b.id === id) return b;
    const inner = findRun(b.blocks, id);
    if (inner) return inner;
  }
  return null;
}

/** The result's text parts as paragraphs of their own (an agent hands back several). */
function resultParts(r: Run["result"]): string {
  return Array.isArray(r) ? r.map((p) => resultText([p])).join("\n\n") : resultText(r);
}

function promptOf(run: Run): string {
  const p = (run.input as { prompt?: unknown } | null)?.prompt;
  return typeof p === "string" ? p : JSON.stringify(run.input, null, 2);
}

export function SubagentView({ session, run: runId }: { session: string; run: string }) {
  const { blocks, state, error, unauthorized } = useSessionBlocks(session);
  if (unauthorized) return <NoToken why="the server refused this page's token" />;
  const run = blocks ? findRun(blocks, runId) : null;
  const back = `/sessions/${encodeURIComponent(session)}`;
  const calls = run ? run.blocks.filter((b) => b.type === "tool_call" || b.type === "subagent_run") : [];
  return (
    <main className="subagent-view" data-screen="subagent">
      <header className="bar">
        <a
          href={back}
          onClick={(e) => {
            e.preventDefault();
            navigate(back);
          }}
        >
          ← Conversation
        </a>
        <h1>
          {run ? `Subagent ${run.subagent_type ?? run.name}` : "Subagent"}
          {run?.description ? `: ${run.description}` : ""}
        </h1>
        {run ? (
          <span className={`state status-${run.status}`} data-run-status={run.status}>
            {run.status}
          </span>
        ) : state ? (
          <span className="state">{state}</span>
        ) : null}
      </header>
      {error ? <div className="error">{error}</div> : null}
      {blocks === null ? (
        <p>Loading…</p>
      ) : run === null ? (
        <p className="empty">This session has no subagent run {runId}.</p>
      ) : (
        <SessionContext.Provider value={session}>
          <section className="run-part" data-part="prompt">
            <h2>Prompt</h2>
            <Markdown text={promptOf(run)} />
          </section>
          <section className="run-part" data-part="calls">
            <h2>Tool calls ({calls.length})</h2>
            {calls.length === 0 ? (
              <p className="empty">None.</p>
            ) : (
              <ol className="run-calls">
                {calls.map((c) =>
                  c.type === "tool_call" ? (
                    <li key={c.id} data-call={c.name} className={`status-${c.status}`}>
                      <b>{c.name}</b> <code>{inputSummary(c.name, c.input)}</code> <span>{c.status}</span>
                    </li>
                  ) : c.type === "subagent_run" ? (
                    <li key={c.id} data-call={c.name} className={`status-${c.status}`}>
                      <b>{c.name}</b> <code>{c.description ?? ""}</code> <span>{c.status}</span>
                    </li>
                  ) : null,
                )}
              </ol>
            )}
          </section>
          <section className="run-part" data-part="result">
            <h2>Result</h2>
            {run.result == null ? (
              <p className="empty">{run.status === "pending" ? "Still running…" : "No result."}</p>
            ) : (
              <Markdown text={resultParts(run.result)} />
            )}
          </section>
          <section className="run-part blocks" data-part="steps">
            <h2>Everything it did</h2>
            {run.blocks.length > 50 ? (
              <BlockList blocks={run.blocks} />
            ) : (
              run.blocks.map((b) => (
                <div key={b.id} data-block-id={b.id}>
                  <Block block={b} />
                </div>
              ))
            )}
          </section>
        </SessionContext.Provider>
      )}
    </main>
  );
}
