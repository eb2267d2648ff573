// The session list: every session of the server, newest activity first, with what each has
// used (tokens and cost, summed by the server as turns end), a new session, and deleting one.
import { useCallback, useEffect, useState } from "react";
import { Unauthorized, listSessions } from "./api";
import { NoToken, navigate } from "./App";
import { totalTokens } from "./Block";
import { Confirm } from "./Confirm";
import type { SessionInfo } from "./protocol";
import { NewSession } from "./NewSession";
import { Socket } from "./socket";

/** How often the list is read again while shown: states, activity and totals change as turns run. */
const LIST_REFRESH_MS = 5_000;

/** Token counts as a person reads them: 950, 12.3k, 4.1M. */
export function shortCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** Dollars: cents once there are dollars, else the fractions a short session costs. */
export function money(usd: number): string {
  return `$${usd.toFixed(usd >= 1 ? 2 : 4)}`;
}

function Usage({ s }: { s: SessionInfo }) {
  if (!s.usage) return null;
  const tokens = totalTokens(s.usage.tokens);
  return (
    <span className="usage" data-usage={s.id} title={`${tokens.toLocaleString()} tokens in ${s.usage.turns} turns`}>
      {shortCount(tokens)} tokens · {money(s.usage.cost_usd ?? 0)}
    </span>
  );
}

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function SessionList() {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const [query, setQuery] = useState("");
  const [creating, setCreating] = useState(false);
  // Kept apart from `error`, which the next refresh clears: a failed delete stays said.
  const [deleteError, setDeleteError] = useState<string | null>(null);

  const load = useCallback(
    () =>
      listSessions()
        .then((list) => {
          setSessions(list);
          setError(null);
        })
        .catch((e: unknown) => {
          if (e instanceof Unauthorized) setUnauthorized(true);
          else setError(String(e));
        }),
    [],
  );
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), LIST_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  // The list is read over HTTP; deleting is a protocol request, on a socket made for it.
  const remove = async (id: string) => {
    setDeleteError(null);
    const socket = new Socket();
    try {
      await socket.ready;
      await socket.request({ type: "session.delete", session_id: id });
      setSessions((list) => list && list.filter((s) => s.id !== id));
      await load();
    } catch (e) {
      setDeleteError(`deleting ${id}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      socket.close();
    }
  };

  if (unauthorized) return <NoToken why="the server refused this page's token" />;

  const shown = (sessions ?? []).filter((s) =>
    `${s.title ?? ""} ${s.id} ${s.agent}`.toLowerCase().includes(query.toLowerCase()),
  );
  return (
    <main className="sessions" data-screen="sessions">
      <header className="bar">
        <h1>Sessions</h1>
        <input
          type="search"
          placeholder="Search"
          aria-label="Search sessions"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <button onClick={() => setCreating(true)} data-action="new-session">
          New session
        </button>
        <a
          href="/docs/"
          data-tab="docs"
          onClick={(e) => {
            e.preventDefault();
            navigate("/docs/");
          }}
        >
          Docs &amp; context
        </a>
      </header>
      {creating ? <NewSession onClose={() => setCreating(false)} /> : null}
      {error ? <div className="error">{error}</div> : null}
      {deleteError ? (
        <div className="error" role="alert">
          {deleteError}
        </div>
      ) : null}
      {sessions === null ? (
        <p>Loading…</p>
      ) : shown.length === 0 ? (
        <p className="empty">No sessions yet.</p>
      ) : (
        <ul className="session-list">
          {shown.map((s) => (
            <li key={s.id}>
              <a
                href={`/sessions/${s.id}`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(`/sessions/${s.id}`);
                }}
              >
                <span className="title">{s.title ?? s.id}</span>
                <span className={`state state-${s.state}`}>{s.state}</span>
                <span className="meta">
                  {s.agent} · {s.sandbox}
                  {s.model ? ` · ${s.model}` : ""} · {ago(s.last_activity)}
                </span>
                <Usage s={s} />
              </a>
              <Confirm
                label="Delete"
                question={`Delete “${s.title ?? s.id}”?`}
                id={`delete-${s.id}`}
                onConfirm={() => void remove(s.id)}
              />
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
