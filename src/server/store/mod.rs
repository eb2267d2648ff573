//! The server's record: sessions and their numbered events, behind the [`Store`] trait, with
//! SQLite (WAL) as the implementation and an append-only journal in front of it.
//!
//! Events of a session are numbered from 1 with no gaps. `append` returns once the events are
//! committed, so the caller can broadcast them knowing they are durable. The commit point is
//! the [`journal`]: one thread writes whatever has queued up from every session with one
//! `write`, numbers the events and answers. A second thread loads what was journaled into
//! SQLite in large transactions ([`sqlite`]), where reads find it; every read first waits for
//! that thread to catch up with the journal, so a reader always sees every write that was
//! answered before it. SQLite's own costs (index pages, checkpoints with their fsyncs) thus
//! never stand between an agent's line and the clients.
//!
//! After a crash, opening the store loads whatever the journal holds past what SQLite had.
//!
//! Must not know about connections or agents: it stores and reads.

pub mod announce;
mod choice;
#[cfg(test)]
pub(crate) mod contract_tests;
mod inbox;
mod journal;
mod pg_batch;
mod pg_tls;
mod postgres;
mod sqlite;

pub use choice::StoreChoice;
pub use postgres::PostgresStore;
pub(crate) use postgres::pg_text as postgres_text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as sync_mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::server::metrics::StoreQueues;
use crate::types::{SessionInfo, StreamEvent};

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("session store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("session store: a stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(
        "session store {path} was written by a newer aisys (schema {found}, this one knows {known})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("session store: journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "session store {path} is in use by another aisys server; stop it, or use another data folder (`aisys serve --data-dir DIR`, or AISYS_DATA_DIR)"
    )]
    InUse { path: PathBuf },
    #[error("session store: the writer stopped")]
    WriterGone,
    #[error("session store: cannot start a store thread: {0}")]
    Thread(std::io::Error),
    #[error("session store: a commit failed: {0}")]
    Commit(String),
    #[error("session store {url}: {what}")]
    Postgres { url: String, what: String },
    #[error(
        "session store {url} was written by a newer aisys (schema {found}, this one knows {known})"
    )]
    PostgresTooNew {
        url: String,
        found: i64,
        known: usize,
    },
    #[error("--store {value}: {why}")]
    Choice { value: String, why: String },
}

/// An event with its JSON, encoded once: stored as it is, and sent to every client without
/// being encoded again.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub event: StreamEvent,
    pub json: Box<str>,
}

impl EncodedEvent {
    pub fn new(event: StreamEvent) -> Result<EncodedEvent, serde_json::Error> {
        let json = serde_json::to_string(&event)?.into_boxed_str();
        Ok(EncodedEvent { event, json })
    }

    /// An event read back from its stored text, which is kept as it is.
    pub fn decode(json: String) -> Result<EncodedEvent, serde_json::Error> {
        let event = serde_json::from_str(&json)?;
        Ok(EncodedEvent {
            event,
            json: json.into_boxed_str(),
        })
    }

    /// Encodes each event of a batch.
    pub fn batch(events: Vec<StreamEvent>) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
        events
            .into_iter()
            .map(|e| Ok(Arc::new(EncodedEvent::new(e)?)))
            .collect()
    }
}

/// Where sessions and events are kept.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates or replaces a session's metadata.
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError>;
    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError>;
    /// Every session, newest activity first.
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError>;
    /// How many sessions there are.
    async fn count_sessions(&self) -> Result<usize, StoreError>;
    /// Deletes a session and its events; false when there was none.
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
    /// Appends events and returns the seq of the first; returns once they are committed.
    async fn append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError>;
    /// Appends events and saves the session's metadata in the same commit, so that the
    /// stored state never disagrees with the stored events (`last_seq` is set to the new last).
    async fn append_and_save(
        &self,
        info: &SessionInfo,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError>;
    /// Up to `limit` events with seq > `after_seq`, in order, each with its stored text.
    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError>;
    /// The newest seq of a session (0 when it has none).
    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError>;
    /// The depths of the store's own queues, when it has any.
    fn queues(&self) -> Option<&StoreQueues> {
        None
    }
}

/// The journal in front of SQLite: a journal thread, a loader thread, one reader connection.
pub struct SqliteStore {
    /// Closed when the store is dropped, which ends the journal thread and then the loader.
    journal: Arc<inbox::Inbox<Request>>,
    reader: Arc<std::sync::Mutex<Connection>>,
    queues: Arc<StoreQueues>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Held while the store is open: a second server on the same files would remove journal
    /// files the first still writes. Released after the threads end (fields drop after `drop`).
    _lock: std::fs::File,
}

impl Drop for SqliteStore {
    /// Waits for what was journaled to be loaded, so that SQLite is complete when it closes.
    fn drop(&mut self) {
        self.journal.close();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What the journal thread is asked.
enum Request {
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

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store at `path`, and loads into it what its
    /// journal holds beyond it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let dir = journal::dir_for(path);
        let lock = journal::lock_within(&dir, journal::LOCK_GRACE)
            .map_err(|source| StoreError::Journal {
                path: dir.clone(),
                source,
            })?
            .ok_or_else(|| StoreError::InUse {
                path: path.to_path_buf(),
            })?;
        let mut conn = sqlite::open_writer(path)?;
        let generation = sqlite::recover(&mut conn, &dir)?;
        let journal_err = |source| StoreError::Journal {
            path: dir.clone(),
            source,
        };
        let writer = journal::Writer::create(&dir, generation).map_err(journal_err)?;
        let seqs = sqlite::open_reader(path)?;
        let reader = sqlite::open_reader(path)?;
        let (load_tx, load_rx) = sync_mpsc::sync_channel(LOAD_QUEUE);
        let inbox = Arc::new(inbox::Inbox::new());
        let loader = sqlite::Loader::new(conn, dir.clone());
        let queues = Arc::new(StoreQueues::default());
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
        Ok(SqliteStore {
            journal: inbox,
            reader: Arc::new(std::sync::Mutex::new(reader)),
            queues,
            threads: vec![journal_thread, load_thread],
            _lock: lock,
        })
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.journal
            .push(make(reply))
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Asks for an append, counted in the journal's queue until the journal thread takes it.
    async fn ask_append(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<u64, StoreError>>) -> Request,
    ) -> Result<u64, StoreError> {
        self.queues.journal.add(1);
        let (reply, rx) = oneshot::channel();
        if self.journal.push(make(reply)).is_err() {
            self.queues.journal.add(-1);
            return Err(StoreError::WriterGone);
        }
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` on the reader connection once SQLite holds everything written before the call.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.ask(|reply| Request::Barrier { reply }).await?;
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }
}

/// What the loader is handed: journaled changes, in journal order, with where they end.
struct LoadBatch {
    items: Vec<sqlite::Change>,
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
    fn run(mut self, inbox: &inbox::Inbox<Request>) {
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
            // Seqs as they were, to put back if the write fails.
            let mut undo: Vec<(String, Option<u64>)> = Vec::with_capacity(batch.len());
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
                    let waited_on = items.iter().any(sqlite::Change::is_waited_on);
                    let events: usize = items.iter().map(sqlite::Change::events).sum();
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
                    for (id, before) in undo.into_iter().rev() {
                        match before {
                            Some(s) => self.last.insert(id, s),
                            None => self.last.remove(&id),
                        };
                    }
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
        let s = sqlite::last_seq(&self.seqs, id)?;
        self.last.insert(id.to_string(), s);
        Ok(s)
    }

    /// Adds one request's line to `buf` and what it owes to `owed` and `items`.
    fn take(
        &mut self,
        req: Request,
        buf: &mut Vec<u8>,
        owed: &mut Vec<Owed>,
        items: &mut Vec<sqlite::Change>,
        undo: &mut Vec<(String, Option<u64>)>,
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
                undo.push((session_id.clone(), Some(last)));
                self.last.insert(session_id.clone(), new_last);
                items.push(sqlite::Change::Append {
                    session_id,
                    first_seq: first,
                    events: sqlite::Texts::Journaled { text: None, ranges },
                    info: info_json,
                });
                owed.push(Owed::Seq(reply, first));
            }
            Request::Put { id, json, reply } => {
                journal::write_put(buf, &json);
                items.push(sqlite::Change::Put { id, json });
                owed.push(Owed::Unit(reply));
            }
            Request::Delete { id, reply } => {
                journal::write_delete(buf, &id);
                undo.push((id.clone(), self.last.get(&id).copied()));
                // A session made again with this id numbers from 1, whatever SQLite still has.
                self.last.insert(id.clone(), 0);
                items.push(sqlite::Change::Delete {
                    id,
                    reply,
                    existed: false,
                });
            }
            Request::Barrier { reply } => items.push(sqlite::Change::Barrier { reply }),
            Request::LastSeq { id, reply } => drop(reply.send(self.last_seq(&id))),
        }
    }
}

/// Loads journaled batches into SQLite, at least [`LOAD_INTERVAL`] apart unless a reader or a
/// deletion waits (the journal thread then wakes this one); retries a failed transaction after
/// [`LOAD_RETRY`]. Batches arriving meanwhile do not wake it: it sleeps its interval through.
fn load_loop(mut loader: sqlite::Loader, rx: sync_mpsc::Receiver<LoadBatch>, queues: &StoreQueues) {
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
        let mut changes: Vec<sqlite::Change> = pending.drain(..).flat_map(|b| b.items).collect();
        last_load = Instant::now();
        match loader.load(&mut changes, generation, offset) {
            Ok(()) => {
                let events: usize = changes.iter().map(sqlite::Change::events).sum();
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

#[async_trait]
impl Store for SqliteStore {
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError> {
        let json = serde_json::to_string(info)?;
        let id = info.id.clone();
        self.ask(|reply| Request::Put { id, json, reply }).await
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError> {
        let id = id.to_string();
        self.read(move |c| sqlite::get_session(c, &id)).await
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        self.read(|c| {
            let mut out = sqlite::list_sessions(c)?;
            out.sort_by(|a, b| b.last_activity.cmp(&a.last_activity));
            Ok(out)
        })
        .await
    }

    async fn count_sessions(&self) -> Result<usize, StoreError> {
        self.read(sqlite::count_sessions).await
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.ask(|reply| Request::Delete { id, reply }).await
    }

    async fn append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        let session_id = session_id.to_string();
        self.ask_append(|reply| Request::Append {
            session_id,
            events,
            info: None,
            reply,
        })
        .await
    }

    async fn append_and_save(
        &self,
        info: &SessionInfo,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        let session_id = info.id.clone();
        let info = Some(Box::new(info.clone()));
        self.ask_append(|reply| Request::Append {
            session_id,
            events,
            info,
            reply,
        })
        .await
    }

    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        let id = session_id.to_string();
        self.read(move |c| sqlite::events_after(c, &id, after_seq, limit))
            .await
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError> {
        let id = session_id.to_string();
        self.ask(|reply| Request::LastSeq { id, reply }).await
    }

    fn queues(&self) -> Option<&StoreQueues> {
        Some(&self.queues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    use super::contract_tests::{ev, info};

    #[tokio::test]
    async fn seqs_start_at_one_without_gaps_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aisys.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            assert_eq!(
                s.append("a", EncodedEvent::batch(vec![ev(1), ev(2)]).unwrap())
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                s.append("b", EncodedEvent::batch(vec![ev(1)]).unwrap())
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                s.append("a", EncodedEvent::batch(vec![ev(3)]).unwrap())
                    .await
                    .unwrap(),
                3
            );
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.last_seq("a").await.unwrap(), 3);
        assert_eq!(
            s.append("a", EncodedEvent::batch(vec![ev(4)]).unwrap())
                .await
                .unwrap(),
            4
        );
        let after = s.events_after("a", 1, 10).await.unwrap();
        let seqs: Vec<u64> = after.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [2, 3, 4]);
        assert_eq!(after[0].1.event, ev(2));
        assert_eq!(s.events_after("a", 0, 2).await.unwrap().len(), 2);
        // Past every event, however large: 2^63 and above do not wrap to negative numbers.
        for far in [5, 1 << 63, u64::MAX] {
            assert!(
                s.events_after("a", far, 10).await.unwrap().is_empty(),
                "{far}"
            );
        }
    }

    /// Writes a journal file by hand, as a crash would leave it: lines SQLite never got.
    fn journal_lines(store: &Path, generation: u64, tail: &[u8]) {
        let mut buf = Vec::new();
        let texts: Vec<String> = (1..=3)
            .map(|i| serde_json::to_string(&ev(i)).unwrap())
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        journal::write_append(&mut buf, "crashed", 1, refs[..2].iter().copied(), None);
        let info = serde_json::to_string(&info("crashed", "2026-03-01T00:00:00Z")).unwrap();
        journal::write_append(
            &mut buf,
            "crashed",
            3,
            refs[2..].iter().copied(),
            Some(&info),
        );
        buf.extend_from_slice(tail);
        let dir = journal::dir_for(store);
        std::fs::write(dir.join(format!("{generation}.jsonl")), buf).unwrap();
    }

    #[tokio::test]
    async fn what_the_journal_holds_beyond_sqlite_is_loaded_on_open_and_a_cut_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(SqliteStore::open(&path).unwrap());
        // The next generation after the one the first open started (1) is 2.
        journal_lines(
            &path,
            2,
            br#"{"op":"append","session_id":"crashed","first_seq":4,"ev"#,
        );
        let s = SqliteStore::open(&path).unwrap();
        let got: Vec<(u64, StreamEvent)> = s
            .events_after("crashed", 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(seq, e)| (seq, e.event))
            .collect();
        assert_eq!(got, [(1, ev(1)), (2, ev(2)), (3, ev(3))]);
        assert_eq!(s.last_seq("crashed").await.unwrap(), 3);
        let saved = s.get_session("crashed").await.unwrap().unwrap();
        assert_eq!(saved.last_seq, 0, "the info is stored as it was journaled");
        assert_eq!(
            s.append("crashed", EncodedEvent::batch(vec![ev(4)]).unwrap())
                .await
                .unwrap(),
            4
        );
        let jdir = journal::dir_for(&path);
        assert!(
            jdir.join("2.jsonl.damaged").exists(),
            "the damaged file is kept"
        );
        assert_eq!(
            journal::generations(&jdir).unwrap(),
            [3],
            "loaded files are removed"
        );
        drop(s);
        // Loaded once: a third open finds nothing more to load and no duplicates.
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.events_after("crashed", 0, 10).await.unwrap().len(), 4);
    }

    #[test]
    fn a_lock_held_for_a_moment_is_waited_for() {
        // What a restarted server meets when a child of the killed one has not exec'd yet.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let held = journal::lock(&journal::dir_for(&path)).unwrap().unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        SqliteStore::open(&path).unwrap();
        release.join().unwrap();
    }

    #[test]
    fn a_second_store_on_the_same_files_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let first = SqliteStore::open(&path).unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(err, StoreError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("--data-dir"), "{err}");
        drop(first);
        SqliteStore::open(&path).unwrap();
    }

    #[tokio::test]
    async fn a_store_of_the_first_schema_is_migrated_with_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            tx.execute_batch(sqlite::MIGRATIONS[0]).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            for seq in 1..=3 {
                let json = serde_json::to_string(&ev(seq)).unwrap();
                tx.execute(
                    "INSERT INTO events (session_id, seq, json) VALUES ('old', ?1, ?2)",
                    params![seq as i64, json],
                )
                .unwrap();
            }
            tx.execute(
                "INSERT INTO sessions (id, info) VALUES ('old', ?1)",
                params![serde_json::to_string(&info("old", "2026-01-01T00:00:00Z")).unwrap()],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let events: Vec<StreamEvent> = s
            .events_after("old", 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.event)
            .collect();
        assert_eq!(events, [ev(1), ev(2), ev(3)]);
        assert_eq!(
            s.append("old", EncodedEvent::batch(vec![ev(4)]).unwrap())
                .await
                .unwrap(),
            4
        );
        assert!(s.get_session("old").await.unwrap().is_some());
        assert!(s.delete_session("old").await.unwrap());
        assert!(s.events_after("old", 0, 10).await.unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer aisys"), "{err}");
    }
}
