//! The assembler: [`StreamEvent`]s in, [`ConversationBlock`]s out. The runner, the server's
//! clients and the TUI all use this one.
//!
//! It pairs each tool call with its result, nests the events of a subagent (those with a
//! `parent_tool_use_id`) under the `Task`/`Agent` call that started it, merges streamed deltas
//! into one block (which the complete block then replaces), and keeps order and ids: a block's id
//! comes from the source (message id and block index, tool call id, ...) or from a counter, so
//! the same input always gives the same ids.

use std::collections::HashMap;

use serde_json::Value;

use crate::types::{
    BlockKind, ConversationBlock, StreamEvent, ToolResultContent, ToolStatus, TurnStatus,
};

/// Tools whose call starts a subagent.
pub(crate) const SUBAGENT_TOOLS: &[&str] = &["Task", "Agent", "task"];

/// A block's place: its index at the top, then inside each enclosing subagent run.
type Path = Vec<usize>;

/// Builds blocks from events, incrementally.
#[derive(Debug, Default)]
pub struct Assembler {
    blocks: Vec<ConversationBlock>,
    /// Tool calls and subagent runs by call id.
    calls: HashMap<String, Path>,
    /// Permission blocks by request id.
    permissions: HashMap<String, Path>,
    /// Text or thinking being streamed, by (parent, message id, kind).
    open: HashMap<(Option<String>, Option<String>, bool), Path>,
    next_id: u64,
}

impl Assembler {
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// The blocks so far.
    pub fn blocks(&self) -> &[ConversationBlock] {
        &self.blocks
    }

    /// How many leading blocks are final: none of them will change with later events. A tool
    /// call or subagent run still waiting for its result, and text still streaming, are not.
    pub fn settled_len(&self) -> usize {
        let open: std::collections::HashSet<usize> = self.open.values().map(|p| p[0]).collect();
        self.blocks
            .iter()
            .enumerate()
            .position(|(i, b)| {
                open.contains(&i)
                    || matches!(
                        b.kind,
                        BlockKind::ToolCall {
                            status: ToolStatus::Pending,
                            ..
                        } | BlockKind::SubagentRun {
                            status: ToolStatus::Pending,
                            ..
                        } | BlockKind::Permission { decision: None, .. }
                    )
            })
            .unwrap_or(self.blocks.len())
    }

    /// All blocks, consuming the assembler.
    pub fn finish(self) -> Vec<ConversationBlock> {
        self.blocks
    }

    /// Builds all blocks of a whole event stream.
    pub fn assemble(events: impl IntoIterator<Item = StreamEvent>) -> Vec<ConversationBlock> {
        let mut a = Assembler::new();
        for e in events {
            a.push(e);
        }
        a.finish()
    }

    fn gen_id(&mut self) -> String {
        self.next_id += 1;
        format!("b{}", self.next_id)
    }

    /// Adds one event; returns the indexes of the top-level blocks it added or changed.
    pub fn push(&mut self, event: StreamEvent) -> Vec<usize> {
        match event {
            StreamEvent::SessionStarted {
                agent,
                model,
                agent_version,
                timestamp,
                loaded,
                ..
            } => {
                let mut text = agent.to_string();
                if let Some(v) = agent_version {
                    text.push_str(&format!(" {v}"));
                }
                if let Some(m) = model {
                    text.push_str(&format!(", model {m}"));
                }
                // What the agent loaded shows wherever the conversation does: a plugin or an
                // MCP server that failed is seen in the browser and the terminal alike.
                if let Some(l) = loaded {
                    text.push_str("; ");
                    text.push_str(&loaded_summary(&l));
                }
                let id = self.gen_id();
                self.add(
                    None,
                    id,
                    timestamp,
                    BlockKind::SystemNotice {
                        kind: "session_started".into(),
                        text,
                    },
                )
            }
            StreamEvent::UserMessage {
                id,
                text,
                images,
                compact_summary,
                parent_tool_use_id,
                timestamp,
            } => {
                let id = id.unwrap_or_else(|| self.gen_id());
                let kind = if compact_summary {
                    BlockKind::CompactionSummary { text }
                } else {
                    BlockKind::UserMessage { text, images }
                };
                self.add(parent_tool_use_id.as_deref(), id, timestamp, kind)
            }
            StreamEvent::TextDelta {
                message_id,
                index,
                text,
                parent_tool_use_id,
            } => self.stream(
                parent_tool_use_id,
                message_id,
                Some(index),
                text,
                false,
                None,
            ),
            StreamEvent::Thinking {
                message_id,
                text,
                delta: true,
                parent_tool_use_id,
                timestamp,
                ..
            } => self.stream(parent_tool_use_id, message_id, None, text, true, timestamp),
            StreamEvent::Text {
                message_id,
                text,
                parent_tool_use_id,
                timestamp,
            } => self.complete(
                parent_tool_use_id,
                message_id,
                text,
                false,
                false,
                timestamp,
            ),
            StreamEvent::Thinking {
                message_id,
                text,
                redacted,
                parent_tool_use_id,
                timestamp,
                ..
            } => self.complete(
                parent_tool_use_id,
                message_id,
                text,
                true,
                redacted,
                timestamp,
            ),
            StreamEvent::ToolCall {
                id,
                name,
                input,
                parent_tool_use_id,
                timestamp,
                ..
            } => {
                if self.calls.contains_key(&id) {
                    return vec![]; // The same call repeated (a replay): keep the first.
                }
                let kind = if SUBAGENT_TOOLS.contains(&name.as_str()) {
                    let field = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
                    BlockKind::SubagentRun {
                        call_id: id.clone(),
                        subagent_type: field("subagent_type"),
                        description: field("description"),
                        name,
                        input,
                        status: ToolStatus::Pending,
                        blocks: vec![],
                        result: None,
                    }
                } else {
                    BlockKind::ToolCall {
                        call_id: id.clone(),
                        name,
                        input,
                        status: ToolStatus::Pending,
                        result: None,
                    }
                };
                let changed = self.add(parent_tool_use_id.as_deref(), id.clone(), timestamp, kind);
                if let Some(path) = self.last_path(parent_tool_use_id.as_deref()) {
                    self.calls.insert(id, path);
                }
                changed
            }
            StreamEvent::ToolResult {
                tool_use_id,
                content,
                is_error,
                parent_tool_use_id,
                timestamp,
            } => {
                let Some(path) = self.calls.get(&tool_use_id).cloned() else {
                    // A result whose call is not in this stream: keep it, do not drop it.
                    let id = self.gen_id();
                    let json = serde_json::json!({"type": "tool_result", "tool_use_id": tool_use_id,
                        "content": content, "is_error": is_error});
                    return self.add(
                        parent_tool_use_id.as_deref(),
                        id,
                        timestamp,
                        BlockKind::Raw {
                            source: Some("orphan_tool_result".into()),
                            json,
                        },
                    );
                };
                if let Some(b) = self.at(&path) {
                    let new_status = if is_error {
                        ToolStatus::Error
                    } else {
                        ToolStatus::Ok
                    };
                    match &mut b.kind {
                        BlockKind::ToolCall { status, result, .. }
                        | BlockKind::SubagentRun { status, result, .. }
                            if result.is_none() =>
                        {
                            *result = Some(content);
                            if *status != ToolStatus::Denied {
                                *status = new_status;
                            }
                        }
                        _ => {}
                    }
                }
                vec![path[0]]
            }
            StreamEvent::PermissionRequest {
                request_id,
                tool_name,
                input,
                tool_use_id,
            } => {
                // A request from inside a subagent is shown inside its run.
                let call_path = tool_use_id
                    .as_ref()
                    .and_then(|t| self.calls.get(t))
                    .filter(|p| p.len() > 1)
                    .cloned();
                let parent = call_path.and_then(|p| self.call_id_at(&p[..p.len() - 1]));
                let changed = self.add(
                    parent.as_deref(),
                    request_id.clone(),
                    None,
                    BlockKind::Permission {
                        request_id: request_id.clone(),
                        tool_name,
                        input,
                        decision: None,
                        message: None,
                    },
                );
                if let Some(path) = self.last_path(parent.as_deref()) {
                    self.permissions.insert(request_id, path);
                }
                changed
            }
            StreamEvent::PermissionDecision {
                request_id,
                decision: d,
                message: m,
                ..
            } => {
                let Some(path) = self.permissions.get(&request_id).cloned() else {
                    return vec![];
                };
                if let Some(b) = self.at(&path)
                    && let BlockKind::Permission {
                        decision, message, ..
                    } = &mut b.kind
                {
                    *decision = Some(d);
                    *message = m;
                }
                vec![path[0]]
            }
            StreamEvent::Result {
                status,
                duration_ms,
                num_turns,
                cost_usd,
                usage,
                error,
                ..
            } => {
                self.open.clear();
                let mut changed = Vec::new();
                if status != TurnStatus::Success {
                    // Calls still waiting when the turn ended never got a result.
                    for path in self.calls.values() {
                        changed.push(path[0]);
                    }
                    let paths: Vec<Path> = self.calls.values().cloned().collect();
                    for path in paths {
                        if let Some(b) = self.at(&path) {
                            match &mut b.kind {
                                BlockKind::ToolCall { status, .. }
                                | BlockKind::SubagentRun { status, .. }
                                    if *status == ToolStatus::Pending =>
                                {
                                    *status = ToolStatus::Interrupted
                                }
                                _ => {}
                            }
                        }
                    }
                }
                let id = self.gen_id();
                changed.extend(self.add(
                    None,
                    id,
                    None,
                    BlockKind::TurnSummary {
                        status,
                        duration_ms,
                        num_turns,
                        cost_usd,
                        usage,
                        error,
                    },
                ));
                changed.sort_unstable();
                changed.dedup();
                changed
            }
            StreamEvent::Error {
                message,
                code,
                timestamp,
            } => {
                let id = self.gen_id();
                self.add(None, id, timestamp, BlockKind::Error { message, code })
            }
            StreamEvent::Notice {
                kind,
                text,
                timestamp,
            } => {
                let id = self.gen_id();
                self.add(None, id, timestamp, BlockKind::SystemNotice { kind, text })
            }
            StreamEvent::Raw { source, json } => {
                let id = self.gen_id();
                self.add(None, id, None, BlockKind::Raw { source, json })
            }
            // Not part of the conversation a person reads.
            StreamEvent::Usage { .. }
            | StreamEvent::Stderr { .. }
            | StreamEvent::StateChanged { .. } => {
                vec![]
            }
        }
    }

    /// Appends streamed text or thinking to its open block, opening one if needed.
    fn stream(
        &mut self,
        parent: Option<String>,
        message_id: Option<String>,
        index: Option<u32>,
        text: String,
        thinking: bool,
        timestamp: Option<String>,
    ) -> Vec<usize> {
        let key = (parent.clone(), message_id.clone(), thinking);
        if let Some(path) = self.open.get(&key).cloned()
            && let Some(b) = self.at(&path)
        {
            match &mut b.kind {
                BlockKind::AssistantText { text: t } | BlockKind::Thinking { text: t, .. } => {
                    t.push_str(&text)
                }
                _ => {}
            }
            return vec![path[0]];
        }
        let id = match (&message_id, index) {
            (Some(m), Some(i)) => format!("{m}:{i}"),
            _ => self.gen_id(),
        };
        let kind = if thinking {
            BlockKind::Thinking {
                text,
                redacted: false,
            }
        } else {
            BlockKind::AssistantText { text }
        };
        let changed = self.add(parent.as_deref(), id, timestamp, kind);
        if let Some(path) = self.last_path(parent.as_deref()) {
            self.open.insert(key, path);
        }
        changed
    }

    /// A complete text or thinking block: it replaces what deltas built for it, if any.
    fn complete(
        &mut self,
        parent: Option<String>,
        message_id: Option<String>,
        text: String,
        thinking: bool,
        redacted: bool,
        timestamp: Option<String>,
    ) -> Vec<usize> {
        let key = (parent.clone(), message_id, thinking);
        if let Some(path) = self.open.remove(&key)
            && let Some(b) = self.at(&path)
        {
            b.timestamp = timestamp.or(b.timestamp.take());
            match &mut b.kind {
                BlockKind::AssistantText { text: t } => *t = text,
                BlockKind::Thinking {
                    text: t,
                    redacted: r,
                } => {
                    *t = text;
                    *r = redacted;
                }
                _ => {}
            }
            return vec![path[0]];
        }
        let id = match &key.1 {
            Some(m) => {
                self.next_id += 1;
                format!("{m}:{}", self.next_id)
            }
            None => self.gen_id(),
        };
        let kind = if thinking {
            BlockKind::Thinking { text, redacted }
        } else {
            BlockKind::AssistantText { text }
        };
        self.add(parent.as_deref(), id, timestamp, kind)
    }

    /// Adds a block at the top, or inside the subagent run of `parent` when there is one.
    fn add(
        &mut self,
        parent: Option<&str>,
        id: String,
        timestamp: Option<String>,
        kind: BlockKind,
    ) -> Vec<usize> {
        let block = ConversationBlock {
            id,
            timestamp,
            kind,
        };
        match parent.and_then(|p| self.calls.get(p).cloned()) {
            Some(path) => {
                if let Some(ConversationBlock {
                    kind: BlockKind::SubagentRun { blocks, .. },
                    ..
                }) = self.at(&path)
                {
                    blocks.push(block);
                    return vec![path[0]];
                }
                // The parent is an ordinary tool call: show the block at the top.
                self.blocks.push(block);
                vec![self.blocks.len() - 1]
            }
            None => {
                self.blocks.push(block);
                vec![self.blocks.len() - 1]
            }
        }
    }

    /// The path of the block just added under `parent`.
    fn last_path(&self, parent: Option<&str>) -> Option<Path> {
        if let Some(path) = parent.and_then(|p| self.calls.get(p)) {
            let mut b = self.blocks.get(path[0])?;
            for &i in &path[1..] {
                b = match &b.kind {
                    BlockKind::SubagentRun { blocks, .. } => blocks.get(i)?,
                    _ => return None,
                };
            }
            if let BlockKind::SubagentRun { blocks, .. } = &b.kind {
                let mut p = path.clone();
                p.push(blocks.len().checked_sub(1)?);
                return Some(p);
            }
        }
        Some(vec![self.blocks.len().checked_sub(1)?])
    }

    fn at(&mut self, path: &[usize]) -> Option<&mut ConversationBlock> {
        let mut b = self.blocks.get_mut(*path.first()?)?;
        for &i in &path[1..] {
            b = match &mut b.kind {
                BlockKind::SubagentRun { blocks, .. } => blocks.get_mut(i)?,
                _ => return None,
            };
        }
        Some(b)
    }

    fn call_id_at(&mut self, path: &[usize]) -> Option<String> {
        match &self.at(path)?.kind {
            BlockKind::SubagentRun { call_id, .. } => Some(call_id.clone()),
            _ => None,
        }
    }
}

/// The text of a tool result, for renderers (blocks other than text show as `[type]`).
pub fn result_text(r: &ToolResultContent) -> String {
    match r {
        ToolResultContent::Text(t) => t.clone(),
        ToolResultContent::Blocks(blocks) => blocks
            .iter()
            .map(|b| match b.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => format!(
                    "[{}]",
                    b.get("type").and_then(Value::as_str).unwrap_or("block")
                ),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// One line of what the agent loaded: counts of skills, commands and subagents (its built-in
/// ones included), then each plugin and MCP server by name.
pub fn loaded_summary(l: &crate::types::AgentLoaded) -> String {
    let mut parts = vec![
        format!("{} skills", l.skills.len()),
        format!("{} commands", l.slash_commands.len()),
        format!("{} subagents", l.agents.len()),
    ];
    if !l.plugins.is_empty() {
        let names: Vec<&str> = l.plugins.iter().map(|p| p.name.as_str()).collect();
        parts.push(format!("plugins: {}", names.join(", ")));
    }
    if !l.mcp_servers.is_empty() {
        let names: Vec<String> = l
            .mcp_servers
            .iter()
            .map(|m| format!("{} ({})", m.name, m.status))
            .collect();
        parts.push(format!("MCP: {}", names.join(", ")));
    }
    format!("loaded {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AgentLoaded, PermissionDecision};
    use serde_json::json;

    fn call(id: &str, name: &str, parent: Option<&str>) -> StreamEvent {
        StreamEvent::ToolCall {
            id: id.into(),
            name: name.into(),
            input: json!({"description": "look around", "subagent_type": "Explore"}),
            message_id: None,
            parent_tool_use_id: parent.map(Into::into),
            timestamp: None,
        }
    }

    fn result(id: &str, parent: Option<&str>, err: bool) -> StreamEvent {
        StreamEvent::ToolResult {
            tool_use_id: id.into(),
            content: ToolResultContent::Text("out".into()),
            is_error: err,
            parent_tool_use_id: parent.map(Into::into),
            timestamp: None,
        }
    }

    fn text(t: &str, parent: Option<&str>) -> StreamEvent {
        StreamEvent::Text {
            message_id: Some("m".into()),
            text: t.into(),
            parent_tool_use_id: parent.map(Into::into),
            timestamp: None,
        }
    }

    #[test]
    fn the_session_started_notice_says_what_the_agent_loaded_and_which_server_failed() {
        let started = |loaded: Option<AgentLoaded>| StreamEvent::SessionStarted {
            agent: crate::types::AgentKind::ClaudeCode,
            agent_session_id: None,
            model: Some("m".into()),
            tools: vec![],
            cwd: None,
            agent_version: Some("2.1.0".into()),
            loaded: loaded.map(Box::new),
            timestamp: None,
        };
        let text = |b: &[ConversationBlock]| match &b[0].kind {
            BlockKind::SystemNotice { text, .. } => text.clone(),
            other => panic!("{other:?}"),
        };
        let loaded = AgentLoaded {
            skills: vec!["greet".into()],
            mcp_servers: vec![crate::types::LoadedMcpServer {
                name: "files".into(),
                status: "failed".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            text(&Assembler::assemble([started(Some(loaded))])),
            "claude-code 2.1.0, model m; loaded 1 skills, 0 commands, 0 subagents, \
             MCP: files (failed)"
        );
        assert_eq!(
            text(&Assembler::assemble([started(None)])),
            "claude-code 2.1.0, model m"
        );
    }

    #[test]
    fn calls_pair_with_results_and_subagents_nest() {
        let blocks = Assembler::assemble([
            call("t1", "Bash", None),
            call("task", "Task", None),
            text("inside", Some("task")),
            call("t2", "Read", Some("task")),
            result("t2", Some("task"), false),
            result("task", None, false),
            result("t1", None, true),
        ]);
        assert_eq!(blocks.len(), 2);
        match &blocks[0].kind {
            BlockKind::ToolCall { status, result, .. } => {
                assert_eq!(*status, ToolStatus::Error);
                assert!(result.is_some());
            }
            k => panic!("{k:?}"),
        }
        match &blocks[1].kind {
            BlockKind::SubagentRun {
                blocks: inner,
                status,
                subagent_type,
                ..
            } => {
                assert_eq!(*status, ToolStatus::Ok);
                assert_eq!(subagent_type.as_deref(), Some("Explore"));
                assert_eq!(inner.len(), 2);
                assert!(matches!(
                    &inner[1].kind,
                    BlockKind::ToolCall {
                        status: ToolStatus::Ok,
                        ..
                    }
                ));
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn deltas_merge_and_the_complete_block_replaces_them() {
        let mut a = Assembler::new();
        for t in ["Hel", "lo"] {
            a.push(StreamEvent::TextDelta {
                message_id: Some("m".into()),
                index: 0,
                text: t.into(),
                parent_tool_use_id: None,
            });
        }
        assert!(
            matches!(&a.blocks()[0].kind, BlockKind::AssistantText { text } if text == "Hello")
        );
        a.push(text("Hello!", None));
        assert_eq!(a.blocks().len(), 1);
        assert!(
            matches!(&a.blocks()[0].kind, BlockKind::AssistantText { text } if text == "Hello!")
        );
    }

    #[test]
    fn an_unfinished_turn_marks_pending_calls_interrupted_and_orphans_are_kept() {
        let blocks = Assembler::assemble([
            call("t1", "Bash", None),
            result("nope", None, false),
            StreamEvent::PermissionRequest {
                request_id: "r".into(),
                tool_name: "Bash".into(),
                input: json!({}),
                tool_use_id: Some("t1".into()),
            },
            StreamEvent::PermissionDecision {
                request_id: "r".into(),
                decision: PermissionDecision::Deny,
                message: None,
                decided_by: None,
            },
            StreamEvent::turn_ended(TurnStatus::Interrupted, None),
        ]);
        assert!(matches!(
            &blocks[0].kind,
            BlockKind::ToolCall {
                status: ToolStatus::Interrupted,
                ..
            }
        ));
        assert!(matches!(&blocks[1].kind, BlockKind::Raw { .. }));
        assert!(matches!(
            &blocks[2].kind,
            BlockKind::Permission {
                decision: Some(PermissionDecision::Deny),
                ..
            }
        ));
        assert!(matches!(&blocks[3].kind, BlockKind::TurnSummary { .. }));
    }
}
