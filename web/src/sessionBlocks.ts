// A session's conversation as the server's blocks, kept live: one socket, `session.attach` with
// the blocks view, `blocks` frames replacing everything and `block` frames upserting one
// top-level block, applied in batches. Shared by the conversation and the subagent viewer.
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
    let queued = new Map<number, ConversationBlock>();
    let frame = 0;
    const flush = () => {
      frame = 0;
      const updates = queued;
      queued = new Map();
      setBlocks((prev) => {
        const next = prev ? prev.slice() : [];
        for (const [i, b] of updates) next[i] = b;
        return next;
      });
    };
    s.listen((f) => {
      if (f.type === "blocks" && f.session_id === id) {
        // The whole conversation: it replaces what the page had, and block frames queued before
        // it are older than it.
        queued = new Map();
        setBlocks(f.blocks);
      }
      if (f.type === "block" && f.session_id === id) {
        queued.set(f.index, f.block);
        if (!frame) frame = window.setTimeout(flush, BLOCK_BATCH_MS);
      }
      if (f.type === "session.state" && f.session_id === id) setState(f.state);
    });
    (async () => {
      // Without a valid token the API says so plainly; the socket would only fail to open.
      await checkSession(id);
      await s.ready;
      if (closed) return;
      const reply = await s.request({ type: "session.attach", session_id: id, view: "blocks" });
      if (reply.type === "session.attached") {
        setState(reply.session.state);
        setBlocks((prev) => prev ?? []);
      }
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
