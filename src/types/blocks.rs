//! `ConversationBlock`: what a UI shows of a conversation.
//!
//! Blocks are built from [`StreamEvent`](super::StreamEvent)s by the one assembler in `converters`;
//! every renderer (text, markdown, html, the TUI) draws blocks, never raw events.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::events::{ImageRef, PermissionDecision, TokenUsage, ToolResultContent, TurnStatus};

/// One visible unit of a conversation, with a stable id and the time it happened.
///
/// Serialized flat: `{"id": .., "timestamp": .., "type": "assistant_text", "text": ..}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationBlock {
    /// Stable across re-renders of the same input: derived from the source's ids where it has them.
    pub id: String,
    /// RFC 3339, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(flatten)]
    pub kind: BlockKind,
}

/// The kinds of block a conversation is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    /// What the user typed.
    UserMessage {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<ImageRef>,
    },
    /// Text the assistant wrote (deltas already merged).
    AssistantText { text: String },
    /// The assistant's thinking; UIs fold it by default. `redacted` thinking has no text.
    Thinking {
        text: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redacted: bool,
    },
    /// A tool call paired with its result.
    ToolCall {
        call_id: String,
        name: String,
        input: Value,
        status: ToolStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<ToolResultContent>,
    },
    /// A subagent started by a tool call (`Task` / `Agent`), with its own conversation nested.
    SubagentRun {
        call_id: String,
        /// The tool that started it.
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subagent_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        input: Value,
        status: ToolStatus,
        blocks: Vec<ConversationBlock>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<ToolResultContent>,
    },
    /// A permission request and, once given, its decision.
    Permission {
        request_id: String,
        tool_name: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<PermissionDecision>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A notice from the agent or aisys (session start, retry, state change, ...).
    SystemNotice { kind: String, text: String },
    /// The summary a conversation continues from after compaction.
    CompactionSummary { text: String },
    /// The end of a turn, with what it cost.
    TurnSummary {
        status: TurnStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_turns: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cost_usd: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<TokenUsage>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An error worth showing in red.
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
    },
    /// Something no reader understood, kept whole.
    Raw {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        json: Value,
    },
}

/// Where a tool call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Called, no result yet.
    Pending,
    Ok,
    Error,
    /// Refused by a permission decision.
    Denied,
    /// The turn ended before a result came.
    Interrupted,
}

impl BlockKind {
    /// The `type` tag this block serializes with.
    pub fn type_name(&self) -> &'static str {
        match self {
            BlockKind::UserMessage { .. } => "user_message",
            BlockKind::AssistantText { .. } => "assistant_text",
            BlockKind::Thinking { .. } => "thinking",
            BlockKind::ToolCall { .. } => "tool_call",
            BlockKind::SubagentRun { .. } => "subagent_run",
            BlockKind::Permission { .. } => "permission",
            BlockKind::SystemNotice { .. } => "system_notice",
            BlockKind::CompactionSummary { .. } => "compaction_summary",
            BlockKind::TurnSummary { .. } => "turn_summary",
            BlockKind::Error { .. } => "error",
            BlockKind::Raw { .. } => "raw",
        }
    }
}
