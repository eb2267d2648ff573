//! The server's record: sessions and their numbered events, behind the [`Store`] trait, with
//! SQLite (WAL) as the implementation.
//!
//! Events of a session are numbered from 1 with no gaps. `append` returns only after the events
//! are committed, so the caller can broadcast them knowing they are durable. Writes from every
//! session go through one writer thread that commits whatever has queued up in one transaction:
//! many small appends cost one fsync, and no append waits for a batch to fill.
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
    /// Up to `limit` events with seq > `after_seq`, in order.
    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, StreamEvent)>, StoreError>;
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
        let reader = open(path)?;
        reader.busy_timeout(BUSY_TIMEOUT)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("aisys-store-writer".into())
            .spawn(move || writer_loop(conn, rx))
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

fn writer_loop(mut conn: Connection, rx: std::sync::mpsc::Receiver<WriteRequest>) {
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let result = commit_batch(&mut conn, &mut last_seq, &batch);
        if result.is_err() {
            // The cache may be ahead of what was committed: reload it from the database.
            last_seq.clear();
        }
        reply_batch(batch, result);
    }
}

/// Outcome of each request in a committed batch.
enum Done {
    Seq(u64),
    Unit,
    Deleted(bool),
}

fn commit_batch(
    conn: &mut Connection,
    last_seq: &mut HashMap<String, u64>,
    batch: &[WriteRequest],
) -> Result<Vec<Done>, StoreError> {
    let tx = conn.transaction()?;
    let mut done = Vec::with_capacity(batch.len());
    {
        let mut insert =
            tx.prepare_cached("INSERT INTO events (session_id, seq, json) VALUES (?1, ?2, ?3)")?;
        for req in batch {
            match req {
                WriteRequest::Append {
                    session_id,
                    events,
                    info,
                    ..
                } => {
                    let last = match last_seq.get(session_id) {
                        Some(s) => *s,
                        None => tx.query_row(
                            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?1",
                            params![session_id],
                            |r| r.get::<_, i64>(0),
                        )? as u64,
                    };
                    for (i, ev) in events.iter().enumerate() {
                        insert.execute(params![
                            session_id,
                            (last + 1 + i as u64) as i64,
                            &*ev.json
                        ])?;
                    }
                    let new_last = last + events.len() as u64;
                    last_seq.insert(session_id.clone(), new_last);
                    if let Some(info) = info {
                        let mut info = info.clone();
                        info.last_seq = new_last;
                        tx.execute(
                            "INSERT INTO sessions (id, info) VALUES (?1, ?2)
                             ON CONFLICT (id) DO UPDATE SET info = excluded.info",
                            params![info.id, serde_json::to_string(&info)?],
                        )?;
                    }
                    done.push(Done::Seq(last + 1));
                }
                WriteRequest::PutSession { info, json, .. } => {
                    tx.execute(
                        "INSERT INTO sessions (id, info) VALUES (?1, ?2)
                         ON CONFLICT (id) DO UPDATE SET info = excluded.info",
                        params![info.id, json],
                    )?;
                    done.push(Done::Unit);
                }
                WriteRequest::Delete { id, .. } => {
                    let n = tx.execute("DELETE FROM sessions WHERE id = ?1", params![id])?;
                    tx.execute("DELETE FROM events WHERE session_id = ?1", params![id])?;
                    last_seq.remove(id);
                    done.push(Done::Deleted(n > 0));
                }
            }
        }
    }
    tx.commit()?;
    Ok(done)
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
    ) -> Result<Vec<(u64, StreamEvent)>, StoreError> {
        let id = session_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, json FROM events WHERE session_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![id, after_seq as i64, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, json) = row?;
                out.push((seq, serde_json::from_str(&json)?));
            }
            Ok(out)
        })
        .await
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError> {
        let id = session_id.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?1",
                params![id],
                |r| r.get::<_, i64>(0),
            )? as u64)
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
        assert_eq!(after[0].1, ev(2));
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
                assert_eq!(*e, ev(i));
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
