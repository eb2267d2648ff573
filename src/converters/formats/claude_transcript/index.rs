//! The first pass over a transcript: one small record per line (offset, uuid, parent, sidechain
//! and agent ids) and the session's facts, read without parsing what ordering does not need.
//!
//! Must not produce events: that is the second pass's job.

use super::*;
use crate::converters::lines::{Line, LineBuffer, LineError, lines_in};

/// The first pass: one small record per line, and the session facts.
pub(super) fn build_index(
    name: &str,
    file: &File,
    sink: &mut Sink<'_>,
) -> Result<Index, ReadError> {
    let mut ix = Indexer::default();
    let mut lines = LineBuffer::new(INDEX_BUFFER_BYTES);
    let mut r = file;
    loop {
        match lines.next_trimmed(&mut r) {
            Ok(Some(line)) => ix.line(name, line, None, sink)?,
            Ok(None) => break,
            Err(e) => {
                ix.stop(name, e, sink)?;
                break;
            }
        }
    }
    Ok(ix.index)
}

/// [`build_index`] over bytes in memory (`text` when they are known to be UTF-8): lines are
/// found in place, never copied.
pub(super) fn build_index_memory(
    name: &str,
    data: &[u8],
    text: Option<&str>,
    sink: &mut Sink<'_>,
) -> Result<Index, ReadError> {
    let mut ix = Indexer::default();
    for line in lines_in(data) {
        match line {
            Ok(line) => {
                let line = line.trimmed();
                if line.bytes.is_empty() {
                    continue;
                }
                // Newlines and ASCII white space are characters of their own, so the line's
                // ends are character boundaries.
                let start = line.offset as usize;
                let checked = text.map(|t| &t[start..start + line.bytes.len()]);
                ix.line(name, line, checked, sink)?;
            }
            Err(e) => {
                ix.stop(name, e, sink)?;
                break;
            }
        }
    }
    Ok(ix.index)
}

/// The first pass, one line at a time.
#[derive(Default)]
pub(super) struct Indexer {
    pub(super) index: Index,
    pub(super) seen: HashSet<Box<str>>,
}

impl Indexer {
    /// Indexes a line that is not blank, trimmed (`checked` is the same line when it is known
    /// to be UTF-8).
    pub(super) fn line(
        &mut self,
        name: &str,
        line: Line<'_>,
        checked: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let number = line.number;
        let mut info = LineInfo {
            offset: line.offset,
            len: line.bytes.len(),
            number,
            ..LineInfo::default()
        };
        // Parsing from text skips serde's own UTF-8 checks: a line is checked once, or not at
        // all when its whole file was.
        let text = match checked {
            Some(t) => Ok(t),
            None => utf8(line.bytes),
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
        Ok(())
    }

    /// Reading stopped at `e`: a line too long is reported (the rest of the file is skipped).
    pub(super) fn stop(
        &mut self,
        name: &str,
        e: LineError,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        match e {
            LineError::TooLong { number } => sink.bad(BadLine::too_long(name, number)),
            LineError::Io(source) => Err(ReadError::Io {
                input: name.to_string(),
                source,
            }),
        }
    }
}

pub(super) fn index_line(
    index: &mut Index,
    info: &mut LineInfo,
    h: Head<'_>,
    seen: &mut HashSet<Box<str>>,
) {
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
pub(super) fn mentions_subagent_tool(message: &str) -> bool {
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
pub(super) fn has_agent_ref(h: &Head<'_>) -> bool {
    h.tool_use_result
        .is_some_and(|r| r.get().starts_with('{') && r.get().contains("\"agentId\""))
}
