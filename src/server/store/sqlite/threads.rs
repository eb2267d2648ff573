//! The two threads behind the SQLite store: the journal thread, which numbers the events of
//! every session's appends, writes them to the journal with one `write` and answers; and the
//! loader thread, which puts what was journaled into SQLite in large transactions.
//!
//! Must not answer an append before its journal write is done, nor a read (a barrier) before
//! SQLite holds everything journaled before it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as sync_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::super::journal;
use super::super::{EncodedEvent, StoreError};
use super::db;
use super::inbox::Inbox;
use super::loader::{self, Change, Loader};
use crate::server::metrics::StoreQueues;
use crate::types::SessionInfo;

/// Under load, the journal writes at most once per this long: the appends of every session
/// that arrive meanwhile share one `write` and one round of wakeups instead of paying for
/// their own. It waits only when its last write carried several requests (many sessions are
/// writing) and was less than this long ago: one client's requests one after another, or an
/// idle server's, are written at once.
const JOURNAL_WINDOW: Duration = Duration::from_millis(1);
/// Journaled batches waiting for the loader before appends wait too: SQLite falling this far
/// behind means it cannot keep up, and memory must not fill with the backlog.
const LOAD_QUEUE: usize = 4096;
/// The loader gathers at least this long of journaled changes per transaction (unless a read
/// is waiting): SQLite's cost is per page written and per commit, and each session's index page
/// is written once per load however many of its events it brings, so large loads are cheap
/// per event. Reads never wait this long: a read wakes the loader at once.
const LOAD_INTERVAL: Duration = Duration::from_millis(250);
/// How long the loader waits before trying again after a failed transaction.
const LOAD_RETRY: Duration = Duration::from_secs(1);

/// Starts the loader thread, which loads into `loader`'s connection, and the journal thread,
/// which takes its requests from `inbox` (closing it ends both threads), writes with `writer`
/// and reads seqs it has not numbered yet with `seqs`.
pub(super) fn start(
    inbox: &Arc<Inbox<Request>>,
    writer: journal::Writer,
    seqs: Connection,
    loader: Loader,
    dir: PathBuf,
    queues: &Arc<StoreQueues>,
) -> Result<Vec<JoinHandle<()>>, StoreError> {
    let (load_tx, load_rx) = sync_mpsc::sync_channel(LOAD_QUEUE);
    let load_queues = queues.clone();
    let load_thread = std::thread::Builder::new()
        .name("aisys-store-load".into())
        .spawn(move || load_loop(loader, load_rx, &load_queues))
        .map_err(StoreError::Thread)?;
    let journal = JournalThread {
        writer,
        seqs,
        last: HashMap::new(),
        loader: load_tx,
        load_thread: load_thread.thread().clone(),
        queues: queues.clone(),
        dir,
    };
    let requests = inbox.clone();
    let journal_thread = std::thread::Builder::new()
        .name("aisys-store-journal".into())
        .spawn(move || journal.run(&requests))
        .map_err(StoreError::Thread)?;
    Ok(vec![journal_thread, load_thread])
}

/// What the journal thread is asked.
pub(super) enum Request {
    Append {
        session_id: String,
        events: Vec<Arc<EncodedEvent>>,
        /// The session's metadata to save with the events, if it changed.
        info: Option<Box<SessionInfo>>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    Put {
        id: String,
        json: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Answered by the loader once the deletion is in SQLite.
    Delete {
        id: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Answered by the loader once everything journaled before it is in SQLite.
    Barrier {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    LastSeq {
        id: String,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
}

/// What the loader is handed: journaled changes, in journal order, with where they end.
struct LoadBatch {
    items: Vec<Change>,
    generation: u64,
    offset: u64,
}

struct JournalThread {
    writer: journal::Writer,
    /// Reads the newest seq of sessions this thread has not numbered events for yet.
    seqs: Connection,
    /// The newest seq of every session this thread has numbered events for.
    last: HashMap<String, u64>,
    loader: sync_mpsc::SyncSender<LoadBatch>,
    /// Woken when someone waits for a load; otherwise it loads on its own schedule.
    load_thread: std::thread::Thread,
    queues: Arc<StoreQueues>,
    dir: PathBuf,
}

/// A reply owed once the journal write of a batch is known to have worked or not.
enum Owed {
    Seq(oneshot::Sender<Result<u64, StoreError>>, u64),
    Unit(oneshot::Sender<Result<(), StoreError>>),
}

impl JournalThread {
    fn run(mut self, inbox: &Inbox<Request>) {
        let mut buf = Vec::new();
        let mut batch = Vec::new();
        let mut last_write: Option<Instant> = None;
        let mut last_batch = 0;
        while inbox.take_all(&mut batch) {
            if last_batch > 1
                && let Some(left) =
                    last_write.and_then(|at| JOURNAL_WINDOW.checked_sub(at.elapsed()))
            {
                std::thread::sleep(left);
                inbox.take_now(&mut batch);
            }
            last_batch = batch.len();
            buf.clear();
            let mut owed = Vec::with_capacity(batch.len());
            let mut items = Vec::with_capacity(batch.len());
            // Seqs as they were, to put back if the write fails: the session of `items[i]`.
            let mut undo: Vec<(usize, Option<u64>)> = Vec::with_capacity(batch.len());
            for req in batch.drain(..) {
                self.take(req, &mut buf, &mut owed, &mut items, &mut undo);
            }
            let written = if buf.is_empty() {
                Ok(())
            } else {
                last_write = Some(Instant::now());
                self.writer.write(&buf)
            };
            match written {
                Ok(()) => {
                    for o in owed {
                        match o {
                            Owed::Seq(r, s) => drop(r.send(Ok(s))),
                            Owed::Unit(r) => drop(r.send(Ok(()))),
                        }
                    }
                    // The loader reads the events from the bytes written; the next batch gets
                    // a buffer of its own.
                    let next = Vec::with_capacity(buf.capacity());
                    let written = Arc::new(std::mem::replace(&mut buf, next));
                    for item in &mut items {
                        item.set_text(&written);
                    }
                    let waited_on = items.iter().any(Change::is_waited_on);
                    let events: usize = items.iter().map(Change::events).sum();
                    self.queues.sqlite_load.add(events as i64);
                    let batch = LoadBatch {
                        items,
                        generation: self.writer.generation,
                        offset: self.writer.offset,
                    };
                    if self.loader.send(batch).is_err() {
                        break;
                    }
                    if waited_on {
                        self.load_thread.unpark();
                    }
                    if let Err(e) = self.writer.rotate_if_full() {
                        tracing::error!(
                            "session store: starting a new journal file in {}: {e}",
                            self.dir.display()
                        );
                    }
                }
                Err(e) => {
                    tracing::error!("session store: journal {}: {e}", self.dir.display());
                    put_back(&mut self.last, undo, &items);
                    let err = || StoreError::Commit(format!("writing the journal: {e}"));
                    for o in owed {
                        match o {
                            Owed::Seq(r, _) => drop(r.send(Err(err()))),
                            Owed::Unit(r) => drop(r.send(Err(err()))),
                        }
                    }
                    for item in items {
                        item.fail(err());
                    }
                }
            }
        }
        // The loader finishes what is left without waiting out its interval.
        let JournalThread {
            loader,
            load_thread,
            ..
        } = self;
        drop(loader);
        load_thread.unpark();
    }

    /// The newest seq of a session: numbered here before, else as SQLite has it (which then
    /// holds all of it: every change goes through this thread).
    fn last_seq(&mut self, id: &str) -> Result<u64, StoreError> {
        if let Some(s) = self.last.get(id) {
            return Ok(*s);
        }
        let s = db::last_seq(&self.seqs, id)?;
        self.last.insert(id.to_string(), s);
        Ok(s)
    }

    /// Adds one request's line to `buf` and what it owes to `owed` and `items`.
    fn take(
        &mut self,
        req: Request,
        buf: &mut Vec<u8>,
        owed: &mut Vec<Owed>,
        items: &mut Vec<Change>,
        undo: &mut Vec<(usize, Option<u64>)>,
    ) {
        match req {
            Request::Append {
                session_id,
                events,
                info,
                reply,
            } => {
                self.queues.journal.add(-1);
                let last = match self.last_seq(&session_id) {
                    Ok(s) => s,
                    Err(e) => return drop(reply.send(Err(e))),
                };
                let first = last + 1;
                let new_last = last + events.len() as u64;
                let info_json = match info {
                    Some(mut info) => {
                        info.last_seq = new_last;
                        match serde_json::to_string(&info) {
                            Ok(j) => Some(j),
                            Err(e) => return drop(reply.send(Err(e.into()))),
                        }
                    }
                    None => None,
                };
                let ranges = journal::write_append(
                    buf,
                    &session_id,
                    first,
                    events.iter().map(|e| &*e.json),
                    info_json.as_deref(),
                );
                undo.push((items.len(), Some(last)));
                // `last_seq` above has the session in `last`; no key is made per append.
                match self.last.get_mut(&session_id) {
                    Some(l) => *l = new_last,
                    None => drop(self.last.insert(session_id.clone(), new_last)),
                }
                items.push(Change::Append {
                    session_id,
                    first_seq: first,
                    events: loader::Texts::Journaled { text: None, ranges },
                    info: info_json,
                });
                owed.push(Owed::Seq(reply, first));
            }
            Request::Put { id, json, reply } => {
                journal::write_put(buf, &json);
                items.push(Change::Put { id, json });
                owed.push(Owed::Unit(reply));
            }
            Request::Delete { id, reply } => {
                journal::write_delete(buf, &id);
                undo.push((items.len(), self.last.get(&id).copied()));
                // A session made again with this id numbers from 1, whatever SQLite still has.
                self.last.insert(id.clone(), 0);
                items.push(Change::Delete {
                    id,
                    reply,
                    existed: false,
                });
            }
            Request::Barrier { reply } => items.push(Change::Barrier { reply }),
            Request::LastSeq { id, reply } => drop(reply.send(self.last_seq(&id))),
        }
    }
}

/// Puts back the sessions' last seqs as they were before a batch whose write failed: `undo`
/// holds, for the session of `items[i]`, its last seq before that item (none: unknown), and
/// is undone newest first, so that a session with several items gets its oldest.
fn put_back(last: &mut HashMap<String, u64>, undo: Vec<(usize, Option<u64>)>, items: &[Change]) {
    for (i, before) in undo.into_iter().rev() {
        let Some(id) = items.get(i).and_then(Change::session_id) else {
            continue;
        };
        match before {
            Some(s) => last.insert(id.to_string(), s),
            None => last.remove(id),
        };
    }
}

/// Loads journaled batches into SQLite, at least [`LOAD_INTERVAL`] apart unless a reader or a
/// deletion waits (the journal thread then wakes this one); retries a failed transaction after
/// [`LOAD_RETRY`]. Batches arriving meanwhile do not wake it: it sleeps its interval through.
fn load_loop(mut loader: Loader, rx: sync_mpsc::Receiver<LoadBatch>, queues: &StoreQueues) {
    let mut pending: Vec<LoadBatch> = Vec::new();
    let mut last_load = Instant::now();
    let mut closed = false;
    loop {
        if pending.is_empty() {
            if closed {
                break;
            }
            match rx.recv() {
                Ok(b) => pending.push(b),
                Err(_) => break,
            }
        }
        // Gather until the interval is over, or at once for someone waiting.
        loop {
            loop {
                match rx.try_recv() {
                    Ok(b) => pending.push(b),
                    Err(sync_mpsc::TryRecvError::Empty) => break,
                    Err(sync_mpsc::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            let waiting = pending
                .iter()
                .any(|b| b.items.iter().any(|i| i.is_waited_on()));
            let left = LOAD_INTERVAL.saturating_sub(last_load.elapsed());
            if waiting || closed || left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
        let (generation, offset) = pending
            .last()
            .map(|b| (b.generation, b.offset))
            .unwrap_or_default();
        let mut changes: Vec<Change> = pending.drain(..).flat_map(|b| b.items).collect();
        last_load = Instant::now();
        match loader.load(&mut changes, generation, offset) {
            Ok(()) => {
                let events: usize = changes.iter().map(Change::events).sum();
                queues.sqlite_load.add(-(events as i64));
                for c in changes {
                    c.done();
                }
            }
            Err(e) => {
                tracing::error!("session store: loading the journal into SQLite: {e}");
                // Readers are told; the changes stay journaled and are tried again.
                let mut kept = Vec::new();
                for c in changes {
                    if let Some(c) = c.fail_waiter(StoreError::Commit(e.to_string())) {
                        kept.push(c);
                    }
                }
                pending.push(LoadBatch {
                    items: kept,
                    generation,
                    offset,
                });
                std::thread::sleep(LOAD_RETRY);
            }
        }
    }
    loader.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::sqlite::loader::Texts;

    fn append(id: &str) -> Change {
        Change::Append {
            session_id: id.into(),
            first_seq: 1,
            events: Texts::Raw(Vec::new()),
            info: None,
        }
    }

    #[test]
    fn a_failed_write_puts_every_session_back_at_its_seq_before_the_batch() {
        let (reply, _) = oneshot::channel();
        let items = vec![
            append("a"),
            append("b"),
            append("a"),
            Change::Barrier { reply },
            Change::Delete {
                id: "c".into(),
                reply: oneshot::channel().0,
                existed: false,
            },
        ];
        // As the batch left them: a twice (3 -> 5 -> 6), b new (0 -> 2), c deleted (7 -> 0).
        let mut last: HashMap<String, u64> = [("a", 6), ("b", 2), ("c", 0), ("d", 9)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let undo = vec![(0, Some(3)), (1, Some(0)), (2, Some(5)), (4, Some(7))];
        put_back(&mut last, undo, &items);
        assert_eq!(last["a"], 3, "the oldest seq of a session with two appends");
        assert_eq!(last["b"], 0);
        assert_eq!(last["c"], 7, "a deletion that was not written is undone");
        assert_eq!(last["d"], 9, "a session outside the batch is left alone");
        // A session whose seq was not known before is forgotten, to be read again.
        put_back(&mut last, vec![(1, None)], &items);
        assert!(!last.contains_key("b"));
    }
}
