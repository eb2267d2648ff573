//! The event journal: the store's commit point. Every change (events, session metadata, a
//! deletion) is written to the end of an append-only file, one JSON line per change, before
//! anyone is told it happened; SQLite is brought up to date from it afterwards, in bulk.
//!
//! A write to the file is durable against a crash of the process (`kill -9`), the same promise
//! as SQLite's WAL with `synchronous=NORMAL`; a power loss may lose the newest lines. Files are
//! numbered generations (`<n>.jsonl`) in one folder; a new one starts when the current one is
//! large, and a generation is deleted once SQLite holds all of it.
//!
//! Must not know SQLite: it writes, lists and reads lines.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A journal file larger than this is closed and the next generation started, so that the
/// files SQLite has fully loaded can be deleted.
pub const ROTATE_BYTES: u64 = 64 << 20;

/// One change, as a journal line.
#[derive(Debug)]
pub enum Record {
    /// Events of a session numbered from `first_seq`, and the session's metadata when it
    /// changed with them.
    Append {
        session_id: String,
        first_seq: u64,
        events: Vec<Box<RawValue>>,
        info: Option<Box<RawValue>>,
    },
    /// A session's metadata.
    Put { info: Box<RawValue> },
    /// A session and all its events removed.
    Delete { session_id: String },
}

/// A journal line as it parses: the fields of every kind, the kind named by `op`. (Raw JSON
/// values cannot be read through serde's tagged enums, hence this flat form.)
#[derive(Deserialize)]
struct Line {
    op: Op,
    session_id: Option<String>,
    first_seq: Option<u64>,
    events: Option<Vec<Box<RawValue>>>,
    info: Option<Box<RawValue>>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Append,
    Put,
    Delete,
}

impl Line {
    fn record(self) -> Result<Record, String> {
        let missing = |field: &str| format!("a `{field}` field is missing");
        Ok(match self.op {
            Op::Append => Record::Append {
                session_id: self.session_id.ok_or_else(|| missing("session_id"))?,
                first_seq: self.first_seq.ok_or_else(|| missing("first_seq"))?,
                events: self.events.ok_or_else(|| missing("events"))?,
                info: self.info,
            },
            Op::Put => Record::Put {
                info: self.info.ok_or_else(|| missing("info"))?,
            },
            Op::Delete => Record::Delete {
                session_id: self.session_id.ok_or_else(|| missing("session_id"))?,
            },
        })
    }
}

/// Appends one `append` line to `buf` around already encoded event and info JSON, without
/// encoding them again; returns where in `buf` each event's JSON is (so that SQLite can be
/// loaded from the very bytes that were journaled).
pub fn write_append<'a>(
    buf: &mut Vec<u8>,
    session_id: &str,
    first_seq: u64,
    events: impl IntoIterator<Item = &'a str>,
    info: Option<&str>,
) -> Vec<std::ops::Range<usize>> {
    let events = events.into_iter();
    let mut ranges = Vec::with_capacity(events.size_hint().0);
    buf.extend_from_slice(b"{\"op\":\"append\",\"session_id\":");
    // A session id is plain text; encoding it cannot fail.
    serde_json::to_writer(&mut *buf, session_id).expect("encode a string");
    buf.extend_from_slice(b",\"first_seq\":");
    buf.extend_from_slice(first_seq.to_string().as_bytes());
    buf.extend_from_slice(b",\"events\":[");
    for (i, e) in events.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let start = buf.len();
        buf.extend_from_slice(e.as_bytes());
        ranges.push(start..buf.len());
    }
    buf.push(b']');
    if let Some(info) = info {
        buf.extend_from_slice(b",\"info\":");
        buf.extend_from_slice(info.as_bytes());
    }
    buf.extend_from_slice(b"}\n");
    ranges
}

/// Appends a `put` line: a session's metadata, already encoded.
pub fn write_put(buf: &mut Vec<u8>, info: &str) {
    buf.extend_from_slice(b"{\"op\":\"put\",\"info\":");
    buf.extend_from_slice(info.as_bytes());
    buf.extend_from_slice(b"}\n");
}

/// Appends a `delete` line.
pub fn write_delete(buf: &mut Vec<u8>, session_id: &str) {
    buf.extend_from_slice(b"{\"op\":\"delete\",\"session_id\":");
    serde_json::to_writer(&mut *buf, session_id).expect("encode a string");
    buf.extend_from_slice(b"}\n");
}

/// The journal folder that goes with a store file.
pub fn dir_for(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    store.with_file_name(name)
}

/// How long opening a store waits for its lock before saying another server holds it. A server
/// killed while it was starting an agent leaves a child that holds the lock's file from its fork
/// to its exec (a moment, longer on a busy machine); a restarted server must not fail on that.
pub const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// How often the lock is tried again within [`LOCK_GRACE`].
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// [`lock`], tried again for up to `grace` while another process holds it.
pub fn lock_within(dir: &Path, grace: std::time::Duration) -> std::io::Result<Option<File>> {
    let deadline = std::time::Instant::now() + grace;
    loop {
        if let Some(file) = lock(dir)? {
            return Ok(Some(file));
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(LOCK_POLL);
    }
}

/// Takes the journal folder's lock file, creating the folder; `None` when another process
/// holds it. The lock lasts as long as the returned file is open.
pub fn lock(dir: &Path) -> std::io::Result<Option<File>> {
    std::fs::create_dir_all(dir)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(Some(file)),
        Err(fs4::TryLockError::WouldBlock) => Ok(None),
        Err(fs4::TryLockError::Error(e)) => Err(e),
    }
}

fn file_of(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{generation}.jsonl"))
}

/// The generations present in `dir`, oldest first.
pub fn generations(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Deletes every generation older than `keep_from`.
pub fn remove_before(dir: &Path, keep_from: u64) -> std::io::Result<()> {
    for g in generations(dir)? {
        if g < keep_from {
            std::fs::remove_file(file_of(dir, g))?;
        }
    }
    Ok(())
}

/// What reading a generation found.
pub struct Recovered {
    /// Each record with the offset just past its line.
    pub records: Vec<(Record, u64)>,
    /// Where an unreadable line starts, with why; nothing after it was read.
    pub damage: Option<(u64, String)>,
}

/// Reads the records of `generation` from byte `from` on, stopping at the first line that is
/// cut short (a crash in mid-write) or does not parse.
pub fn read(dir: &Path, generation: u64, from: u64) -> std::io::Result<Recovered> {
    let mut file = File::open(file_of(dir, generation))?;
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = from;
    let mut line = Vec::new();
    loop {
        line.clear();
        // No length limit: a file ends soon after ROTATE_BYTES, and one batch may be large.
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(Recovered {
                records,
                damage: None,
            });
        }
        let damage = if line.last() != Some(&b'\n') {
            Some("the line is cut short".to_string())
        } else {
            match serde_json::from_slice::<Line>(&line)
                .map_err(|e| format!("the line does not parse: {e}"))
                .and_then(Line::record)
            {
                Ok(r) => {
                    offset += n as u64;
                    records.push((r, offset));
                    continue;
                }
                Err(e) => Some(e),
            }
        };
        return Ok(Recovered {
            records,
            damage: damage.map(|d| (offset, d)),
        });
    }
}

/// The generation being written.
pub struct Writer {
    dir: PathBuf,
    file: File,
    pub generation: u64,
    /// Bytes in the current file: where the next line starts.
    pub offset: u64,
}

impl Writer {
    /// Starts generation `generation` as a new, empty file.
    pub fn create(dir: &Path, generation: u64) -> std::io::Result<Writer> {
        std::fs::create_dir_all(dir)?;
        let file = File::options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(file_of(dir, generation))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            file,
            generation,
            offset: 0,
        })
    }

    /// Writes `buf` (whole lines) at the end. On failure the file is cut back to where it was,
    /// so that no partial line stays in front of later ones.
    pub fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Err(e) = self.file.write_all(buf) {
            let _ = self.file.set_len(self.offset);
            let _ = self.file.seek(SeekFrom::Start(self.offset));
            return Err(e);
        }
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// Starts the next generation when this one is full.
    pub fn rotate_if_full(&mut self) -> std::io::Result<()> {
        if self.offset >= ROTATE_BYTES {
            *self = Writer::create(&self.dir, self.generation + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_lines_read_back_and_a_cut_line_ends_the_reading() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::create(dir.path(), 3).unwrap();
        let mut buf = Vec::new();
        let ranges = write_append(
            &mut buf,
            "s\"1",
            7,
            [r#"{"a":1}"#, r#"{"b":[2]}"#],
            Some(r#"{"id":"s"}"#),
        );
        assert_eq!(&buf[ranges[1].clone()], br#"{"b":[2]}"#);
        write_delete(&mut buf, "s2");
        w.write(&buf).unwrap();
        let good = w.offset;
        w.write(b"{\"op\":\"delete\",\"sess").unwrap();
        assert_eq!(generations(dir.path()).unwrap(), [3]);
        let got = read(dir.path(), 3, 0).unwrap();
        assert_eq!(got.records.len(), 2);
        match &got.records[0].0 {
            Record::Append {
                session_id,
                first_seq,
                events,
                info,
            } => {
                assert_eq!(session_id, "s\"1");
                assert_eq!(*first_seq, 7);
                assert_eq!(events[1].get(), r#"{"b":[2]}"#);
                assert_eq!(info.as_ref().unwrap().get(), r#"{"id":"s"}"#);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got.records[1].1, good);
        let (at, why) = got.damage.unwrap();
        assert_eq!(at, good);
        assert!(why.contains("cut short"), "{why}");
        // Reading from an offset skips what was loaded before.
        let rest = read(dir.path(), 3, got.records[0].1).unwrap();
        assert_eq!(rest.records.len(), 1);
    }
}
