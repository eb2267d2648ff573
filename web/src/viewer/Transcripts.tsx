// The Transcripts tab: Claude Code's sessions on this machine (newest first, searchable by their
// text), and one session rendered by the server with the same HTML renderer as `aisys transcript
// parse --format html` (its text is escaped there; subagents nest under their calls), with its
// usage. An open session is re-read as its file grows.
import { useCallback, useEffect, useState } from "react";
import { navigate } from "../App";
import { type TranscriptInfo, type TranscriptView, transcriptList, transcriptView } from "./api";
import { useLive } from "./live";
import { ViewerShell, useFailure } from "./Shell";

/** How long typing pauses before a search is sent. */
const SEARCH_DELAY_MS = 250;

function sessionUrl(file: string): string {
  return `/transcripts/${file.split("/").map(encodeURIComponent).join("/")}`;
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "";
}

const tokens = new Intl.NumberFormat();

function SessionView({ file }: { file: string }) {
  const [view, setView] = useState<TranscriptView | null>(null);
  const [failure, fail] = useFailure();
  const load = useCallback(() => {
    transcriptView(file).then(setView).catch(fail);
  }, [file, fail]);
  useEffect(load, [load]);
  // The session file, or one of its subagents' files (in the folder named after it), grew.
  const stem = file.replace(/\.jsonl$/, "");
  useLive((c) => {
    if (c.type === "resync" || (c.type === "transcripts" && c.paths.some((p) => p.endsWith(file) || p.includes(`${stem}/`))))
      load();
  });
  if (failure.unauthorized) return failure.screen;
  return (
    <ViewerShell tab="transcripts">
      <main className="transcript" data-transcript={file}>
        <div className="bar">
          <button onClick={() => navigate("/transcripts")}>All sessions</button>
          <h1>{view?.title ?? file}</h1>
        </div>
        {failure.message ? <div className="error">{failure.message}</div> : null}
        {view ? (
          <>
            <table className="usage-table" data-usage="session">
              <thead>
                <tr>
                  <th>model</th>
                  <th>input</th>
                  <th>output</th>
                  <th>cache write</th>
                  <th>cache read</th>
                  <th>cost</th>
                </tr>
              </thead>
              <tbody>
                {[...view.usage.groups, { key: "total", ...view.usage.total }].map((g) => (
                  <tr key={g.key} className={g.key === "total" ? "total" : undefined}>
                    <td>{g.key}</td>
                    <td>{tokens.format(g.input_tokens)}</td>
                    <td>{tokens.format(g.output_tokens)}</td>
                    <td>{tokens.format(g.cache_creation_tokens)}</td>
                    <td>{tokens.format(g.cache_read_tokens)}</td>
                    <td>${g.cost_usd.toFixed(4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {view.bad_lines.length > 0 ? (
              <details className="warning">
                <summary>{view.bad_lines.length} line(s) could not be read</summary>
                <pre>{view.bad_lines.join("\n")}</pre>
              </details>
            ) : null}
            {/* Built by the server's HTML renderer, which escapes every piece of transcript text. */}
            <div className="transcript-html" dangerouslySetInnerHTML={{ __html: view.html }} />
          </>
        ) : (
          <p className="muted">Loading…</p>
        )}
      </main>
    </ViewerShell>
  );
}

function SessionList() {
  const [sessions, setSessions] = useState<TranscriptInfo[] | null>(null);
  const [query, setQuery] = useState("");
  const [failure, fail] = useFailure();
  const load = useCallback(() => {
    transcriptList(query.trim())
      .then((r) => setSessions(r.sessions))
      .catch(fail);
  }, [query, fail]);
  useEffect(() => {
    const t = window.setTimeout(load, query ? SEARCH_DELAY_MS : 0);
    return () => window.clearTimeout(t);
  }, [load, query]);
  useLive((c) => {
    if (c.type === "transcripts" || c.type === "resync") load();
  });
  if (failure.unauthorized) return failure.screen;
  return (
    <ViewerShell tab="transcripts">
      <main className="sessions">
        <div className="bar">
          <h1>Claude Code sessions</h1>
          <input type="search" placeholder="Search their text" aria-label="Search sessions" value={query} onChange={(e) => setQuery(e.target.value)} />
        </div>
        {failure.message ? <div className="error">{failure.message}</div> : null}
        {sessions === null ? <p className="muted">Loading…</p> : null}
        {sessions?.length === 0 ? <p className="empty">{query ? "No session holds that." : "No Claude Code sessions on this machine."}</p> : null}
        <ul className="session-list">
          {sessions?.map((s) => (
            <li key={s.file} data-session={s.id}>
              <a
                href={sessionUrl(s.file)}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(sessionUrl(s.file));
                }}
              >
                <span className="title">{s.first_prompt ?? s.id}</span>
                <span className="state">{s.messages} messages</span>
                <span className="meta">
                  {s.project_dir} · {when(s.last_activity)}
                </span>
              </a>
            </li>
          ))}
        </ul>
      </main>
    </ViewerShell>
  );
}

export function Transcripts({ file }: { file: string | null }) {
  return file ? <SessionView file={file} /> : <SessionList />;
}
