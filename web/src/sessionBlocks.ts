// A session's conversation as the server's blocks, kept live: one socket, `session.attach` with
// the blocks view, `blocks` frames replacing everything, `block` frames upserting one
// top-level block and `block.append` frames adding text to one, applied in batches. Shared by the conversation and the subagent viewer.
import { useEffect, useRef, useState } from "react";
import { Unauthorized, checkSession } from "./api";
import type { ConversationBlock, SessionState } from "./protocol";
import { Socket } from "./socket";

/** How long block frames gather before the page applies them at once. */
const BLOCK_BATCH_MS = 16;

export interface SessionBlocks {
  blocks: ConversationBlock[] | null;
  state: SessionState | null;
  error: string | null;
  setError: (e: string | null) => void;
  unauthorized: boolean;
  /** The page's socket, once made. */
  socket: React.RefObject<Socket | null>;
}

export function useSessionBlocks(id: string): SessionBlocks {
  const [blocks, setBlocks] = useState<ConversationBlock[] | null>(null);
  const [state, setState] = useState<SessionState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const socket = useRef<Socket | null>(null);

  useEffect(() => {
    let closed = false;
    const s = new Socket();
    socket.current = s;
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
    s.listen((f) => {
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
    });
    (async () => {
      // Without a valid token the API says so plainly; the socket would only fail to open.
      await checkSession(id);
      await s.ready;
      if (closed) return;
      await attach();
    })().catch((e: unknown) => {
      if (e instanceof Unauthorized) setUnauthorized(true);
      else setError(String(e instanceof Error ? e.message : e));
    });
    return () => {
      closed = true;
      if (frame) window.clearTimeout(frame);
      s.close();
    };
  }, [id]);

  return { blocks, state, error, setError, unauthorized, socket };
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
