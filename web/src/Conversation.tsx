// One session: its conversation as the server's blocks (`session.attach` with the blocks view:
// the server's assembler builds them, the page only places them), the permission requests
// waiting for an answer, and the composer.
import { useEffect, useMemo, useRef, useState } from "react";
import { Unauthorized, checkSession } from "./api";
import { NoToken, navigate } from "./App";
import { totalTokens } from "./Block";
import { BlockList } from "./BlockList";
import { FilesPanel } from "./FilesPanel";
import type { ConversationBlock, PermissionDecision, SessionState } from "./protocol";
import { Socket } from "./socket";

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

/** How long block frames gather before the page applies them at once. */
const BLOCK_BATCH_MS = 16;

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
  const [blocks, setBlocks] = useState<ConversationBlock[] | null>(null);
  const [state, setState] = useState<SessionState | null>(null);
  const [answered, setAnswered] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const [draft, setDraft] = useState("");
  const [showFiles, setShowFiles] = useState(false);
  const socket = useRef<Socket | null>(null);

  useEffect(() => {
    let closed = false;
    const s = new Socket();
    socket.current = s;
    // Block frames come one per message; apply them together a moment later, so that a long
    // session's first load is one render, not one per block. (A timer, not an animation frame:
    // a hidden tab gets no animation frames, and it must still see permission requests.)
    let queued = new Map<number, ConversationBlock>();
    let frame = 0;
    const flush = () => {
      frame = 0;
      const updates = queued;
      queued = new Map();
      setBlocks((prev) => {
        const next = prev ? prev.slice() : [];
        for (const [i, b] of updates) next[i] = b;
        return next;
      });
    };
    s.listen((f) => {
      if (f.type === "blocks" && f.session_id === id) {
        // The whole conversation: it replaces what the page had, and block frames queued before
        // it are older than it.
        queued = new Map();
        setBlocks(f.blocks);
      }
      if (f.type === "block" && f.session_id === id) {
        queued.set(f.index, f.block);
        if (!frame) frame = window.setTimeout(flush, BLOCK_BATCH_MS);
      }
      if (f.type === "session.state" && f.session_id === id) setState(f.state);
    });
    (async () => {
      // Without a valid token the API says so plainly; the socket would only fail to open.
      await checkSession(id);
      await s.ready;
      if (closed) return;
      const reply = await s.request({ type: "session.attach", session_id: id, view: "blocks" });
      if (reply.type === "session.attached") {
        setState(reply.session.state);
        setBlocks((prev) => prev ?? []);
      }
    })().catch((e: unknown) => {
      if (e instanceof Unauthorized) setUnauthorized(true);
      else setError(String(e instanceof Error ? e.message : e));
    });
    return () => {
      closed = true;
      if (frame) window.clearTimeout(frame);
      s.close();
    };
  }, [id]);

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
  const interrupt = () => {
    socket.current?.request({ type: "session.interrupt", session_id: id }).catch(() => {});
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
      {error ? <div className="error">{error}</div> : null}
      {showFiles && socket.current ? (
        <FilesPanel socket={socket.current} id={id} />
      ) : null}
      <section className="blocks" aria-live="polite">
        {blocks === null ? <p>Loading…</p> : <BlockList blocks={blocks} />}
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
              interrupt();
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
