//! Claude Code session transcripts (`~/.claude/projects/<project>/<session>.jsonl`) read in
//! conversation order, with every subagent nested under the call that started it.
//!
//! File order is not conversation order: after a rewind the file holds abandoned branches, and a
//! compaction starts a new root whose `logicalParentUuid` names the message it continues. So a
//! transcript is read in two passes. The first keeps, per line, only what ordering and pairing
//! need (offset, uuid, parent, sidechain and agent ids); the second re-reads each line by its
//! offset in `parentUuid` order (depth first, siblings in file order, a rewind marked by a notice)
//! and turns it into events through the stream-json reader, which shares the message format.
//!
//! Subagents come in three layouts, all nested under their `Task`/`Agent` call:
//! - today: `<session>/subagents/agent-<id>.jsonl` with an `agent-<id>.meta.json` (`toolUseId`);
//! - Claude Code 2.0.x: `agent-<id>.jsonl` beside the session, linked by the `agentId` that the
//!   call's tool result records;
//! - before that: `isSidechain: true` lines inside the session file itself.
//!
//! Must not print or decide what is shown: it yields events and reports bad lines.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::ClaudeStreamReader;
use super::assembler::SUBAGENT_TOOLS;
use super::inputs::{BadLine, MAX_LINE_BYTES, ReadError, Sink};
use crate::types::{AgentKind, StreamEvent};

/// Deepest subagent nesting followed: real sessions nest one or two levels; a deeper chain is a
/// loop in broken data, not a conversation.
const MAX_SUBAGENT_DEPTH: usize = 8;

/// Files up to this size are read into memory once for both passes; larger ones are read again
/// line by line, so memory stays bounded whatever the session's size.
const IN_MEMORY_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Read-buffer size of the first pass: large enough that a typical line is one copy.
const INDEX_BUFFER_BYTES: usize = 256 * 1024;

/// Line types that are bookkeeping of the Claude Code app (undo snapshots, the input queue, the
/// last prompt, hook progress, titles), not part of the conversation a person reads.
const BOOKKEEPING_TYPES: &[&str] = &[
    "file-history-snapshot",
    "queue-operation",
    "last-prompt",
    "progress",
    "custom-title",
    "agent-name",
    "pr-link",
    "attachment",
    "permission-mode",
];

const SOURCE: &str = "claude-transcript";

/// The fields of a line that ordering and pairing need, borrowed from the line where possible.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uuid: Option<Cow<'a, str>>,
    #[serde(rename = "parentUuid", borrow, default)]
    parent_uuid: Option<Cow<'a, str>>,
    #[serde(rename = "logicalParentUuid", borrow, default)]
    logical_parent_uuid: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: Option<bool>,
    #[serde(rename = "agentId", borrow, default)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cwd: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "toolUseResult", borrow, default)]
    tool_use_result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct MessageHead<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct BlockHead<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_use_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct AgentRef<'a> {
    #[serde(rename = "agentId", borrow, default)]
    agent_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PromptRef<'a> {
    #[serde(borrow, default)]
    prompt: Option<Cow<'a, str>>,
}

/// What the first pass keeps of one line.
#[derive(Debug, Default)]
struct LineInfo {
    offset: u64,
    len: usize,
    number: usize,
    /// Set for lines that take part in the `parentUuid` tree (unique uuid in this file).
    uuid: Option<Box<str>>,
    parent: Option<Box<str>>,
    sidechain: bool,
    agent_id: Option<Box<str>>,
    /// A user line that starts a turn (not only tool results): a rewind when it opens a second
    /// branch.
    prompt: bool,
    /// Not JSON: already reported, never emitted.
    bad: bool,
    /// Bookkeeping that yields no event: ordered like any line, never read again.
    quiet: bool,
    /// For the first prompt of a sidechain: its text, to find the `Task` call that sent it.
    side_prompt: Option<Box<str>>,
}

/// A `Task`/`Agent` call seen in the main conversation.
#[derive(Debug)]
struct TaskCall {
    id: String,
    line: usize,
    prompt: Option<String>,
}

/// The first pass over one file.
#[derive(Debug, Default)]
struct Index {
    lines: Vec<LineInfo>,
    session_id: Option<String>,
    cwd: Option<String>,
    version: Option<String>,
    model: Option<String>,
    first_timestamp: Option<String>,
    tasks: Vec<TaskCall>,
    /// `agentId` -> the tool call whose result named it.
    agent_calls: HashMap<String, String>,
}

/// Where a transcript's bytes are: a file read again by offset, or the whole of it in memory
/// (a small file, or stdin), as checked UTF-8 text when it all is.
pub(crate) enum Lines {
    File(File),
    Memory(Vec<u8>),
    Text(String),
}

impl Lines {
    /// Bytes in memory, as text when they are all UTF-8 (checked once for both passes).
    fn memory(bytes: Vec<u8>) -> Lines {
        match String::from_utf8(bytes) {
            Ok(t) => Lines::Text(t),
            Err(e) => Lines::Memory(e.into_bytes()),
        }
    }

    /// The text of one line (read into `buf` from a file), or what is wrong with it.
    fn text<'b>(&'b self, info: &LineInfo, buf: &'b mut Vec<u8>) -> Result<&'b str, String> {
        let range = info.offset as usize..info.offset as usize + info.len;
        let bytes = match self {
            Lines::Text(t) => return Ok(&t[range]),
            Lines::Memory(m) => &m[range],
            Lines::File(f) => {
                buf.resize(info.len, 0);
                f.read_exact_at(buf, info.offset)
                    .map_err(|e| format!("cannot read it again: {e}"))?;
                &buf[..]
            }
        };
        utf8(bytes)
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (at byte {})", e.valid_up_to()))
}

/// Subagent transcripts of the sessions in one folder, found once per folder.
#[derive(Debug, Default)]
pub struct SubagentFiles {
    /// Folder -> (session id -> [(agent id, file)]) for the 2.0.x layout (`agent-*.jsonl` beside
    /// the session files).
    beside: HashMap<PathBuf, HashMap<String, Vec<(String, PathBuf)>>>,
}

impl SubagentFiles {
    pub fn new() -> SubagentFiles {
        SubagentFiles::default()
    }

    fn beside(&mut self, dir: &Path) -> &HashMap<String, Vec<(String, PathBuf)>> {
        self.beside.entry(dir.to_path_buf()).or_insert_with(|| {
            let mut map: HashMap<String, Vec<(String, PathBuf)>> = HashMap::new();
            let Ok(entries) = std::fs::read_dir(dir) else {
                return map;
            };
            for e in entries.flatten() {
                let path = e.path();
                let Some(agent) = agent_file_id(&path) else {
                    continue;
                };
                if let Some(session) = first_session_id(&path) {
                    map.entry(session).or_default().push((agent, path));
                }
            }
            map
        })
    }
}

/// The agent id of a subagent transcript file (`agent-<id>.jsonl`).
pub fn agent_file_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_prefix("agent-")?.strip_suffix(".jsonl")?;
    (!id.is_empty()).then(|| id.to_string())
}

fn first_session_id(path: &Path) -> Option<String> {
    let f = File::open(path).ok()?;
    for line in BufReader::new(f).lines().take(5) {
        let line = line.ok()?;
        if let Ok(h) = serde_json::from_str::<Head>(&line)
            && let Some(s) = h.session_id
        {
            return Some(s.into_owned());
        }
    }
    None
}

/// Reads one transcript: options and the state shared with nested subagent files.
pub struct TranscriptReader<'s> {
    /// Leave subagent conversations out.
    pub no_sidechains: bool,
    pub subagents: &'s mut SubagentFiles,
}

/// One subagent conversation to emit under a call.
enum SubagentSource {
    /// Sidechain lines of the same file (their indexes, in conversation order).
    Inline(Vec<usize>),
    /// A transcript file of its own.
    File(PathBuf),
}

impl TranscriptReader<'_> {
    /// Reads the transcript at `path` (or, with `memory`, the bytes of stdin named `name`).
    pub fn read(
        &mut self,
        name: &str,
        path: Option<&Path>,
        memory: Option<Vec<u8>>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let io = |e: std::io::Error| ReadError::Io {
            input: name.to_string(),
            source: e,
        };
        let lines = match (memory, path) {
            (Some(m), _) => Lines::memory(m),
            (None, Some(p)) => {
                let mut f = File::open(p).map_err(io)?;
                let len = f.metadata().map_err(io)?.len();
                if len <= IN_MEMORY_FILE_BYTES {
                    // One read serves both passes.
                    let mut m = Vec::with_capacity(len as usize + 1);
                    f.read_to_end(&mut m).map_err(io)?;
                    Lines::memory(m)
                } else {
                    Lines::File(f)
                }
            }
            (None, None) => return Ok(()),
        };
        let index = match &lines {
            Lines::File(f) => build_index(
                name,
                BufReader::with_capacity(INDEX_BUFFER_BYTES, f.try_clone().map_err(io)?),
                sink,
            )?,
            Lines::Memory(m) => build_index_memory(name, m, None, sink)?,
            Lines::Text(t) => build_index_memory(name, t.as_bytes(), Some(t), sink)?,
        };
        let mut files: HashMap<String, Vec<PathBuf>> = HashMap::new();
        if let Some(p) = path
            && !self.no_sidechains
        {
            self.find_subagent_files(p, &index, &mut files);
        }
        sink.event(StreamEvent::SessionStarted {
            agent: AgentKind::ClaudeCode,
            agent_session_id: index.session_id.clone(),
            model: index.model.clone(),
            tools: vec![],
            cwd: index.cwd.clone(),
            agent_version: index.version.clone(),
            timestamp: index.first_timestamp.clone(),
        })?;
        let mut emitter = Emitter {
            name,
            lines: &lines,
            index: &index,
            reader: ClaudeStreamReader::new(),
            buf: Vec::new(),
            files: &files,
            inline: HashMap::new(),
            no_sidechains: self.no_sidechains,
            depth: 0,
            emitted_files: HashSet::new(),
        };
        let (main_order, inline) = order(&index);
        emitter.inline = if self.no_sidechains {
            HashMap::new()
        } else {
            inline
        };
        emitter.emit_all(&main_order, None, sink)
    }

    /// Subagent files of the session at `path`, by the id of the call that started each.
    fn find_subagent_files(
        &mut self,
        path: &Path,
        index: &Index,
        out: &mut HashMap<String, Vec<PathBuf>>,
    ) {
        let Some(dir) = path.parent() else { return };
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            return;
        };
        // Today's layout: <session>/subagents/agent-<id>.jsonl (+ .meta.json).
        let sub = dir.join(stem).join("subagents");
        if let Ok(entries) = std::fs::read_dir(&sub) {
            let mut found: Vec<(String, PathBuf)> = entries
                .flatten()
                .filter_map(|e| Some((agent_file_id(&e.path())?, e.path())))
                .collect();
            found.sort();
            for (agent, file) in found {
                let meta = sub.join(format!("agent-{agent}.meta.json"));
                let call = std::fs::read(&meta)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|m| m["toolUseId"].as_str().map(str::to_string))
                    .or_else(|| index.agent_calls.get(&agent).cloned());
                if let Some(call) = call {
                    out.entry(call).or_default().push(file);
                }
            }
        }
        // Claude Code 2.0.x: agent-<id>.jsonl beside the session, tied by the session id.
        if let Some(session) = &index.session_id
            && let Some(agents) = self.subagents.beside(dir).get(session)
        {
            for (agent, file) in agents {
                if let Some(call) = index.agent_calls.get(agent) {
                    out.entry(call.clone()).or_default().push(file.clone());
                }
            }
        }
    }
}

/// The first pass: one small record per line, and the session facts.
fn build_index(name: &str, mut r: impl BufRead, sink: &mut Sink<'_>) -> Result<Index, ReadError> {
    let mut ix = Indexer::default();
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| ReadError::Io {
                input: name.to_string(),
                source: e,
            })?;
        if n == 0 {
            break;
        }
        let start = offset;
        offset += n as u64;
        if !ix.line(name, start, &line, None, sink)? {
            break;
        }
    }
    Ok(ix.index)
}

/// [`build_index`] over bytes in memory (`text` when they are known to be UTF-8): lines are
/// found in place, never copied.
fn build_index_memory(
    name: &str,
    data: &[u8],
    text: Option<&str>,
    sink: &mut Sink<'_>,
) -> Result<Index, ReadError> {
    let mut ix = Indexer::default();
    let mut start = 0usize;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i + 1);
        // Newlines are ASCII, so line boundaries are character boundaries.
        let checked = text.map(|t| &t[start..end]);
        if !ix.line(name, start as u64, &data[start..end], checked, sink)? {
            break;
        }
        start = end;
    }
    Ok(ix.index)
}

/// The first pass, one line at a time.
#[derive(Default)]
struct Indexer {
    index: Index,
    seen: HashSet<Box<str>>,
    number: usize,
}

impl Indexer {
    /// Indexes the line at `start` (with its newline, if any; `checked` is the same line when it
    /// is known to be UTF-8); false when the rest of the file must be skipped.
    fn line(
        &mut self,
        name: &str,
        start: u64,
        line: &[u8],
        checked: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<bool, ReadError> {
        self.number += 1;
        let number = self.number;
        if line.strip_suffix(b"\n").unwrap_or(line).len() > MAX_LINE_BYTES {
            sink.bad(BadLine::new(
                name,
                number,
                format!(
                    "line longer than {MAX_LINE_BYTES} bytes: refused (is this a transcript?); the rest of the file was skipped"
                ),
            ))?;
            return Ok(false);
        }
        let body = trim_line(line);
        if body.is_empty() {
            return Ok(true);
        }
        let mut info = LineInfo {
            offset: start + leading_ws(line) as u64,
            len: body.len(),
            number,
            ..LineInfo::default()
        };
        // Parsing from text skips serde's own UTF-8 checks: a line is checked once, or not at
        // all when its whole file was.
        let text = match checked {
            Some(t) => Ok(t.trim()),
            None => utf8(body),
        };
        let parsed = text.and_then(|text| {
            serde_json::from_str::<Head>(text).map_err(|e| format!("not JSON: {e}"))
        });
        match parsed {
            Ok(h) => index_line(&mut self.index, &mut info, h, &mut self.seen),
            Err(what) => {
                info.bad = true;
                sink.bad(BadLine::new(name, number, what))?;
            }
        }
        self.index.lines.push(info);
        Ok(true)
    }
}

fn leading_ws(line: &[u8]) -> usize {
    line.iter().take_while(|b| b.is_ascii_whitespace()).count()
}

pub(crate) fn trim_line(line: &[u8]) -> &[u8] {
    let start = leading_ws(line);
    let end = line.len()
        - line
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    if start >= end { &[] } else { &line[start..end] }
}

fn index_line(index: &mut Index, info: &mut LineInfo, h: Head<'_>, seen: &mut HashSet<Box<str>>) {
    let kind = h.kind.as_deref().unwrap_or("");
    info.quiet = BOOKKEEPING_TYPES.contains(&kind)
        || (kind == "system" && h.subtype.as_deref() == Some("turn_duration"));
    info.sidechain = h.is_sidechain.unwrap_or(false);
    info.agent_id = h.agent_id.as_deref().map(Box::from);
    if let Some(u) = h.uuid.as_deref()
        && seen.insert(Box::from(u))
    {
        info.uuid = Some(Box::from(u));
        let parent = match (h.parent_uuid.as_deref(), kind, h.subtype.as_deref()) {
            (Some(p), _, _) => Some(p),
            // A compaction starts a new root that logically continues an older message.
            (None, "system", Some("compact_boundary")) => h.logical_parent_uuid.as_deref(),
            _ => None,
        };
        info.parent = parent.map(Box::from);
    }
    if !info.sidechain {
        if index.session_id.is_none() {
            index.session_id = h.session_id.as_deref().map(str::to_string);
        }
        if index.cwd.is_none() {
            index.cwd = h.cwd.as_deref().map(str::to_string);
        }
        if index.version.is_none() {
            index.version = h.version.as_deref().map(str::to_string);
        }
    }
    if index.first_timestamp.is_none() {
        index.first_timestamp = h.timestamp.as_deref().map(str::to_string);
    }
    let Some(raw) = h.message else { return };
    let m = raw.get();
    // Most lines need nothing from their message here: a quick look at its text decides
    // whether to parse it again, which keeps this pass far cheaper than the full one.
    let wanted = match kind {
        "user" => true,
        "assistant" => !info.sidechain && (index.model.is_none() || mentions_subagent_tool(m)),
        _ => false,
    };
    if !wanted {
        return;
    }
    if kind == "user" && !info.sidechain && h.agent_id.is_none() && !has_agent_ref(&h) {
        // A prompt or a plain tool result: only whether it is a prompt matters.
        info.prompt = !m.contains("\"tool_result\"");
        return;
    }
    let Ok(msg) = serde_json::from_str::<MessageHead>(m) else {
        return;
    };
    let blocks: Vec<BlockHead> = msg
        .content
        .filter(|c| c.get().starts_with('['))
        .and_then(|c| serde_json::from_str(c.get()).ok())
        .unwrap_or_default();
    match kind {
        "user" => {
            let string_content = msg.content.is_some_and(|c| c.get().starts_with('"'));
            if info.sidechain && h.parent_uuid.is_none() && string_content {
                info.side_prompt = msg
                    .content
                    .and_then(|c| serde_json::from_str::<String>(c.get()).ok())
                    .map(Box::from);
            }
            info.prompt = string_content
                || blocks
                    .iter()
                    .any(|b| matches!(b.kind.as_deref(), Some("text") | Some("image")));
            if !info.sidechain {
                // The agent a Task call started, as its result records it.
                let agent = h
                    .tool_use_result
                    .filter(|r| r.get().starts_with('{'))
                    .and_then(|r| serde_json::from_str::<AgentRef>(r.get()).ok())
                    .and_then(|a| a.agent_id)
                    .or(h.agent_id);
                let call = blocks.iter().find_map(|b| b.tool_use_id.as_deref());
                if let (Some(agent), Some(call)) = (agent, call) {
                    index
                        .agent_calls
                        .entry(agent.into_owned())
                        .or_insert_with(|| call.to_string());
                }
            }
        }
        "assistant" => {
            if index.model.is_none() && !info.sidechain {
                index.model = msg
                    .model
                    .as_deref()
                    .filter(|m| *m != "<synthetic>")
                    .map(str::to_string);
            }
            if !info.sidechain {
                for b in &blocks {
                    if b.kind.as_deref() == Some("tool_use")
                        && b.name
                            .as_deref()
                            .is_some_and(|n| SUBAGENT_TOOLS.contains(&n))
                        && let Some(id) = b.id.as_deref()
                    {
                        index.tasks.push(TaskCall {
                            id: id.to_string(),
                            line: index.lines.len(),
                            prompt: b
                                .input
                                .and_then(|i| serde_json::from_str::<PromptRef>(i.get()).ok())
                                .and_then(|p| p.prompt.map(Cow::into_owned)),
                        });
                    }
                }
            }
        }
        _ => {}
    }
}

/// Whether a message's JSON text names a tool that starts a subagent (a cheap test before
/// parsing it).
fn mentions_subagent_tool(message: &str) -> bool {
    // Claude Code writes compact JSON; the spaced form is for hand-written transcripts.
    const PATTERNS: &[&str] = &[
        "\"name\":\"Task\"",
        "\"name\":\"Agent\"",
        "\"name\":\"task\"",
        "\"name\": \"Task\"",
        "\"name\": \"Agent\"",
        "\"name\": \"task\"",
    ];
    message.contains("\"name\"") && PATTERNS.iter().any(|p| message.contains(p))
}

/// Whether a line's tool result names an agent (a subagent's result).
fn has_agent_ref(h: &Head<'_>) -> bool {
    h.tool_use_result
        .is_some_and(|r| r.get().starts_with('{') && r.get().contains("\"agentId\""))
}

/// One step of the order: emit a line, or first say that the conversation was rewound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Line(usize),
    Rewind(usize),
}

/// Conversation order of the main lines, and the sidechain lines grouped by the call whose
/// subagent they are.
fn order(index: &Index) -> (Vec<Step>, HashMap<String, Vec<Vec<Step>>>) {
    let lines = &index.lines;
    let main: Vec<usize> = (0..lines.len()).filter(|&i| !lines[i].sidechain).collect();
    let side: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].sidechain).collect();
    let main_order = tree_order(lines, &main);

    // Sidechain lines: one group per connected tree.
    let mut inline: HashMap<String, Vec<Vec<Step>>> = HashMap::new();
    let mut unplaced: Vec<Vec<Step>> = Vec::new();
    for group in side_groups(lines, &side) {
        let steps = tree_order(lines, &group);
        let call = group
            .iter()
            .find_map(|&i| lines[i].agent_id.as_deref())
            .and_then(|a| index.agent_calls.get(a).cloned())
            .or_else(|| prompted_task(index, &group))
            .or_else(|| nearest_task(index, group[0]));
        match call {
            Some(c) => inline.entry(c).or_default().push(steps),
            None => unplaced.push(steps),
        }
    }
    let mut main_order = main_order;
    // Subagent lines whose call is not in this file: kept, at the end, rather than dropped.
    for steps in unplaced {
        main_order.extend(steps);
    }
    (main_order, inline)
}

/// The `Task` call whose prompt is the one that starts this sidechain group.
fn prompted_task(index: &Index, group: &[usize]) -> Option<String> {
    let prompt = group
        .iter()
        .find_map(|&i| index.lines[i].side_prompt.as_deref())?;
    index
        .tasks
        .iter()
        .find(|t| t.prompt.as_deref() == Some(prompt))
        .map(|t| t.id.clone())
}

/// The `Task` call a sidechain group without an agent id belongs to: the last one before it in
/// the file (sidechains are written while their call runs).
fn nearest_task(index: &Index, first_line: usize) -> Option<String> {
    index
        .tasks
        .iter()
        .rev()
        .find(|t| t.line < first_line)
        .or(index.tasks.first())
        .map(|t| t.id.clone())
}

/// Sidechain lines split into connected trees (by `parentUuid`), in file order.
fn side_groups(lines: &[LineInfo], side: &[usize]) -> Vec<Vec<usize>> {
    let by_uuid: HashMap<&str, usize> = side
        .iter()
        .filter_map(|&i| Some((lines[i].uuid.as_deref()?, i)))
        .collect();
    // Union-find over line indexes.
    let mut parent: HashMap<usize, usize> = side.iter().map(|&i| (i, i)).collect();
    fn find(parent: &mut HashMap<usize, usize>, mut i: usize) -> usize {
        while parent[&i] != i {
            let up = parent[&parent[&i]];
            parent.insert(i, up);
            i = up;
        }
        i
    }
    let mut prev: Option<usize> = None;
    for &i in side {
        let link = match lines[i].uuid {
            Some(_) => lines[i]
                .parent
                .as_deref()
                .and_then(|p| by_uuid.get(p).copied()),
            // A line outside the tree goes with the line before it.
            None => prev,
        };
        if let Some(j) = link {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            if a != b {
                parent.insert(a.max(b), a.min(b));
            }
        }
        prev = Some(i);
    }
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for &i in side {
        let root = find(&mut parent, i);
        let g = *slot.entry(root).or_insert_with(|| {
            groups.push((root, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Depth-first order of `subset` by `parentUuid`, siblings in file order; lines outside the tree
/// (no uuid, a repeated uuid) follow the line before them in the file; lines that no root
/// reaches (a loop in broken data) come last in file order. A second branch that starts with a
/// prompt is a rewind.
fn tree_order(lines: &[LineInfo], subset: &[usize]) -> Vec<Step> {
    let in_subset: HashSet<usize> = subset.iter().copied().collect();
    let by_uuid: HashMap<&str, usize> = subset
        .iter()
        .filter_map(|&i| Some((lines[i].uuid.as_deref()?, i)))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut followers: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    let mut leading = Vec::new();
    let mut prev: Option<usize> = None;
    for &i in subset {
        if lines[i].uuid.is_some() {
            match lines[i]
                .parent
                .as_deref()
                .and_then(|p| by_uuid.get(p))
                .filter(|&&p| p != i)
            {
                Some(&p) => children.entry(p).or_default().push(i),
                None => roots.push(i),
            }
        } else {
            match prev {
                Some(p) => followers.entry(p).or_default().push(i),
                None => leading.push(i),
            }
        }
        prev = Some(i);
    }
    let mut out: Vec<Step> = leading.iter().map(|&i| Step::Line(i)).collect();
    let mut done: HashSet<usize> = HashSet::new();
    let mut stack: Vec<Step> = roots.iter().rev().map(|&i| Step::Line(i)).collect();
    while let Some(step) = stack.pop() {
        let Step::Line(i) = step else {
            out.push(step);
            continue;
        };
        if !done.insert(i) {
            continue;
        }
        out.push(Step::Line(i));
        // Followers of followers (several lines without uuid in a row) stay in file order.
        let mut f = followers.get(&i).cloned().unwrap_or_default();
        let mut k = 0;
        while k < f.len() {
            if let Some(more) = followers.get(&f[k]) {
                f.extend(more.iter().copied());
            }
            k += 1;
        }
        for j in f {
            if done.insert(j) {
                out.push(Step::Line(j));
            }
        }
        if let Some(kids) = children.get(&i) {
            for (n, &c) in kids.iter().enumerate().rev() {
                stack.push(Step::Line(c));
                if n > 0 && lines[c].prompt {
                    stack.push(Step::Rewind(c));
                }
            }
        }
    }
    for &i in subset {
        if in_subset.contains(&i) && !done.contains(&i) && lines[i].uuid.is_some() {
            done.insert(i);
            out.push(Step::Line(i));
            for &j in followers.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
                if done.insert(j) {
                    out.push(Step::Line(j));
                }
            }
        }
    }
    out
}

/// The second pass: lines in order, into events.
struct Emitter<'a> {
    name: &'a str,
    lines: &'a Lines,
    index: &'a Index,
    reader: ClaudeStreamReader,
    buf: Vec<u8>,
    files: &'a HashMap<String, Vec<PathBuf>>,
    inline: HashMap<String, Vec<Vec<Step>>>,
    no_sidechains: bool,
    depth: usize,
    emitted_files: HashSet<PathBuf>,
}

impl Emitter<'_> {
    fn emit_all(
        &mut self,
        steps: &[Step],
        parent: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        for &step in steps {
            match step {
                Step::Rewind(_) => sink.event(StreamEvent::Notice {
                    kind: "rewind".into(),
                    text: "rewound: the conversation goes on from an earlier message; the messages above were abandoned".into(),
                    timestamp: None,
                })?,
                Step::Line(i) => self.emit_line(i, parent, sink)?,
            }
        }
        Ok(())
    }

    fn emit_line(
        &mut self,
        i: usize,
        parent: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let info = &self.index.lines[i];
        if info.bad || info.quiet {
            return Ok(());
        }
        let parsed = self
            .lines
            .text(info, &mut self.buf)
            .and_then(|t| message_line(t).map_err(|e| format!("not JSON: {e}")));
        let value = match parsed {
            Ok(v) => v,
            // The file changed between the passes.
            Err(what) => return sink.bad(BadLine::new(self.name, info.number, what)),
        };
        let timestamp = value["timestamp"].as_str().map(str::to_string);
        let events = line_events(&mut self.reader, value);
        let mut tasks = Vec::new();
        for mut ev in events {
            if let StreamEvent::ToolCall { id, name, .. } = &ev
                && SUBAGENT_TOOLS.contains(&name.as_str())
            {
                tasks.push(id.clone());
            }
            if let Some(p) = parent
                && let Some(slot) = ev.parent_tool_use_id_mut()
                && slot.is_none()
            {
                *slot = Some(p.to_string());
            }
            if let Some(slot) = ev.timestamp_mut()
                && slot.is_none()
            {
                slot.clone_from(&timestamp);
            }
            sink.event(ev)?;
        }
        if self.no_sidechains || self.depth >= MAX_SUBAGENT_DEPTH {
            return Ok(());
        }
        for task in tasks {
            self.emit_subagents(&task, sink)?;
        }
        Ok(())
    }

    fn emit_subagents(&mut self, task: &str, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let mut sources: Vec<SubagentSource> = self
            .inline
            .remove(task)
            .unwrap_or_default()
            .into_iter()
            .map(|steps| {
                SubagentSource::Inline(
                    steps
                        .into_iter()
                        .filter_map(|s| match s {
                            Step::Line(i) => Some(i),
                            Step::Rewind(_) => None,
                        })
                        .collect(),
                )
            })
            .collect();
        for f in self.files.get(task).map(Vec::as_slice).unwrap_or(&[]) {
            sources.push(SubagentSource::File(f.clone()));
        }
        self.depth += 1;
        for source in sources {
            match source {
                SubagentSource::Inline(lines) => {
                    let steps: Vec<Step> = lines.into_iter().map(Step::Line).collect();
                    self.emit_all(&steps, Some(task), sink)?;
                }
                SubagentSource::File(path) => {
                    if !self.emitted_files.insert(path.clone()) {
                        continue;
                    }
                    self.emit_file(&path, task, sink)?;
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// A subagent's own transcript, every event under `task`.
    fn emit_file(&mut self, path: &Path, task: &str, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| ReadError::Io {
            input: name.clone(),
            source: e,
        })?;
        let lines = Lines::File(file);
        let index = match &lines {
            Lines::File(f) => build_index(
                &name,
                BufReader::with_capacity(
                    INDEX_BUFFER_BYTES,
                    f.try_clone().map_err(|e| ReadError::Io {
                        input: name.clone(),
                        source: e,
                    })?,
                ),
                sink,
            )?,
            Lines::Memory(_) | Lines::Text(_) => unreachable!("subagent files are files"),
        };
        // A subagent file is all sidechain: order it as one tree.
        let all: Vec<usize> = (0..index.lines.len()).collect();
        let steps = tree_order(&index.lines, &all);
        let mut inner = Emitter {
            name: &name,
            lines: &lines,
            index: &index,
            reader: ClaudeStreamReader::new(),
            buf: Vec::new(),
            files: self.files,
            inline: HashMap::new(),
            no_sidechains: self.no_sidechains,
            depth: self.depth,
            emitted_files: std::mem::take(&mut self.emitted_files),
        };
        let result = inner.emit_all(&steps, Some(task), sink);
        self.emitted_files = inner.emitted_files;
        result
    }
}

/// The fields of a message line that its events are made from. The rest, above all
/// `toolUseResult` (which repeats a tool's output, often a whole file), is skipped unread.
#[derive(Deserialize)]
struct MessageLine {
    #[serde(rename = "type")]
    kind: Option<Value>,
    message: Option<Value>,
    uuid: Option<Value>,
    timestamp: Option<Value>,
    parent_tool_use_id: Option<Value>,
    #[serde(rename = "isCompactSummary")]
    is_compact_summary: Option<Value>,
    #[serde(rename = "isMeta")]
    is_meta: Option<Value>,
    error: Option<Value>,
    #[serde(rename = "isApiErrorMessage")]
    is_api_error_message: Option<Value>,
    #[serde(rename = "apiErrorStatus")]
    api_error_status: Option<Value>,
}

/// A line as the reader needs it: a `user` or `assistant` line with only the fields its events
/// use, any other line whole (an unknown one is kept as it is).
fn message_line(text: &str) -> Result<Value, serde_json::Error> {
    let is_message =
        |t: &str| t.contains("\"type\":\"user\"") || t.contains("\"type\":\"assistant\"");
    if !is_message(text) {
        return serde_json::from_str(text);
    }
    let l: MessageLine = serde_json::from_str(text)?;
    if !matches!(
        l.kind.as_ref().and_then(Value::as_str),
        Some("user" | "assistant")
    ) {
        // `"type":"user"` was inside the line, not its own type.
        return serde_json::from_str(text);
    }
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("type", l.kind),
        ("message", l.message),
        ("uuid", l.uuid),
        ("timestamp", l.timestamp),
        ("parent_tool_use_id", l.parent_tool_use_id),
        ("isCompactSummary", l.is_compact_summary),
        ("isMeta", l.is_meta),
        ("error", l.error),
        ("isApiErrorMessage", l.is_api_error_message),
        ("apiErrorStatus", l.api_error_status),
    ] {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Ok(Value::Object(m))
}

/// The events of one transcript line. Message lines share stream-json's shape; the line types
/// of transcripts alone are read here.
pub(crate) fn line_events(reader: &mut ClaudeStreamReader, v: Value) -> Vec<StreamEvent> {
    let kind = v["type"].as_str().unwrap_or("");
    if BOOKKEEPING_TYPES.contains(&kind) {
        return vec![];
    }
    let text_of = |c: &Value| -> String {
        match c {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    };
    match kind {
        "summary" => vec![StreamEvent::Notice {
            kind: "summary".into(),
            text: v["summary"].as_str().unwrap_or("").to_string(),
            timestamp: None,
        }],
        // Text the app put in the conversation for the model (command caveats, reminders).
        "user" if v["isMeta"].as_bool() == Some(true) => vec![StreamEvent::Notice {
            kind: "meta".into(),
            text: text_of(&v["message"]["content"]),
            timestamp: None,
        }],
        "system" => match v["subtype"].as_str() {
            Some("compact_boundary") => {
                let m = &v["compactMetadata"];
                let mut text = String::from("conversation compacted");
                if let Some(t) = m["trigger"].as_str() {
                    text.push_str(&format!(" ({t}"));
                    if let Some(n) = m["preTokens"].as_u64() {
                        text.push_str(&format!(", {n} tokens before"));
                    }
                    text.push(')');
                }
                vec![StreamEvent::Notice {
                    kind: "compact_boundary".into(),
                    text,
                    timestamp: None,
                }]
            }
            Some("api_error") => vec![StreamEvent::Error {
                message: v["error"]["message"]
                    .as_str()
                    .or(v["content"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| v["error"].to_string()),
                code: Some("api_error".into()),
                timestamp: None,
            }],
            // Timing bookkeeping of the app.
            Some("turn_duration") => vec![],
            Some(sub) if v["content"].is_string() => vec![StreamEvent::Notice {
                kind: sub.to_string(),
                text: text_of(&v["content"]),
                timestamp: None,
            }],
            _ => vec![StreamEvent::Raw {
                source: Some(SOURCE.into()),
                json: v,
            }],
        },
        "user" | "assistant" | "result" => reader.read_value(v),
        _ => vec![StreamEvent::Raw {
            source: Some(SOURCE.into()),
            json: v,
        }],
    }
}
