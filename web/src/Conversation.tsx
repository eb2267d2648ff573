// One session: its conversation as the server's blocks (`session.attach` with the blocks view:
// the server's assembler builds them, the page only places them), the permission requests
// waiting for an answer, the composer, and what the terminal client can do to a session:
// interrupt its turn, stop it, delete it.
import { useEffect, useMemo, useRef, useState } from "react";
import { NoToken, navigate } from "./App";
import { SessionContext, totalTokens } from "./Block";
import { BlockList } from "./BlockList";
import { Confirm } from "./Confirm";
import { FilesPanel } from "./FilesPanel";
import type { ConversationBlock, PermissionDecision, SessionState } from "./protocol";
import { useSessionBlocks } from "./sessionBlocks";

function alwaysKey(id: string): string {
  return `aisys.always-allow.${id}`;
}

function loadAlways(id: string): Set<string> {
  try {
    const v: unknown = JSON.parse(window.sessionStorage.getItem(alwaysKey(id)) ?? "[]");
    return new Set(Array.isArray(v) ? v.filter((t): t is string => typeof t === "string") : []);
  } catch {
    return new Set();
  }
}

interface Pending {
  request_id: string;
  tool_name: string;
  input: unknown;
}

function pendingFromBlocks(blocks: ConversationBlock[]): Pending[] {
  const out: Pending[] = [];
  const walk = (bs: ConversationBlock[]) => {
    for (const b of bs) {
      if (b.type === "permission" && !b.decision)
        out.push({ request_id: b.request_id, tool_name: b.tool_name, input: b.input });
      if (b.type === "subagent_run") walk(b.blocks);
    }
  };
  walk(blocks);
  return out;
}

function describe(input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  for (const k of ["command", "file_path", "filePath", "path", "url"]) {
    if (typeof i[k] === "string") return i[k] as string;
  }
  return JSON.stringify(input);
}

/** Whether a turn runs that an interrupt would end. */
function busy(state: SessionState | null): boolean {
  return state === "running" || state === "awaiting_permission";
}

/** The session's tokens and cost so far, summed over its turns. */
function Usage({ blocks }: { blocks: ConversationBlock[] }) {
  let cost = 0;
  let tokens = 0;
  let turns = 0;
  for (const b of blocks) {
    if (b.type !== "turn_summary") continue;
    turns += 1;
    cost += b.cost_usd ?? 0;
    tokens += totalTokens(b.usage);
  }
  if (turns === 0) return null;
  return (
    <span className="usage" data-usage>
      {turns} turn{turns === 1 ? "" : "s"} · {tokens.toLocaleString()} tokens · ${cost.toFixed(4)}
    </span>
  );
}

export function Conversation({ id }: { id: string }) {
  const { blocks, state, error, setError, unauthorized, reconnecting, socket } = useSessionBlocks(id);
  const [answered, setAnswered] = useState<Set<string>>(new Set());
  const [draft, setDraft] = useState("");
  const [showFiles, setShowFiles] = useState(false);

  const pending = useMemo(
    () => pendingFromBlocks(blocks ?? []).filter((p) => !answered.has(p.request_id)),
    [blocks, answered],
  );

  // A permission request while the tab is hidden gets a system notification, so a user who
  // switched away (or put the phone down) learns that the agent waits.
  const notified = useRef<Set<string>>(new Set());
  useEffect(() => {
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    for (const p of pending) {
      if (notified.current.has(p.request_id)) continue;
      notified.current.add(p.request_id);
      if (document.hidden) new Notification(`aisys: ${p.tool_name} asks for permission`, { body: describe(p.input) });
    }
  }, [pending]);

  const send = async () => {
    const text = draft.trim();
    if (!text || !socket.current) return;
    // Asked once, on a user's own action, as browsers require.
    if (typeof Notification !== "undefined" && Notification.permission === "default") {
      void Notification.requestPermission();
    }
    try {
      await socket.current.request({ type: "session.message", session_id: id, text });
      setDraft("");
    } catch (e) {
      setError(String(e instanceof Error ? e.message : e));
    }
  };
  // The session's own controls. Each waits for the server's answer (the button is disabled
  // meanwhile); the state they lead to comes as the session's state frames.
  const [acting, setActing] = useState(false);
  const control = async (type: "session.interrupt" | "session.stop" | "session.delete") => {
    if (!socket.current) return false;
    setActing(true);
    try {
      await socket.current.request({ type, session_id: id });
      return true;
    } catch (e) {
      setError(String(e instanceof Error ? e.message : e));
      return false;
    } finally {
      setActing(false);
    }
  };
  const remove = async () => {
    if (await control("session.delete")) navigate("/");
  };
  const answer = (p: Pending, decision: PermissionDecision) => {
    socket.current
      ?.request({ type: "session.permission", session_id: id, request_id: p.request_id, decision })
      .then(() => setAnswered((a) => new Set(a).add(p.request_id)))
      .catch((e: unknown) => setError(String(e instanceof Error ? e.message : e)));
  };

  // Tools the reader chose to always allow in this session, as the terminal client offers: kept
  // for the tab's life (sessionStorage), and asked for twice, since it answers requests unseen.
  const [always, setAlways] = useState<Set<string>>(() => loadAlways(id));
  const [confirming, setConfirming] = useState<string | null>(null);
  const allowAlways = (p: Pending) => {
    const next = new Set(always).add(p.tool_name);
    setAlways(next);
    window.sessionStorage.setItem(alwaysKey(id), JSON.stringify([...next]));
    setConfirming(null);
    answer(p, "allow");
  };
  const autoAnswered = useRef<Set<string>>(new Set());
  useEffect(() => {
    for (const p of pending) {
      if (always.has(p.tool_name) && !autoAnswered.current.has(p.request_id)) {
        autoAnswered.current.add(p.request_id);
        answer(p, "allow");
      }
    }
  });

  if (unauthorized) return <NoToken why="the server refused this page's token" />;
  return (
    <main className="conversation" data-screen="conversation">
      <header className="bar">
        <a
          href="/"
          onClick={(e) => {
            e.preventDefault();
            navigate("/");
          }}
        >
          ← Sessions
        </a>
        <h1 className="session-id">{id}</h1>
        {state ? <span className={`state state-${state}`} data-state={state}>{state}</span> : null}
        <Usage blocks={blocks ?? []} />
        <button onClick={() => setShowFiles((v) => !v)} data-action="files" aria-pressed={showFiles}>
          Files
        </button>
        <a
          href={`/sessions/${id}/events`}
          onClick={(e) => {
            e.preventDefault();
            navigate(`/sessions/${id}/events`);
          }}
        >
          Events
        </a>
        <span className="session-actions">
          {busy(state) ? (
            <button onClick={() => void control("session.interrupt")} disabled={acting} data-action="interrupt" title="Interrupt the running turn (Esc)">
              Interrupt
            </button>
          ) : null}
          {state && state !== "stopped" ? (
            <button
              onClick={() => void control("session.stop")}
              disabled={acting}
              data-action="stop"
              title="Stop the agent and release its sandbox; the session stays"
            >
              Stop
            </button>
          ) : null}
          <Confirm
            label="Delete"
            question="Delete this session?"
            id="delete"
            disabled={acting}
            onConfirm={() => void remove()}
          />
        </span>
      </header>
      {pending.length > 0 ? (
        <div className="banner" role="alert" data-banner="permission">
          {pending.map((p) => (
            <div key={p.request_id} className="request">
              <div>
                <b>{p.tool_name}</b> asks for permission: <code>{describe(p.input)}</code>
              </div>
              {confirming === p.request_id ? (
                <div className="choices">
                  <button onClick={() => allowAlways(p)} data-action="confirm-always">
                    Yes: never ask for {p.tool_name} in this session
                  </button>
                  <button onClick={() => setConfirming(null)} data-action="back">
                    Back
                  </button>
                </div>
              ) : (
                <div className="choices">
                  <button onClick={() => answer(p, "allow")} data-action="allow">
                    Allow once
                  </button>
                  <button onClick={() => setConfirming(p.request_id)} data-action="always">
                    Always allow {p.tool_name}
                  </button>
                  <button onClick={() => answer(p, "deny")} data-action="deny">
                    Deny
                  </button>
                </div>
              )}
            </div>
          ))}
        </div>
      ) : null}
      {reconnecting ? (
        <div className="error" role="status" data-connection="lost">
          The connection to the server was lost; connecting again…
        </div>
      ) : null}
      {error ? <div className="error">{error}</div> : null}
      {showFiles && socket.current ? (
        <FilesPanel socket={socket.current} id={id} />
      ) : null}
      <section className="blocks" aria-live="polite">
        {blocks === null ? (
          <p>Loading…</p>
        ) : (
          <SessionContext.Provider value={id}>
            <BlockList blocks={blocks} />
          </SessionContext.Provider>
        )}
      </section>
      <footer className="composer">
        <textarea
          value={draft}
          placeholder="Message (Enter sends, Shift-Enter new line, Esc interrupts)"
          aria-label="Message"
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send();
            } else if (e.key === "Escape") {
              // As before the button: sent in any state (a turn waiting for its sandbox ends too),
              // and a refusal is not worth an error for a key pressed in passing.
              socket.current?.request({ type: "session.interrupt", session_id: id }).catch(() => {});
            }
          }}
        />
        <button onClick={() => void send()} data-action="send">
          Send
        </button>
      </footer>
    </main>
  );
}
