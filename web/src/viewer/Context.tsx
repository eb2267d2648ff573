// The Context tab: what Claude Code loads in this project, as `aisys entities list` resolves it:
// grouped by kind, each with its scope, where it comes from, and what hides it; a click shows
// its file (skills, commands, agents) or its configuration (the rest). Re-read when files change.
import { useCallback, useEffect, useRef, useState } from "react";
import { Markdown } from "../Markdown";
import { type ContextList, type Entity, type EntityFile, type EntityKind, contextList, entityFile } from "./api";
import { useLive } from "./live";
import { ViewerShell, useFailure } from "./Shell";

const KINDS: { kind: EntityKind; title: string }[] = [
  { kind: "skill", title: "Skills" },
  { kind: "command", title: "Commands" },
  { kind: "agent", title: "Agents" },
  { kind: "hook", title: "Hooks" },
  { kind: "mcp", title: "MCP servers" },
  { kind: "plugin", title: "Plugins" },
  { kind: "marketplace", title: "Marketplaces" },
];

/** A Markdown file's front matter and body, so that the header shows as YAML, not as text. */
function splitFrontMatter(text: string): { front: string | null; body: string } {
  const m = text.match(/^---\r?\n([\s\S]*?)\r?\n---\r?\n?/);
  return m ? { front: m[1], body: text.slice(m[0].length) } : { front: null, body: text };
}

function entityKey(e: Entity): string {
  return `${e.kind}/${e.name}@${e.path}`;
}

function EntityDetail({ entity, file }: { entity: Entity; file: EntityFile | string | null }) {
  if (file === null) return <p className="muted">Loading…</p>;
  if (typeof file === "string") return <div className="error">{file}</div>;
  const { front, body } = splitFrontMatter(file.text ?? "");
  return (
    <div className="entity-detail" data-detail={`${entity.kind}/${entity.name}`}>
      <p className="path">
        <code>{file.path}</code>
      </p>
      {file.text !== undefined ? (
        <>
          {front !== null ? <Markdown text={"```yaml\n" + front + "\n```"} /> : null}
          <Markdown text={body} />
        </>
      ) : (
        <Markdown text={"```json\n" + JSON.stringify(file.config, null, 2) + "\n```"} />
      )}
    </div>
  );
}

export function Context() {
  const [list, setList] = useState<ContextList | null>(null);
  const [open, setOpen] = useState<Entity | null>(null);
  const [file, setFile] = useState<EntityFile | string | null>(null);
  const [query, setQuery] = useState("");
  const [failure, fail] = useFailure();
  const detail = useRef<HTMLElement>(null);

  const load = useCallback(() => {
    contextList().then(setList).catch(fail);
  }, [fail]);
  useEffect(load, [load]);
  const show = useCallback(
    (e: Entity) => {
      setOpen(e);
      setFile(null);
      entityFile(e)
        .then((f) => {
          setFile(f);
          // On a phone the detail is below the list: bring it into view.
          if (window.matchMedia("(max-width: 720px)").matches)
            window.requestAnimationFrame(() => detail.current?.scrollIntoView({ block: "start" }));
        })
        .catch((err: unknown) => {
          fail(err, true);
          setFile(err instanceof Error ? err.message : String(err));
        });
    },
    [fail],
  );
  useLive((c) => {
    if (c.type !== "context" && c.type !== "resync") return;
    load();
    if (open) show(open);
  });

  if (failure.unauthorized) return failure.screen;
  const q = query.toLowerCase();
  const shown = (list?.entities ?? []).filter((e) =>
    `${e.name} ${e.description ?? ""} ${e.source}`.toLowerCase().includes(q),
  );
  return (
    <ViewerShell tab="context">
      <div className="viewer-split">
        <section className="entities">
          <div className="bar">
            <h1>What Claude Code loads here</h1>
            <input type="search" placeholder="Filter" aria-label="Filter" value={query} onChange={(e) => setQuery(e.target.value)} />
          </div>
          {list ? (
            <p className="muted">
              Project <code>{list.project}</code>
            </p>
          ) : null}
          {failure.message ? <div className="error">{failure.message}</div> : null}
          {list?.warnings.map((w) => (
            <div className="warning" key={w}>
              {w}
            </div>
          ))}
          {list === null ? <p className="muted">Loading…</p> : null}
          {list && shown.length === 0 ? <p className="empty">Nothing found in the user, project or plugin scopes.</p> : null}
          {KINDS.map(({ kind, title }) => {
            const of = shown.filter((e) => e.kind === kind);
            if (of.length === 0) return null;
            return (
              <div key={kind} className="kind-group" data-kind={kind}>
                <h2>
                  {title} <span className="count">{of.length}</span>
                </h2>
                <ul className="entity-list">
                  {of.map((e) => (
                    <li
                      key={entityKey(e)}
                      data-entity={`${e.kind}/${e.name}`}
                      data-scope={e.scope}
                      className={[
                        e.hidden_by ? "hidden" : "",
                        e.enabled ? "" : "disabled",
                        open && entityKey(open) === entityKey(e) ? "current" : "",
                      ].join(" ")}
                    >
                      <button className="entity" onClick={() => show(e)}>
                        <span className="name">{e.name}</span>
                        <span className={`scope scope-${e.scope}`}>{e.scope}</span>
                        {e.enabled ? null : <span className="flag">{e.skipped ? "skipped" : "disabled"}</span>}
                        {e.description ? <span className="desc">{e.description}</span> : null}
                        <span className="source">{e.scope === "plugin" ? `from ${e.source}` : e.path}</span>
                        {e.hidden_by ? <span className="hidden-by">hidden by {e.hidden_by}</span> : null}
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </section>
        <aside className="detail" ref={detail}>{open ? <EntityDetail entity={open} file={file} /> : <p className="muted">Pick an entry to see its file.</p>}</aside>
      </div>
    </ViewerShell>
  );
}
