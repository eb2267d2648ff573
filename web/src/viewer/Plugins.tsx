// The Plugins tab: marketplaces (add, update, remove), their plugins (install, uninstall,
// enable, disable) and MCP servers (add, remove), each done by `aisys entities` on the server.
// Removing asks first; a running operation shows what it does and for how long (a git
// marketplace can take a while to clone); errors are shown as `entities` words them.
import { type FormEvent, type ReactNode, useCallback, useEffect, useState } from "react";
import { type Done, type McpServer, type PluginsOverview, pluginsOverview, postJson } from "./api";
import { useLive } from "./live";
import { ViewerShell, useFailure } from "./Shell";
import { Confirm } from "../Confirm";

type Scope = "user" | "project" | "local";

interface Busy {
  label: string;
  started: number;
}

function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(t);
  }, []);
  return <>{Math.floor((now - since) / 1000)} s</>;
}

function ScopeSelect({ value, onChange, scopes, name }: { value: string; onChange: (s: string) => void; scopes: string[]; name: string }) {
  return (
    <select name={name} value={value} onChange={(e) => onChange(e.target.value)} aria-label="Scope">
      {scopes.map((s) => (
        <option key={s} value={s}>
          {s}
        </option>
      ))}
    </select>
  );
}

/** `KEY=value` or `Name: value` lines as pairs; blank lines are skipped. */
function pairs(text: string, sep: string): [string, string][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const at = l.indexOf(sep);
      return at < 0 ? [l, ""] : [l.slice(0, at).trim(), l.slice(at + 1).trim()];
    });
}

function mcpTarget(s: McpServer): string {
  return s.config.url ?? [s.config.command ?? "", ...(s.config.args ?? [])].join(" ");
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="manage-section">
      <h2>{title}</h2>
      {children}
    </section>
  );
}

const EMPTY_MCP = { name: "", scope: "local", transport: "stdio", target: "", args: "", env: "", headers: "" };

export function Plugins() {
  const [data, setData] = useState<PluginsOverview | null>(null);
  const [busy, setBusy] = useState<Busy | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [failure, fail] = useFailure();
  const [source, setSource] = useState("");
  const [marketScope, setMarketScope] = useState<Scope>("user");
  const [installScope, setInstallScope] = useState<Scope>("user");
  const [mcp, setMcp] = useState(EMPTY_MCP);
  /** The server the form changes (by name and scope), or null when it adds one. */
  const [editing, setEditing] = useState<{ name: string; scope: string } | null>(null);

  const load = useCallback(() => {
    pluginsOverview().then(setData).catch(fail);
  }, [fail]);
  useEffect(load, [load]);
  useLive((c) => {
    if (c.type === "context" || c.type === "resync") load();
  });

  /** Runs one operation, showing it while it runs and its outcome after. */
  const run = (label: string, path: string, body: unknown, then?: () => void) => {
    setBusy({ label, started: Date.now() });
    setResult(null);
    postJson<Done>(path, body)
      .then((d) => {
        setResult({ ok: true, text: d.done });
        then?.();
      })
      .catch((e: unknown) => {
        fail(e, true);
        setResult({ ok: false, text: e instanceof Error ? e.message : String(e) });
      })
      .finally(() => {
        setBusy(null);
        load();
      });
  };

  if (failure.unauthorized) return failure.screen;
  const addMarketplace = (e: FormEvent) => {
    e.preventDefault();
    const remote = /^(https?:|git@|[\w.-]+\/[\w.-]+$)/.test(source.trim());
    run(`${remote ? "Cloning" : "Adding"} marketplace ${source.trim()}`, "/api/plugins/marketplace-add", {
      source: source.trim(),
      scope: marketScope,
    }, () => setSource(""));
  };
  const submitMcp = (e: FormEvent) => {
    e.preventDefault();
    const body = {
      name: mcp.name.trim(),
      scope: mcp.scope,
      transport: mcp.transport,
      target: mcp.target.trim(),
      // One argument a line, so an argument may hold spaces.
      args: mcp.transport === "stdio" ? mcp.args.split(/\r?\n/).filter((a) => a.trim() !== "") : [],
      env: mcp.transport === "stdio" ? pairs(mcp.env, "=") : [],
      headers: mcp.transport === "stdio" ? [] : pairs(mcp.headers, ":"),
    };
    if (editing)
      run(`Changing MCP server ${editing.name}`, "/api/mcp/edit", body, () => {
        setEditing(null);
        setMcp(EMPTY_MCP);
      });
    else run(`Adding MCP server ${mcp.name}`, "/api/mcp/add", body, () => setMcp({ ...mcp, name: "", target: "", args: "", env: "", headers: "" }));
  };
  /** Fills the form with a server's settings, to change them. */
  const editMcp = (s: McpServer) => {
    const lines = (o: Record<string, string> | undefined, sep: string) =>
      Object.entries(o ?? {})
        .map(([k, v]) => `${k}${sep}${v}`)
        .join("\n");
    setEditing({ name: s.name, scope: s.scope });
    setMcp({
      name: s.name,
      scope: s.scope,
      transport: s.config.type ?? "stdio",
      target: s.config.url ?? s.config.command ?? "",
      args: (s.config.args ?? []).join("\n"),
      env: lines(s.config.env, "="),
      headers: lines(s.config.headers, ": "),
    });
    document.querySelector("[data-form=mcp-add]")?.scrollIntoView({ block: "nearest" });
  };
  const installed = new Set((data?.installs ?? []).map((i) => i.plugin));
  const disabled = busy !== null;

  return (
    <ViewerShell tab="plugins">
      <main className="manage">
        {busy ? (
          <div className="progress" role="status" data-status="busy">
            <span className="spinner" aria-hidden="true" /> {busy.label}… <Elapsed since={busy.started} />
          </div>
        ) : null}
        {result ? (
          <div className={result.ok ? "outcome ok" : "outcome error"} role="status" data-status={result.ok ? "done" : "error"}>
            {result.text}
          </div>
        ) : null}
        {failure.message ? <div className="error">{failure.message}</div> : null}
        {data ? (
          <p className="muted">
            Project scope: <code>{data.project}</code>
          </p>
        ) : (
          <p className="muted">Loading…</p>
        )}

        <Section title="Marketplaces">
          <form className="row-form" onSubmit={addMarketplace} data-form="marketplace-add">
            <input name="source" placeholder="git URL, owner/repo or a local folder" value={source} onChange={(e) => setSource(e.target.value)} required />
            <ScopeSelect name="marketplace-scope" value={marketScope} onChange={(s) => setMarketScope(s as Scope)} scopes={["user", "project", "local"]} />
            <button type="submit" disabled={disabled} data-action="marketplace-add">
              Add marketplace
            </button>
          </form>
          <p className="muted">
            Install into:{" "}
            <ScopeSelect name="install-scope" value={installScope} onChange={(s) => setInstallScope(s as Scope)} scopes={["user", "project", "local"]} />
          </p>
          {data?.marketplaces.length === 0 ? <p className="empty">No marketplaces yet.</p> : null}
          {data?.marketplaces.map((m) => (
            <div className="market" key={m.name} data-marketplace={m.name}>
              <div className="market-head">
                <strong>{m.name}</strong> <span className="muted">{m.source}</span>
                <span className="actions">
                  <button disabled={disabled} onClick={() => run(`Updating marketplace ${m.name}`, "/api/plugins/marketplace-update", { name: m.name })}>
                    Update
                  </button>
                  <Confirm
                    id={`remove-marketplace-${m.name}`}
                    label="Remove"
                    question={`Remove ${m.name} and the plugins installed from it?`}
                    onConfirm={() => run(`Removing marketplace ${m.name}`, "/api/plugins/marketplace-remove", { name: m.name })}
                  />
                </span>
              </div>
              {m.error ? <div className="error">{m.error}</div> : null}
              <ul className="plugin-list">
                {m.plugins.map((p) => {
                  const id = `${p.name ?? "?"}@${m.name}`;
                  return (
                    <li key={id} data-plugin={id}>
                      <span className="name">{p.name}</span>
                      {p.version ? <span className="muted"> {p.version}</span> : null}
                      {p.description ? <span className="desc">{p.description}</span> : null}
                      <span className="actions">
                        {installed.has(id) ? (
                          <span className="flag">installed</span>
                        ) : (
                          <button disabled={disabled} data-action={`install-${id}`} onClick={() => run(`Installing ${id}`, "/api/plugins/install", { plugin: id, scope: installScope })}>
                            Install
                          </button>
                        )}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
        </Section>

        <Section title="Installed plugins">
          {data?.installs.length === 0 ? <p className="empty">No plugins installed for this project.</p> : null}
          <ul className="plugin-list">
            {data?.installs.map((i) => {
              const entity = data.installed.find((e) => e.name === i.plugin);
              const on = entity?.enabled ?? false;
              return (
                <li key={`${i.plugin}/${i.scope}`} data-installed={i.plugin} data-scope={i.scope}>
                  <span className="name">{i.plugin}</span>
                  <span className={`scope scope-${i.scope}`}>{i.scope}</span>
                  <span className={on ? "flag on" : "flag"}>{on ? "enabled" : "disabled"}</span>
                  <span className="actions">
                    <button
                      disabled={disabled}
                      onClick={() => run(`${on ? "Disabling" : "Enabling"} ${i.plugin}`, `/api/plugins/${on ? "disable" : "enable"}`, { plugin: i.plugin, scope: i.scope })}
                    >
                      {on ? "Disable" : "Enable"}
                    </button>
                    <Confirm
                      id={`uninstall-${i.plugin}`}
                      label="Uninstall"
                      question={`Uninstall ${i.plugin} (${i.scope})?`}
                      onConfirm={() => run(`Uninstalling ${i.plugin}`, "/api/plugins/uninstall", { plugin: i.plugin, scope: i.scope })}
                    />
                  </span>
                </li>
              );
            })}
          </ul>
        </Section>

        <Section title="MCP servers">
          <ul className="plugin-list">
            {data?.mcp.length === 0 ? <li className="empty">No MCP servers.</li> : null}
            {data?.mcp.map((s) => (
              <li key={`${s.scope}/${s.name}`} data-mcp={s.name} data-scope={s.scope}>
                <span className="name">{s.name}</span>
                <span className={`scope scope-${s.scope}`}>{s.scope}</span>
                <span className="muted">{s.config.type ?? "stdio"}</span>
                <code className="desc">{mcpTarget(s)}</code>
                <span className="actions">
                  <button type="button" disabled={disabled} data-action={`edit-mcp-${s.name}-${s.scope}`} onClick={() => editMcp(s)}>
                    Edit
                  </button>
                  <Confirm
                    id={`remove-mcp-${s.name}-${s.scope}`}
                    label="Remove"
                    question={`Remove the MCP server ${s.name} (${s.scope})?`}
                    onConfirm={() => run(`Removing MCP server ${s.name}`, "/api/mcp/remove", { name: s.name, scope: s.scope })}
                  />
                </span>
              </li>
            ))}
          </ul>
          <form className="mcp-form" onSubmit={submitMcp} data-form="mcp-add" data-editing={editing ? `${editing.name}-${editing.scope}` : undefined}>
            {editing ? (
              <p className="editing">
                Changing <b>{editing.name}</b> ({editing.scope}): it keeps its name, scope and place in the file.
              </p>
            ) : null}
            <label>
              Name <input name="mcp-name" value={mcp.name} onChange={(e) => setMcp({ ...mcp, name: e.target.value })} readOnly={editing !== null} required />
            </label>
            <label>
              Scope{" "}
              {editing ? (
                <input name="mcp-scope" value={mcp.scope} readOnly />
              ) : (
                <ScopeSelect name="mcp-scope" value={mcp.scope} onChange={(s) => setMcp({ ...mcp, scope: s })} scopes={["local", "project", "user"]} />
              )}
            </label>
            <label>
              Transport <ScopeSelect name="mcp-transport" value={mcp.transport} onChange={(s) => setMcp({ ...mcp, transport: s })} scopes={["stdio", "http", "sse"]} />
            </label>
            <label>
              {mcp.transport === "stdio" ? "Command" : "URL"}{" "}
              <input name="mcp-target" value={mcp.target} onChange={(e) => setMcp({ ...mcp, target: e.target.value })} required />
            </label>
            {mcp.transport === "stdio" ? (
              <>
                <label>
                  Arguments (one a line)
                  <textarea name="mcp-args" value={mcp.args} onChange={(e) => setMcp({ ...mcp, args: e.target.value })} />
                </label>
                <label>
                  Environment (KEY=value, one a line)
                  <textarea name="mcp-env" value={mcp.env} onChange={(e) => setMcp({ ...mcp, env: e.target.value })} />
                </label>
              </>
            ) : (
              <label>
                Headers (Name: value, one a line)
                <textarea name="mcp-headers" value={mcp.headers} onChange={(e) => setMcp({ ...mcp, headers: e.target.value })} />
              </label>
            )}
            {editing ? (
              <>
                <button type="submit" disabled={disabled} data-action="mcp-save">
                  Save changes
                </button>
                <button
                  type="button"
                  data-action="mcp-cancel"
                  onClick={() => {
                    setEditing(null);
                    setMcp(EMPTY_MCP);
                  }}
                >
                  Cancel
                </button>
              </>
            ) : (
              <button type="submit" disabled={disabled} data-action="mcp-add">
                Add MCP server
              </button>
            )}
          </form>
        </Section>
      </main>
    </ViewerShell>
  );
}
