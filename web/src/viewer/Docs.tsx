// The Docs tab: the docs folder's pages as a tree beside the open page, a search over titles
// and text, and the open page re-read when its file changes (no reload).
import { useCallback, useEffect, useMemo, useState } from "react";
import { navigate } from "../App";
import { type DocHit, type DocPage, type DocText, type DocTree, docsContent, docsSearch, docsTree } from "./api";
import { DocMarkdown, scrollToFragment } from "./DocMarkdown";
import { useLive } from "./live";
import { ViewerShell, useFailure } from "./Shell";

/** Pages opened when the address names none, first found wins. */
const HOME_PAGES = ["index.md", "README.md", "readme.md"];
/** How long typing pauses before a search is sent. */
const SEARCH_DELAY_MS = 200;

function pageUrl(path: string): string {
  return `/docs/${path.split("/").map(encodeURIComponent).join("/")}`;
}

interface Folder {
  name: string;
  folders: Map<string, Folder>;
  pages: DocPage[];
}

function folderTree(pages: DocPage[]): Folder {
  const root: Folder = { name: "", folders: new Map(), pages: [] };
  for (const p of pages) {
    const parts = p.path.split("/");
    let f = root;
    for (const dir of parts.slice(0, -1)) {
      let next = f.folders.get(dir);
      if (!next) {
        next = { name: dir, folders: new Map(), pages: [] };
        f.folders.set(dir, next);
      }
      f = next;
    }
    f.pages.push(p);
  }
  return root;
}

function FolderView({ folder, current, onOpen }: { folder: Folder; current: string; onOpen: () => void }) {
  return (
    <ul className="doc-tree">
      {folder.pages.map((p) => (
        <li key={p.path}>
          <a
            href={pageUrl(p.path)}
            className={p.path === current ? "current" : undefined}
            data-page={p.path}
            onClick={(e) => {
              e.preventDefault();
              navigate(pageUrl(p.path));
              onOpen();
            }}
          >
            {p.title}
          </a>
        </li>
      ))}
      {[...folder.folders.values()].map((f) => (
        <li key={f.name} className="folder">
          <span className="folder-name">{f.name}/</span>
          <FolderView folder={f} current={current} onOpen={onOpen} />
        </li>
      ))}
    </ul>
  );
}

export function Docs({ path }: { path: string }) {
  const [tree, setTree] = useState<DocTree | null>(null);
  const [page, setPage] = useState<DocText | null>(null);
  const [pageError, setPageError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<DocHit[] | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [failure, fail] = useFailure();

  const loadTree = useCallback(() => {
    docsTree().then(setTree).catch(fail);
  }, [fail]);
  const loadPage = useCallback(
    (p: string) => {
      docsContent(p)
        .then((t) => {
          setPage(t);
          setPageError(null);
        })
        .catch((e: unknown) => {
          fail(e, true);
          setPage(null);
          setPageError(e instanceof Error ? e.message : String(e));
        });
    },
    [fail],
  );

  useEffect(loadTree, [loadTree]);
  // No page named: open the folder's home page.
  useEffect(() => {
    if (path || !tree || tree.pages.length === 0) return;
    const home = HOME_PAGES.map((h) => tree.pages.find((p) => p.path === h)).find(Boolean) ?? tree.pages[0];
    window.history.replaceState(null, "", pageUrl(home.path));
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, [path, tree]);
  useEffect(() => {
    if (path) loadPage(path);
    window.scrollTo(0, 0);
  }, [path, loadPage]);
  // A link to `page.md#section` opens the page at that heading, once it is drawn.
  const loadedPath = page?.path;
  useEffect(() => {
    if (loadedPath) window.requestAnimationFrame(() => scrollToFragment(window.location.hash));
  }, [loadedPath]);
  useEffect(() => {
    if (page) document.title = `${page.title} · docs`;
  }, [page]);

  useLive((c) => {
    if (c.type === "resync") {
      loadTree();
      if (path) loadPage(path);
    }
    if (c.type !== "docs") return;
    if (c.paths.length === 0 || c.paths.some((p) => !tree?.pages.some((t) => t.path === p))) loadTree();
    if (path && (c.paths.length === 0 || c.paths.includes(path))) loadPage(path);
  });

  useEffect(() => {
    if (!query.trim()) {
      setHits(null);
      return;
    }
    const t = window.setTimeout(() => docsSearch(query).then(setHits).catch(fail), SEARCH_DELAY_MS);
    return () => window.clearTimeout(t);
  }, [query, fail]);

  const folders = useMemo(() => folderTree(tree?.pages ?? []), [tree]);
  if (failure.unauthorized) return failure.screen;

  return (
    <ViewerShell tab="docs">
      <div className="viewer-split">
        <aside className={menuOpen ? "side open" : "side"}>
          <button className="side-toggle" onClick={() => setMenuOpen(!menuOpen)} aria-expanded={menuOpen}>
            {menuOpen ? "Hide pages" : "Pages"}
          </button>
          <div className="side-body">
            <input
              type="search"
              placeholder="Search the docs"
              aria-label="Search the docs"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              data-input="doc-search"
            />
            {hits !== null ? (
              <ul className="hits" data-list="hits">
                {hits.length === 0 ? <li className="empty">Nothing matches.</li> : null}
                {hits.map((h) => (
                  <li key={h.path}>
                    <a
                      href={pageUrl(h.path)}
                      onClick={(e) => {
                        e.preventDefault();
                        navigate(pageUrl(h.path));
                        setMenuOpen(false);
                      }}
                    >
                      <span className="title">{h.title}</span>
                      {h.snippet ? <span className="snippet">{h.snippet}</span> : null}
                    </a>
                  </li>
                ))}
              </ul>
            ) : tree ? (
              <nav aria-label="Pages">
                <FolderView folder={folders} current={path} onOpen={() => setMenuOpen(false)} />
                {tree.truncated ? <p className="muted">The folder is too large: some pages are not listed.</p> : null}
                {tree.pages.length === 0 ? <p className="empty">No Markdown pages in this folder.</p> : null}
              </nav>
            ) : (
              <p className="muted">Loading…</p>
            )}
          </div>
        </aside>
        <article className="doc-page" data-page-path={page?.path ?? ""}>
          {failure.message ? <div className="error">{failure.message}</div> : null}
          {pageError ? <div className="error">{pageError}</div> : null}
          {page ? <DocMarkdown text={page.text} path={page.path} /> : null}
        </article>
      </div>
    </ViewerShell>
  );
}
