// The app's shell: the token trade on first load, a route per screen (`/` the session list,
// `/sessions/<id>` a conversation, `/sessions/<id>/agents/<block id>` one subagent's run,
// `/sessions/<id>/events` the events inspector; the viewer's tabs `/docs/<page>`, `/context`,
// `/plugins`, `/transcripts/<file>`), and the screen shown without a valid token.
import { useEffect, useState } from "react";
import { Unauthorized, adoptTokenFromUrl } from "./api";
import { Conversation } from "./Conversation";
import { Inspector } from "./Inspector";
import { SessionList } from "./SessionList";
import { SubagentView } from "./SubagentView";
import { Context } from "./viewer/Context";
import { Docs } from "./viewer/Docs";
import { Plugins } from "./viewer/Plugins";
import { Transcripts } from "./viewer/Transcripts";

export function navigate(path: string) {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const on = () => setPath(window.location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return path;
}

export function NoToken({ why }: { why: string }) {
  return (
    <main className="no-token" data-screen="no-token">
      <h1>aisys</h1>
      <p>This page needs the server's token ({why}).</p>
      <p>
        Open the address that <code>aisys serve</code> printed when it started: it ends in{" "}
        <code>?token=…</code>. The token is also in the file <code>token</code> in the server's
        data folder (by default <code>~/.local/share/aisys/token</code>); open this page as{" "}
        <code>/?token=&lt;that token&gt;</code>.
      </p>
    </main>
  );
}

export function App() {
  const path = usePath();
  const [auth, setAuth] = useState<"pending" | "ok" | string>("pending");
  useEffect(() => {
    adoptTokenFromUrl()
      .then(() => setAuth("ok"))
      .catch((e: unknown) => setAuth(e instanceof Error ? e.message : String(e)));
  }, []);
  if (auth === "pending") return null;
  if (auth !== "ok") return <NoToken why={auth} />;
  const doc = path.match(/^\/docs(?:\/(.*))?$/);
  if (doc) return <Docs path={decodeURIComponent(doc[1] ?? "")} />;
  if (path === "/context") return <Context />;
  if (path === "/plugins") return <Plugins />;
  const tr = path.match(/^\/transcripts(?:\/(.+))?$/);
  if (tr) return <Transcripts file={tr[1] ? decodeURIComponent(tr[1]) : null} />;
  const agent = path.match(/^\/sessions\/([^/]+)\/agents\/([^/]+)$/);
  if (agent) return <SubagentView session={decodeURIComponent(agent[1])} run={decodeURIComponent(agent[2])} />;
  const ev = path.match(/^\/sessions\/([^/]+)\/events$/);
  if (ev) return <Inspector id={decodeURIComponent(ev[1])} />;
  const m = path.match(/^\/sessions\/([^/]+)/);
  if (m) return <Conversation id={decodeURIComponent(m[1])} />;
  return <SessionList />;
}

export { Unauthorized };
