// The WebSocket side of the protocol (docs/protocol.md): one socket per page, `hello` first,
// requests answered by id, and the events of attached sessions passed to listeners.
import type { ClientFrame, ServerFrame } from "./protocol";

/** The protocol version this client speaks. */
const PROTOCOL_VERSION = 2;
/** How long a request waits for its answer before it fails. */
const REQUEST_TIMEOUT_MS = 30_000;

type Message = ClientFrame extends infer F ? (F extends { id?: unknown } ? Omit<F, "id"> : never) : never;
type Reply = ServerFrame;
type Listener = (frame: Reply) => void;
/** The server's answer to `hello`: its version and the agent profiles it offers. */
export type Welcome = Extract<ServerFrame, { type: "welcome" }>;

export class Socket {
  private ws: WebSocket;
  private next = 1;
  private pending = new Map<string, (f: Reply) => void>();
  private listeners = new Set<Listener>();
  /** Set by `close`: a close the page asked for is not a lost connection. */
  private closing = false;
  /** Resolves with the server's `welcome` once the socket is open and greeted. */
  readonly ready: Promise<Welcome>;

  constructor() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${window.location.host}/ws`);
    this.ws.onmessage = (m) => this.receive(m.data as string);
    this.ready = new Promise((resolve, reject) => {
      this.ws.onopen = () => {
        this.request({ type: "hello", protocol_version: PROTOCOL_VERSION, client: "aisys-web" })
          .then((f) => {
            if (f.type === "welcome") resolve(f);
            else reject(new Error(`hello answered with ${f.type}`));
          })
          .catch(reject);
      };
      this.ws.onerror = () => reject(new Error("cannot connect to the server's WebSocket"));
    });
  }

  private receive(text: string) {
    const frame = JSON.parse(text) as Reply;
    if (frame.id && this.pending.has(frame.id)) {
      const done = this.pending.get(frame.id)!;
      this.pending.delete(frame.id);
      done(frame);
      return;
    }
    for (const l of this.listeners) l(frame);
  }

  /** Sends a request and resolves with its answer; an `error` answer rejects. A request made
   * before the socket is open and greeted (a page asking as it loads) waits for that: sending
   * on a socket still connecting throws. */
  request(message: Message): Promise<Reply> {
    if (this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED) {
      // Waiting on `ready` again would loop without end: it stays resolved after a close.
      return Promise.reject(new Error(`${message.type}: the connection to the server is closed; reload the page`));
    }
    if (message.type !== "hello" && this.ws.readyState !== WebSocket.OPEN) {
      return this.ready.then(() => this.request(message));
    }
    const id = String(this.next++);
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${message.type}: no answer`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, (f) => {
        window.clearTimeout(timer);
        if (f.type === "error") reject(new Error(f.message));
        else resolve(f);
      });
      this.ws.send(JSON.stringify({ id, ...message }));
    });
  }

  listen(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Calls `lost` once when the connection ends without the page closing it (the server went
   * away, the network dropped, or it never opened). */
  onLost(lost: () => void) {
    this.ws.onclose = () => {
      if (!this.closing) lost();
    };
  }

  close() {
    this.closing = true;
    this.ws.close();
  }
}
