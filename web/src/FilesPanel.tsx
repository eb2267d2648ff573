// The session's workspace: its files (those changed since the session began are marked) and
// one file's text, read through `session.files` and `session.read_file`, then kept live by the
// server's `file_changed` notices (and listed again on `files_resync`). The server never follows
// a link in the workspace and bounds what it reads; the text is shown as text.
import { useEffect, useRef, useState } from "react";
import type { ServerFrame, WorkspaceFile } from "./protocol";
import type { Socket } from "./socket";

type FileChanged = Extract<ServerFrame, { type: "file_changed" }>;

/** Folders first, then by path: the order the server lists in. */
function sorted(files: WorkspaceFile[]): WorkspaceFile[] {
  return files.sort((a, b) => {
    const da = a.kind === "dir" ? 0 : 1;
    const db = b.kind === "dir" ? 0 : 1;
    return da - db || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  });
}

/** The listing after one notice: the entry added, replaced or removed (with what was below it). */
export function applyChange(files: WorkspaceFile[], c: FileChanged): WorkspaceFile[] {
  const below = `${c.path}/`;
  let next = files.filter((f) => f.path !== c.path && !(c.kind === "deleted" && f.path.startsWith(below)));
  if (c.kind === "deleted") return next;
  // Folders the server reported before this entry are there; any it has not are added.
  const parts = c.path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    if (!next.some((f) => f.path === dir)) next.push({ path: dir, kind: "dir", size: 0 });
  }
  next = next.concat({
    path: c.path,
    kind: c.entry,
    size: c.size ?? 0,
    modified: new Date().toISOString(),
    changed: c.entry !== "dir",
  });
  return sorted(next);
}

interface Shown {
  path: string;
  size: number;
  text: string;
  binary: boolean;
  truncated: boolean;
  /** Deleted since it was opened. */
  deleted?: boolean;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function FilesPanel({ socket, id }: { socket: Socket; id: string }) {
  const [files, setFiles] = useState<WorkspaceFile[] | null>(null);
  const [truncated, setTruncated] = useState(false);
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped by `files_resync`: the listing is asked for again.
  const [listing, setListing] = useState(0);
  // The entries the notices touched since the panel opened, with how.
  const [live, setLive] = useState<Map<string, FileChanged["kind"]>>(new Map());
  // The notice handler's view of the file shown, and how to read it again.
  const reopen = useRef<((path: string) => void) | null>(null);
  const shownPath = useRef<string | null>(null);
  shownPath.current = shown?.path ?? null;

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
  }, [socket, id, listing]);

  useEffect(
    () =>
      socket.listen((f) => {
        if (f.type === "files_resync" && f.session_id === id) setListing((n) => n + 1);
        if (f.type !== "file_changed" || f.session_id !== id) return;
        setFiles((prev) => (prev ? applyChange(prev, f) : prev));
        setLive((prev) => new Map(prev).set(f.path, f.kind));
        if (shownPath.current !== f.path) return;
        // The file shown changed: show what it holds now.
        if (f.kind === "deleted") setShown((s) => s && { ...s, text: "", binary: false, truncated: false, deleted: true });
        else reopen.current?.(f.path);
      }),
    [socket, id],
  );

  const open = (path: string) => {
    socket
      .request({ type: "session.read_file", session_id: id, path })
      .then((f) => {
        if (f.type === "session.file")
          setShown({ path: f.path, size: f.size, text: f.text, binary: !!f.binary, truncated: !!f.truncated });
      })
      .catch((e: unknown) => setError(String(e instanceof Error ? e.message : e)));
  };
  reopen.current = open;

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
            <li
              key={f.path}
              className={`file kind-${f.kind}${live.has(f.path) ? " live" : ""}`}
              data-path={f.path}
              data-changed={f.changed ? "yes" : "no"}
              data-live={live.get(f.path)}
            >
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
            {shown.deleted ? " (deleted)" : ""}
          </div>
          {shown.binary ? <p className="empty">A binary file.</p> : <pre className="out">{shown.text}</pre>}
        </div>
      ) : null}
    </aside>
  );
}
