//! The WebSocket protocol between clients and `aisys serve`.
//!
//! JSON text frames, each `{"type": "...", ...}`. A request may carry an `id`; the reply to it and
//! any error about it repeat that `id`. The first frame each side sends is `hello` / `welcome`.
//! Unknown fields are ignored; an unknown `type` gets an `error` reply and the connection stays.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::blocks::ConversationBlock;
use super::events::{PermissionDecision, StreamEvent};
use super::id::SessionId;
use super::session::{SessionInfo, SessionSpec, SessionState, StateReason};

/// The protocol version both sides announce in `hello` / `welcome`. Bumped on any change that an
/// older peer would misread. 2 added `block.append`.
pub const PROTOCOL_VERSION: u32 = 2;

/// The oldest version a server still speaks: a client that says `hello` with it is served as
/// that version (a version 1 connection gets no `block.append`, only whole `block` frames).
pub const MIN_PROTOCOL_VERSION: u32 = 1;

/// A frame a client sends: an optional request id and the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientFrame {
    /// Chosen by the client; repeated in the reply and in any error about this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub message: ClientMessage,
}

/// One entry of a session's workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkspaceFile {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    pub kind: FileKind,
    /// Bytes, for a file.
    #[serde(default)]
    pub size: u64,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Modified since the session was created.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

/// One change to a session's workspace, as its sandbox's watch saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    pub kind: FileChangeKind,
    /// What the entry is (for `deleted`: what it was).
    pub entry: FileKind,
    /// Bytes, for a file (0 when deleted).
    #[serde(default)]
    pub size: u64,
}

/// How a workspace entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileChangeKind {
    Created,
    Modified,
    Deleted,
}

/// What a workspace entry is (a link is listed, never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    File,
    Dir,
    Link,
    Other,
}

/// What an attached client receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachView {
    /// The session's events, each once, in seq order (the record).
    #[default]
    Events,
    /// The session's conversation as blocks, built by the server's assembler: every block once
    /// on attach, then each block again whenever an event adds or changes it.
    Blocks,
}

impl AttachView {
    fn is_events(&self) -> bool {
        *self == AttachView::Events
    }
}

/// What a client can ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// The first frame: which protocol the client speaks.
    #[serde(rename = "hello")]
    Hello {
        protocol_version: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// Create a session; answered by `session.created`. Its optional `limits` (`max_pids`,
    /// `max_memory` in bytes, `max_cpu_time_secs`) lower the server's sandbox limits for this
    /// session, never raise them (docs/security.md); a limit of 0 is `bad_request`.
    #[serde(rename = "session.create")]
    Create {
        #[serde(flatten)]
        spec: SessionSpec,
    },
    /// List sessions; answered by `session.list`.
    #[serde(rename = "session.list")]
    List,
    /// Receive a session's events after `after_seq` (0: from the start), then live ones; or,
    /// with `view: "blocks"`, its conversation as a `blocks` frame and then `block` frames
    /// (`after_seq` is then unused).
    #[serde(rename = "session.attach")]
    Attach {
        session_id: SessionId,
        #[serde(default)]
        after_seq: u64,
        #[serde(default, skip_serializing_if = "AttachView::is_events")]
        view: AttachView,
    },
    /// List the files of a session's workspace; answered by `session.files`. While the session
    /// has a sandbox that keeps its own copy of the workspace (Modal), the files are the
    /// sandbox's; otherwise the workspace folder's on the server.
    #[serde(rename = "session.files")]
    Files { session_id: SessionId },
    /// Read one file of a session's workspace (`path` relative to it); answered by
    /// `session.file`. Links are never followed and the size read is bounded.
    #[serde(rename = "session.read_file")]
    ReadFile { session_id: SessionId, path: String },
    /// Stop receiving a session's events.
    #[serde(rename = "session.detach")]
    Detach { session_id: SessionId },
    /// Send a user message; it is queued and runs as the session's next turn.
    #[serde(rename = "session.message")]
    Message { session_id: SessionId, text: String },
    /// Interrupt the running turn.
    #[serde(rename = "session.interrupt")]
    Interrupt { session_id: SessionId },
    /// Answer a pending `permission_request` event.
    #[serde(rename = "session.permission")]
    Permission {
        session_id: SessionId,
        request_id: String,
        decision: PermissionDecision,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Stop the session's agent and release its sandbox; the session and its events stay.
    #[serde(rename = "session.stop")]
    Stop { session_id: SessionId },
    /// Delete the session and its events.
    #[serde(rename = "session.delete")]
    Delete { session_id: SessionId },
}

/// A frame the server sends: the id of the request it answers (if any) and the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub message: ServerMessage,
}

/// How an `event` frame's text starts as the server writes it (`type` first, no spaces): a
/// client reads such frames on a fast path ([`ServerFrame::from_json`]).
pub const EVENT_FRAME_START: &str = r#"{"type":"event","#;

impl ServerFrame {
    /// Reads a frame from its JSON text: what `serde_json::from_str` reads, faster for the
    /// `event` frames that are nearly all a following client reads. The derived reader of a
    /// flattened, tagged enum copies the whole frame into an intermediate tree, then the message
    /// into another, then the event into a third; an event frame as the server writes it (its
    /// `type` first) is read here as plain fields, the event through its own tag alone. Any
    /// other text, an event frame written otherwise included, goes to the derived reader.
    pub fn from_json(text: &str) -> serde_json::Result<ServerFrame> {
        /// `ServerMessage::Event` with the frame's id, as plain fields.
        #[derive(Deserialize)]
        struct EventFrame {
            #[serde(default)]
            id: Option<String>,
            session_id: SessionId,
            seq: u64,
            event: StreamEvent,
        }
        if !text.starts_with(EVENT_FRAME_START) {
            return serde_json::from_str(text);
        }
        let f: EventFrame = serde_json::from_str(text)?;
        Ok(ServerFrame {
            id: f.id,
            message: ServerMessage::Event {
                session_id: f.session_id,
                seq: f.seq,
                event: f.event,
            },
        })
    }
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// The answer to `hello`.
    #[serde(rename = "welcome")]
    Welcome {
        protocol_version: u32,
        server_version: String,
        /// The agent profiles `session.create` may name on this server: the built-in `user`
        /// and `none`, then its config file's `[profiles.<name>]`. Absent from older servers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        profiles: Vec<String>,
    },
    /// The answer to `session.create`.
    #[serde(rename = "session.created")]
    Created { session: SessionInfo },
    /// The answer to `session.list`.
    #[serde(rename = "session.list")]
    Sessions { sessions: Vec<SessionInfo> },
    /// The answer to `session.attach`: the session, and the seq the replay runs up to.
    #[serde(rename = "session.attached")]
    Attached { session: SessionInfo, last_seq: u64 },
    /// One stored event of a session. `seq` starts at 1 and has no gaps.
    #[serde(rename = "event")]
    Event {
        session_id: SessionId,
        seq: u64,
        event: StreamEvent,
    },
    /// A session's whole conversation (`view: "blocks"`), as it stands after event `seq`: the
    /// first answer to an attach, and again after the client fell behind. It replaces every
    /// block the client had.
    #[serde(rename = "blocks")]
    Blocks {
        session_id: SessionId,
        seq: u64,
        blocks: Vec<ConversationBlock>,
    },
    /// One block of a session's conversation (`view: "blocks"`): the block at top-level position
    /// `index`, as it stands after event `seq`. A later frame with the same `index` replaces it.
    #[serde(rename = "block")]
    Block {
        session_id: SessionId,
        seq: u64,
        index: u32,
        block: ConversationBlock,
    },
    /// Text added at the end of one block of a session's conversation (`view: "blocks"`,
    /// protocol 2): the block at top-level position `index` (an `assistant_text` or a `thinking`
    /// block) is the one the client has, with `append` added to its `text`, as it stands after
    /// event `seq`. Sent instead of a `block` frame when that is the block's only change; a
    /// client without that block, or with one that has no text, attaches again.
    #[serde(rename = "block.append")]
    BlockAppend {
        session_id: SessionId,
        seq: u64,
        index: u32,
        append: String,
    },
    /// The answer to `session.files`: the workspace's entries, folders first, sorted by path.
    #[serde(rename = "session.files")]
    Files {
        session_id: SessionId,
        files: Vec<WorkspaceFile>,
        /// True when the workspace holds more entries than one answer lists.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
    },
    /// The answer to `session.read_file`.
    #[serde(rename = "session.file")]
    File {
        session_id: SessionId,
        path: String,
        /// The file's whole size in bytes.
        size: u64,
        /// The text read (up to the server's limit); empty for a binary file.
        text: String,
        /// True when the file holds bytes that are not UTF-8 text.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        binary: bool,
        /// True when only the first part was read.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
    },
    /// An entry of an attached session's workspace was created, modified or deleted (while
    /// its sandbox exists). A live notice: it has no `seq`, is not stored and is not replayed;
    /// a client that attaches lists the files with `session.files`, then applies these.
    /// Nothing is reported inside folders a listing does not enter (`.git`, `node_modules`,
    /// `target`, ...).
    #[serde(rename = "file_changed")]
    FileChanged {
        session_id: SessionId,
        #[serde(flatten)]
        change: FileChange,
    },
    /// More of the workspace changed at once than the server reports one by one (`changes`
    /// entries, an install or a build), or the client missed notices: list the files again with
    /// `session.files`.
    #[serde(rename = "files_resync")]
    FilesResync { session_id: SessionId, changes: u64 },
    /// A session's state changed.
    #[serde(rename = "session.state")]
    State {
        session_id: SessionId,
        state: SessionState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<StateReason>,
    },
    /// A request was accepted.
    #[serde(rename = "ack")]
    Ack,
    /// The client read too slowly and fell behind the live stream: the server now replays the
    /// stored events after `after_seq`, then goes on live. Nothing is lost or sent twice.
    #[serde(rename = "resync")]
    Resync {
        session_id: SessionId,
        after_seq: u64,
    },
    /// A request failed; `id` names the request.
    #[serde(rename = "error")]
    Error { code: ErrorCode, message: String },
}

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, lacks a field, or has an unknown type.
    BadRequest,
    /// The client speaks another protocol version.
    UnsupportedVersion,
    /// No such session.
    NotFound,
    /// The request is not allowed in the session's current state.
    InvalidState,
    /// A server limit was reached (sessions, message size, queue).
    Limit,
    /// The request names something the client may not touch (e.g. a workspace outside the roots).
    Forbidden,
    /// The server failed; the message says why.
    Internal,
}
