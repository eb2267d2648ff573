// The session list: every session of the server, newest activity first, and a new session.
import { useEffect, useState } from "react";
import { Unauthorized, listSessions } from "./api";
import { NoToken, navigate } from "./App";
import type { SessionInfo } from "./protocol";
import { NewSession } from "./NewSession";

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

  useEffect(() => {
    listSessions()
      .then(setSessions)
      .catch((e: unknown) => {
        if (e instanceof Unauthorized) setUnauthorized(true);
        else setError(String(e));
      });
  }, []);

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
              </a>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
