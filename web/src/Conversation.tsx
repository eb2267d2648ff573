// One session: its conversation as the server's blocks, kept live over the WebSocket, the
// permission requests waiting for an answer, and the composer.
import { useCallback, useEffect, useRef, useState } from "react";
import { Unauthorized, sessionBlocks } from "./api";
import { NoToken, navigate } from "./App";
import { Block, totalTokens } from "./Block";
import type { ConversationBlock, PermissionDecision, SessionState } from "./protocol";
import { Socket } from "./socket";

/** Events that arrive together are folded into one refresh of the blocks. */
const REFRESH_DEBOUNCE_MS = 120;

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
  const [pending, setPending] = useState<Pending[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const [draft, setDraft] = useState("");
  const socket = useRef<Socket | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const refresh = useCallback(async () => {
    const b = await sessionBlocks(id);
    setBlocks(b.blocks);
    setPending(pendingFromBlocks(b.blocks));
    return b.last_seq;
  }, [id]);

  useEffect(() => {
    let closed = false;
    const s = new Socket();
    socket.current = s;
    const later = () => {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => {
        refresh().catch((e: unknown) => setError(String(e)));
      }, REFRESH_DEBOUNCE_MS);
    };
    s.listen((f) => {
      if (f.type === "event" && f.session_id === id) later();
      if (f.type === "session.state" && f.session_id === id) setState(f.state);
      if (f.type === "resync" && f.session_id === id) later();
    });
    (async () => {
      const lastSeq = await refresh();
      await s.ready;
      if (closed) return;
      const reply = await s.request({ type: "session.attach", session_id: id, after_seq: lastSeq });
      if (reply.type === "session.attached") setState(reply.session.state);
      // Anything that happened between the read and the attach arrived as events; read again
      // so that nothing is missed either way.
      later();
    })().catch((e: unknown) => {
      if (e instanceof Unauthorized) setUnauthorized(true);
      else setError(String(e instanceof Error ? e.message : e));
    });
    return () => {
      closed = true;
      window.clearTimeout(timer.current);
      s.close();
    };
  }, [id, refresh]);

  const send = async () => {
    const text = draft.trim();
    if (!text || !socket.current) return;
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
      .then(() => setPending((ps) => ps.filter((x) => x.request_id !== p.request_id)))
      .catch((e: unknown) => setError(String(e instanceof Error ? e.message : e)));
  };

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
              <div className="choices">
                <button onClick={() => answer(p, "allow")} data-action="allow">
                  Allow once
                </button>
                <button onClick={() => answer(p, "deny")} data-action="deny">
                  Deny
                </button>
              </div>
            </div>
          ))}
        </div>
      ) : null}
      {error ? <div className="error">{error}</div> : null}
      <section className="blocks" aria-live="polite">
        {blocks === null ? <p>Loading…</p> : blocks.map((b) => <Block key={b.id} block={b} />)}
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
