//! Following a live transcript or stream file: events for the lines written since the last
//! look, as they arrive.
//!
//! A live file is read in file order, which for a running session is the order things happen
//! (rewinds and compactions are reordered only by the whole-file reader). A Claude Code session's
//! subagent files (`<session>/subagents/agent-<id>.jsonl`) are followed too as they appear, their
//! events nested under the call named by their `.meta.json`. Only complete lines are read; a line
//! still being written waits for its newline.
//!
//! Must not sleep or print: the caller decides how often to look and what to show.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::claude_transcript::{agent_file_id, line_events};
use super::inputs::{Format, ReadError, Sink, detect_value};
use crate::converters::assembler::SUBAGENT_TOOLS;
use crate::converters::lines::{BadLine, LineBuffer, LineError};
use crate::converters::{ClaudeStreamReader, OpencodeRunReader};
use crate::types::{AgentKind, StreamEvent};

/// Most bytes read from one file per look, so one huge write cannot stall the output.
const READ_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// Read-buffer size per followed file: a look usually finds a few lines.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// One file being followed.
struct Tailed {
    path: PathBuf,
    name: String,
    /// Bytes read so far.
    offset: u64,
    /// Its lines, holding the start of one whose newline has not been written yet.
    lines: LineBuffer,
    /// For a subagent file: the call that started it.
    parent: Option<String>,
    claude: ClaudeStreamReader,
    /// A line too long was found: the rest of this file is skipped.
    skipping: bool,
}

impl Tailed {
    fn new(path: &Path, parent: Option<String>) -> Tailed {
        Tailed {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            offset: 0,
            lines: LineBuffer::complete_lines(READ_BUFFER_BYTES),
            parent,
            claude: ClaudeStreamReader::new(),
            skipping: false,
        }
    }

    /// The complete lines written since the last call, with their numbers.
    fn new_lines(&mut self, sink: &mut Sink<'_>) -> Result<Vec<(usize, Vec<u8>)>, ReadError> {
        let io = |e: std::io::Error, name: &str| ReadError::Io {
            input: name.to_string(),
            source: e,
        };
        if self.skipping {
            return Ok(vec![]);
        }
        let mut f = File::open(&self.path).map_err(|e| io(e, &self.name))?;
        let len = f.metadata().map_err(|e| io(e, &self.name))?.len();
        if len < self.offset {
            // Truncated or replaced: start again from its beginning.
            self.offset = 0;
            self.lines.reset();
        }
        if len == self.offset {
            return Ok(vec![]);
        }
        f.seek(SeekFrom::Start(self.offset))
            .map_err(|e| io(e, &self.name))?;
        let mut chunk = f.take(READ_CHUNK_BYTES);
        let mut out = Vec::new();
        let stop = loop {
            match self.lines.next_trimmed(&mut chunk) {
                Ok(Some(line)) => out.push((line.number, line.bytes.to_vec())),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        self.offset += READ_CHUNK_BYTES - chunk.limit();
        match stop {
            None => {}
            Some(LineError::TooLong { number }) => {
                self.skipping = true;
                sink.bad(BadLine::too_long(&self.name, number))?;
            }
            Some(LineError::Io(e)) => return Err(io(e, &self.name)),
        }
        Ok(out)
    }
}

/// Follows one file (and, for a Claude Code transcript, its subagent files).
pub struct Follower {
    main: Tailed,
    format: Option<Format>,
    opencode: OpencodeRunReader,
    subagents: Vec<Tailed>,
    /// Subagent files already followed, by path.
    known: HashMap<PathBuf, ()>,
    /// `Task`/`Agent` calls without a result yet: inline sidechain lines belong to the last.
    open_tasks: Vec<String>,
    started: bool,
}

impl Follower {
    /// Follows `path`, whose format is `format` or detected from its first line.
    pub fn new(path: &Path, format: Option<Format>) -> Follower {
        Follower {
            main: Tailed::new(path, None),
            format,
            opencode: OpencodeRunReader::new(),
            subagents: Vec::new(),
            known: HashMap::new(),
            open_tasks: Vec::new(),
            started: false,
        }
    }

    /// Reads what was written since the last call; returns how many lines were read.
    pub fn poll(&mut self, sink: &mut Sink<'_>) -> Result<usize, ReadError> {
        let lines = self.main.new_lines(sink)?;
        let mut n = lines.len();
        for (number, line) in lines {
            let v: Value = match serde_json::from_slice(&line) {
                Ok(v) => v,
                Err(e) => {
                    sink.bad(BadLine::new(
                        &self.main.name,
                        number,
                        format!("not JSON: {e}"),
                    ))?;
                    continue;
                }
            };
            if self.format.is_none() {
                self.format = detect_value(&v);
                if self.format.is_none() {
                    sink.bad(BadLine::new(
                        &self.main.name,
                        number,
                        "not a line of a known agent format",
                    ))?;
                    continue;
                }
            }
            self.main_line(v, sink)?;
        }
        if self.format == Some(Format::ClaudeTranscript) {
            self.find_subagent_files();
            for i in 0..self.subagents.len() {
                let lines = self.subagents[i].new_lines(sink)?;
                n += lines.len();
                for (number, line) in lines {
                    let t = &mut self.subagents[i];
                    match serde_json::from_slice::<Value>(&line) {
                        Ok(v) => {
                            let parent = t.parent.clone();
                            let timestamp = v["timestamp"].as_str().map(str::to_string);
                            for ev in line_events(&mut t.claude, v) {
                                sink.event(nest(stamp(ev, &timestamp), parent.as_deref()))?;
                            }
                        }
                        Err(e) => {
                            sink.bad(BadLine::new(&t.name, number, format!("not JSON: {e}")))?
                        }
                    }
                }
            }
        }
        Ok(n)
    }

    fn main_line(&mut self, v: Value, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        match self.format {
            Some(Format::ClaudeTranscript) => {
                if !self.started {
                    self.started = true;
                    sink.event(StreamEvent::SessionStarted {
                        agent: AgentKind::ClaudeCode,
                        agent_session_id: v["sessionId"].as_str().map(str::to_string),
                        model: None,
                        tools: vec![],
                        cwd: v["cwd"].as_str().map(str::to_string),
                        agent_version: v["version"].as_str().map(str::to_string),
                        loaded: None,
                        timestamp: v["timestamp"].as_str().map(str::to_string),
                    })?;
                }
                let sidechain = v["isSidechain"].as_bool() == Some(true);
                let timestamp = v["timestamp"].as_str().map(str::to_string);
                let parent = if sidechain {
                    self.open_tasks.last().cloned()
                } else {
                    None
                };
                for ev in line_events(&mut self.main.claude, v) {
                    match &ev {
                        StreamEvent::ToolCall { id, name, .. }
                            if SUBAGENT_TOOLS.contains(&name.as_str()) && !sidechain =>
                        {
                            self.open_tasks.push(id.clone())
                        }
                        StreamEvent::ToolResult { tool_use_id, .. } if !sidechain => {
                            self.open_tasks.retain(|t| t != tool_use_id)
                        }
                        _ => {}
                    }
                    sink.event(nest(stamp(ev, &timestamp), parent.as_deref()))?;
                }
            }
            Some(Format::OpencodeRun) => {
                for ev in self.opencode.read_value(v) {
                    sink.event(ev)?;
                }
            }
            _ => {
                for ev in self.main.claude.read_value(v) {
                    sink.event(ev)?;
                }
            }
        }
        Ok(())
    }

    /// New files in `<session>/subagents/` whose call is known from their `.meta.json`.
    fn find_subagent_files(&mut self) {
        let (Some(dir), Some(stem)) = (
            self.main.path.parent(),
            self.main.path.file_stem().and_then(|s| s.to_str()),
        ) else {
            return;
        };
        let sub = dir.join(stem).join("subagents");
        let Ok(entries) = std::fs::read_dir(&sub) else {
            return;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| agent_file_id(p).is_some() && !self.known.contains_key(p))
            .collect();
        found.sort();
        for path in found {
            let Some(agent) = agent_file_id(&path) else {
                continue;
            };
            let meta = sub.join(format!("agent-{agent}.meta.json"));
            let Some(call) = std::fs::read(&meta)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|m| m["toolUseId"].as_str().map(str::to_string))
            else {
                // Not yet known which call started it: look again next time.
                continue;
            };
            self.known.insert(path.clone(), ());
            self.subagents.push(Tailed::new(&path, Some(call)));
        }
    }
}

/// The event with its line's time when it has none of its own (as the whole-file reader gives it).
fn stamp(mut ev: StreamEvent, timestamp: &Option<String>) -> StreamEvent {
    if let Some(slot) = ev.timestamp_mut()
        && slot.is_none()
    {
        slot.clone_from(timestamp);
    }
    ev
}

fn nest(mut ev: StreamEvent, parent: Option<&str>) -> StreamEvent {
    if let Some(p) = parent
        && let Some(slot) = ev.parent_tool_use_id_mut()
        && slot.is_none()
    {
        *slot = Some(p.to_string());
    }
    ev
}
