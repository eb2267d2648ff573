// What every viewer tab shares: the tab bar, and how a failed request is shown (a missing token
// gets the no-token screen, anything else a message).
import { type ReactNode, useCallback, useEffect, useState } from "react";
import { NoToken, Unauthorized, navigate } from "../App";

export type Tab = "docs" | "context" | "plugins" | "transcripts";

const TABS: { id: Tab; label: string; href: string }[] = [
  { id: "docs", label: "Docs", href: "/docs/" },
  { id: "context", label: "Context", href: "/context" },
  { id: "plugins", label: "Plugins", href: "/plugins" },
  { id: "transcripts", label: "Transcripts", href: "/transcripts" },
];

/** Whether this server also serves sessions (`aisys serve`, not `aisys docs`); asked once. */
let sessionsServed: Promise<boolean> | null = null;

function useSessionsServed(): boolean {
  const [served, setServed] = useState(false);
  useEffect(() => {
    sessionsServed ??= fetch("/api/sessions", { credentials: "same-origin" })
      .then((r) => r.ok)
      .catch(() => false);
    let live = true;
    sessionsServed.then((s) => live && setServed(s));
    return () => {
      live = false;
    };
  }, []);
  return served;
}

export function ViewerShell({ tab, children }: { tab: Tab; children: ReactNode }) {
  const sessions = useSessionsServed();
  const tabs = sessions ? [...TABS, { id: "sessions" as const, label: "Sessions", href: "/" }] : TABS;
  return (
    <div className="viewer" data-screen={tab}>
      <header className="tabs">
        <nav aria-label="Tabs">
          {tabs.map((t) => (
            <a
              key={t.id}
              href={t.href}
              data-tab={t.id}
              aria-current={t.id === tab ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(t.href);
              }}
            >
              {t.label}
            </a>
          ))}
        </nav>
      </header>
      {children}
    </div>
  );
}

export interface Failure {
  unauthorized: boolean;
  message: string | null;
  screen: ReactNode;
}

/** The tab's failure state and the function that records one (`quiet`: only a missing token counts). */
export function useFailure(): [Failure, (e: unknown, quiet?: boolean) => void] {
  const [unauthorized, setUnauthorized] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const fail = useCallback((e: unknown, quiet?: boolean) => {
    if (e instanceof Unauthorized) setUnauthorized(true);
    else if (!quiet) setMessage(e instanceof Error ? e.message : String(e));
  }, []);
  return [{ unauthorized, message, screen: <NoToken why="the server refused this page's token" /> }, fail];
}
