//! Claude Code's stream-json output (`claude -p --output-format stream-json --verbose`, with or
//! without `--include-partial-messages`) into events, one line at a time.
//!
//! One API response arrives as several `assistant` lines (one content block each) that share
//! `message.id` and repeat its usage: the usage is reported once per message id. Lines and
//! blocks this reader does not know become `raw` events that keep the original JSON.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

mod assistant;

use crate::types::{
    AgentKind, AgentLoaded, ImageRef, LoadedMcpServer, LoadedPlugin, StreamEvent, TokenUsage,
    ToolResultContent, TurnStatus,
};

/// Message ids whose usage was reported, newest last. The lines of one message come one after
/// another (a subagent's may come between them): this many recent ids cover that, and the set
/// does not grow with the session, nor rehash in step across every session of a server.
const USAGE_IDS_KEPT: usize = 256;

/// Reads stream-json lines.
#[derive(Debug, Default)]
pub struct ClaudeStreamReader {
    usage_seen: RecentIds,
    /// The message being streamed (`--include-partial-messages`), per subagent (`None` for the
    /// main conversation): its deltas carry its id, so the complete block that follows replaces
    /// them instead of being shown a second time. Entries leave at `message_stop`.
    streaming: HashMap<Option<String>, String>,
    /// The skill whose `Skill` tool call just returned: Claude Code puts its instructions into
    /// the conversation next, as a synthetic user message.
    loading_skill: Option<String>,
}

/// The last [`USAGE_IDS_KEPT`] ids inserted, kept as 64-bit hashes: nothing is allocated per
/// line, and two ids of one session sharing a hash (which would hide one message's usage) is a
/// chance of about 256 in 2^64.
#[derive(Debug, Default)]
struct RecentIds {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl RecentIds {
    /// Adds `id`; false when it is among the recent ones already.
    fn insert(&mut self, id: &str) -> bool {
        use std::hash::{Hash, Hasher};
        // The same keys in every process: a hash is only ever compared within one reader.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        let h = h.finish();
        if self.set.contains(&h) {
            return false;
        }
        if self.order.len() == USAGE_IDS_KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(h);
        self.order.push_back(h);
        true
    }
}

const SOURCE: &str = "claude-stream-json";
/// How Claude Code begins the instructions of a skill it loads.
const SKILL_BASE_DIR: &str = "Base directory for this skill:";

/// Text Claude Code put in the conversation for the model rather than the user typing it (a
/// skill's instructions once it loads the skill, reminders, command caveats), as a notice: a
/// `skill_load` naming the skill (`skill`, when the reader knows it, else its folder's name)
/// and its folder, or `meta` with the text.
pub(crate) fn injected_text(
    text: String,
    skill: Option<String>,
    timestamp: Option<String>,
) -> StreamEvent {
    if let Some(rest) = text.strip_prefix(SKILL_BASE_DIR) {
        let dir = rest.lines().next().unwrap_or_default().trim();
        let name = skill
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| dir.rsplit('/').next().unwrap_or(dir).to_string());
        return StreamEvent::Notice {
            kind: SKILL_LOAD.into(),
            text: format!("loaded skill {name} from {dir}"),
            timestamp,
        };
    }
    StreamEvent::Notice {
        kind: "meta".into(),
        text,
        timestamp,
    }
}

/// The `kind` of the notice that says the agent loaded a skill.
pub const SKILL_LOAD: &str = "skill_load";
/// The `kind` of the notice that says what one of the agent's hooks did.
pub const HOOK: &str = "hook";

/// A hook's response line (Claude Code writes them for `SessionStart` hooks) as a notice: the
/// hook, how it ended, and what it printed (its stderr when it failed).
fn hook_response(v: &Value) -> StreamEvent {
    let name = v["hook_name"]
        .as_str()
        .or(v["hook_event"].as_str())
        .unwrap_or("a");
    let outcome = v["outcome"].as_str().unwrap_or("done");
    let mut text = format!("{name} hook: {outcome}");
    if let Some(code) = v["exit_code"].as_i64().filter(|c| *c != 0) {
        text.push_str(&format!(" (exit status {code})"));
    }
    let said = match (outcome, v["stderr"].as_str()) {
        ("success", _) | (_, None | Some("")) => v["output"].as_str().or(v["stdout"].as_str()),
        (_, stderr) => stderr,
    };
    if let Some(said) = said.map(str::trim).filter(|s| !s.is_empty()) {
        text.push_str(": ");
        text.push_str(said);
    }
    StreamEvent::Notice {
        kind: HOOK.into(),
        text,
        timestamp: None,
    }
}

/// The text of a message's content: a string, or its text blocks, one per line.
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(t) => t.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn raw(v: Value) -> StreamEvent {
    StreamEvent::Raw {
        source: Some(SOURCE.into()),
        json: v,
    }
}

/// Anthropic's usage object into counters.
pub(crate) fn usage_of(u: &Value) -> TokenUsage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    TokenUsage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
        cache_creation_tokens: n("cache_creation_input_tokens"),
        cache_read_tokens: n("cache_read_input_tokens"),
    }
}

/// An image or document block as a reference (its bytes are never copied into events).
pub(crate) fn image_ref(b: &Value) -> ImageRef {
    let src = &b["source"];
    let source = match src["type"].as_str() {
        Some("base64") => format!(
            "base64:{} bytes",
            src["data"].as_str().map(|d| d.len() * 3 / 4).unwrap_or(0)
        ),
        Some("url") => s(&src["url"]).unwrap_or_default(),
        Some("file") => s(&src["file_id"]).unwrap_or_default(),
        _ => src.to_string(),
    };
    ImageRef {
        kind: s(&b["type"]).unwrap_or_else(|| "image".into()),
        media_type: s(&src["media_type"]),
        source,
    }
}

/// A tool result's content: a string, or blocks (images become references).
pub(crate) fn tool_result_content(c: &Value) -> ToolResultContent {
    match c {
        Value::String(t) => ToolResultContent::Text(t.clone()),
        Value::Array(items) => ToolResultContent::Blocks(
            items
                .iter()
                .map(|b| match b["type"].as_str() {
                    Some("image") | Some("document") => {
                        serde_json::to_value(image_ref(b)).unwrap_or(Value::Null)
                    }
                    _ => b.clone(),
                })
                .collect(),
        ),
        Value::Null => ToolResultContent::Text(String::new()),
        other => ToolResultContent::Text(other.to_string()),
    }
}

/// The marker text Claude Code writes as a user message when a turn is interrupted
/// (`[Request interrupted by user]`, `... for tool use]`).
fn interruption(content: &Value) -> Option<&str> {
    let text = match content {
        Value::String(t) => t.as_str(),
        Value::Array(items) if items.len() == 1 && items[0]["type"] == "text" => {
            items[0]["text"].as_str()?
        }
        _ => return None,
    };
    text.starts_with("[Request interrupted by user")
        .then_some(text)
}

impl ClaudeStreamReader {
    pub fn new() -> ClaudeStreamReader {
        ClaudeStreamReader::default()
    }

    /// Text Claude Code put in the conversation for the model (see [`injected_text`]), named
    /// after the skill whose `Skill` call returned last, if any.
    pub(crate) fn injected(&mut self, text: String, timestamp: Option<String>) -> StreamEvent {
        injected_text(text, self.loading_skill.take(), timestamp)
    }

    /// The events of one line; a blank line yields none, other text that is not JSON is stderr.
    pub fn read_line(&mut self, line: &str) -> Vec<StreamEvent> {
        if let Some(a) = assistant::read(line) {
            return self.assistant(a);
        }
        super::json_line(line, |v| self.read_value(v))
    }

    pub fn read_value(&mut self, v: Value) -> Vec<StreamEvent> {
        let parent = s(&v["parent_tool_use_id"]);
        match v["type"].as_str() {
            Some("system") => match v["subtype"].as_str() {
                Some("init") => vec![StreamEvent::SessionStarted {
                    agent: AgentKind::ClaudeCode,
                    agent_session_id: s(&v["session_id"]),
                    model: s(&v["model"]),
                    tools: v["tools"]
                        .as_array()
                        .map(|t| t.iter().filter_map(s).collect())
                        .unwrap_or_default(),
                    cwd: s(&v["cwd"]),
                    agent_version: s(&v["claude_code_version"]),
                    loaded: Some(Box::new(loaded(&v))),
                    timestamp: None,
                }],
                Some("compact_boundary") => vec![StreamEvent::Notice {
                    kind: "compact_boundary".into(),
                    text: "conversation compacted".into(),
                    timestamp: None,
                }],
                Some("api_retry") => vec![StreamEvent::Notice {
                    kind: "api_retry".into(),
                    text: format!(
                        "the model API failed ({}); retrying",
                        v["error"].as_str().unwrap_or("error")
                    ),
                    timestamp: None,
                }],
                // What the agent is doing this moment (`requesting`, ...), written with partial
                // messages: the clients show their own activity, and the record needs none.
                // And how many tokens its thinking is estimated at so far: the same.
                Some("status" | "thinking_tokens") => vec![],
                // A hook starting says nothing its response will not say.
                Some("hook_started") => vec![],
                Some("hook_response") => vec![hook_response(&v)],
                // A subagent's life as a background task (started, progress, done): its call and
                // its result are already in the conversation as the Agent/Task tool's, and its
                // steps as lines with their `parent_tool_use_id`.
                Some("task_started" | "task_progress" | "task_updated" | "task_notification") => {
                    vec![]
                }
                _ => vec![raw(v)],
            },
            // Claude Code writes a failed model call as an assistant message whose text is the
            // error: show it as the error it is.
            Some("assistant")
                if v["isApiErrorMessage"].as_bool() == Some(true) || v["error"].is_string() =>
            {
                let text: Vec<&str> = v["message"]["content"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                let message = if text.is_empty() {
                    format!("API error: {}", v["error"].as_str().unwrap_or("unknown"))
                } else {
                    text.join("\n")
                };
                let code = match v["apiErrorStatus"].as_u64() {
                    Some(status) => format!("api_error_{status}"),
                    None => "api_error".into(),
                };
                vec![StreamEvent::Error {
                    message,
                    code: Some(code),
                    timestamp: None,
                }]
            }
            Some("assistant") => {
                let msg = &v["message"];
                let blocks = msg["content"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                    .iter()
                    .map(|b| match b["type"].as_str() {
                        Some("text") => Block::Text(s(&b["text"]).unwrap_or_default()),
                        Some("thinking") => Block::Thinking(s(&b["thinking"]).unwrap_or_default()),
                        Some("redacted_thinking") => Block::RedactedThinking,
                        Some("tool_use") | Some("server_tool_use") => Block::ToolUse {
                            id: s(&b["id"]).unwrap_or_default(),
                            name: s(&b["name"]).unwrap_or_default(),
                            input: b["input"].clone(),
                        },
                        _ => Block::Other(b.clone()),
                    })
                    .collect();
                let usage = msg.get("usage").filter(|u| u.is_object()).map(usage_of);
                self.assistant(Assistant {
                    message_id: s(&msg["id"]),
                    model: s(&msg["model"]),
                    parent,
                    blocks,
                    usage,
                })
            }
            Some("user") if interruption(&v["message"]["content"]).is_some() => {
                vec![StreamEvent::Notice {
                    kind: "interrupted".into(),
                    text: interruption(&v["message"]["content"])
                        .unwrap_or_default()
                        .trim_matches(['[', ']'])
                        .to_string(),
                    timestamp: s(&v["timestamp"]),
                }]
            }
            // Text Claude Code put in the conversation for the model, not the user's words.
            Some("user")
                if v["isSynthetic"].as_bool() == Some(true)
                    || v["isMeta"].as_bool() == Some(true) =>
            {
                vec![self.injected(text_of(&v["message"]["content"]), s(&v["timestamp"]))]
            }
            Some("user") => {
                let msg = &v["message"];
                // The `Skill` tool's result names the skill (stream-json and transcripts spell
                // the key differently).
                if let Some(name) = ["tool_use_result", "toolUseResult"]
                    .iter()
                    .find_map(|k| v[*k]["commandName"].as_str())
                {
                    self.loading_skill = Some(name.to_string());
                }
                match &msg["content"] {
                    Value::String(t) => vec![StreamEvent::UserMessage {
                        id: s(&v["uuid"]),
                        text: t.clone(),
                        images: vec![],
                        compact_summary: v["isCompactSummary"].as_bool().unwrap_or(false),
                        parent_tool_use_id: parent,
                        timestamp: s(&v["timestamp"]),
                    }],
                    Value::Array(items) => {
                        let mut out = Vec::new();
                        let mut text = String::new();
                        let mut images = Vec::new();
                        for b in items {
                            match b["type"].as_str() {
                                Some("tool_result") => out.push(StreamEvent::ToolResult {
                                    tool_use_id: s(&b["tool_use_id"]).unwrap_or_default(),
                                    content: tool_result_content(&b["content"]),
                                    is_error: b["is_error"].as_bool().unwrap_or(false),
                                    parent_tool_use_id: parent.clone(),
                                    timestamp: s(&v["timestamp"]),
                                }),
                                Some("text") => text.push_str(b["text"].as_str().unwrap_or("")),
                                Some("image") | Some("document") => images.push(image_ref(b)),
                                _ => out.push(raw(b.clone())),
                            }
                        }
                        if !text.is_empty() || !images.is_empty() {
                            out.insert(
                                0,
                                StreamEvent::UserMessage {
                                    id: s(&v["uuid"]),
                                    text,
                                    images,
                                    compact_summary: v["isCompactSummary"]
                                        .as_bool()
                                        .unwrap_or(false),
                                    parent_tool_use_id: parent,
                                    timestamp: s(&v["timestamp"]),
                                },
                            );
                        }
                        out
                    }
                    _ => vec![raw(v)],
                }
            }
            Some("result") => {
                let is_error = v["is_error"].as_bool().unwrap_or(false);
                let status = match v["subtype"].as_str() {
                    Some("success") if !is_error => TurnStatus::Success,
                    Some("error_max_turns") => TurnStatus::MaxTurns,
                    _ => TurnStatus::Error,
                };
                let text = s(&v["result"]);
                // Claude Code names what failed in `errors` when it has no result text (a
                // `--resume` of a conversation it does not know, say).
                let errors = v["errors"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                });
                let error = (status != TurnStatus::Success).then(|| {
                    text.clone()
                        .filter(|t| !t.is_empty())
                        .or(errors.filter(|e| !e.is_empty()))
                        .or_else(|| s(&v["subtype"]))
                        .unwrap_or_else(|| "the turn failed".into())
                });
                vec![StreamEvent::Result {
                    status,
                    duration_ms: v["duration_ms"].as_u64(),
                    num_turns: v["num_turns"].as_u64().map(|n| n as u32),
                    cost_usd: v["total_cost_usd"].as_f64(),
                    usage: v.get("usage").filter(|u| u.is_object()).map(usage_of),
                    text,
                    error,
                    agent_session_id: s(&v["session_id"]),
                }]
            }
            // With `--permission-prompt-tool stdio`: the agent asks whether it may use a tool.
            Some("control_request") => {
                let request = &v["request"];
                if request["subtype"] == "can_use_tool" {
                    vec![StreamEvent::PermissionRequest {
                        request_id: s(&v["request_id"]).unwrap_or_default(),
                        tool_name: s(&request["tool_name"]).unwrap_or_default(),
                        input: request.get("input").cloned().unwrap_or(Value::Null),
                        tool_use_id: s(&request["tool_use_id"]),
                    }]
                } else {
                    vec![StreamEvent::Raw {
                        source: Some("claude-control".into()),
                        json: v,
                    }]
                }
            }
            // Answers to the host's own control requests, and liveness pings: protocol, not
            // conversation.
            Some("control_response") | Some("keep_alive") | Some("control_cancel_request") => {
                vec![]
            }
            Some("stream_event") => {
                let e = &v["event"];
                let message_id = self.streaming.get(&parent).cloned();
                match (e["type"].as_str(), e["delta"]["type"].as_str()) {
                    (Some("message_start"), _) => {
                        if let Some(id) = s(&e["message"]["id"]) {
                            self.streaming.insert(parent, id);
                        }
                        vec![]
                    }
                    (Some("message_stop"), _) => {
                        self.streaming.remove(&parent);
                        vec![]
                    }
                    (Some("content_block_delta"), Some("text_delta")) => {
                        vec![StreamEvent::TextDelta {
                            message_id,
                            index: e["index"].as_u64().unwrap_or(0) as u32,
                            text: s(&e["delta"]["text"]).unwrap_or_default(),
                            parent_tool_use_id: parent,
                        }]
                    }
                    (Some("content_block_delta"), Some("thinking_delta")) => {
                        vec![StreamEvent::Thinking {
                            message_id,
                            text: s(&e["delta"]["thinking"]).unwrap_or_default(),
                            delta: true,
                            redacted: false,
                            parent_tool_use_id: parent,
                            timestamp: None,
                        }]
                    }
                    // Other stream events (starts, stops, JSON deltas) are repeated whole by the
                    // `assistant` lines that follow them.
                    _ => vec![],
                }
            }
            _ => vec![raw(v)],
        }
    }
}

/// What Claude Code's `system/init` line says it loaded.
fn loaded(init: &Value) -> AgentLoaded {
    let names = |key: &str| -> Vec<String> {
        init[key]
            .as_array()
            .map(|a| a.iter().filter_map(s).collect())
            .unwrap_or_default()
    };
    let objects = |key: &str| init[key].as_array().cloned().unwrap_or_default();
    AgentLoaded {
        skills: names("skills"),
        slash_commands: names("slash_commands"),
        agents: names("agents"),
        plugins: objects("plugins")
            .iter()
            .filter_map(|p| {
                Some(LoadedPlugin {
                    name: s(&p["name"])?,
                    source: s(&p["source"]),
                    path: s(&p["path"]),
                })
            })
            .collect(),
        mcp_servers: objects("mcp_servers")
            .iter()
            .filter_map(|m| {
                Some(LoadedMcpServer {
                    name: s(&m["name"])?,
                    status: s(&m["status"]).unwrap_or_else(|| "unknown".into()),
                })
            })
            .collect(),
    }
}

/// An `assistant` line's content, however it was read.
struct Assistant {
    message_id: Option<String>,
    model: Option<String>,
    parent: Option<String>,
    blocks: Vec<Block>,
    /// Present when the message has a usage object.
    usage: Option<TokenUsage>,
}

enum Block {
    Text(String),
    Thinking(String),
    RedactedThinking,
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// A block this reader does not know, kept as a `raw` event.
    Other(Value),
}

impl ClaudeStreamReader {
    /// One event per block, then the message's usage the first time its id is seen.
    fn assistant(&mut self, a: Assistant) -> Vec<StreamEvent> {
        let Assistant {
            message_id,
            model,
            parent,
            blocks,
            usage,
        } = a;
        let mut out = Vec::with_capacity(blocks.len() + 1);
        for b in blocks {
            out.push(match b {
                Block::Text(text) => StreamEvent::Text {
                    message_id: message_id.clone(),
                    text,
                    parent_tool_use_id: parent.clone(),
                    timestamp: None,
                },
                Block::Thinking(text) => StreamEvent::Thinking {
                    message_id: message_id.clone(),
                    text,
                    delta: false,
                    redacted: false,
                    parent_tool_use_id: parent.clone(),
                    timestamp: None,
                },
                Block::RedactedThinking => StreamEvent::Thinking {
                    message_id: message_id.clone(),
                    text: String::new(),
                    delta: false,
                    redacted: true,
                    parent_tool_use_id: parent.clone(),
                    timestamp: None,
                },
                Block::ToolUse { id, name, input } => StreamEvent::ToolCall {
                    id,
                    name,
                    input,
                    message_id: message_id.clone(),
                    parent_tool_use_id: parent.clone(),
                    timestamp: None,
                },
                Block::Other(b) => raw(b),
            });
        }
        if let (Some(id), Some(usage)) = (&message_id, usage)
            && self.usage_seen.insert(id)
        {
            out.push(StreamEvent::Usage {
                message_id,
                model,
                usage,
                cost_usd: None,
                timestamp: None,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converters::fixture_text as fixture;

    #[test]
    fn a_status_line_is_not_part_of_the_conversation() {
        let mut r = ClaudeStreamReader::new();
        let line = r#"{"type":"system","subtype":"status","status":"requesting","session_id":"s"}"#;
        assert_eq!(r.read_value(serde_json::from_str(line).unwrap()), vec![]);
        let line = r#"{"type":"system","subtype":"thinking_tokens","estimated_tokens":15,"estimated_tokens_delta":15,"session_id":"s"}"#;
        assert_eq!(r.read_value(serde_json::from_str(line).unwrap()), vec![]);
    }

    #[test]
    fn a_skills_instructions_are_a_skill_load_not_the_users_words() {
        // As Claude Code 2.1.197 writes a `Skill` call's result and the skill's instructions.
        let lines = [
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"Launching skill: hello"}]},"parent_tool_use_id":null,"session_id":"s","uuid":"u1","timestamp":"2026-12-03T22:07:37.232Z","tool_use_result":{"success":true,"commandName":"hello"}}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"Base directory for this skill: /home/agent/.claude/skills/hello\n\nSay hello loudly.\n"}]},"parent_tool_use_id":null,"session_id":"s","uuid":"u2","timestamp":"2026-12-03T22:07:37.229Z","isSynthetic":true}"#,
            r#"{"type":"user","message":{"role":"user","content":"Caveat: the messages below were generated by the user"},"isMeta":true}"#,
        ];
        let mut r = ClaudeStreamReader::new();
        let events: Vec<StreamEvent> = lines.iter().flat_map(|l| r.read_line(l)).collect();
        assert!(
            matches!(&events[0], StreamEvent::ToolResult { .. }),
            "{events:?}"
        );
        assert_eq!(
            events[1],
            StreamEvent::Notice {
                kind: SKILL_LOAD.into(),
                text: "loaded skill hello from /home/agent/.claude/skills/hello".into(),
                timestamp: Some("2026-12-03T22:07:37.229Z".into()),
            }
        );
        assert!(
            matches!(&events[2], StreamEvent::Notice { kind, text, .. } if kind == "meta" && text.starts_with("Caveat")),
            "{events:?}"
        );
        assert_eq!(events.len(), 3, "no user message: {events:?}");
    }

    #[test]
    fn a_hooks_response_is_a_notice_of_what_it_did() {
        // As Claude Code 2.1.197 writes a `SessionStart` hook.
        let started = r#"{"type":"system","subtype":"hook_started","hook_id":"h1","hook_name":"SessionStart:startup","hook_event":"SessionStart","uuid":"u1","session_id":"s"}"#;
        let ok = r#"{"type":"system","subtype":"hook_response","hook_id":"h1","hook_name":"SessionStart:startup","hook_event":"SessionStart","output":"started-hook\n","stdout":"started-hook\n","stderr":"","exit_code":0,"outcome":"success","uuid":"u2","session_id":"s"}"#;
        let failed = r#"{"type":"system","subtype":"hook_response","hook_name":"SessionStart:startup","output":"","stdout":"","stderr":"no such file\n","exit_code":2,"outcome":"error"}"#;
        let mut r = ClaudeStreamReader::new();
        assert_eq!(r.read_line(started), vec![]);
        let text = |l: &str, r: &mut ClaudeStreamReader| match r.read_line(l).as_slice() {
            [StreamEvent::Notice { kind, text, .. }] if kind == HOOK => text.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text(ok, &mut r),
            "SessionStart:startup hook: success: started-hook"
        );
        assert_eq!(
            text(failed, &mut r),
            "SessionStart:startup hook: error (exit status 2): no such file"
        );
    }

    #[test]
    fn a_recorded_subagent_run_leaves_no_unread_line() {
        let mut r = ClaudeStreamReader::new();
        let text = fixture("claude-code-2.1.197/stream-json-subagent.jsonl");
        let raw: Vec<_> = text
            .lines()
            .flat_map(|l| r.read_value(serde_json::from_str(l).unwrap()))
            .filter(|e| matches!(e, StreamEvent::Raw { .. }))
            .collect();
        assert!(raw.is_empty(), "{raw:?}");
    }

    #[test]
    fn usage_is_reported_once_per_message_and_the_ids_kept_stay_bounded() {
        let mut r = ClaudeStreamReader::new();
        let line = |id: usize, block: &str| {
            format!(
                r#"{{"type":"assistant","session_id":"s","parent_tool_use_id":null,"message":{{"id":"msg_{id}","role":"assistant","model":"m","content":[{block}],"usage":{{"input_tokens":1,"output_tokens":2}}}}}}"#
            )
        };
        let usages = |r: &mut ClaudeStreamReader, l: &str| {
            r.read_line(l)
                .iter()
                .filter(|e| matches!(e, StreamEvent::Usage { .. }))
                .count()
        };
        for id in 0..10 * USAGE_IDS_KEPT {
            let text = r#"{"type":"text","text":"a"}"#;
            let tool = r#"{"type":"tool_use","id":"t","name":"Bash","input":{}}"#;
            assert_eq!(usages(&mut r, &line(id, text)), 1, "first line of msg_{id}");
            assert_eq!(
                usages(&mut r, &line(id, tool)),
                0,
                "second line of msg_{id}"
            );
        }
        assert_eq!(r.usage_seen.set.len(), USAGE_IDS_KEPT);
        assert_eq!(r.usage_seen.order.len(), USAGE_IDS_KEPT);
    }

    #[test]
    fn streamed_deltas_and_the_complete_message_make_one_block() {
        let mut r = ClaudeStreamReader::default();
        let ev = |e: &str| {
            format!(
                r#"{{"type":"stream_event","session_id":"s","parent_tool_use_id":null,"event":{e}}}"#
            )
        };
        let mut events = vec![];
        for l in [
            ev(r#"{"type":"message_start","message":{"id":"msg_1","content":[]}}"#),
            ev(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#),
            ev(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#),
            r#"{"type":"assistant","session_id":"s","parent_tool_use_id":null,"message":{"id":"msg_1","role":"assistant","model":"m","content":[{"type":"text","text":"Hello"}]}}"#.to_string(),
            ev(r#"{"type":"message_stop"}"#),
        ] {
            events.extend(r.read_line(&l));
        }
        assert!(
            matches!(&events[0], StreamEvent::TextDelta { message_id: Some(m), .. } if m == "msg_1")
        );
        let blocks = crate::converters::Assembler::assemble(events);
        let texts: Vec<_> = blocks
            .iter()
            .filter(|b| matches!(b.kind, crate::types::BlockKind::AssistantText { .. }))
            .collect();
        assert_eq!(texts.len(), 1, "{blocks:?}");
        assert!(r.streaming.is_empty());
    }

    #[test]
    fn the_recorded_tool_run_reads_into_the_expected_events() {
        let mut r = ClaudeStreamReader::new();
        let events: Vec<StreamEvent> = fixture("claude-code-2.1.197/stream-json-tool-run.jsonl")
            .lines()
            .flat_map(|l| r.read_line(l))
            .collect();
        let kinds: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
        assert_eq!(kinds.first(), Some(&"session_started"));
        assert_eq!(kinds.last(), Some(&"result"));
        let calls: Vec<&str> = events.iter().filter_map(StreamEvent::tool_name).collect();
        assert_eq!(calls, ["Write", "Bash"]);
        assert_eq!(kinds.iter().filter(|k| **k == "tool_result").count(), 2);
        // Usage once per message id, although each block line repeats it.
        let usages = kinds.iter().filter(|k| **k == "usage").count();
        let ids: HashSet<_> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCall { message_id, .. } | StreamEvent::Text { message_id, .. } => {
                    message_id.clone()
                }
                _ => None,
            })
            .collect();
        assert_eq!(usages, ids.len());
    }

    #[test]
    fn unknown_lines_and_blocks_are_kept_raw() {
        let mut r = ClaudeStreamReader::new();
        let ev = r.read_line(r#"{"type":"brand_new","x":1}"#);
        assert!(matches!(&ev[0], StreamEvent::Raw { json, .. } if json["x"] == 1));
        let ev = r.read_line(
            r#"{"type":"assistant","message":{"id":"m","content":[{"type":"hologram","z":2}]}}"#,
        );
        assert!(matches!(&ev[0], StreamEvent::Raw { json, .. } if json["z"] == 2));
    }
}
