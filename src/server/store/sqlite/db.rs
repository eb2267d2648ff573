//! SQLite's connections and schema (migrations), and the queries reads run.
//!
//! Also turns SQLite's errors into the store's, which name no SQLite type.
//!
//! Must not write: changes reach SQLite through the loader only.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::super::{EncodedEvent, StoreError, chunk};
use crate::types::SessionInfo;

/// How long a reader waits on a locked database before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Query(e.to_string())
    }
}

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
pub const MIGRATIONS: &[&str] = &[
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
    // 2: events in an append-only log with a per-session index, loaded from the journal.
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
     CREATE TABLE journal_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation INTEGER NOT NULL,
        offset INTEGER NOT NULL
     );
     INSERT INTO journal_state (id, generation, offset) VALUES (1, 0, 0);
     INSERT INTO session_keys (id) SELECT DISTINCT session_id FROM events ORDER BY session_id;
     INSERT INTO event_log (session_key, seq, json)
        SELECT k.key, e.seq, e.json FROM events e JOIN session_keys k ON k.id = e.session_id
        ORDER BY e.session_id, e.seq;
     INSERT INTO event_index (session_key, seq, log_id)
        SELECT session_key, seq, id FROM event_log;
     DROP TABLE events;",
    // 3: the index holds runs (a session's events of one load, consecutive in seq and in the
    // log) instead of a row per event.
    "CREATE TABLE event_runs (
        session_key INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        first_log_id INTEGER NOT NULL,
        PRIMARY KEY (session_key, first_seq)
     ) WITHOUT ROWID;
     INSERT INTO event_runs (session_key, first_seq, last_seq, first_log_id)
        SELECT session_key, seq, seq, log_id FROM event_index;
     DROP TABLE event_index;",
    // 4: events in chunks (a session's consecutive events of one load, one JSON text per line)
    // instead of a row per event: a load inserts a row per session, not per event.
    "CREATE TABLE event_chunks (
        id INTEGER PRIMARY KEY,
        session_key INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE UNIQUE INDEX event_chunks_by_session ON event_chunks (session_key, last_seq);
     INSERT INTO event_chunks (session_key, first_seq, last_seq, body)
        SELECT session_key, seq, seq, json FROM event_log ORDER BY id;
     DROP TABLE event_runs;
     DROP TABLE event_log;",
];

/// What an SQLite database file starts with.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// Refuses a file at `path` that is not an SQLite database, before anything is made beside it
/// (the journal, the lock). No file, or an empty one, is a new database to SQLite.
pub fn check_file(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| StoreError::Backend {
        store: path.display().to_string(),
        message: e.to_string(),
    };
    let mut head = Vec::with_capacity(SQLITE_HEADER.len());
    match std::fs::File::open(path) {
        Ok(f) => {
            f.take(SQLITE_HEADER.len() as u64)
                .read_to_end(&mut head)
                .map_err(unreadable)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(unreadable(e)),
    }
    if head.is_empty() || head == SQLITE_HEADER {
        Ok(())
    } else {
        Err(not_a_database(path, "it does not start as one"))
    }
}

fn not_a_database(path: &Path, why: impl Into<String>) -> StoreError {
    StoreError::NotADatabase {
        path: path.to_path_buf(),
        journal: super::super::journal::dir_for(path),
        why: why.into(),
    }
}

/// SQLite's error, naming the file when it says the file is no database (or a damaged one).
fn at_file(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            not_a_database(path, e.to_string())
        }
        _ => e.into(),
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError::Backend {
        store: path.display().to_string(),
        message: e.to_string(),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// The loader's connection, with the schema brought up to date.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(at_file(path))?;
    // NORMAL: a commit does not wait for an fsync. Durability against a crash of the process
    // comes from the journal, which SQLite only ever catches up with.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(at_file(path))?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    open(path)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            store: path.display().to_string(),
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

/// The newest seq SQLite holds for a session (0 when none): the end of its last chunk.
pub fn last_seq(conn: &Connection, session_id: &str) -> Result<u64, StoreError> {
    let s: Option<i64> = conn.query_row(
        "SELECT MAX(c.last_seq) FROM session_keys k
         JOIN event_chunks c ON c.session_key = k.key WHERE k.id = ?1",
        params![session_id],
        |r| r.get(0),
    )?;
    Ok(s.unwrap_or(0) as u64)
}

/// Up to `limit` events after `after_seq`, in order: the chunks that end after it, each split
/// into its lines, and those at or before `after_seq` skipped.
pub fn events_after(
    conn: &Connection,
    session_id: &str,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.first_seq, c.last_seq, c.body FROM session_keys k
         JOIN event_chunks c ON c.session_key = k.key
         WHERE k.id = ?1 AND c.last_seq > ?2 ORDER BY c.last_seq",
    )?;
    // Seqs are stored as i64: a larger `after_seq` is past every event, not a negative number.
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![session_id, after])?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let (first, last): (i64, i64) = (row.get(0)?, row.get(1)?);
        let body = row
            .get_ref(2)?
            .as_str()
            .map_err(|e| StoreError::Query(e.to_string()))?;
        chunk::read_after(&mut out, session_id, (first, last, body), after_seq, limit)?;
    }
    Ok(out)
}

pub fn get_session(conn: &Connection, id: &str) -> Result<Option<SessionInfo>, StoreError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT info FROM sessions WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
}

pub fn list_sessions(conn: &Connection) -> Result<Vec<SessionInfo>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT info FROM sessions")?;
    let mut out = Vec::new();
    for json in stmt.query_map([], |r| r.get::<_, String>(0))? {
        out.push(serde_json::from_str::<SessionInfo>(&json?)?);
    }
    Ok(out)
}

pub fn count_sessions(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get::<_, i64>(0))? as usize)
}
