//! The SQLite store: SQLite (WAL) with an append-only journal in front of it.
//!
//! The commit point is the [`journal`]: one thread writes whatever has queued up from every
//! session with one `write`, numbers the events and answers. A second thread loads what was
//! journaled into SQLite in large transactions ([`threads`], [`loader`]), where reads find it;
//! every read first waits for that thread to catch up with the journal, so a reader always sees
//! every write that was answered before it. SQLite's own costs (index pages, checkpoints with
//! their fsyncs) thus never stand between an agent's line and the clients.
//!
//! After a crash, opening the store loads whatever the journal holds past what SQLite had.
//!
//! Must not know about connections or agents: it stores and reads.

mod db;
mod inbox;
mod loader;
mod threads;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::journal;
use super::{EncodedEvent, Store, StoreError};
use crate::server::metrics::StoreQueues;
use crate::types::SessionInfo;
use threads::Request;

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

impl SqliteStore {
    /// Opens (creating and migrating as needed) the store at `path`, and loads into it what its
    /// journal holds beyond it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        db::check_file(path)?;
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
        let mut conn = db::open_writer(path)?;
        let generation = loader::recover(&mut conn, &dir)?;
        let writer =
            journal::Writer::create(&dir, generation).map_err(|source| StoreError::Journal {
                path: dir.clone(),
                source,
            })?;
        let seqs = db::open_reader(path)?;
        let reader = db::open_reader(path)?;
        let queues = Arc::new(StoreQueues::default());
        let loader = loader::Loader::new(conn, dir.clone());
        let journal = Arc::new(inbox::Inbox::new());
        let threads = threads::start(&journal, writer, seqs, loader, dir, &queues)?;
        Ok(SqliteStore {
            journal,
            reader: Arc::new(std::sync::Mutex::new(reader)),
            queues,
            threads,
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

#[async_trait]
impl Store for SqliteStore {
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError> {
        let json = serde_json::to_string(info)?;
        let id = info.id.to_string();
        self.ask(|reply| Request::Put { id, json, reply }).await
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError> {
        let id = id.to_string();
        self.read(move |c| db::get_session(c, &id)).await
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        self.read(|c| {
            let mut out = db::list_sessions(c)?;
            out.sort_by_key(|s| std::cmp::Reverse(s.last_activity));
            Ok(out)
        })
        .await
    }

    async fn count_sessions(&self) -> Result<usize, StoreError> {
        self.read(db::count_sessions).await
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
        let session_id = info.id.to_string();
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
        self.read(move |c| db::events_after(c, &id, after_seq, limit))
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
    use std::time::Duration;

    use super::super::contract_tests::{ev, info};
    use crate::types::StreamEvent;

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
        assert_eq!(*after[0].1.event(), ev(2));
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
            .map(|(seq, e)| (seq, e.into_event()))
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
            tx.execute_batch(db::MIGRATIONS[0]).unwrap();
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
            .map(|(_, e)| e.into_event())
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
