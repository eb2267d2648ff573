// A docs page as Markdown: react-markdown with GitHub's extensions, code highlighted, Mermaid
// blocks drawn as diagrams, and links to other pages of the folder opened inside the app.
// Raw HTML in a page is shown as text (react-markdown's default), and unsafe URLs are dropped.
import type { ComponentProps } from "react";
import ReactMarkdown, { type ExtraProps } from "react-markdown";
import remarkGfm from "remark-gfm";
import rehypeHighlight from "rehype-highlight";
import rehypeSlug from "rehype-slug";
import type { ElementContent } from "hast";
import { navigate } from "../App";
import { Mermaid } from "./Mermaid";

/** Prefix of the ids given to headings, so that a page's own names cannot clash with the app's. */
export const HEADING_ID_PREFIX = "doc-";

/** Scrolls to the heading a `#fragment` names on the open page; whether there was one. */
export function scrollToFragment(hash: string): boolean {
  if (!hash || hash === "#") return false;
  const el = document.getElementById(HEADING_ID_PREFIX + decodeURIComponent(hash.slice(1)));
  el?.scrollIntoView({ block: "start" });
  return !!el;
}

/** Base for resolving relative links; never fetched. */
const BASE = "https://docs.invalid/";

/** The file of the docs folder a relative URL names from the page `from`; null for any other URL. */
function resolveRelative(from: string, href: string | undefined): { path: string; hash: string } | null {
  if (!href || href.startsWith("#") || /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//")) return null;
  let url: URL;
  try {
    url = new URL(href, BASE + from);
  } catch {
    return null;
  }
  if (url.origin + "/" !== BASE) return null;
  return { path: decodeURIComponent(url.pathname.slice(1)), hash: url.hash };
}

/** The docs page a link points to, relative to the page it is on; null when it leaves the docs. */
export function resolveDocLink(from: string, href: string | undefined): { path: string; hash: string } | null {
  const r = resolveRelative(from, href);
  if (!r) return null;
  const path = r.path === "" || r.path.endsWith("/") ? `${r.path}README.md` : r.path;
  return /\.(md|markdown)$/i.test(path) ? { path, hash: r.hash } : null;
}

function textOf(nodes: ElementContent[]): string {
  return nodes.map((n) => (n.type === "text" ? n.value : n.type === "element" ? textOf(n.children) : "")).join("");
}

function Pre({ node, children, ...rest }: ComponentProps<"pre"> & ExtraProps) {
  const code = node?.children[0];
  if (code?.type === "element" && code.tagName === "code") {
    const cls = code.properties?.className;
    if (Array.isArray(cls) && cls.includes("language-mermaid")) {
      return <Mermaid source={textOf(code.children).replace(/\n$/, "")} />;
    }
  }
  return <pre {...rest}>{children}</pre>;
}

export function DocMarkdown({ text, path }: { text: string; path: string }) {
  const Link = ({ node: _node, href, children, ...rest }: ComponentProps<"a"> & ExtraProps) => {
    const doc = resolveDocLink(path, href);
    if (doc) {
      const to = `/docs/${doc.path.split("/").map(encodeURIComponent).join("/")}${doc.hash}`;
      return (
        <a
          {...rest}
          href={to}
          data-doc-link={doc.path}
          onClick={(e) => {
            if (e.metaKey || e.ctrlKey || e.shiftKey) return;
            e.preventDefault();
            navigate(to);
          }}
        >
          {children}
        </a>
      );
    }
    if (href?.startsWith("#")) {
      return (
        <a
          {...rest}
          href={href}
          onClick={(e) => {
            e.preventDefault();
            window.history.replaceState(null, "", href);
            scrollToFragment(href);
          }}
        >
          {children}
        </a>
      );
    }
    const external = !!href && /^[a-z][a-z0-9+.-]*:/i.test(href);
    return (
      <a {...rest} href={href} {...(external ? { target: "_blank", rel: "noopener noreferrer" } : {})}>
        {children}
      </a>
    );
  };
  // Images of the docs folder come through the API (the server checks the path); others stay
  // as written, which the page's Content-Security-Policy then blocks unless they are data URLs.
  const Image = ({ node: _node, src, alt, ...rest }: ComponentProps<"img"> & ExtraProps) => {
    const local = typeof src === "string" ? resolveRelative(path, src) : null;
    return <img {...rest} alt={alt ?? ""} src={local ? `/api/docs/image?path=${encodeURIComponent(local.path)}` : src} />;
  };
  return (
    <div className="md doc">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[
          [rehypeSlug, { prefix: HEADING_ID_PREFIX }],
          [rehypeHighlight, { detect: false, plainText: ["mermaid"] }],
        ]}
        components={{ pre: Pre, a: Link, img: Image }}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}
