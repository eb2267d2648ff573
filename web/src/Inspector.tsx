// The events inspector: a session's raw events with their seq and time, and beside them the
// blocks the server's assembler makes of the events up to the one selected.
import { useEffect, useState } from "react";
import { type NumberedEvent, Unauthorized, sessionBlocks, sessionEvents } from "./api";
import { NoToken, navigate } from "./App";
import { Block } from "./Block";
import type { ConversationBlock } from "./protocol";

function when(e: NumberedEvent): string {
  const t = (e.event as { timestamp?: string | null }).timestamp;
  return t ? new Date(t).toLocaleTimeString() : "";
}

export function Inspector({ id }: { id: string }) {
  const [events, setEvents] = useState<NumberedEvent[] | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [blocks, setBlocks] = useState<ConversationBlock[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);

  useEffect(() => {
    sessionEvents(id)
      .then((es) => {
        setEvents(es);
        setSelected(es.length ? es[es.length - 1].seq : null);
      })
      .catch((e: unknown) => (e instanceof Unauthorized ? setUnauthorized(true) : setError(String(e))));
  }, [id]);
  useEffect(() => {
    if (selected === null) return;
    sessionBlocks(id, selected)
      .then((b) => setBlocks(b.blocks))
      .catch((e: unknown) => setError(String(e)));
  }, [id, selected]);

  if (unauthorized) return <NoToken why="the server refused this page's token" />;
  const current = events?.find((e) => e.seq === selected);
  return (
    <main className="inspector" data-screen="inspector">
      <header className="bar">
        <a
          href={`/sessions/${id}`}
          onClick={(e) => {
            e.preventDefault();
            navigate(`/sessions/${id}`);
          }}
        >
          ← Conversation
        </a>
        <h1 className="session-id">Events of {id}</h1>
      </header>
      {error ? <div className="error">{error}</div> : null}
      <div className="inspector-panes">
        <ol className="event-list">
          {(events ?? []).map((e) => (
            <li key={e.seq}>
              <button
                className={e.seq === selected ? "selected" : ""}
                onClick={() => setSelected(e.seq)}
                data-seq={e.seq}
              >
                <span className="seq">{e.seq}</span> <span className="etype">{e.event.type}</span>{" "}
                <span className="time">{when(e)}</span>
              </button>
            </li>
          ))}
        </ol>
        <div className="inspector-right">
          {current ? <pre className="out event-json">{JSON.stringify(current.event, null, 2)}</pre> : null}
          <h2>Blocks after event {selected ?? "-"}</h2>
          <div className="blocks" data-upto={selected ?? ""}>
            {blocks.map((b) => (
              <Block key={b.id} block={b} />
            ))}
          </div>
        </div>
      </div>
    </main>
  );
}
