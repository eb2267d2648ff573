// The Transcripts tab: Claude Code's sessions on this machine (newest first, searchable by their
// text), and one session rendered by the server with the same HTML renderer as `aisys transcript
// parse --format html` (its text is escaped there; subagents nest under their calls), with its
// usage. An open session follows its files as they grow: the server reads only the new lines and
// sends the blocks they add or change, which replace theirs here by id.
import { useCallback, useEffect, useState } from "react";
import { navigate } from "../App";
import { type BlockHtml, type FollowMessage, type TranscriptInfo, type Usage, transcriptList, transcriptView } from "./api";
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

/** How long to wait before reopening a dropped follow socket. */
const RECONNECT_MS = 1000;

interface Session {
  title: string | null;
  blocks: BlockHtml[];
  badLines: string[];
  usage: Usage;
}

/** `blocks` with `changed` applied: a block with a known id is replaced, a new one appended. */
function merge(blocks: BlockHtml[], changed: BlockHtml[]): BlockHtml[] {
  const at = new Map(blocks.map((b, i) => [b.id, i]));
  const out = blocks.slice();
  for (const b of changed) {
    const i = at.get(b.id);
    if (i === undefined) {
      at.set(b.id, out.length);
      out.push(b);
    } else out[i] = b;
  }
  return out;
}

/** The session, sent whole by `/api/transcripts/follow` and then kept up to date as its files grow. */
function useFollowed(file: string, fail: (e: unknown) => void): Session | null {
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    setSession(null);
    let closed = false;
    let retry = 0;
    let ws: WebSocket | null = null;
    const open = () => {
      const scheme = window.location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${window.location.host}/api/transcripts/follow?file=${encodeURIComponent(file)}`);
      ws = socket;
      let heard = false;
      socket.onmessage = (m) => {
        heard = true;
        let msg: FollowMessage;
        try {
          msg = JSON.parse(m.data as string) as FollowMessage;
        } catch {
          return;
        }
        if (msg.type === "page") setSession({ title: msg.title, blocks: msg.blocks, badLines: msg.bad_lines, usage: msg.usage });
        else if (msg.type === "blocks")
          setSession((s) => (s ? { ...s, blocks: merge(s.blocks, msg.blocks), badLines: [...s.badLines, ...msg.bad_lines] } : s));
        else if (msg.type === "usage") setSession((s) => (s ? { ...s, usage: msg.usage } : s));
        else {
          closed = true;
          fail(new Error(msg.error));
        }
      };
      socket.onclose = () => {
        if (closed) return;
        // Refused before it opened: the plain view says why (no token, no such session).
        if (!heard)
          transcriptView(file)
            .then(() => {
              retry = window.setTimeout(open, RECONNECT_MS);
            })
            .catch(fail);
        else retry = window.setTimeout(open, RECONNECT_MS);
      };
    };
    open();
    return () => {
      closed = true;
      window.clearTimeout(retry);
      ws?.close();
    };
  }, [file, fail]);
  return session;
}

function SessionView({ file }: { file: string }) {
  const [failure, fail] = useFailure();
  const view = useFollowed(file, fail);
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
            {view.badLines.length > 0 ? (
              <details className="warning">
                <summary>{view.badLines.length} line(s) could not be read</summary>
                <pre>{view.badLines.join("\n")}</pre>
              </details>
            ) : null}
            <div className="transcript-html">
              {/* Built by the server's HTML renderer, which escapes every piece of transcript text. */}
              {view.blocks.map((b) => (
                <div key={b.id} className="block" data-block={b.id} dangerouslySetInnerHTML={{ __html: b.html }} />
              ))}
            </div>
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
