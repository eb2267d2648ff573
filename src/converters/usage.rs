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

pub use super::inputs::{BadLine, MAX_DOCUMENT_BYTES, MAX_LINE_BYTES};

/// Read buffer per file: large enough that most lines are split in place without a copy, small
/// enough that one per core keeps peak memory low.
const READ_BUFFER_BYTES: usize = 1024 * 1024;

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

/// The four token counters of a response, or of a group of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cache_read_tokens: u64,
}

impl Tokens {
    fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_creation_tokens)
            .saturating_add(self.cache_read_tokens)
    }

    fn add(&mut self, o: &Tokens) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(o.cache_creation_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
    }
}

/// Prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Writing the prompt cache (the 5-minute cache; also the 1-hour one unless
    /// `cache_write_1h` says otherwise).
    pub cache_write: f64,
    pub cache_read: f64,
    /// Writing the 1-hour prompt cache, where it costs more than the 5-minute one.
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
}

/// `(model, input, output, 5m cache write, 1h cache write, cache read)` in USD per MTok, from
/// Anthropic's pricing page (platform.claude.com/docs/en/about-claude/pricing, November 2026),
/// checked against LiteLLM's and ccusage's tables. Model names are matched after
/// [`normalize_model`], so dated ids (`claude-sonnet-4-5-20250929`), provider prefixes
/// (`anthropic/`, `us.anthropic.`) and `[1m]` suffixes find their row.
/// Haiku 5.5 costs five times more for prompts over 100k tokens; the table has its base band.
const BUILTIN_PRICES: &[(&str, f64, f64, f64, f64, f64)] = &[
    ("claude-fable-5-1", 10.0, 50.0, 12.5, 20.0, 0.25),
    ("claude-mythos-5-1", 10.0, 50.0, 12.5, 20.0, 0.25),
    ("claude-fable-5", 10.0, 50.0, 12.5, 20.0, 1.0),
    ("claude-mythos-5", 10.0, 50.0, 12.5, 20.0, 1.0),
    ("claude-opus-5-5", 4.0, 20.0, 5.0, 8.0, 0.20),
    ("claude-opus-5", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-8", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-7", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-6", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-5", 5.0, 25.0, 6.25, 10.0, 0.50),
    ("claude-opus-4-1", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-opus-4-0", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-opus-4", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-3-opus", 15.0, 75.0, 18.75, 30.0, 1.50),
    ("claude-sonnet-5-5", 2.0, 10.0, 2.5, 4.0, 0.10),
    ("claude-sonnet-5", 2.0, 10.0, 2.5, 4.0, 0.20),
    ("claude-sonnet-4-6", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-sonnet-4-5", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-sonnet-4-0", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-sonnet-4", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-3-7-sonnet", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-3-5-sonnet", 3.0, 15.0, 3.75, 6.0, 0.30),
    ("claude-haiku-5-5", 0.10, 0.50, 0.125, 0.20, 0.01),
    ("claude-haiku-4-5", 1.0, 5.0, 1.25, 2.0, 0.10),
    ("claude-3-5-haiku", 0.80, 4.0, 1.0, 1.6, 0.08),
    ("claude-3-haiku", 0.25, 1.25, 0.30, 0.50, 0.03),
];

/// The model id a price is looked up by: lower case, without a provider prefix, a date or
/// version suffix, or a context-size tag.
pub fn normalize_model(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(i) = m.rfind('/') {
        m.drain(..=i);
    }
    if let Some(i) = m.find("claude-") {
        m.drain(..i);
    }
    for tag in ["[1m]", "-1m"] {
        if let Some(s) = m.strip_suffix(tag) {
            m.truncate(s.len());
        }
    }
    if let Some(i) = m.find([':', '@']) {
        m.truncate(i);
    }
    // Bedrock ids end in `-v1`, `-v2`.
    if let Some(i) = m.rfind("-v")
        && m[i + 2..].chars().all(|c| c.is_ascii_digit())
        && m.len() > i + 2
    {
        m.truncate(i);
    }
    // Dated snapshots: `-20250929`.
    if let Some(i) = m.rfind('-')
        && m.len() - i == 9
        && m[i + 1..].chars().all(|c| c.is_ascii_digit())
    {
        m.truncate(i);
    }
    m
}

/// Per-model prices: the built-in table, possibly overridden from a file.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PricingFile {
    models: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The built-in prices.
    pub fn builtin() -> PriceTable {
        let prices = BUILTIN_PRICES
            .iter()
            .map(|&(m, input, output, cache_write, write_1h, cache_read)| {
                (
                    m.to_string(),
                    Price {
                        input,
                        output,
                        cache_write,
                        cache_read,
                        cache_write_1h: Some(write_1h),
                    },
                )
            })
            .collect();
        PriceTable { prices }
    }

    /// The built-in prices with those of `path` (TOML, or JSON if it ends in `.json` or starts
    /// with `{`) put over them, model by model.
    pub fn with_file(mut self, path: &Path) -> Result<PriceTable, UsageError> {
        let err = |what: String| UsageError::Pricing {
            path: path.to_path_buf(),
            what,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let is_json =
            path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
        let file: PricingFile = if is_json {
            serde_json::from_str(&text).map_err(|e| err(format!("not valid pricing JSON: {e}")))?
        } else {
            toml::from_str(&text).map_err(|e| err(format!("not valid pricing TOML: {e}")))?
        };
        for (model, price) in file.models {
            for (name, v) in [
                ("input", price.input),
                ("output", price.output),
                ("cache_write", price.cache_write),
                ("cache_read", price.cache_read),
                ("cache_write_1h", price.cache_write_1h.unwrap_or(0.0)),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(err(format!(
                        "models.\"{model}\".{name}: {v} is not a price (USD per million tokens, 0 or more)"
                    )));
                }
            }
            self.prices.insert(normalize_model(&model), price);
        }
        Ok(self)
    }

    /// The price of `model`, if the table has it.
    pub fn get(&self, model: &str) -> Option<&Price> {
        self.prices.get(&normalize_model(model))
    }
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
    tokens: Tokens,
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

/// How to group the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Session,
    Day,
    Month,
    Model,
    Project,
}

/// Counters and cost of one group, or of everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    #[serde(flatten)]
    pub tokens: Tokens,
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

/// The input name that stands for standard input.
pub const STDIN: &str = "-";

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
                let mut buf = Vec::new();
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
    buf: &mut Vec<u8>,
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
    let too_long = each_line(&mut file, buf, |number, line| {
        scan.line(number, line);
        !(opts.strict && (!scan.bad.is_empty() || stop.load(Ordering::Relaxed)))
    })
    .map_err(read_err)?;
    if let Some(number) = too_long {
        scan.bad(
            number,
            format!("line longer than {MAX_LINE_BYTES} bytes; skipped the rest of the file"),
        );
    }
    let session = match scan.session {
        Some(s) => s,
        None => file_stem(path),
    };
    Ok(FileUsage {
        session,
        project: scan.project,
        models: scan.models,
        records: scan.records,
        bad: scan.bad,
    })
}

/// Calls `f(number, line)` for each line of `file` (1-based numbers, without the newline) until
/// it returns false. Lines are split inside `buf` (reused across files); only a line cut by the
/// end of the buffer is moved. Returns the number of a line longer than [`MAX_LINE_BYTES`], where
/// reading stopped.
pub(crate) fn each_line(
    file: &mut impl Read,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(usize, &[u8]) -> bool,
) -> std::io::Result<Option<usize>> {
    // The buffer's bytes are overwritten before they are read: only size it, once.
    if buf.len() < READ_BUFFER_BYTES {
        buf.resize(READ_BUFFER_BYTES, 0);
    }
    let (mut start, mut end, mut number) = (0usize, 0usize, 0usize);
    let mut eof = false;
    let result = loop {
        let nl = memchr::memchr(b'\n', &buf[start..end]);
        let line_end = match (nl, eof) {
            (Some(i), _) => start + i,
            (None, true) if start < end => end,
            (None, true) => break None,
            (None, false) => {
                if end - start > MAX_LINE_BYTES {
                    break Some(number + 1);
                }
                // Move the partial line to the front, grow if it fills the buffer, read more.
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
                if end == buf.len() {
                    // Never more than one byte past the limit: enough to see a line is too long.
                    buf.resize((buf.len() * 2).min(MAX_LINE_BYTES + 1), 0);
                }
                let n = match file.read(&mut buf[end..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                eof = n == 0;
                end += n;
                continue;
            }
        };
        number += 1;
        let go_on = f(number, &buf[start..line_end]);
        start = (line_end + 1).min(end);
        if !go_on {
            break None;
        }
    };
    // Give back a grown buffer, so one long line does not hold memory for the rest of the run.
    if buf.len() > READ_BUFFER_BYTES {
        *buf = Vec::new();
    }
    Ok(result)
}

/// The state of reading one Claude Code file.
struct ClaudeScan<'p> {
    path: &'p Path,
    session: Option<String>,
    project: String,
    models: Vec<String>,
    records: Vec<Record>,
    /// Response key -> index in `records`, to merge the lines of one response in this file.
    index: HashMap<Box<str>, usize>,
    /// Where the records of the current stream-json turn begin.
    turn_start: usize,
    bad: Vec<BadLine>,
}

/// The fields of a transcript line that accounting reads; everything else is skipped unparsed.
/// Fields that other line types use with other shapes are kept raw and read only when needed.
#[derive(Deserialize)]
struct LineFields<'a> {
    #[serde(borrow, default)]
    message: MessageSlot<'a>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestId")]
    request_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isSidechain")]
    is_sidechain: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "sessionId")]
    session_id: Option<&'a RawValue>,
    /// stream-json's spelling.
    #[serde(borrow, default, rename = "session_id")]
    session_id_snake: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "costUSD")]
    cost_usd: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    /// A stream-json `result` line's totals of its turn, per model.
    #[serde(borrow, default, rename = "modelUsage")]
    model_usage: Option<&'a RawValue>,
}

/// An OpenCode `run --format json` line, as far as accounting reads it.
#[derive(Deserialize)]
struct RunStepLine<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    /// Milliseconds since the epoch.
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    part: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RunStepPart {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "messageID")]
    message_id: Option<String>,
    #[serde(default)]
    tokens: Option<ExportTokens>,
    #[serde(default)]
    cost: Option<f64>,
}

/// One model's totals in a `result` line's `modelUsage`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelTotals {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
}

/// A progress line of a running subagent (Claude Code 2.0.x), carrying its response.
#[derive(Deserialize)]
struct ProgressData<'a> {
    #[serde(borrow, default)]
    message: Option<LineFieldsNested<'a>>,
}

#[derive(Deserialize)]
struct LineFieldsNested<'a> {
    #[serde(borrow, default)]
    message: MessageSlot<'a>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestId")]
    request_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isSidechain")]
    is_sidechain: Option<&'a RawValue>,
}

/// A line's `message`: read in the same pass as the line when it is an object, skipped when it
/// is anything else (some line types put a string there; those carry no usage).
#[derive(Default)]
struct MessageSlot<'a>(Option<MessageFields<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for MessageSlot<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Slot<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Slot<'a> {
            type Value = MessageSlot<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                MessageFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|m| MessageSlot(Some(m)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(MessageSlot(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
        }
        d.deserialize_any(Slot(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct MessageFields<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    usage: Option<UsageFields<'a>>,
}

/// Anthropic's `usage` object. Counters may be null in some captures: null reads as 0.
#[derive(Deserialize)]
struct UsageFields<'a> {
    #[serde(default, deserialize_with = "null_is_zero")]
    input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    output_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    /// Per-step usage of a response that ran server-side tools. The advisor tool's steps ran on
    /// another model and are not in the counters above: each is counted on its own.
    #[serde(borrow, default)]
    iterations: Option<Vec<Iteration<'a>>>,
}

/// The `type` of an iteration that ran on the advisor's model.
const ADVISOR_ITERATION: &str = "advisor_message";

#[derive(Deserialize)]
struct Iteration<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "null_is_zero")]
    input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    output_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    cache_read_input_tokens: u64,
}

#[derive(Deserialize)]
struct CacheCreation {
    #[serde(default, deserialize_with = "null_is_zero")]
    ephemeral_1h_input_tokens: u64,
}

fn null_is_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

/// The string in a raw JSON value, if it is one.
pub(crate) fn raw_str(v: Option<&RawValue>) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Cow<'_, str>>(v?.get()).ok()
}

/// Where a JSON error is, for a message that names the field: serde_json's own text already
/// says the type it wanted and got.
fn json_what(field: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json ends with " at line 1 column N": the column is in the field's text, not the
    // file's line, so it would mislead.
    let text = text.split(" at line ").next().unwrap_or(&text);
    format!("{field}: {text}")
}

/// What is wrong in a line that is JSON but did not read: not an object, or a field of its
/// `message` (or a progress line's `data.message.message`) of the wrong type.
fn wrong_line(line: &[u8], e: &serde_json::Error) -> String {
    let v: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return format!("not JSON: {e}"),
    };
    if !v.is_object() {
        return "not a JSON object".into();
    }
    for (prefix, m) in [
        ("message", v.get("message")),
        ("data.message.message", v.pointer("/data/message/message")),
    ] {
        if let Some(m) = m.filter(|m| m.is_object()) {
            let what = wrong_field(prefix, &m.to_string(), e);
            if !what.starts_with(&format!("{prefix}: ")) {
                return what;
            }
        }
    }
    json_what("line", e)
}

/// What is wrong in a `message` that did not read: the usage counter at fault if there is one
/// (worked out only on this error path), else serde's own words.
fn wrong_field(prefix: &str, message: &str, e: &serde_json::Error) -> String {
    let v: serde_json::Value = serde_json::from_str(message).unwrap_or_default();
    let counters = [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ];
    if let Some(usage) = v.get("usage") {
        if !usage.is_object() {
            return format!("{prefix}.usage: expected an object, found {usage}");
        }
        for c in counters {
            if let Some(n) = usage.get(c)
                && !n.is_null()
                && !n.is_u64()
            {
                return format!(
                    "{prefix}.usage.{c}: expected a token count (a whole number 0 or more), found {n}"
                );
            }
        }
    }
    for f in ["id", "model"] {
        if let Some(x) = v.get(f)
            && !x.is_null()
            && !x.is_string()
        {
            return format!("{prefix}.{f}: expected a string, found {x}");
        }
    }
    json_what(prefix, e)
}

impl ClaudeScan<'_> {
    fn bad(&mut self, line: usize, what: String) {
        self.bad
            .push(BadLine::new(&self.path.display().to_string(), line, what));
    }

    fn line(&mut self, number: usize, line: &[u8]) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        // Only lines that mention usage can carry it (or, in OpenCode's `run --format json`, a
        // `step_finish`). The others are only checked to be JSON objects, by a validator that
        // skips strings (most of a line's bytes) with memchr.
        if memchr::memmem::find(line, b"\"usage\"").is_none() {
            if line[0] != b'{' || !is_json(line) {
                let what = match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                    Err(e) => format!("not JSON: {e}"),
                    Ok(_) => "not a JSON object".to_string(),
                };
                self.bad(number, what);
            } else {
                if memchr::memmem::find(line, b"\"step_finish\"").is_some() {
                    self.opencode_step(number, line);
                }
                if self.session.is_some() {
                    return;
                }
                self.session = [&b"\"sessionId\""[..], b"\"session_id\"", b"\"sessionID\""]
                    .iter()
                    .find_map(|k| {
                        let i = memchr::memmem::find(line, k)?;
                        sniff_string(&line[i + k.len()..])
                    });
            }
            return;
        }
        let fields: LineFields = match serde_json::from_slice(line) {
            Ok(f) => f,
            Err(e) if e.is_data() => return self.bad(number, wrong_line(line, &e)),
            Err(e) => return self.bad(number, format!("not JSON: {e}")),
        };
        if self.session.is_none()
            && let Some(s) = raw_str(fields.session_id.or(fields.session_id_snake))
        {
            self.session = Some(s.into_owned());
        }
        if raw_str(fields.kind).as_deref() == Some("result") {
            if let Some(totals) = fields.model_usage {
                self.turn_totals(number, totals);
            }
            return;
        }
        let (msg, timestamp, request_id, sidechain) = match fields.message.0 {
            Some(m) => (m, fields.timestamp, fields.request_id, fields.is_sidechain),
            None => {
                // A subagent's response inside a progress line: `data.message.message`.
                let Some(data) = fields.data else { return };
                let n = match serde_json::from_str::<ProgressData>(data.get()) {
                    Ok(ProgressData { message: Some(n) }) => n,
                    Ok(_) => return,
                    Err(e) if e.is_data() => {
                        return self.bad(number, wrong_line(line, &e));
                    }
                    Err(e) => return self.bad(number, json_what("data", &e)),
                };
                let Some(m) = n.message.0 else { return };
                (m, n.timestamp, n.request_id, n.is_sidechain)
            }
        };
        let Some(usage) = msg.usage else { return };
        let time_ms = match raw_str(timestamp) {
            Some(t) => match t.parse::<Timestamp>() {
                Ok(t) => Some(t.as_millisecond()),
                Err(e) => {
                    return self.bad(number, format!("timestamp: {t:?} is not a time: {e}"));
                }
            },
            None => None,
        };
        let model = msg
            .model
            .as_deref()
            .filter(|m| !m.is_empty() && *m != SYNTHETIC_MODEL)
            .map(|m| self.model_index(m));
        let req = raw_str(request_id);
        let key_of = |suffix: &str| {
            msg.id.as_deref().map(|id| {
                let req = req.as_deref().unwrap_or("");
                format!("{id}{suffix}\n{req}").into_boxed_str()
            })
        };
        let key = key_of("");
        let sidechain = matches!(sidechain.map(|s| s.get()), Some("true"));
        let advisors: Vec<Record> = usage
            .iterations
            .iter()
            .flatten()
            .filter(|it| it.kind.as_deref() == Some(ADVISOR_ITERATION))
            .filter_map(|it| Some((it.model.as_deref().filter(|m| !m.is_empty())?, it)))
            .enumerate()
            .map(|(i, (m, it))| Record {
                key: key_of(&format!(":advisor:{i}")),
                model: Some(self.model_index(m)),
                time_ms,
                tokens: Tokens {
                    input_tokens: it.input_tokens,
                    output_tokens: it.output_tokens,
                    cache_creation_tokens: it.cache_creation_input_tokens,
                    cache_read_tokens: it.cache_read_input_tokens,
                },
                cache_1h: 0,
                sidechain,
                recorded_cost: None,
            })
            .collect();
        let cache_1h = usage
            .cache_creation
            .as_ref()
            .map_or(0, |c| c.ephemeral_1h_input_tokens)
            .min(usage.cache_creation_input_tokens);
        let record = Record {
            key,
            model,
            time_ms,
            tokens: Tokens {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cache_creation_tokens: usage.cache_creation_input_tokens,
                cache_read_tokens: usage.cache_read_input_tokens,
            },
            cache_1h,
            sidechain,
            recorded_cost: fields
                .cost_usd
                .and_then(|c| serde_json::from_str::<f64>(c.get()).ok()),
        };
        self.keep(record);
        for a in advisors {
            self.keep(a);
        }
    }

    /// An OpenCode `run --format json` line that ends a step with its tokens and cost. The
    /// lines name no model: the cost OpenCode recorded is the one counted.
    fn opencode_step(&mut self, number: usize, line: &[u8]) {
        // Any line may mention `step_finish` in its text: only the kind is read before it is
        // known to be one, so that other lines are never called bad for it.
        let Ok(step) = serde_json::from_slice::<RunStepLine>(line) else {
            return;
        };
        if raw_str(step.kind).as_deref() != Some("step_finish") {
            return;
        }
        let timestamp = match step.timestamp.map(|t| serde_json::from_str::<i64>(t.get())) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return self.bad(number, json_what("timestamp", &e)),
        };
        let Some(part) = step.part else { return };
        let part: RunStepPart = match serde_json::from_str(part.get()) {
            Ok(p) => p,
            Err(e) => return self.bad(number, json_what("part", &e)),
        };
        let Some(t) = part.tokens else { return };
        self.keep(Record {
            key: part
                .message_id
                .or(part.id)
                .map(|id| format!("opencode\n{id}").into_boxed_str()),
            model: None,
            time_ms: timestamp,
            tokens: t.tokens(),
            cache_1h: 0,
            sidechain: false,
            recorded_cost: part.cost,
        });
    }

    /// A stream-json `result` line: its per-model totals count the whole turn, subagents
    /// included, and replace what the turn's `assistant` lines said (stream-json writes each
    /// message's usage as it starts, with an output count of 1 or so).
    fn turn_totals(&mut self, number: usize, totals: &RawValue) {
        let per_model: BTreeMap<String, ModelTotals> = match serde_json::from_str(totals.get()) {
            Ok(m) => m,
            Err(e) => return self.bad(number, json_what("modelUsage", &e)),
        };
        let turn: Vec<Record> = self.records.drain(self.turn_start..).collect();
        for key in turn.iter().filter_map(|r| r.key.as_ref()) {
            self.index.remove(key);
        }
        let time_ms = turn.iter().filter_map(|r| r.time_ms).max();
        for (model, t) in per_model {
            // `claude-opus-4-8[1m]`: the context-size tag is not part of the model's name.
            let name = model.strip_suffix("[1m]").unwrap_or(&model);
            let model = Some(self.model_index(name));
            self.records.push(Record {
                key: None,
                model,
                time_ms,
                tokens: Tokens {
                    input_tokens: t.input_tokens,
                    output_tokens: t.output_tokens,
                    cache_creation_tokens: t.cache_creation_input_tokens,
                    cache_read_tokens: t.cache_read_input_tokens,
                },
                cache_1h: 0,
                sidechain: false,
                recorded_cost: None,
            });
        }
        self.turn_start = self.records.len();
    }

    /// Keeps a record, merged with an earlier line of the same response in this file.
    fn keep(&mut self, record: Record) {
        match &record.key {
            Some(k) => match self.index.get(k) {
                Some(&i) => {
                    if record.beats(&self.records[i]) {
                        self.records[i] = record;
                    }
                }
                None => {
                    self.index.insert(k.clone(), self.records.len());
                    self.records.push(record);
                }
            },
            None => self.records.push(record),
        }
    }

    fn model_index(&mut self, m: &str) -> u32 {
        match self.models.iter().position(|x| x == m) {
            Some(i) => i as u32,
            None => {
                self.models.push(m.to_string());
                (self.models.len() - 1) as u32
            }
        }
    }
}

/// Nesting that [`is_json`] tracks in a `u128` of bits (bit 0 unused); deeper lines are
/// checked by serde_json instead.
const MAX_BITSTACK_DEPTH: usize = 127;

/// Whether `b` is exactly one JSON value (RFC 8259, as serde_json reads it), checked without
/// building anything: about three times faster than parsing it into `IgnoredAny`, because string
/// contents, most of a transcript line, are skipped with memchr. A `false` is then explained by
/// serde_json's own error message.
pub(crate) fn is_json(b: &[u8]) -> bool {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\t' | b'\r') {
            i += 1;
        }
        i
    }
    /// The index after the string that starts at `b[i] == '"'`.
    fn string(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        loop {
            let k = memchr::memchr2(b'"', b'\\', &b[i..])?;
            // A fold without early exit compiles to vector code; `any` would not.
            if b[i..i + k].iter().fold(false, |bad, &c| bad | (c < 0x20)) {
                return None;
            }
            i += k;
            if b[i] == b'"' {
                return Some(i + 1);
            }
            match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            }
        }
    }
    fn digits(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    }
    /// The index after the number that starts at `b[i]`.
    fn number(b: &[u8], mut i: usize) -> Option<usize> {
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => i = digits(b, i),
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            let j = digits(b, i + 1);
            if j == i + 1 {
                return None;
            }
            i = j;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let j = digits(b, i);
            if j == i {
                return None;
            }
            i = j;
        }
        Some(i)
    }
    /// The index after `"key" :` at `b[i]`, whitespace before the value not skipped.
    fn key(b: &[u8], i: usize) -> Option<usize> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let i = ws(b, string(b, i)?);
        (b.get(i) == Some(&b':')).then_some(i + 1)
    }

    let n = b.len();
    let mut i = 0;
    // Bit d of `objects` says whether the container at depth d is an object.
    let mut depth = 0usize;
    let mut objects: u128 = 0;
    loop {
        // A value is expected at `i`.
        i = ws(b, i);
        let Some(&c) = b.get(i) else { return false };
        match c {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_BITSTACK_DEPTH {
                    // Deeper than the bit stack: rare enough to hand to serde_json.
                    return serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok();
                }
                let object = c == b'{';
                objects = if object {
                    objects | 1 << depth
                } else {
                    objects & !(1 << depth)
                };
                i = ws(b, i + 1);
                let close = if object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    i += 1;
                    depth -= 1;
                } else if object {
                    match key(b, i) {
                        Some(j) => i = j,
                        None => return false,
                    }
                    continue;
                } else {
                    continue;
                }
            }
            b'"' => match string(b, i) {
                Some(j) => i = j,
                None => return false,
            },
            b't' | b'f' | b'n' => {
                let word: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[i..].starts_with(word) {
                    return false;
                }
                i += word.len();
            }
            b'-' | b'0'..=b'9' => match number(b, i) {
                Some(j) => i = j,
                None => return false,
            },
            _ => return false,
        }
        // After a value: a comma, a closing bracket, or the end.
        loop {
            i = ws(b, i);
            if depth == 0 {
                return i == n;
            }
            let object = objects & (1 << depth) != 0;
            match b.get(i) {
                Some(b',') => {
                    i += 1;
                    if object {
                        match key(b, ws(b, i)) {
                            Some(j) => i = j,
                            None => return false,
                        }
                    }
                    break;
                }
                Some(b'}') if object => {
                    i += 1;
                    depth -= 1;
                }
                Some(b']') if !object => {
                    i += 1;
                    depth -= 1;
                }
                _ => return false,
            }
        }
    }
}

/// The JSON string at the start of `rest` (after a key: `: "value"`), if it has no escapes.
fn sniff_string(rest: &[u8]) -> Option<String> {
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}

/// `opencode export <session>`: one document, `info` for the session and each message's own
/// `tokens` and `cost`.
#[derive(Deserialize)]
struct Export {
    info: ExportInfo,
    messages: Vec<ExportMessage>,
}

#[derive(Deserialize)]
struct ExportInfo {
    id: String,
    #[serde(default)]
    directory: Option<String>,
}

#[derive(Deserialize)]
struct ExportMessage {
    info: ExportMessageInfo,
}

#[derive(Deserialize)]
struct ExportMessageInfo {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "modelID")]
    model_id: Option<String>,
    #[serde(default)]
    time: Option<ExportTime>,
    #[serde(default)]
    tokens: Option<ExportTokens>,
    #[serde(default)]
    cost: Option<f64>,
}

#[derive(Deserialize)]
struct ExportTime {
    #[serde(default)]
    created: Option<i64>,
}

#[derive(Deserialize)]
struct ExportTokens {
    #[serde(default, deserialize_with = "null_is_zero")]
    input: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    output: u64,
    /// Thinking tokens, billed as output.
    #[serde(default, deserialize_with = "null_is_zero")]
    reasoning: u64,
    #[serde(default)]
    cache: Option<ExportCache>,
}

impl ExportTokens {
    /// OpenCode's counters as accounting's: reasoning is billed as output.
    fn tokens(&self) -> Tokens {
        let (read, write) = self.cache.as_ref().map_or((0, 0), |c| (c.read, c.write));
        Tokens {
            input_tokens: self.input,
            output_tokens: self.output.saturating_add(self.reasoning),
            cache_creation_tokens: write,
            cache_read_tokens: read,
        }
    }
}

#[derive(Deserialize)]
struct ExportCache {
    #[serde(default, deserialize_with = "null_is_zero")]
    read: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    write: u64,
}

fn scan_export(path: &Path, file: std::fs::File) -> Result<FileUsage, UsageError> {
    let err = |what: String| UsageError::Export {
        path: path.to_path_buf(),
        what,
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_DOCUMENT_BYTES {
        return Err(err(format!(
            "{len} bytes is more than an export can be ({MAX_DOCUMENT_BYTES} bytes)"
        )));
    }
    let export: Export = serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
        err(format!(
            "not an OpenCode export document (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut models: Vec<String> = Vec::new();
    let mut records = Vec::new();
    for m in export.messages {
        let info = m.info;
        if info.role.as_deref() != Some("assistant") {
            continue;
        }
        let Some(t) = info.tokens else { continue };
        let model = info.model_id.filter(|m| !m.is_empty()).map(|m| {
            match models.iter().position(|x| *x == m) {
                Some(i) => i as u32,
                None => {
                    models.push(m);
                    (models.len() - 1) as u32
                }
            }
        });
        records.push(Record {
            key: info
                .id
                .map(|id| format!("opencode\n{}\n{id}", export.info.id).into_boxed_str()),
            model,
            time_ms: info.time.and_then(|t| t.created),
            tokens: t.tokens(),
            cache_1h: 0,
            sidechain: false,
            recorded_cost: info.cost,
        });
    }
    Ok(FileUsage {
        session: export.info.id,
        project: export.info.directory.unwrap_or_default(),
        models,
        records,
        bad: Vec::new(),
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
    for (fi, f) in files.into_iter().enumerate() {
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
    let mut groups: BTreeMap<String, (Totals, BTreeSet<String>)> = BTreeMap::new();
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
                    *report
                        .unpriced
                        .entry(model.unwrap_or("(no model)").to_string())
                        .or_default() += r.tokens.total();
                }
                0.0
            }
        };
        let key = match grouping {
            Grouping::Session => session.clone(),
            Grouping::Project => project.clone(),
            Grouping::Model => model.unwrap_or("(no model)").to_string(),
            Grouping::Day | Grouping::Month => match r.time_ms {
                Some(ms) => {
                    let date = Timestamp::from_millisecond(ms)
                        .map(|t| t.to_zoned(tz.clone()).date())
                        .ok();
                    match (date, grouping) {
                        (Some(d), Grouping::Day) => d.to_string(),
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
        report.total.tokens.add(&r.tokens);
        report.total.cost_usd += cost;
    }
    report.groups = groups
        .into_iter()
        .map(|(key, (totals, models))| Group {
            key,
            totals,
            models: models.into_iter().collect(),
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

    /// The validator and serde_json agree on every fixture line and on thousands of mutations
    /// of them (bytes dropped, changed, inserted, lines cut).
    #[test]
    fn validator_agrees_with_serde_json() {
        let serde_ok = |b: &[u8]| serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok();
        let mut cases: Vec<Vec<u8>> = [
            "{}",
            "[]",
            "{\"a\":[1,2.5e-3,-0,true,false,null,\"x\\\"\\u00e9\"]}",
            " { \"a\" : { } } ",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\"}",
            "{\"a\":}",
            "01",
            "1.",
            "1e",
            "-",
            "--1",
            "\"\\x\"",
            "\"\\u12G4\"",
            "\"a\tb\"",
            "{\"a\":1}}",
            "[[]",
            "nul",
            "truex",
            "1 2",
            "\"\\ud800\"",
            "{\"a\":\"b\",\"c\":[{\"d\":{}}]}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        for rel in [
            "claude-code-2.1.197/transcript-tool-run.jsonl",
            "claude-code-2.1.197/stream-json-stdin-control.jsonl",
            "handwritten/sidechain-1.0.jsonl",
        ] {
            let text = crate::converters::fixture_text(rel);
            cases.extend(text.as_bytes().split(|&c| c == b'\n').map(<[u8]>::to_vec));
        }
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let originals = cases.clone();
        for line in &originals {
            for _ in 0..200 {
                let mut m = line.clone();
                if m.is_empty() {
                    break;
                }
                let at = (next() % m.len() as u64) as usize;
                let pick = b"{}[]\",:\\ax0-.eE+tfnu\n\t\x01\xff";
                match next() % 4 {
                    0 => {
                        m.remove(at);
                    }
                    1 => m[at] = pick[(next() % pick.len() as u64) as usize],
                    2 => m.insert(at, pick[(next() % pick.len() as u64) as usize]),
                    _ => m.truncate(at),
                }
                cases.push(m);
            }
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
        cases.extend([
            deep(MAX_BITSTACK_DEPTH),
            deep(MAX_BITSTACK_DEPTH + 1),
            deep(300),
        ]);
        cases.push(format!("{}1]", "[".repeat(200)).into_bytes());
        for c in &cases {
            assert_eq!(
                is_json(c),
                serde_ok(c),
                "disagree on {:?}",
                String::from_utf8_lossy(c)
            );
        }
        assert!(cases.len() > 5000, "{} cases", cases.len());
    }

    /// No input makes the line reader panic: every fixture line and thousands of mutations of
    /// them go through it, and what it keeps stays consistent.
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
