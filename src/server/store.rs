//! The server's record: sessions and their numbered events, behind the [`Store`] trait, with
//! SQLite (WAL) as the implementation.
//!
//! Events of a session are numbered from 1 with no gaps. `append` returns only after the events
//! are committed, so the caller can broadcast them knowing they are durable. Writes from every
//! session go through one writer thread that commits whatever has queued up in one transaction:
//! many small appends cost one commit, and no append waits for a batch to fill.
//!
//! Events go to an append-only log (`event_log`, in arrival order), so a commit writes the few
//! pages at the log's end however many sessions it serves. The per-session index that reads
//! need (`event_index`: session, seq -> log row) is brought up to date in bulk ("folds"), when
//! the writer has nothing queued: indexing events one by one would rewrite one index page per
//! active session in every commit, which cost three times the rest of the append. Rows past the
//! index's watermark (`store_state.indexed_through`, moved in the same transaction as a fold)
//! are few and are read by scanning them.
//!
//! Must not know about connections or agents: it stores and reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::types::{SessionInfo, StreamEvent};

/// Most appends committed in one transaction: bounds the latency one batch adds.
const MAX_BATCH: usize = 512;
/// How long a reader waits on a locked database before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Unindexed log rows before an idle writer folds them into the index: a fold writes each
/// session's index page once for all its rows, so it pays off only with many rows per session.
const FOLD_MIN_ROWS: i64 = 1024;
/// Most log rows indexed by one fold: bounds how long appends wait behind it (about 3 ms here).
const FOLD_MAX_ROWS: i64 = 4096;
/// Unindexed log rows at which the writer folds even with appends waiting, so that the tail
/// readers scan stays small when the writer is never idle.
const FOLD_FORCE_ROWS: i64 = 16_384;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and events.
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        info TEXT NOT NULL
     );
     CREATE TABLE events (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
     ) WITHOUT ROWID;",
    // 2: events in an append-only log with a per-session index folded in bulk.
    "CREATE TABLE session_keys (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE
     );
     CREATE TABLE event_log (
        id INTEGER PRIMARY KEY,
        session_key INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        json TEXT NOT NULL
     );
     CREATE TABLE event_index (
        session_key INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        log_id INTEGER NOT NULL,
        PRIMARY KEY (session_key, seq)
     ) WITHOUT ROWID;
     CREATE TABLE store_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_through INTEGER NOT NULL
     );
     INSERT INTO session_keys (id) SELECT DISTINCT session_id FROM events ORDER BY session_id;
     INSERT INTO event_log (session_key, seq, json)
        SELECT k.key, e.seq, e.json FROM events e JOIN session_keys k ON k.id = e.session_id
        ORDER BY e.session_id, e.seq;
     INSERT INTO event_index (session_key, seq, log_id)
        SELECT session_key, seq, id FROM event_log;
     INSERT INTO store_state (id, indexed_through)
        VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM event_log));
     DROP TABLE events;",
];

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
    #[error("session store: the writer stopped")]
    WriterGone,
    #[error("session store: cannot start the writer thread: {0}")]
    Thread(std::io::Error),
    #[error("session store: a commit failed: {0}")]
    Commit(String),
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
    /// Appends events and saves the session's metadata in the same transaction, so that the
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
}

/// SQLite in WAL mode: one writer thread, one reader connection.
pub struct SqliteStore {
    writer: std::sync::mpsc::Sender<WriteRequest>,
    reader: Arc<Mutex<Connection>>,
}

enum WriteRequest {
    Append {
        session_id: String,
        events: Vec<Arc<EncodedEvent>>,
        /// The session's metadata to save with the events, if it changed.
        info: Option<SessionInfo>,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    PutSession {
        info: SessionInfo,
        json: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Delete {
        id: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
}

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let open = |p: &Path| {
            Connection::open(p).map_err(|source| StoreError::Open {
                path: p.to_path_buf(),
                source,
            })
        };
        let mut conn = open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL is durable against a process crash (kill -9), which is what the record
        // promises; a power loss may lose the newest commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&mut conn, path)?;
        let writer = Writer::new(conn)?;
        let reader = open(path)?;
        reader.busy_timeout(BUSY_TIMEOUT)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("aisys-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::Thread)?;
        Ok(SqliteStore {
            writer: tx,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    async fn send_append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
        info: Option<SessionInfo>,
    ) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(WriteRequest::Append {
                session_id: session_id.to_string(),
                events,
                info,
                reply,
            })
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// A session's key in the event tables and its newest seq, as the writer knows them.
#[derive(Clone, Copy)]
struct Tail {
    key: i64,
    last_seq: u64,
}

/// The writer thread's connection and what it keeps in memory between commits.
struct Writer {
    conn: Connection,
    /// Sessions written to since the start (reloaded from the database after a failed commit).
    tails: HashMap<String, Tail>,
    /// Log rows up to this id are in the index.
    indexed_through: i64,
    /// The newest log row's id.
    last_log_id: i64,
}

/// Outcome of each request in a committed batch.
enum Done {
    Seq(u64),
    Unit,
    Deleted(bool),
}

impl Writer {
    fn new(conn: Connection) -> Result<Writer, StoreError> {
        let mut w = Writer {
            conn,
            tails: HashMap::new(),
            indexed_through: 0,
            last_log_id: 0,
        };
        w.reload()?;
        Ok(w)
    }

    /// Reads the watermark and the log's end; forgets cached tails.
    fn reload(&mut self) -> Result<(), StoreError> {
        self.tails.clear();
        self.indexed_through =
            self.conn
                .query_row("SELECT indexed_through FROM store_state", [], |r| r.get(0))?;
        self.last_log_id =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM event_log", [], |r| {
                    r.get(0)
                })?;
        Ok(())
    }

    fn run(mut self, rx: std::sync::mpsc::Receiver<WriteRequest>) {
        // A request taken while checking whether the writer is idle; it opens the next batch.
        let mut next: Option<WriteRequest> = None;
        loop {
            let first = match next.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let result = self.commit_batch(&batch);
            if result.is_err() {
                // The cache may be ahead of what was committed: reload it from the database.
                if let Err(e) = self.reload() {
                    tracing::error!("session store: reloading after a failed commit: {e}");
                }
            }
            reply_batch(batch, result);
            next = rx.try_recv().ok();
            let unindexed = self.last_log_id - self.indexed_through;
            if (unindexed >= FOLD_FORCE_ROWS || (next.is_none() && unindexed >= FOLD_MIN_ROWS))
                && let Err(e) = self.fold()
            {
                // Unindexed rows are still read by scanning: nothing is lost, reads slow.
                tracing::error!("session store: indexing events: {e}");
            }
        }
    }

    /// Indexes up to [`FOLD_MAX_ROWS`] log rows past the watermark, in session order, and moves
    /// the watermark, in one transaction.
    fn fold(&mut self) -> Result<(), StoreError> {
        let from = self.indexed_through;
        let to = (from + FOLD_MAX_ROWS).min(self.last_log_id);
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO event_index (session_key, seq, log_id)
             SELECT session_key, seq, id FROM event_log WHERE id > ?1 AND id <= ?2
             ORDER BY session_key, seq",
            params![from, to],
        )?;
        tx.execute("UPDATE store_state SET indexed_through = ?1", params![to])?;
        tx.commit()?;
        self.indexed_through = to;
        Ok(())
    }

    fn commit_batch(&mut self, batch: &[WriteRequest]) -> Result<Vec<Done>, StoreError> {
        // Borrows only the connection, so the caches beside it can change during the batch.
        let tx = self.conn.unchecked_transaction()?;
        let mut done = Vec::with_capacity(batch.len());
        for req in batch {
            match req {
                WriteRequest::Append {
                    session_id,
                    events,
                    info,
                    ..
                } => {
                    let tail = tail(&mut self.tails, self.indexed_through, &tx, session_id)?;
                    {
                        let mut insert = tx.prepare_cached(
                            "INSERT INTO event_log (session_key, seq, json) VALUES (?1, ?2, ?3)",
                        )?;
                        for (i, ev) in events.iter().enumerate() {
                            insert.execute(params![
                                tail.key,
                                (tail.last_seq + 1 + i as u64) as i64,
                                &*ev.json
                            ])?;
                        }
                    }
                    if !events.is_empty() {
                        self.last_log_id = tx.last_insert_rowid();
                    }
                    let new_last = tail.last_seq + events.len() as u64;
                    self.tails.insert(
                        session_id.clone(),
                        Tail {
                            key: tail.key,
                            last_seq: new_last,
                        },
                    );
                    if let Some(info) = info {
                        let mut info = info.clone();
                        info.last_seq = new_last;
                        put_session(&tx, &info.id, &serde_json::to_string(&info)?)?;
                    }
                    done.push(Done::Seq(tail.last_seq + 1));
                }
                WriteRequest::PutSession { info, json, .. } => {
                    put_session(&tx, &info.id, json)?;
                    done.push(Done::Unit);
                }
                WriteRequest::Delete { id, .. } => {
                    let n = tx.execute("DELETE FROM sessions WHERE id = ?1", params![id])?;
                    let key: Option<i64> = tx
                        .query_row(
                            "SELECT key FROM session_keys WHERE id = ?1",
                            params![id],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(key) = key {
                        tx.execute(
                            "DELETE FROM event_log WHERE id IN
                             (SELECT log_id FROM event_index WHERE session_key = ?1)",
                            params![key],
                        )?;
                        tx.execute(
                            "DELETE FROM event_log WHERE id > ?2 AND session_key = ?1",
                            params![key, self.indexed_through],
                        )?;
                        tx.execute(
                            "DELETE FROM event_index WHERE session_key = ?1",
                            params![key],
                        )?;
                        tx.execute("DELETE FROM session_keys WHERE key = ?1", params![key])?;
                    }
                    self.tails.remove(id);
                    done.push(Done::Deleted(n > 0));
                }
            }
        }
        tx.commit()?;
        Ok(done)
    }
}

/// The key and newest seq of a session, creating its key on first use.
fn tail(
    tails: &mut HashMap<String, Tail>,
    indexed_through: i64,
    tx: &rusqlite::Transaction,
    session_id: &str,
) -> Result<Tail, StoreError> {
    if let Some(t) = tails.get(session_id) {
        return Ok(*t);
    }
    let key: Option<i64> = tx
        .query_row(
            "SELECT key FROM session_keys WHERE id = ?1",
            params![session_id],
            |r| r.get(0),
        )
        .optional()?;
    let tail = match key {
        Some(key) => Tail {
            key,
            last_seq: stored_last_seq(tx, key, indexed_through)?,
        },
        None => {
            tx.execute(
                "INSERT INTO session_keys (id) VALUES (?1)",
                params![session_id],
            )?;
            Tail {
                key: tx.last_insert_rowid(),
                last_seq: 0,
            }
        }
    };
    tails.insert(session_id.to_string(), tail);
    Ok(tail)
}

fn put_session(tx: &rusqlite::Transaction, id: &str, json: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions (id, info) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET info = excluded.info",
        params![id, json],
    )?;
    Ok(())
}

/// The newest stored seq of the session with `key`: in the index, or past its watermark.
fn stored_last_seq(conn: &Connection, key: i64, indexed_through: i64) -> Result<u64, StoreError> {
    let indexed: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM event_index WHERE session_key = ?1",
        params![key],
        |r| r.get(0),
    )?;
    let tail: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM event_log WHERE id > ?2 AND session_key = ?1",
        params![key, indexed_through],
        |r| r.get(0),
    )?;
    Ok(indexed.max(tail) as u64)
}

fn reply_batch(batch: Vec<WriteRequest>, result: Result<Vec<Done>, StoreError>) {
    match result {
        Ok(done) => {
            for (req, d) in batch.into_iter().zip(done) {
                match (req, d) {
                    (WriteRequest::Append { reply, .. }, Done::Seq(s)) => {
                        let _ = reply.send(Ok(s));
                    }
                    (WriteRequest::PutSession { reply, .. }, Done::Unit) => {
                        let _ = reply.send(Ok(()));
                    }
                    (WriteRequest::Delete { reply, .. }, Done::Deleted(b)) => {
                        let _ = reply.send(Ok(b));
                    }
                    _ => unreachable!("outcomes are pushed in request order"),
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            let err = || StoreError::Commit(msg.clone());
            for req in batch {
                match req {
                    WriteRequest::Append { reply, .. } => drop(reply.send(Err(err()))),
                    WriteRequest::PutSession { reply, .. } => drop(reply.send(Err(err()))),
                    WriteRequest::Delete { reply, .. } => drop(reply.send(Err(err()))),
                }
            }
        }
    }
}

/// A session's key as a reader sees it, and the index watermark of the same snapshot.
fn reader_key(conn: &Connection, session_id: &str) -> Result<Option<(i64, i64)>, StoreError> {
    let key: Option<i64> = conn
        .query_row(
            "SELECT key FROM session_keys WHERE id = ?1",
            params![session_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(key) = key else { return Ok(None) };
    let through: i64 =
        conn.query_row("SELECT indexed_through FROM store_state", [], |r| r.get(0))?;
    Ok(Some((key, through)))
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        let json = serde_json::to_string(info)?;
        self.writer
            .send(WriteRequest::PutSession {
                info: info.clone(),
                json,
                reply,
            })
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            let json: Option<String> = c
                .query_row(
                    "SELECT info FROM sessions WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
        })
        .await
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT info FROM sessions")?;
            let mut out = Vec::new();
            for json in stmt.query_map([], |r| r.get::<_, String>(0))? {
                out.push(serde_json::from_str::<SessionInfo>(&json?)?);
            }
            out.sort_by(|a, b| b.last_activity.cmp(&a.last_activity));
            Ok(out)
        })
        .await
    }

    async fn count_sessions(&self) -> Result<usize, StoreError> {
        self.read(|c| {
            Ok(c.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get::<_, i64>(0))? as usize)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(WriteRequest::Delete {
                id: id.to_string(),
                reply,
            })
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        self.send_append(session_id, events, None).await
    }

    async fn append_and_save(
        &self,
        info: &SessionInfo,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        self.send_append(&info.id, events, Some(info.clone())).await
    }

    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        let id = session_id.to_string();
        self.read(move |c| {
            // One read transaction: the index, its watermark and the log are one snapshot.
            let tx = c.unchecked_transaction()?;
            let Some((key, through)) = reader_key(&tx, &id)? else {
                return Ok(Vec::new());
            };
            let mut rows: Vec<(u64, String)> = Vec::new();
            {
                let mut indexed = tx.prepare_cached(
                    "SELECT i.seq, l.json FROM event_index i JOIN event_log l ON l.id = i.log_id
                     WHERE i.session_key = ?1 AND i.seq > ?2 ORDER BY i.seq LIMIT ?3",
                )?;
                for row in indexed.query_map(params![key, after_seq as i64, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
                })? {
                    rows.push(row?);
                }
            }
            if rows.len() < limit {
                // Every indexed row of a session precedes its unindexed ones.
                let after = rows.last().map_or(after_seq, |(s, _)| *s);
                let mut tail = tx.prepare_cached(
                    "SELECT seq, json FROM event_log WHERE id > ?1 AND session_key = ?2
                     AND seq > ?3 ORDER BY id LIMIT ?4",
                )?;
                for row in tail.query_map(
                    params![through, key, after as i64, (limit - rows.len()) as i64],
                    |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
                )? {
                    rows.push(row?);
                }
            }
            drop(tx);
            rows.into_iter()
                .map(|(seq, json)| Ok((seq, EncodedEvent::decode(json)?)))
                .collect()
        })
        .await
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError> {
        let id = session_id.to_string();
        self.read(move |c| {
            let tx = c.unchecked_transaction()?;
            match reader_key(&tx, &id)? {
                Some((key, through)) => stored_last_seq(&tx, key, through),
                None => Ok(0),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AgentKind, PermissionMode, SandboxKind, SessionState};

    fn info(id: &str, last: &str) -> SessionInfo {
        SessionInfo {
            id: id.into(),
            title: None,
            agent: AgentKind::ClaudeCode,
            sandbox: SandboxKind::Local,
            state: SessionState::Idle,
            reason: None,
            workspace: "/w".into(),
            model: None,
            permission_mode: PermissionMode::Default,
            agent_session_id: None,
            sandbox_id: None,
            created_at: last.into(),
            last_activity: last.into(),
            last_seq: 0,
        }
    }

    fn ev(n: usize) -> StreamEvent {
        StreamEvent::Stderr {
            line: format!("line {n}"),
        }
    }

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
    }

    #[tokio::test]
    async fn concurrent_appends_are_numbered_in_order_per_session() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        let mut tasks = Vec::new();
        for session in 0..20 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("s{session}");
                for i in 0..50 {
                    s.append(&id, EncodedEvent::batch(vec![ev(i)]).unwrap())
                        .await
                        .unwrap();
                }
                id
            }));
        }
        for t in tasks {
            let id = t.await.unwrap();
            let all = s.events_after(&id, 0, 1000).await.unwrap();
            assert_eq!(all.len(), 50);
            for (i, (seq, e)) in all.iter().enumerate() {
                assert_eq!(*seq, i as u64 + 1);
                assert_eq!(e.event, ev(i));
            }
        }
    }

    #[tokio::test]
    async fn sessions_are_listed_newest_first_and_deleted_with_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).unwrap();
        s.put_session(&info("old", "2026-01-01T00:00:00Z"))
            .await
            .unwrap();
        s.put_session(&info("new", "2026-02-01T00:00:00Z"))
            .await
            .unwrap();
        s.append("old", EncodedEvent::batch(vec![ev(1)]).unwrap())
            .await
            .unwrap();
        let ids: Vec<String> = s
            .list_sessions()
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, ["new", "old"]);
        assert!(s.delete_session("old").await.unwrap());
        assert!(!s.delete_session("old").await.unwrap());
        assert_eq!(s.get_session("old").await.unwrap(), None);
        assert_eq!(s.last_seq("old").await.unwrap(), 0);
    }

    /// The watermark of the index, read beside the store.
    fn indexed_through(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT indexed_through FROM store_state", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn events_read_the_same_before_and_after_they_are_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let s = SqliteStore::open(&path).unwrap();
        // Three sessions interleaved, more rows than one fold takes, so that some end up
        // indexed and some past the watermark.
        let total = (FOLD_MAX_ROWS + FOLD_MIN_ROWS / 2) as usize;
        for i in 0..total {
            let id = format!("s{}", i % 3);
            s.append(&id, EncodedEvent::batch(vec![ev(i)]).unwrap())
                .await
                .unwrap();
        }
        let through = indexed_through(&path);
        assert!(
            through > 0 && through < total as i64,
            "some rows indexed, some not: {through} of {total}"
        );
        for (session, first) in [("s0", 0), ("s1", 1), ("s2", 2)] {
            let n = (total - first).div_ceil(3) as u64;
            assert_eq!(s.last_seq(session).await.unwrap(), n);
            // Pages that start in the index and run on past the watermark.
            let mut seen = Vec::new();
            let mut after = 0;
            loop {
                let page = s.events_after(session, after, 100).await.unwrap();
                if page.is_empty() {
                    break;
                }
                for (seq, e) in &page {
                    assert_eq!(*seq, after + 1, "{session}: no gap, no repeat");
                    assert_eq!(e.event, ev(first + 3 * (*seq as usize - 1)));
                    assert_eq!(&*e.json, serde_json::to_string(&e.event).unwrap());
                    after = *seq;
                }
                seen.extend(page.into_iter().map(|(seq, _)| seq));
            }
            assert_eq!(seen.len() as u64, n);
        }
        // A reopened store numbers on from where it was, and deleting a session removes its
        // indexed and its unindexed events.
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        let n0 = s.last_seq("s0").await.unwrap();
        assert_eq!(
            s.append("s0", EncodedEvent::batch(vec![ev(0)]).unwrap())
                .await
                .unwrap(),
            n0 + 1
        );
        assert!(
            !s.delete_session("s0").await.unwrap(),
            "no metadata was saved"
        );
        assert_eq!(s.last_seq("s0").await.unwrap(), 0);
        assert!(s.events_after("s0", 0, 10).await.unwrap().is_empty());
        assert_eq!(
            s.append("s0", EncodedEvent::batch(vec![ev(0)]).unwrap())
                .await
                .unwrap(),
            1,
            "a deleted session's id starts again at 1"
        );
        assert_eq!(s.events_after("s1", 0, 1).await.unwrap()[0].1.event, ev(1));
    }

    #[tokio::test]
    async fn a_store_of_the_first_schema_is_migrated_with_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let mut c = Connection::open(&path).unwrap();
            let tx = c.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
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
