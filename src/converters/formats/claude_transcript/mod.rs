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
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::inputs::{ReadError, Sink};
use crate::converters::ClaudeStreamReader;
use crate::converters::assembler::SUBAGENT_TOOLS;
use crate::converters::lines::{BadLine, LineBuffer};
use crate::types::{AgentKind, StreamEvent};

mod emit;
mod index;
mod order;

pub(crate) use emit::line_events;
use emit::*;
use index::*;
use order::*;

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
    /// Lines looked at: the session id is on the first line or close after it.
    const HEAD_LINES: usize = 5;
    /// A buffer for the head of a file.
    const HEAD_BUFFER_BYTES: usize = 8 * 1024;
    let mut f = File::open(path).ok()?;
    let mut lines = LineBuffer::new(HEAD_BUFFER_BYTES);
    for _ in 0..HEAD_LINES {
        let line = lines.next(&mut f).ok()??;
        let text = std::str::from_utf8(line.bytes).ok()?;
        if let Ok(h) = serde_json::from_str::<Head>(text)
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
            Lines::File(f) => build_index(name, f, sink)?,
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
            loaded: None,
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
