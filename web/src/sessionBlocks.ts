// A session's conversation as the server's blocks, kept live: one socket, `session.attach` with
// the blocks view, `blocks` frames replacing everything, `block` frames upserting one
// top-level block and `block.append` frames adding text to one, applied in batches. Shared by the conversation and the subagent viewer.
import { useEffect, useRef, useState } from "react";
import { Unauthorized, checkSession } from "./api";
import type { ConversationBlock, ServerFrame, SessionState } from "./protocol";
import { Socket } from "./socket";

/** How long block frames gather before the page applies them at once. */
const BLOCK_BATCH_MS = 16;
/** After a lost connection, the first wait before connecting again: a restarting server is
 * back within a second or two. */
const RECONNECT_FIRST_MS = 500;
/** The longest wait between tries (each doubles the one before): a server down for long is not
 * asked more than a few times a minute per page. */
const RECONNECT_MAX_MS = 10_000;

export interface SessionBlocks {
  blocks: ConversationBlock[] | null;
  state: SessionState | null;
  error: string | null;
  setError: (e: string | null) => void;
  unauthorized: boolean;
  /** The connection to the server was lost and the page is connecting again. */
  reconnecting: boolean;
  /** The page's socket, once made (a new one after a reconnect). */
  socket: React.RefObject<Socket | null>;
}

export function useSessionBlocks(id: string): SessionBlocks {
  const [blocks, setBlocks] = useState<ConversationBlock[] | null>(null);
  const [state, setState] = useState<SessionState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const [reconnecting, setReconnecting] = useState(false);
  const socket = useRef<Socket | null>(null);

  useEffect(() => {
    let closed = false;
    let s = new Socket();
    let retryMs = RECONNECT_FIRST_MS;
    let retry = 0;
    // Block frames come one per message; apply them together a moment later, so that a long
    // session's first load is one render, not one per block. (A timer, not an animation frame:
    // a hidden tab gets no animation frames, and it must still see permission requests.)
    // In the order they came: an append adds to what the frames before it made.
    let queued: Update[] = [];
    let frame = 0;
    // Set when an append does not fit the blocks the page has: everything until the next
    // `blocks` frame is dropped, and the session attached again.
    let lost = false;
    const attach = async () => {
      const reply = await s.request({ type: "session.attach", session_id: id, view: "blocks" });
      if (reply.type === "session.attached") {
        setState(reply.session.state);
        setBlocks((prev) => prev ?? []);
      }
    };
    const reattach = () => {
      if (lost || closed) return;
      lost = true;
      queued = [];
      attach().catch((e: unknown) => setError(String(e instanceof Error ? e.message : e)));
    };
    const flush = () => {
      frame = 0;
      const updates = queued;
      queued = [];
      setBlocks((prev) => {
        const next = prev ? prev.slice() : [];
        const applied = applyUpdates(next, updates);
        if (!applied) {
          // A state updater must stay pure: attach again outside it.
          window.setTimeout(reattach, 0);
          return prev;
        }
        return next;
      });
    };
    const queue = (u: Update) => {
      if (lost) return;
      queued.push(u);
      if (!frame) frame = window.setTimeout(flush, BLOCK_BATCH_MS);
    };
    const onFrame = (f: ServerFrame) => {
      if (f.type === "blocks" && f.session_id === id) {
        // The whole conversation: it replaces what the page had, and block frames queued before
        // it are older than it.
        queued = [];
        lost = false;
        setBlocks(f.blocks);
      }
      if (f.type === "block" && f.session_id === id) queue({ index: f.index, block: f.block });
      if (f.type === "block.append" && f.session_id === id) queue({ index: f.index, append: f.append });
      if (f.type === "session.state" && f.session_id === id) setState(f.state);
    };
    // A socket that ends without the page closing it is replaced after a wait, and the session
    // attached again: its `blocks` frame brings the page up to date whatever it missed.
    const connect = (first: boolean) => {
      socket.current = s;
      s.listen(onFrame);
      s.onLost(() => {
        if (closed) return;
        setReconnecting(true);
        retry = window.setTimeout(() => {
          s = new Socket();
          connect(false);
        }, retryMs);
        retryMs = Math.min(retryMs * 2, RECONNECT_MAX_MS);
      });
      (async () => {
        // Without a valid token the API says so plainly; the socket would only fail to open.
        if (first) await checkSession(id);
        await s.ready;
        if (closed) return;
        await attach();
        retryMs = RECONNECT_FIRST_MS;
        setReconnecting(false);
      })().catch((e: unknown) => {
        if (e instanceof Unauthorized) setUnauthorized(true);
        // While reconnecting, a failed try is followed by the next: the banner says enough.
        else if (first) setError(String(e instanceof Error ? e.message : e));
      });
    };
    connect(true);
    return () => {
      closed = true;
      if (frame) window.clearTimeout(frame);
      if (retry) window.clearTimeout(retry);
      s.close();
    };
  }, [id]);

  return { blocks, state, error, setError, unauthorized, reconnecting, socket };
}

/** One queued frame: a whole block, or text added to one. */
type Update = { index: number; block: ConversationBlock } | { index: number; append: string };

/** Applies `updates` in order to `blocks`, in place. False when an append names a block the
 * list does not have or one without text: the page has lost track and must ask again. */
export function applyUpdates(blocks: ConversationBlock[], updates: Update[]): boolean {
  for (const u of updates) {
    if ("block" in u) {
      blocks[u.index] = u.block;
      continue;
    }
    const b = blocks[u.index];
    if (!b || (b.type !== "assistant_text" && b.type !== "thinking")) return false;
    blocks[u.index] = { ...b, text: b.text + u.append };
  }
  return true;
}
