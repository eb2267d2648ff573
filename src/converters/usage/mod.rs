//! Token and cost accounting over agent transcripts: what `aisys transcript stats` counts.
//!
//! Reads Claude Code transcripts (and stream-json captures) line by line, and OpenCode `export`
//! documents whole; keeps one usage record per model response, prices it from one table, and
//! adds the records up per session, day, month, model or project.
//!
//! Claude Code writes one API response as several lines (one per content block), each repeating
//! the response's usage, and can copy a response into another session's file on resume: a
//! response is counted once per `(message.id, requestId)`, keeping its largest usage (and the
//! main conversation's copy over a sidechain's).
//!
//! Speed matters here (people run this over gigabytes): lines are split in a large buffer without
//! copying, a line is parsed only if it can carry usage, and then only the fields counted here are
//! read, borrowed from the line. Files are read on every core.
//!
//! Must not print or exit: bad lines come back as [`BadLine`]s for the caller to report.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use super::formats::inputs::MAX_DOCUMENT_BYTES;
pub use super::lines::{BadLine, MAX_LINE_BYTES};
use super::lines::{LineBuffer, LineError};

mod claude;
mod opencode;
mod prices;

pub(crate) use claude::raw_str;
use claude::*;
use opencode::*;
pub use prices::{Price, PriceTable, normalize_model};

use crate::types::TokenUsage;

/// Read buffer per file: large enough that most lines are split in place without a copy, small
/// enough that one per core keeps peak memory low.
pub(crate) const READ_BUFFER_BYTES: usize = 1024 * 1024;

/// The model name Claude Code gives responses it wrote itself (errors, interruptions): not a
/// model anyone pays for.
const SYNTHETIC_MODEL: &str = "<synthetic>";

/// Errors of the accounting core.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: {what}\n  fix: give a TOML or JSON file like\n    [models.\"claude-sonnet-4-5\"]\n    input = 3.0\n    output = 15.0\n    cache_write = 3.75\n    cache_read = 0.30"
    )]
    Pricing { path: PathBuf, what: String },
    #[error(
        "{path}: {what}\n  fix: give an `opencode export <session>` document, or a Claude Code transcript (*.jsonl)"
    )]
    Export { path: PathBuf, what: String },
}

/// One counted model response.
#[derive(Debug, Clone)]
struct Record {
    /// `message.id` and `requestId`, joined; `None` when the line has no message id (never
    /// merged with another).
    key: Option<Box<str>>,
    model: Option<u32>,
    /// Milliseconds since the epoch; `None` for lines without a time (stream-json captures).
    time_ms: Option<i64>,
    tokens: TokenUsage,
    /// Of `tokens.cache_creation_tokens`, those written to the 1-hour cache.
    cache_1h: u64,
    sidechain: bool,
    /// The cost the transcript itself recorded (OpenCode, old Claude Code `costUSD`).
    recorded_cost: Option<f64>,
}

impl Record {
    /// Whether `self`, another copy of the same response, should replace `old`: the main
    /// conversation's copy over a sidechain replay, then the largest usage.
    fn beats(&self, old: &Record) -> bool {
        if self.sidechain != old.sidechain {
            return old.sidechain;
        }
        self.tokens.total() > old.tokens.total()
    }
}

/// What one file gave.
struct FileUsage {
    path: PathBuf,
    session: String,
    project: String,
    models: Vec<String>,
    records: Vec<Record>,
    bad: Vec<BadLine>,
}

/// How to read and what to keep.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Stop at the first bad line.
    pub strict: bool,
    /// Keep usage at or after this time.
    pub since: Option<Timestamp>,
    /// Keep usage before this time.
    pub until: Option<Timestamp>,
    /// Threads to read files on; 0 for one per core.
    pub threads: usize,
}

/// How to group the counts. (`--by` of `aisys transcript stats` takes these names.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Grouping {
    Session,
    Day,
    /// ISO weeks, Monday to Sunday (`2026-W09`).
    Week,
    Month,
    Model,
    Project,
}

/// Counters and cost of one group, or of everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    #[serde(flatten)]
    pub tokens: TokenUsage,
    pub cost_usd: f64,
}

/// One group of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub totals: Totals,
    /// The models used in this group, sorted.
    pub models: Vec<String>,
    /// Grouped by session: the time of its first counted response (RFC 3339 in JSON).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "rfc3339")]
    pub started: Option<Timestamp>,
    /// Grouped by session: its title, when the caller looked it up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Grouped by session: its own transcript (the first file read of it that is not a
    /// subagent's), where a title can be looked up.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

fn rfc3339<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// The result of counting.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub groups: Vec<Group>,
    pub total: Totals,
    /// Lines that could not be counted, in file order.
    #[serde(skip)]
    pub bad_lines: Vec<BadLine>,
    /// Models without a price, with the tokens counted at no cost.
    #[serde(skip)]
    pub unpriced: BTreeMap<String, u64>,
    /// Files read.
    #[serde(skip)]
    pub files: usize,
}

pub use super::formats::input_files::STDIN;

/// Counts the usage in `files` (Claude Code `.jsonl` transcripts or streams, OpenCode `run`
/// lines, OpenCode export `.json` documents), grouped by `grouping`, priced from `prices`. Days and months are in `tz`.
///
/// Unreadable files are errors; bad lines are collected in the report (with `strict`, reading
/// stops at the first).
pub fn count(
    files: &[PathBuf],
    grouping: Grouping,
    prices: &PriceTable,
    tz: &TimeZone,
    opts: &ScanOptions,
) -> Result<Report, UsageError> {
    let per_file = scan_files(files, opts)?;
    Ok(aggregate(per_file, grouping, prices, tz, opts))
}

/// Reads every file, on as many threads as asked, biggest files first so that the threads end
/// together; results come back in the order of `files`.
fn scan_files(files: &[PathBuf], opts: &ScanOptions) -> Result<Vec<FileUsage>, UsageError> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(files.len())
    .max(1);
    let mut order: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (std::fs::metadata(f).map_or(0, |m| m.len()), i))
        .collect();
    order.sort_by(|a, b| b.cmp(a));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<FileUsage, UsageError>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = LineBuffer::new(READ_BUFFER_BYTES);
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= order.len() || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = order[k].1;
                    let r = scan_file(&files[i], opts, &mut buf, &stop);
                    let failed = match &r {
                        Ok(f) => opts.strict && !f.bad.is_empty(),
                        Err(_) => true,
                    };
                    if failed {
                        stop.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(files.len());
    for r in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match r {
            Some(Ok(f)) => {
                let bad = !f.bad.is_empty();
                out.push(f);
                if bad && opts.strict {
                    // The first bad file in input order is the one reported.
                    break;
                }
            }
            Some(Err(e)) => return Err(e),
            // Not read: a strict stop came first.
            None => {}
        }
    }
    Ok(out)
}

/// Session and project of a file, from its place: `.../projects/<project>/<session>.jsonl` and
/// `.../projects/<project>/<session>/subagents/agent-<id>.jsonl` both belong to `<session>`.
/// Elsewhere, `None` for the session (taken from the lines) and the parent folder as project.
fn place_of(path: &Path) -> (Option<String>, String) {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    if let Some(p) = parts.iter().rposition(|c| *c == "projects")
        && parts.len() >= p + 3
    {
        let project = parts[p + 1].to_string_lossy().into_owned();
        let session = parts[p + 2].to_string_lossy();
        let session = session
            .strip_suffix(".jsonl")
            .unwrap_or(&session)
            .to_string();
        return (Some(session), project);
    }
    let project = path
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (None, project)
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

fn scan_file(
    path: &Path,
    opts: &ScanOptions,
    lines: &mut LineBuffer,
    stop: &AtomicBool,
) -> Result<FileUsage, UsageError> {
    let read_err = |source| UsageError::Read {
        path: path.to_path_buf(),
        source,
    };
    // `-` is standard input, read as Claude Code lines (an export is a file of its own).
    let mut file: Box<dyn Read> = if path.as_os_str() == STDIN {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(read_err)?;
        if path.extension().is_some_and(|e| e == "json") {
            return scan_export(path, file);
        }
        Box::new(file)
    };
    let (session, project) = place_of(path);
    let mut scan = ClaudeScan {
        path,
        session,
        project,
        models: Vec::new(),
        records: Vec::new(),
        index: HashMap::new(),
        turn_start: 0,
        bad: Vec::new(),
    };
    lines.reset();
    let read = lines.for_each(&mut file, |line| {
        scan.line(line.number, line.bytes);
        !(opts.strict && (!scan.bad.is_empty() || stop.load(Ordering::Relaxed)))
    });
    match read {
        Ok(()) => {}
        Err(LineError::TooLong { number }) => scan
            .bad
            .push(BadLine::too_long(&path.display().to_string(), number)),
        Err(LineError::Io(e)) => return Err(read_err(e)),
    }
    let session = match scan.session {
        Some(s) => s,
        None => file_stem(path),
    };
    Ok(FileUsage {
        path: path.to_path_buf(),
        session,
        project: scan.project,
        models: scan.models,
        records: scan.records,
        bad: scan.bad,
    })
}

/// The cost of one response: from the price table, else what the transcript recorded, else
/// nothing (and the model is noted as unpriced).
fn cost_of(r: &Record, model: Option<&str>, prices: &PriceTable) -> Option<f64> {
    let price = model.and_then(|m| prices.get(m));
    match price {
        Some(p) => {
            let t = &r.tokens;
            let write_5m = t.cache_creation_tokens - r.cache_1h;
            let write_1h_price = p.cache_write_1h.unwrap_or(p.cache_write);
            Some(
                (t.input_tokens as f64 * p.input
                    + t.output_tokens as f64 * p.output
                    + write_5m as f64 * p.cache_write
                    + r.cache_1h as f64 * write_1h_price
                    + t.cache_read_tokens as f64 * p.cache_read)
                    / 1_000_000.0,
            )
        }
        None => r.recorded_cost,
    }
}

/// A record that survived deduplication, with where it came from.
struct Kept {
    file: u32,
    record: Record,
}

fn aggregate(
    files: Vec<FileUsage>,
    grouping: Grouping,
    prices: &PriceTable,
    tz: &TimeZone,
    opts: &ScanOptions,
) -> Report {
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    // Across files, one response keeps one copy: the best by `Record::beats`, the first read on
    // a tie (files come in input order, so the result does not depend on thread timing).
    let mut kept: Vec<Kept> = Vec::new();
    let mut index: HashMap<Box<str>, usize> = HashMap::new();
    let mut meta: Vec<(String, String, Vec<String>)> = Vec::with_capacity(files.len());
    let mut session_file: HashMap<String, PathBuf> = HashMap::new();
    for (fi, f) in files.into_iter().enumerate() {
        let subagent = f
            .path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "subagents")
            || f.path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("agent-"));
        if grouping == Grouping::Session && !subagent {
            session_file.entry(f.session.clone()).or_insert(f.path);
        }
        report.bad_lines.extend(f.bad);
        for mut record in f.records {
            // Without a request id, a message id is only trusted within its session (gateways
            // reuse ids across sessions).
            if let Some(k) = &record.key
                && k.ends_with('\n')
            {
                record.key = Some(format!("{k}\n{}", f.session).into_boxed_str());
            }
            match &record.key {
                Some(k) => match index.get(k) {
                    Some(&i) => {
                        if record.beats(&kept[i].record) {
                            kept[i] = Kept {
                                file: fi as u32,
                                record,
                            };
                        }
                    }
                    None => {
                        index.insert(k.clone(), kept.len());
                        kept.push(Kept {
                            file: fi as u32,
                            record,
                        });
                    }
                },
                None => kept.push(Kept {
                    file: fi as u32,
                    record,
                }),
            }
        }
        meta.push((f.session, f.project, f.models));
    }
    drop(index);

    let since = opts.since.map(|t| t.as_millisecond());
    let until = opts.until.map(|t| t.as_millisecond());
    let mut groups: BTreeMap<String, (Totals, BTreeSet<String>, Option<i64>)> = BTreeMap::new();
    for k in &kept {
        let r = &k.record;
        if since.is_some_and(|s| r.time_ms.is_none_or(|t| t < s))
            || until.is_some_and(|u| r.time_ms.is_none_or(|t| t >= u))
        {
            continue;
        }
        let (session, project, models) = &meta[k.file as usize];
        let model = r.model.map(|m| models[m as usize].as_str());
        let cost = match cost_of(r, model, prices) {
            Some(c) => c,
            None => {
                if r.tokens.total() > 0 {
                    let n = report
                        .unpriced
                        .entry(model.unwrap_or("(no model)").to_string())
                        .or_default();
                    *n = n.saturating_add(r.tokens.total());
                }
                0.0
            }
        };
        let key = match grouping {
            Grouping::Session => session.clone(),
            Grouping::Project => project.clone(),
            Grouping::Model => model.unwrap_or("(no model)").to_string(),
            Grouping::Day | Grouping::Week | Grouping::Month => match r.time_ms {
                Some(ms) => {
                    let date = Timestamp::from_millisecond(ms)
                        .map(|t| t.to_zoned(tz.clone()).date())
                        .ok();
                    match (date, grouping) {
                        (Some(d), Grouping::Day) => d.to_string(),
                        (Some(d), Grouping::Week) => {
                            let w = d.iso_week_date();
                            format!("{:04}-W{:02}", w.year(), w.week())
                        }
                        (Some(d), _) => format!("{:04}-{:02}", d.year(), d.month()),
                        (None, _) => "(no date)".to_string(),
                    }
                }
                None => "(no date)".to_string(),
            },
        };
        let g = groups.entry(key).or_default();
        g.0.tokens.add(&r.tokens);
        g.0.cost_usd += cost;
        if let Some(m) = model {
            g.1.insert(m.to_string());
        }
        if let Some(t) = r.time_ms {
            g.2 = Some(g.2.map_or(t, |f| f.min(t)));
        }
        report.total.tokens.add(&r.tokens);
        report.total.cost_usd += cost;
    }
    report.groups = groups
        .into_iter()
        .map(|(key, (totals, models, first))| Group {
            totals,
            models: models.into_iter().collect(),
            started: first
                .filter(|_| grouping == Grouping::Session)
                .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
            title: None,
            file: session_file.remove(&key),
            key,
        })
        .collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_find_their_price() {
        for (id, want) in [
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
            (
                "us.anthropic.claude-opus-4-1-20250805-v1:0",
                "claude-opus-4-1",
            ),
            ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
            ("claude-opus-4-6[1m]", "claude-opus-4-6"),
            ("claude-opus-4-20250514", "claude-opus-4"),
            ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ] {
            assert_eq!(normalize_model(id), want, "{id}");
        }
        let t = PriceTable::builtin();
        assert_eq!(t.get("claude-opus-4-8").map(|p| p.output), Some(25.0));
        assert_eq!(
            t.get("claude-opus-4-20250514").map(|p| p.output),
            Some(75.0)
        );
        assert!(t.get("gpt-5").is_none());
    }

    #[test]
    fn session_and_project_come_from_the_projects_layout() {
        let (s, p) = place_of(Path::new("/h/.claude/projects/-home-a/abc.jsonl"));
        assert_eq!((s.as_deref(), p.as_str()), (Some("abc"), "-home-a"));
        let (s, p) = place_of(Path::new(
            "/h/.claude/projects/-home-a/abc/subagents/agent-1.jsonl",
        ));
        assert_eq!((s.as_deref(), p.as_str()), (Some("abc"), "-home-a"));
        let (s, p) = place_of(Path::new("/tmp/x/y.jsonl"));
        assert_eq!((s, p.as_str()), (None, "x"));
    }

    #[test]
    fn any_line_is_counted_or_reported_never_a_panic() {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for rel in [
            "claude-code-2.1.197/transcript-tool-run.jsonl",
            "claude-code-2.1.197/stream-json-tool-run.jsonl",
            "claude-code-2.1.197/stream-json-stdin-control.jsonl",
            "handwritten/sidechain-1.0.jsonl",
            "handwritten/rewind-compact.jsonl",
        ] {
            let text = crate::converters::fixture_text(rel);
            lines.extend(text.as_bytes().split(|&c| c == b'\n').map(<[u8]>::to_vec));
        }
        assert!(lines.len() > 20, "only {} fixture lines", lines.len());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut scan = ClaudeScan {
            path: Path::new("x.jsonl"),
            session: None,
            project: String::new(),
            models: Vec::new(),
            records: Vec::new(),
            index: HashMap::new(),
            turn_start: 0,
            bad: Vec::new(),
        };
        let pick = b"{}[]\",:\\0-9eE.tfnu\n\x01\xff ";
        let mut number = 0;
        for line in &lines {
            number += 1;
            scan.line(number, line);
            for _ in 0..100 {
                let mut m = line.clone();
                if m.is_empty() {
                    break;
                }
                for _ in 0..=next() % 3 {
                    if m.is_empty() {
                        break;
                    }
                    let at = (next() % m.len() as u64) as usize;
                    let c = pick[(next() % pick.len() as u64) as usize];
                    match next() % 4 {
                        0 => {
                            m.remove(at);
                        }
                        1 => m[at] = c,
                        2 => m.insert(at, c),
                        _ => m.truncate(at),
                    }
                }
                number += 1;
                scan.line(number, &m);
            }
        }
        assert!(!scan.records.is_empty() && !scan.bad.is_empty());
        for r in &scan.records {
            assert!(r.cache_1h <= r.tokens.cache_creation_tokens);
            if let Some(m) = r.model {
                assert!((m as usize) < scan.models.len());
            }
        }
        assert!(scan.bad.iter().all(|b| b.line >= 1 && b.line <= number));
    }

    #[test]
    fn sniffed_strings_stop_at_escapes() {
        assert_eq!(sniff_string(br#":"abc","x""#), Some("abc".into()));
        assert_eq!(sniff_string(br#" : "a\"b""#), None);
        assert_eq!(sniff_string(b":12"), None);
    }
}
