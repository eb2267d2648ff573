// A conversation's blocks as a virtualized list: only the rows near the viewport are in the
// page, so a session of ten thousand blocks opens and scrolls as fast as a short one. Rows are
// measured as they render (blocks differ in height), and the list follows new blocks while the
// reader is at the bottom.
import { useEffect, useRef, useState } from "react";
import { useWindowVirtualizer } from "@tanstack/react-virtual";
import { Block } from "./Block";
import type { ConversationBlock } from "./protocol";

/** A first guess at a row's height in pixels, before it is measured. */
const ESTIMATED_ROW_PX = 80;
/** Rows rendered beyond each edge of the viewport, so fast scrolling shows no blank. */
const OVERSCAN_ROWS = 8;
/** How long after the reader's own wheel, touch or key the scroll position is judged. */
const USER_SCROLL_SETTLE_MS = 100;
/** How close to the bottom (pixels) counts as "at the bottom" for following new blocks. */
const FOLLOW_SLACK_PX = 120;

/**
 * One row: light while it came into view during fast scrolling (see `Block`), in full from the
 * moment the scrolling stops (and from the start when it did not come in scrolling).
 */
function Row({ block, scrolling }: { block: ConversationBlock; scrolling: boolean }) {
  const [full, setFull] = useState(!scrolling);
  useEffect(() => {
    if (!scrolling) setFull(true);
  }, [scrolling]);
  return <Block block={block} light={!full} />;
}

export function BlockList({ blocks }: { blocks: ConversationBlock[] }) {
  const list = useRef<HTMLDivElement>(null);
  const virtualizer = useWindowVirtualizer({
    count: blocks.length,
    estimateSize: () => ESTIMATED_ROW_PX,
    overscan: OVERSCAN_ROWS,
    scrollMargin: list.current?.offsetTop ?? 0,
    getItemKey: (i) => blocks[i]?.id ?? i,
  });
  // Following the newest block is the reader's choice: only their own scrolling (wheel, touch,
  // keys, a press on the scroll bar) turns it off, and reaching the bottom turns it on again.
  // Scrolling the page does not, since measuring rows moves the scroll position too. The reader's
  // first move stops the following at once: a row measured meanwhile must not pull the page back
  // to the bottom under them.
  const wasAtBottom = useRef(true);
  useEffect(() => {
    const atBottom = () =>
      window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - FOLLOW_SLACK_PX;
    let pending = 0;
    const onUser = () => {
      wasAtBottom.current = false;
      window.clearTimeout(pending);
      pending = window.setTimeout(() => (wasAtBottom.current = atBottom()), USER_SCROLL_SETTLE_MS);
    };
    const onScroll = () => {
      if (atBottom()) wasAtBottom.current = true;
    };
    const user = ["wheel", "touchmove", "keydown", "mousedown"] as const;
    for (const e of user) window.addEventListener(e, onUser, { passive: true });
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => {
      window.clearTimeout(pending);
      for (const e of user) window.removeEventListener(e, onUser);
      window.removeEventListener("scroll", onScroll);
    };
  }, []);
  // Rows are measured as they render, so the list's height keeps changing after new blocks come:
  // while following, go to the bottom again each time it does.
  const total = virtualizer.getTotalSize();
  useEffect(() => {
    if (wasAtBottom.current && blocks.length > 0) window.scrollTo(0, document.documentElement.scrollHeight);
  }, [blocks.length, total]);

  const items = virtualizer.getVirtualItems();
  // Rows that come into view while the reader scrolls start light; while the list follows the
  // newest block (its own scrolling), they are rendered in full at once.
  const readerScrolling = virtualizer.isScrolling && !wasAtBottom.current;
  return (
    <div ref={list} className="block-list" data-count={blocks.length} style={{ height: total, position: "relative" }}>
      {items.map((row) => {
        const b = blocks[row.index];
        if (!b) return null;
        return (
          <div
            key={row.key}
            data-index={row.index}
            data-block-id={b.id}
            ref={virtualizer.measureElement}
            className="row"
            style={{ position: "absolute", top: 0, left: 0, width: "100%", transform: `translateY(${row.start - virtualizer.options.scrollMargin}px)` }}
          >
            <Row block={b} scrolling={readerScrolling} />
          </div>
        );
      })}
    </div>
  );
}
