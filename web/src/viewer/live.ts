// Live updates: one WebSocket to `/api/live` per page, reopened when it drops, and the changes
// it tells handed to whoever listens (the open tab re-reads what changed).
import { useEffect, useRef } from "react";

export type Change =
  | { type: "docs"; paths: string[] }
  | { type: "context" }
  | { type: "transcripts"; paths: string[] }
  | { type: "resync" };

/** How long to wait before reopening a dropped socket. */
const RECONNECT_MS = 1000;

type Listener = (c: Change) => void;
const listeners = new Set<Listener>();
let socket: WebSocket | null = null;

function open() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${window.location.host}/api/live`);
  socket = ws;
  ws.onmessage = (m) => {
    let c: Change;
    try {
      c = JSON.parse(m.data as string) as Change;
    } catch {
      return;
    }
    for (const l of listeners) l(c);
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    if (listeners.size > 0) window.setTimeout(() => socket ?? open(), RECONNECT_MS);
  };
}

/** Calls `on` with every change while the component is mounted. */
export function useLive(on: Listener) {
  const ref = useRef(on);
  ref.current = on;
  useEffect(() => {
    const l: Listener = (c) => ref.current(c);
    listeners.add(l);
    if (!socket) open();
    return () => {
      listeners.delete(l);
    };
  }, []);
}
