//! `StreamEvent`: the agent-agnostic event vocabulary.
//!
//! Every agent format (Claude Code stream-json and transcripts, OpenCode JSON) is read into this
//! one stream. Events are small and flat; pairing and nesting are the assembler's job
//! (`converters`), not the events'.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::session::{AgentKind, SessionState, StateReason};

/// What an agent reports it loaded at the start of a conversation, in its own words.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentLoaded {
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub slash_commands: Vec<String>,
    /// Subagents.
    #[serde(default)]
    pub agents: Vec<String>,
    #[serde(default)]
    pub plugins: Vec<LoadedPlugin>,
    #[serde(default)]
    pub mcp_servers: Vec<LoadedMcpServer>,
}

/// A plugin the agent loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadedPlugin {
    pub name: String,
    /// `plugin@marketplace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where the agent loaded it from, inside the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An MCP server the agent knows, and whether it connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadedMcpServer {
    pub name: String,
    /// `connected`, `failed`, `pending`, `needs-auth`, ... as the agent says.
    pub status: String,
}

/// One thing an agent (or the session around it) said or did.
///
/// Fields shared by content events:
/// - `message_id`: the model message this piece belongs to, when the format says so;
/// - `parent_tool_use_id`: set when the event comes from a subagent started by that tool call;
/// - `timestamp`: RFC 3339, when the source recorded one (stream-json does not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The agent process started (or resumed) a conversation.
    SessionStarted {
        agent: AgentKind,
        /// The agent's own session id, used to resume it (`--resume` / `--session`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_session_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tools: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_version: Option<String>,
        /// What the agent reports it loaded (its skills, commands, subagents, plugins and MCP
        /// servers), when it reports it (Claude Code's `system/init`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loaded: Option<Box<AgentLoaded>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// A message from the user (a prompt, or a compaction summary the agent wrote for itself).
    UserMessage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<ImageRef>,
        /// True for the summary that starts a conversation again after compaction.
        #[serde(default, skip_serializing_if = "is_false")]
        compact_summary: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// A piece of assistant text as it streams in.
    TextDelta {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// Index of the content block inside the message.
        #[serde(default)]
        index: u32,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
    },
    /// A complete assistant text block.
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// A thinking block (complete, or a delta when `delta` is true). `redacted` blocks carry no text.
    Thinking {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        text: String,
        #[serde(default, skip_serializing_if = "is_false")]
        delta: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        redacted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// The agent called a tool.
    ToolCall {
        /// The tool call id (`toolu_...` for Claude Code, `callID` for OpenCode).
        id: String,
        name: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// The result of a tool call.
    ToolResult {
        tool_use_id: String,
        content: ToolResultContent,
        #[serde(default, skip_serializing_if = "is_false")]
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_tool_use_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// The agent asks whether it may use a tool; a client answers with a decision.
    PermissionRequest {
        request_id: String,
        tool_name: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_use_id: Option<String>,
    },
    /// The answer to a permission request, and who gave it.
    PermissionDecision {
        request_id: String,
        decision: PermissionDecision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Who decided: a client, a rule (`--allow-tool`, the permission mode), or a timeout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decided_by: Option<DecidedBy>,
    },
    /// Token usage of one model response.
    Usage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        usage: TokenUsage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_usd: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// The end of a turn.
    Result {
        status: TurnStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_turns: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_usd: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<TokenUsage>,
        /// The final answer text, when the agent reports one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// What went wrong, for a turn that did not succeed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_session_id: Option<String>,
    },
    /// An error reported by the agent, the model API, or aisys itself.
    Error {
        message: String,
        /// A short machine-readable kind, such as `api_error` or `overloaded_error`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// A system notice worth showing (compaction boundary, API retry, hook output, ...). The
    /// agent's own include `skill_load` (it loaded a skill: its name and folder), `hook` (what
    /// one of its hooks did) and `meta` (text the agent put in the conversation for the model,
    /// not typed by the user).
    Notice {
        kind: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// One line the agent process wrote to stderr.
    Stderr { line: String },
    /// The session moved from one state to another.
    StateChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<SessionState>,
        to: SessionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<StateReason>,
    },
    /// Input that no reader understands, kept whole so nothing is lost.
    Raw {
        /// The format it came from, such as `claude-transcript`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        json: Value,
    },
}

/// What a tool returned: plain text, or a list of content blocks (text, images, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ToolResultContent {
    Text(String),
    Blocks(Vec<Value>),
}

/// A reference to an image or document; the data itself is never inlined into events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageRef {
    /// `image` or `document`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Where the data is: a URL, a file path, or `base64:<bytes>` for inline data that was elided.
    pub source: String,
}

/// Token counts of one model response or one turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
}

impl TokenUsage {
    /// Every token: input, output and cache (at most `u64::MAX`).
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_creation_tokens)
            .saturating_add(self.cache_read_tokens)
    }

    /// Adds `o`'s counters to these (each at most `u64::MAX`).
    pub fn add(&mut self, o: &TokenUsage) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(o.cache_creation_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
    }
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    Success,
    Error,
    Interrupted,
    MaxTurns,
    Timeout,
}

impl TurnStatus {
    /// The serde name (`max_turns`), the one every place that shows a status uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Success => "success",
            TurnStatus::Error => "error",
            TurnStatus::Interrupted => "interrupted",
            TurnStatus::MaxTurns => "max_turns",
            TurnStatus::Timeout => "timeout",
        }
    }
}

impl std::fmt::Display for TurnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who answered a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// A client of the server (a person at a browser or `aisys chat`).
    Client,
    /// The person at `aisys run`'s terminal.
    User,
    /// A rule: `--allow-tool`/`--deny-tool`, or the permission mode.
    Policy,
    /// Nobody answered in time, so the request was denied.
    Timeout,
}

impl DecidedBy {
    /// The serde name, as shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::Client => "client",
            DecidedBy::User => "user",
            DecidedBy::Policy => "policy",
            DecidedBy::Timeout => "timeout",
        }
    }
}

/// A client's (or a rule's) answer to a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermissionDecision {
    Allow,
    Deny,
}

impl PermissionDecision {
    /// The serde name, the one every place that shows a decision uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionDecision::Allow => "allow",
            PermissionDecision::Deny => "deny",
        }
    }
}

impl std::fmt::Display for PermissionDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The kinds of event that carry a timestamp, listed once for both accessors: binds the field to
/// `$t` and yields `Some($out)`, or `None` for the other kinds.
macro_rules! with_timestamp {
    ($ev:expr, $t:ident => $out:expr) => {
        match $ev {
            StreamEvent::SessionStarted { timestamp: $t, .. }
            | StreamEvent::UserMessage { timestamp: $t, .. }
            | StreamEvent::Text { timestamp: $t, .. }
            | StreamEvent::Thinking { timestamp: $t, .. }
            | StreamEvent::ToolCall { timestamp: $t, .. }
            | StreamEvent::ToolResult { timestamp: $t, .. }
            | StreamEvent::Usage { timestamp: $t, .. }
            | StreamEvent::Error { timestamp: $t, .. }
            | StreamEvent::Notice { timestamp: $t, .. } => Some($out),
            _ => None,
        }
    };
}

impl StreamEvent {
    /// A `result` that says only how the turn ended (and, when it failed, why): the one aisys
    /// gives a turn that ended without the agent's own.
    pub fn turn_ended(status: TurnStatus, error: Option<String>) -> StreamEvent {
        StreamEvent::Result {
            status,
            duration_ms: None,
            num_turns: None,
            cost_usd: None,
            usage: None,
            text: None,
            error,
            agent_session_id: None,
        }
    }

    /// The event's timestamp, for the kinds that have one and when it is set.
    pub fn timestamp(&self) -> Option<&str> {
        with_timestamp!(self, t => t.as_deref()).flatten()
    }

    /// The event's timestamp field, for the kinds that have one.
    pub fn timestamp_mut(&mut self) -> Option<&mut Option<String>> {
        with_timestamp!(self, t => t)
    }

    /// The subagent call this event belongs to, for the kinds that can belong to one.
    pub fn parent_tool_use_id_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            StreamEvent::UserMessage {
                parent_tool_use_id, ..
            }
            | StreamEvent::TextDelta {
                parent_tool_use_id, ..
            }
            | StreamEvent::Text {
                parent_tool_use_id, ..
            }
            | StreamEvent::Thinking {
                parent_tool_use_id, ..
            }
            | StreamEvent::ToolCall {
                parent_tool_use_id, ..
            }
            | StreamEvent::ToolResult {
                parent_tool_use_id, ..
            } => Some(parent_tool_use_id),
            _ => None,
        }
    }

    /// The tool a `tool_call` event calls; `None` for other kinds.
    pub fn tool_name(&self) -> Option<&str> {
        match self {
            StreamEvent::ToolCall { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The `type` tag this event serializes with.
    pub fn type_name(&self) -> &'static str {
        match self {
            StreamEvent::SessionStarted { .. } => "session_started",
            StreamEvent::UserMessage { .. } => "user_message",
            StreamEvent::TextDelta { .. } => "text_delta",
            StreamEvent::Text { .. } => "text",
            StreamEvent::Thinking { .. } => "thinking",
            StreamEvent::ToolCall { .. } => "tool_call",
            StreamEvent::ToolResult { .. } => "tool_result",
            StreamEvent::PermissionRequest { .. } => "permission_request",
            StreamEvent::PermissionDecision { .. } => "permission_decision",
            StreamEvent::Usage { .. } => "usage",
            StreamEvent::Result { .. } => "result",
            StreamEvent::Error { .. } => "error",
            StreamEvent::Notice { .. } => "notice",
            StreamEvent::Stderr { .. } => "stderr",
            StreamEvent::StateChanged { .. } => "state_changed",
            StreamEvent::Raw { .. } => "raw",
        }
    }
}
