// The viewer's HTTP side: the JSON routes of the Docs, Context, Plugins and Transcripts tabs.
// Reads are GETs; every change is a POST from this page, which the server checks comes from
// its own origin.
import { Unauthorized } from "../api";

export async function getJson<T>(path: string): Promise<T> {
  const resp = await fetch(path, { credentials: "same-origin" });
  if (resp.status === 401) throw new Unauthorized("no valid token");
  if (!resp.ok) throw new Error(await errorText(resp));
  return (await resp.json()) as T;
}

/** The message of an error answer: `{"error"}` when the server sent one, else the status. */
async function errorText(resp: Response): Promise<string> {
  const text = await resp.text();
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && "error" in v && typeof v.error === "string") return v.error;
  } catch {
    // Not JSON: the text itself.
  }
  return text.trim() || `${resp.status} ${resp.statusText}`;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (resp.status === 401) throw new Unauthorized("no valid token");
  if (!resp.ok) throw new Error(await errorText(resp));
  return (await resp.json()) as T;
}

export interface DocPage {
  path: string;
  title: string;
}

export interface DocTree {
  root: string | null;
  pages: DocPage[];
  truncated: boolean;
}

export interface DocText {
  path: string;
  title: string;
  text: string;
}

export interface DocHit {
  path: string;
  title: string;
  line: number | null;
  snippet: string;
}

export const docsTree = () => getJson<DocTree>("/api/docs/tree");
export const docsContent = (path: string) =>
  getJson<DocText>(`/api/docs/content?path=${encodeURIComponent(path)}`);
export const docsSearch = (q: string) => getJson<DocHit[]>(`/api/docs/search?q=${encodeURIComponent(q)}`);

export type EntityKind = "skill" | "command" | "agent" | "hook" | "mcp" | "plugin" | "marketplace";

export interface Entity {
  name: string;
  kind: EntityKind;
  scope: "user" | "project" | "plugin";
  source: string;
  path: string;
  description?: string;
  enabled: boolean;
  hidden_by: string | null;
  skipped?: string;
  fields?: Record<string, unknown>;
}

export interface ContextList {
  project: string;
  entities: Entity[];
  warnings: string[];
}

export interface EntityFile {
  path: string;
  text?: string;
  config?: unknown;
}

export const contextList = () => getJson<ContextList>("/api/context");
export const entityFile = (e: Entity) =>
  getJson<EntityFile>(
    `/api/context/file?kind=${e.kind}&name=${encodeURIComponent(e.name)}&path=${encodeURIComponent(e.path)}`,
  );

export interface MarketplacePlugin {
  name: string | null;
  description: string | null;
  version: string | null;
}

export interface Marketplace {
  name: string;
  source: string;
  install_location: string;
  last_updated: string | null;
  plugins: MarketplacePlugin[];
  error: string | null;
}

export interface McpServer {
  name: string;
  scope: "local" | "project" | "user";
  file: string;
  config: {
    type?: string;
    command?: string;
    args?: string[];
    url?: string;
    env?: Record<string, string>;
    headers?: Record<string, string>;
  };
}

export interface PluginInstall {
  plugin: string;
  scope: "user" | "project" | "local";
  version: string | null;
}

export interface PluginsOverview {
  project: string;
  marketplaces: Marketplace[];
  installed: Entity[];
  installs: PluginInstall[];
  mcp: McpServer[];
}

export interface Done {
  done: string;
}

export const pluginsOverview = () => getJson<PluginsOverview>("/api/plugins");

export interface TranscriptInfo {
  id: string;
  file: string;
  project_dir: string;
  first_prompt: string | null;
  started: string | null;
  last_activity: string | null;
  messages: number;
}

export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
}

export interface TranscriptView {
  file: string;
  title: string | null;
  html: string;
  bad_lines: string[];
  usage: { groups: (UsageTotals & { key: string })[]; total: UsageTotals };
}

/** One top-level block of a session, rendered by the server (its text escaped there). */
export interface BlockHtml {
  id: string;
  html: string;
}

export type Usage = TranscriptView["usage"];

/** What `/api/transcripts/follow` tells the page: the whole session first, then what changed. */
export type FollowMessage =
  | { type: "page"; title: string | null; blocks: BlockHtml[]; bad_lines: string[]; usage: Usage }
  | { type: "blocks"; blocks: BlockHtml[]; bad_lines: string[] }
  | { type: "usage"; usage: Usage }
  | { type: "error"; error: string };

export const transcriptList = (q: string) =>
  getJson<{ sessions: TranscriptInfo[] }>(`/api/transcripts${q ? `?q=${encodeURIComponent(q)}` : ""}`);
export const transcriptView = (file: string) =>
  getJson<TranscriptView>(`/api/transcripts/view?file=${encodeURIComponent(file)}`);
