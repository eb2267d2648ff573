// The server's HTTP side: trading the `?token=` of the first URL for a cookie, and the JSON
// routes. Every call goes to the server that served this page.
import type { ConversationBlock, SessionInfo, StreamEvent } from "./protocol";

/** Raised when the server refused the request for want of a valid token. */
export class Unauthorized extends Error {}

/**
 * If the address bar holds `?token=...`, trades it for an HttpOnly cookie and removes it from
 * the address (and from history), so it is neither bookmarked nor shown.
 */
export async function adoptTokenFromUrl(): Promise<void> {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (!token) return;
  url.searchParams.delete("token");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  const resp = await fetch("/api/auth", {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    credentials: "same-origin",
  });
  if (resp.status === 401) throw new Unauthorized("the server rejected the token in the address");
  if (!resp.ok) throw new Error(`POST /api/auth: ${resp.status}`);
}

async function getJson<T>(path: string): Promise<T> {
  const resp = await fetch(path, { credentials: "same-origin" });
  if (resp.status === 401) throw new Unauthorized("no valid token");
  if (!resp.ok) throw new Error(`GET ${path}: ${resp.status} ${await resp.text()}`);
  return (await resp.json()) as T;
}

export function listSessions(): Promise<SessionInfo[]> {
  return getJson<SessionInfo[]>("/api/sessions");
}

export interface SessionBlocks {
  last_seq: number;
  blocks: ConversationBlock[];
}

/** A session's blocks; with `upto`, as they stood after that event. */
export function sessionBlocks(id: string, upto?: number): Promise<SessionBlocks> {
  const q = upto === undefined ? "" : `?upto=${upto}`;
  return getJson<SessionBlocks>(`/api/sessions/${encodeURIComponent(id)}/blocks${q}`);
}

export interface NumberedEvent {
  seq: number;
  event: StreamEvent;
}

/** Whether this page's token opens the session (a cheap read: one event at most). */
export async function checkSession(id: string): Promise<void> {
  await getJson<unknown>(`/api/sessions/${encodeURIComponent(id)}/events?limit=1`);
}

/** Every stored event of a session, read page by page. */
export async function sessionEvents(id: string): Promise<NumberedEvent[]> {
  const out: NumberedEvent[] = [];
  for (;;) {
    const after = out.length ? out[out.length - 1].seq : 0;
    const page = await getJson<NumberedEvent[]>(
      `/api/sessions/${encodeURIComponent(id)}/events?after=${after}`,
    );
    if (page.length === 0) return out;
    out.push(...page);
  }
}
