//! Shared data types: the vocabulary every part of aisys speaks.
//!
//! Responsible for the plain serde types that cross module and process boundaries:
//! [`StreamEvent`] (what an agent said, agent-agnostic), [`ConversationBlock`] (what a UI shows),
//! the WebSocket protocol ([`ClientMessage`], [`ServerMessage`]) and session metadata
//! ([`SessionState`], [`SessionInfo`], [`SessionSpec`]).
//!
//! Must not do I/O. Everything here serializes as JSON objects tagged by `type`, in snake_case,
//! and every type derives a JSON Schema (see `aisys generate schema`).

mod blocks;
mod events;
pub mod examples;
mod id;
mod protocol;
mod session;
mod time;

pub use blocks::{BlockKind, ConversationBlock, ToolStatus};
pub use events::{
    AgentLoaded, DecidedBy, ImageRef, LoadedMcpServer, LoadedPlugin, PermissionDecision,
    StreamEvent, TokenUsage, ToolResultContent, TurnStatus,
};
pub use id::SessionId;
pub use protocol::{
    AttachView, ClientFrame, ClientMessage, EVENT_FRAME_START, ErrorCode, FileChange,
    FileChangeKind, FileKind, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, ServerFrame, ServerMessage,
    WorkspaceFile,
};
pub use session::{
    AgentKind, PermissionMode, SandboxKind, SessionInfo, SessionLimits, SessionSpec, SessionState,
    SessionUsage, StateReason, TransitionError,
};
pub use time::{now, rfc3339, serde_rfc3339};
