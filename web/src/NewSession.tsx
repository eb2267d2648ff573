// The new-session form: agent, sandbox, workspace, model, permission mode, agent profile and
// title, each left to the server's default when empty. The profiles offered are the ones the
// server names in its `welcome`. The server checks every field (a workspace must lie under one
// of its allowed roots, a profile must resolve) and its error is shown as it is.
import { useEffect, useState } from "react";
import { navigate } from "./App";
import type { AgentKind, PermissionMode, SandboxKind } from "./protocol";
import { Socket } from "./socket";

const AGENTS: AgentKind[] = ["claude-code", "opencode"];
const SANDBOXES: SandboxKind[] = ["local", "modal", "host"];
const MODES: PermissionMode[] = ["default", "acceptEdits", "plan", "bypassPermissions"];

export function NewSession({ onClose }: { onClose: () => void }) {
  const [agent, setAgent] = useState<AgentKind | "">("");
  const [sandbox, setSandbox] = useState<SandboxKind | "">("");
  const [mode, setMode] = useState<PermissionMode | "">("");
  const [workspace, setWorkspace] = useState("");
  const [model, setModel] = useState("");
  const [title, setTitle] = useState("");
  const [profile, setProfile] = useState("");
  const [profiles, setProfiles] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // Only the welcome is wanted. A server too old to name its profiles (or one not reached)
    // leaves the choice at the server's default; creating says what went wrong.
    const socket = new Socket();
    socket.ready
      .then((w) => setProfiles(w.profiles ?? []))
      .catch(() => {})
      .finally(() => socket.close());
    return () => socket.close();
  }, []);

  async function create(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const socket = new Socket();
    try {
      await socket.ready;
      const reply = await socket.request({
        type: "session.create",
        agent: agent || null,
        sandbox: sandbox || null,
        permission_mode: mode || null,
        workspace: workspace.trim() || null,
        model: model.trim() || null,
        profile: profile || null,
        title: title.trim() || null,
      });
      if (reply.type === "session.created") navigate(`/sessions/${reply.session.id}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
      socket.close();
    }
  }

  return (
    <form className="new-session" onSubmit={create} data-form="new-session">
      <h2>New session</h2>
      <label>
        Title <input value={title} onChange={(e) => setTitle(e.target.value)} name="title" />
      </label>
      <label>
        Agent
        <select value={agent} onChange={(e) => setAgent(e.target.value as AgentKind | "")} name="agent">
          <option value="">server default</option>
          {AGENTS.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
      </label>
      <label>
        Sandbox
        <select value={sandbox} onChange={(e) => setSandbox(e.target.value as SandboxKind | "")} name="sandbox">
          <option value="">server default</option>
          {SANDBOXES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Permission mode
        <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode | "")} name="permission_mode">
          <option value="">default</option>
          {MODES.map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
      </label>
      <label>
        Profile
        <select value={profile} onChange={(e) => setProfile(e.target.value)} name="profile">
          <option value="">server default</option>
          {profiles.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <label>
        Workspace
        <input
          value={workspace}
          onChange={(e) => setWorkspace(e.target.value)}
          name="workspace"
          placeholder="a folder under the server's --workspace-root (empty: a new folder)"
        />
      </label>
      <label>
        Model <input value={model} onChange={(e) => setModel(e.target.value)} name="model" placeholder="agent default" />
      </label>
      {error ? <div className="error" role="alert">{error}</div> : null}
      <div className="choices">
        <button type="submit" disabled={busy} data-action="create">
          Create
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
