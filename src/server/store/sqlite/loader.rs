//! Loading journaled changes into SQLite: in bulk as the loader thread hands them over, and on
//! opening, what the journal holds past what SQLite had (after a crash).
//!
//! Events live in chunks (`event_chunks`: a session, the first and last seq, and the events'
//! JSON texts one per line), indexed by session and last seq. A load puts each session's events
//! into one chunk (or a few, past [`CHUNK_BYTES`]), sorted by session: a row and an index entry
//! per session and load, however many events it brings;
//! `journal_state` records, in the same transaction, how far into the journal SQLite holds.
//!
//! Must not know about the journal's threads or about clients.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::super::journal::{self, Record};
use super::super::{StoreError, chunk};
use crate::types::SessionInfo;

/// Journal records loaded per transaction while recovering: bounds the memory one takes.
const RECOVERY_CHUNK: usize = 10_000;
/// Most bytes of events in one chunk row: a read that starts inside a chunk reads all of it, so
/// a chunk stays near a replay page's size, while a busy session's load still takes few rows.
const CHUNK_BYTES: usize = 64 * 1024;

/// Event texts, as the journal thread hands them over or as recovery reads them.
pub enum Texts {
    /// Where they are in the bytes of the journal write that carried them (`text` is set once
    /// that write is done). The loader thus holds one buffer per write, not the events
    /// themselves, which the sessions' threads allocated and would have to free.
    Journaled {
        text: Option<Arc<Vec<u8>>>,
        ranges: Vec<Range<usize>>,
    },
    Raw(Vec<Box<RawValue>>),
}

impl Texts {
    fn len(&self) -> usize {
        match self {
            Texts::Journaled { ranges, .. } => ranges.len(),
            Texts::Raw(v) => v.len(),
        }
    }

    /// The `i`th event's JSON.
    fn get(&self, i: usize) -> Result<&str, StoreError> {
        let bad = || StoreError::Commit(format!("event {i} of a journal write is not UTF-8"));
        match self {
            Texts::Journaled {
                text: Some(text),
                ranges,
            } => {
                let bytes = ranges.get(i).and_then(|r| text.get(r.clone()));
                std::str::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())
            }
            Texts::Journaled { text: None, .. } => Err(bad()),
            Texts::Raw(v) => v.get(i).map(|e| e.get()).ok_or_else(bad),
        }
    }
}

/// One journaled change on its way into SQLite, with whoever waits for it.
pub enum Change {
    Append {
        session_id: String,
        first_seq: u64,
        events: Texts,
        info: Option<String>,
    },
    Put {
        id: String,
        json: String,
    },
    Delete {
        id: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
        /// Whether there was such a session, known once loaded.
        existed: bool,
    },
    /// Someone waiting for everything before this to be in SQLite.
    Barrier {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

impl Change {
    /// The session an append or a deletion is of.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Change::Append { session_id, .. } => Some(session_id),
            Change::Delete { id, .. } => Some(id),
            Change::Put { .. } | Change::Barrier { .. } => None,
        }
    }

    /// Whether a caller waits for this change to be loaded.
    pub fn is_waited_on(&self) -> bool {
        matches!(self, Change::Delete { .. } | Change::Barrier { .. })
    }

    /// Gives an append the journal write its events are in.
    pub fn set_text(&mut self, written: &Arc<Vec<u8>>) {
        if let Change::Append {
            events: Texts::Journaled { text, .. },
            ..
        } = self
        {
            *text = Some(written.clone());
        }
    }

    /// How many events the change brings.
    pub fn events(&self) -> usize {
        match self {
            Change::Append { events, .. } => events.len(),
            _ => 0,
        }
    }

    /// Tells whoever waits that the change is in SQLite.
    pub fn done(self) {
        match self {
            Change::Delete { reply, existed, .. } => drop(reply.send(Ok(existed))),
            Change::Barrier { reply } => drop(reply.send(Ok(()))),
            _ => {}
        }
    }

    /// Tells whoever waits that the change failed for good (it was not journaled).
    pub fn fail(self, err: StoreError) {
        match self {
            Change::Delete { reply, .. } => drop(reply.send(Err(err))),
            Change::Barrier { reply } => drop(reply.send(Err(err))),
            _ => {}
        }
    }

    /// After a failed load: a waiter is told and dropped; a journaled change is kept to retry.
    pub fn fail_waiter(self, err: StoreError) -> Option<Change> {
        match self {
            Change::Barrier { reply } => {
                let _ = reply.send(Err(err));
                None
            }
            other => Some(other),
        }
    }
}

/// Puts journaled changes into SQLite.
pub struct Loader {
    conn: Connection,
    /// Session ids and their keys in the event tables.
    keys: HashMap<String, i64>,
    dir: PathBuf,
    /// Journal generations before this one have been deleted.
    kept_from: u64,
}

impl Loader {
    pub fn new(conn: Connection, dir: PathBuf) -> Loader {
        Loader {
            conn,
            keys: HashMap::new(),
            dir,
            kept_from: 0,
        }
    }

    /// Applies `changes` in one transaction and records that the journal is loaded up to
    /// `offset` of `generation`; then deletes journal generations no longer needed.
    pub fn load(
        &mut self,
        changes: &mut [Change],
        generation: u64,
        offset: u64,
    ) -> Result<(), StoreError> {
        let result = apply(&self.conn, &mut self.keys, changes, generation, offset);
        if result.is_err() {
            // Keys made in the rolled-back transaction do not exist.
            self.keys.clear();
        }
        result?;
        if generation > self.kept_from {
            if let Err(e) = journal::remove_before(&self.dir, generation) {
                tracing::warn!(
                    "session store: removing loaded journal files in {}: {e}",
                    self.dir.display()
                );
            }
            self.kept_from = generation;
        }
        Ok(())
    }

    /// Leaves a small WAL behind when the store closes.
    pub fn close(self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
}

fn apply(
    conn: &Connection,
    keys: &mut HashMap<String, i64>,
    changes: &mut [Change],
    generation: u64,
    offset: u64,
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    // Appends wait here, by session, to go into the log together (see `flush_events`).
    let mut pending: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for i in 0..changes.len() {
        if matches!(changes[i], Change::Delete { .. }) {
            flush_events(&tx, changes, &mut pending)?;
        }
        match &mut changes[i] {
            Change::Append {
                session_id, info, ..
            } => {
                let key = key_for(&tx, keys, session_id)?;
                pending.entry(key).or_default().push(i);
                if let Some(info) = info {
                    put_session(&tx, session_id, info)?;
                }
            }
            Change::Put { id, json } => put_session(&tx, id, json)?,
            Change::Delete { id, existed, .. } => {
                let id = id.as_str();
                *existed = tx.execute("DELETE FROM sessions WHERE id = ?1", params![id])? > 0;
                let key: Option<i64> = tx
                    .query_row(
                        "SELECT key FROM session_keys WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(key) = key {
                    delete_events(&tx, key)?;
                    tx.execute("DELETE FROM session_keys WHERE key = ?1", params![key])?;
                }
                keys.remove(id);
            }
            Change::Barrier { .. } => {}
        }
    }
    flush_events(&tx, changes, &mut pending)?;
    tx.execute(
        "UPDATE journal_state SET generation = ?1, offset = ?2",
        params![generation as i64, offset as i64],
    )?;
    tx.commit()?;
    Ok(())
}

/// Inserts the pending appends' events, session by session: one session's consecutive events
/// of a load go into one chunk row (up to [`CHUNK_BYTES`]; see `store::chunk`).
fn flush_events(
    tx: &Transaction,
    changes: &[Change],
    pending: &mut BTreeMap<i64, Vec<usize>>,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO event_chunks (session_key, first_seq, last_seq, body)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut body = String::new();
    for (key, appends) in std::mem::take(pending) {
        // The open chunk's first and last seq; its events are in `body`.
        let mut chunk: Option<(i64, i64)> = None;
        for i in appends {
            let Some(Change::Append {
                first_seq, events, ..
            }) = changes.get(i)
            else {
                continue;
            };
            for n in 0..events.len() {
                let seq = (*first_seq + n as u64) as i64;
                let text = events.get(n)?;
                if let Some((first, last)) = chunk
                    && (last + 1 != seq || body.len() + 1 + text.len() > CHUNK_BYTES)
                {
                    insert.execute(params![key, first, last, body])?;
                    body.clear();
                    chunk = None;
                }
                chunk::push(&mut body, seq as u64, text)?;
                match &mut chunk {
                    Some((_, last)) => *last = seq,
                    None => chunk = Some((seq, seq)),
                }
            }
        }
        if let Some((first, last)) = chunk {
            insert.execute(params![key, first, last, body])?;
            body.clear();
        }
    }
    Ok(())
}

/// Removes a session's events.
fn delete_events(tx: &Transaction, key: i64) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM event_chunks WHERE session_key = ?1",
        params![key],
    )?;
    Ok(())
}

fn key_for(
    tx: &Transaction,
    keys: &mut HashMap<String, i64>,
    session_id: &str,
) -> Result<i64, StoreError> {
    if let Some(k) = keys.get(session_id) {
        return Ok(*k);
    }
    let found: Option<i64> = tx
        .query_row(
            "SELECT key FROM session_keys WHERE id = ?1",
            params![session_id],
            |r| r.get(0),
        )
        .optional()?;
    let key = match found {
        Some(k) => k,
        None => {
            tx.execute(
                "INSERT INTO session_keys (id) VALUES (?1)",
                params![session_id],
            )?;
            tx.last_insert_rowid()
        }
    };
    keys.insert(session_id.to_string(), key);
    Ok(key)
}

fn put_session(tx: &Transaction, id: &str, json: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions (id, info) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET info = excluded.info",
        params![id, json],
    )?;
    Ok(())
}

/// Loads whatever the journal in `dir` holds past what SQLite has, and returns the generation
/// the journal goes on with. A damaged line (a write cut short by a crash) ends what is read:
/// it is reported, its file kept beside as `<n>.jsonl.damaged`, and nothing after it is loaded.
pub fn recover(conn: &mut Connection, dir: &Path) -> Result<u64, StoreError> {
    let (loaded_gen, loaded_off): (i64, i64) =
        conn.query_row("SELECT generation, offset FROM journal_state", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (loaded_gen, loaded_off) = (loaded_gen as u64, loaded_off as u64);
    let journal_err = |source| StoreError::Journal {
        path: dir.to_path_buf(),
        source,
    };
    let gens = match journal::generations(dir) {
        Ok(g) => g,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(journal_err(e)),
    };
    let mut keys = HashMap::new();
    for &g in gens.iter().filter(|g| **g >= loaded_gen) {
        let from = if g == loaded_gen { loaded_off } else { 0 };
        let found = journal::read(dir, g, from).map_err(journal_err)?;
        let mut records = found.records.into_iter().peekable();
        while records.peek().is_some() {
            let mut end = from;
            let mut changes: Vec<Change> = Vec::new();
            for (record, offset) in records.by_ref().take(RECOVERY_CHUNK) {
                end = offset;
                changes.push(change_of(record));
            }
            apply(conn, &mut keys, &mut changes, g, end)?;
        }
        if let Some((at, why)) = found.damage {
            let file = dir.join(format!("{g}.jsonl"));
            tracing::warn!(
                "session store: journal {} from byte {at}: {why}; what follows is not loaded",
                file.display()
            );
            let mut kept = file.clone().into_os_string();
            kept.push(".damaged");
            let _ = std::fs::rename(&file, kept);
            break;
        }
    }
    let next = gens.last().copied().unwrap_or(0).max(loaded_gen) + 1;
    conn.execute(
        "UPDATE journal_state SET generation = ?1, offset = 0",
        params![next as i64],
    )?;
    journal::remove_before(dir, next).or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(journal_err(e))
        }
    })?;
    Ok(next)
}

fn change_of(record: Record) -> Change {
    match record {
        Record::Append {
            session_id,
            first_seq,
            events,
            info,
        } => Change::Append {
            session_id,
            first_seq,
            events: Texts::Raw(events),
            info: info.map(|i| i.get().to_string()),
        },
        Record::Put { info } => {
            let id = serde_json::from_str::<SessionInfo>(info.get())
                .map(|i| i.id.into_string())
                .unwrap_or_default();
            Change::Put {
                id,
                json: info.get().to_string(),
            }
        }
        Record::Delete { session_id } => {
            let (reply, _) = oneshot::channel();
            Change::Delete {
                id: session_id,
                reply,
                existed: false,
            }
        }
    }
}
