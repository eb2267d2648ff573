// The session's workspace: its files (those changed since the session began are marked) and
// one file's text, read through `session.files` and `session.read_file`. The server never
// follows a link in the workspace and bounds what it reads; the text is shown as text.
import { useEffect, useState } from "react";
import type { WorkspaceFile } from "./protocol";
import type { Socket } from "./socket";

interface Shown {
  path: string;
  size: number;
  text: string;
  binary: boolean;
  truncated: boolean;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** `refresh` changes whenever the workspace may have changed (a turn ended). */
export function FilesPanel({ socket, id, refresh }: { socket: Socket; id: string; refresh: number }) {
  const [files, setFiles] = useState<WorkspaceFile[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    socket.ready
      .then(() => socket.request({ type: "session.files", session_id: id }))
      .then((f) => {
        if (f.type === "session.files") {
          setFiles(f.files);
          setTruncated(!!f.truncated);
        }
      })
      .catch((e: unknown) => setError(String(e instanceof Error ? e.message : e)));
  }, [socket, id, refresh]);

  const open = (path: string) => {
    socket
      .request({ type: "session.read_file", session_id: id, path })
      .then((f) => {
        if (f.type === "session.file")
          setShown({ path: f.path, size: f.size, text: f.text, binary: !!f.binary, truncated: !!f.truncated });
      })
      .catch((e: unknown) => setError(String(e instanceof Error ? e.message : e)));
  };

  return (
    <aside className="files" data-panel="files">
      {error ? <div className="error">{error}</div> : null}
      {files === null ? (
        <p>Loading…</p>
      ) : files.length === 0 ? (
        <p className="empty">The workspace is empty.</p>
      ) : (
        <ul className="file-list">
          {files.map((f) => (
            <li key={f.path} className={`file kind-${f.kind}`} data-path={f.path} data-changed={f.changed ? "yes" : "no"}>
              {f.kind === "file" ? (
                <button onClick={() => open(f.path)}>{f.path}</button>
              ) : (
                <span>
                  {f.path}
                  {f.kind === "dir" ? "/" : f.kind === "link" ? " (link, not followed)" : ""}
                </span>
              )}
              {f.changed ? <span className="changed" title="changed in this session">●</span> : null}
              {f.kind === "file" ? <span className="size">{size(f.size ?? 0)}</span> : null}
            </li>
          ))}
        </ul>
      )}
      {truncated ? <p className="empty">Only the first entries are listed.</p> : null}
      {shown ? (
        <div className="file-view" data-file={shown.path}>
          <div className="file-head">
            <b>{shown.path}</b> {size(shown.size)}
            {shown.truncated ? " (only the start is shown)" : ""}
          </div>
          {shown.binary ? <p className="empty">A binary file.</p> : <pre className="out">{shown.text}</pre>}
        </div>
      ) : null}
    </aside>
  );
}
