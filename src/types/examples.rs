//! One example of every event, block and protocol message.
//!
//! The examples are the checked-in contract: `docs/protocol.md` shows them, `docs/schema/examples/`
//! holds their JSON, and tests check both that they are complete (one per `type`) and that their JSON
//! shape does not change unnoticed.

use serde_json::json;

use super::*;

const TS: &str = "2026-11-24T10:00:00.000Z";

fn info() -> SessionInfo {
    SessionInfo {
        id: "s_01J9Z8".into(),
        title: Some("fix the login test".into()),
        agent: AgentKind::ClaudeCode,
        sandbox: SandboxKind::Local,
        state: SessionState::Idle,
        reason: None,
        workspace: "/home/dev/.local/share/aisys/workspaces/s_01J9Z8".into(),
        model: Some("claude-sonnet-4-5".into()),
        permission_mode: PermissionMode::Default,
        agent_session_id: Some("8d9fe6d2-189f-4ca8-a400-4ce669939d52".into()),
        sandbox_id: None,
        created_at: TS.parse().unwrap(),
        last_activity: TS.parse().unwrap(),
        last_seq: 42,
        limits: None,
        profile: Some("user".into()),
        profile_resolved_at: Some(TS.parse().unwrap()),
        usage: Some(SessionUsage {
            turns: 3,
            tokens: usage(),
            cost_usd: 0.0421,
        }),
    }
}

fn usage() -> TokenUsage {
    TokenUsage {
        input_tokens: 300,
        output_tokens: 126,
        cache_creation_tokens: 0,
        cache_read_tokens: 1200,
    }
}

/// One example of each [`StreamEvent`] type.
pub fn stream_events() -> Vec<StreamEvent> {
    vec![
        StreamEvent::SessionStarted {
            agent: AgentKind::ClaudeCode,
            agent_session_id: Some("8d9fe6d2-189f-4ca8-a400-4ce669939d52".into()),
            model: Some("claude-sonnet-4-5".into()),
            tools: vec!["Bash".into(), "Read".into(), "Write".into()],
            cwd: Some("/workspace".into()),
            agent_version: Some("2.1.197".into()),
            loaded: Some(Box::new(crate::types::AgentLoaded {
                skills: vec!["greet".into(), "demo:lint".into()],
                slash_commands: vec!["greet".into(), "demo:lint".into(), "compact".into()],
                agents: vec!["general-purpose".into(), "demo:tester".into()],
                plugins: vec![crate::types::LoadedPlugin {
                    name: "demo".into(),
                    source: Some("demo@team-market".into()),
                    path: Some(
                        "/home/agent/.claude/plugins/marketplaces/team-market/plugins/demo".into(),
                    ),
                }],
                mcp_servers: vec![crate::types::LoadedMcpServer {
                    name: "tiny".into(),
                    status: "connected".into(),
                }],
            })),
            timestamp: None,
        },
        StreamEvent::UserMessage {
            id: Some("u1".into()),
            text: "create hello.txt with a greeting".into(),
            images: vec![],
            compact_summary: false,
            parent_tool_use_id: None,
            timestamp: Some(TS.into()),
        },
        StreamEvent::TextDelta {
            message_id: Some("msg_01".into()),
            index: 1,
            text: "I'll create".into(),
            parent_tool_use_id: None,
        },
        StreamEvent::Text {
            message_id: Some("msg_01".into()),
            text: "I'll create the file.".into(),
            parent_tool_use_id: None,
            timestamp: Some(TS.into()),
        },
        StreamEvent::Thinking {
            message_id: Some("msg_01".into()),
            text: "The user wants a file.".into(),
            delta: false,
            redacted: false,
            parent_tool_use_id: None,
            timestamp: Some(TS.into()),
        },
        StreamEvent::ToolCall {
            id: "toolu_01".into(),
            name: "Write".into(),
            input: json!({"file_path": "/workspace/hello.txt", "content": "hello\n"}),
            message_id: Some("msg_01".into()),
            parent_tool_use_id: None,
            timestamp: Some(TS.into()),
        },
        StreamEvent::ToolResult {
            tool_use_id: "toolu_01".into(),
            content: ToolResultContent::Text("File created successfully".into()),
            is_error: false,
            parent_tool_use_id: None,
            timestamp: Some(TS.into()),
        },
        StreamEvent::PermissionRequest {
            request_id: "req_7".into(),
            tool_name: "Bash".into(),
            input: json!({"command": "rm -rf build"}),
            tool_use_id: Some("toolu_02".into()),
        },
        StreamEvent::PermissionDecision {
            request_id: "req_7".into(),
            decision: PermissionDecision::Deny,
            message: Some("not now".into()),
            decided_by: Some(super::DecidedBy::Client),
        },
        StreamEvent::Usage {
            message_id: Some("msg_01".into()),
            model: Some("claude-sonnet-4-5".into()),
            usage: usage(),
            cost_usd: None,
            timestamp: Some(TS.into()),
        },
        StreamEvent::Result {
            status: TurnStatus::Success,
            duration_ms: Some(5310),
            num_turns: Some(3),
            cost_usd: Some(0.00465),
            usage: Some(usage()),
            text: Some("Done: hello.txt contains a greeting.".into()),
            error: None,
            agent_session_id: Some("8d9fe6d2-189f-4ca8-a400-4ce669939d52".into()),
        },
        StreamEvent::Error {
            message: "Overloaded".into(),
            code: Some("overloaded_error".into()),
            timestamp: None,
        },
        StreamEvent::Notice {
            kind: "compact_boundary".into(),
            text: "Conversation compacted".into(),
            timestamp: Some(TS.into()),
        },
        StreamEvent::Stderr {
            line: "warning: slow disk".into(),
        },
        StreamEvent::StateChanged {
            from: Some(SessionState::Idle),
            to: SessionState::Running,
            reason: None,
        },
        StreamEvent::Raw {
            source: Some("claude-transcript".into()),
            json: json!({"type": "file-history-snapshot", "messageId": "m1"}),
        },
    ]
}

/// One example of each [`BlockKind`], wrapped in a [`ConversationBlock`].
pub fn conversation_blocks() -> Vec<ConversationBlock> {
    let block = |id: &str, kind: BlockKind| ConversationBlock {
        id: id.into(),
        timestamp: Some(TS.into()),
        kind,
    };
    vec![
        block(
            "u1",
            BlockKind::UserMessage {
                text: "create hello.txt with a greeting".into(),
                images: vec![ImageRef {
                    kind: "image".into(),
                    media_type: Some("image/png".into()),
                    source: "base64:1024 bytes".into(),
                }],
            },
        ),
        block(
            "msg_01:1",
            BlockKind::AssistantText {
                text: "I'll create the file.".into(),
            },
        ),
        block(
            "msg_01:0",
            BlockKind::Thinking {
                text: "The user wants a file.".into(),
                redacted: false,
            },
        ),
        block(
            "toolu_01",
            BlockKind::ToolCall {
                call_id: "toolu_01".into(),
                name: "Write".into(),
                input: json!({"file_path": "/workspace/hello.txt", "content": "hello\n"}),
                status: ToolStatus::Ok,
                result: Some(ToolResultContent::Text("File created successfully".into())),
            },
        ),
        block(
            "toolu_02",
            BlockKind::SubagentRun {
                call_id: "toolu_02".into(),
                name: "Task".into(),
                subagent_type: Some("general-purpose".into()),
                description: Some("find the tests".into()),
                input: json!({"description": "find the tests", "prompt": "List the test files", "subagent_type": "general-purpose"}),
                status: ToolStatus::Ok,
                blocks: vec![block(
                    "msg_02:0",
                    BlockKind::AssistantText {
                        text: "There are 3 test files.".into(),
                    },
                )],
                result: Some(ToolResultContent::Text("There are 3 test files.".into())),
            },
        ),
        block(
            "req_7",
            BlockKind::Permission {
                request_id: "req_7".into(),
                tool_name: "Bash".into(),
                input: json!({"command": "rm -rf build"}),
                decision: Some(PermissionDecision::Allow),
                message: None,
            },
        ),
        block(
            "n1",
            BlockKind::SystemNotice {
                kind: "session_started".into(),
                text: "claude-code 2.1.197, model claude-sonnet-4-5".into(),
            },
        ),
        block(
            "u9",
            BlockKind::CompactionSummary {
                text: "The user asked for a greeting file; it was created.".into(),
            },
        ),
        block(
            "r1",
            BlockKind::TurnSummary {
                status: TurnStatus::Success,
                duration_ms: Some(5310),
                num_turns: Some(3),
                cost_usd: Some(0.00465),
                usage: Some(usage()),
                error: None,
            },
        ),
        block(
            "e1",
            BlockKind::Error {
                message: "Overloaded".into(),
                code: Some("overloaded_error".into()),
            },
        ),
        block(
            "x1",
            BlockKind::Raw {
                source: Some("claude-transcript".into()),
                json: json!({"type": "file-history-snapshot", "messageId": "m1"}),
            },
        ),
    ]
}

/// One example of each [`ClientMessage`], as a frame with a request id.
pub fn client_frames() -> Vec<ClientFrame> {
    let frame = |id: &str, message: ClientMessage| ClientFrame {
        id: Some(id.into()),
        message,
    };
    vec![
        frame(
            "1",
            ClientMessage::Hello {
                protocol_version: PROTOCOL_VERSION,
                client: Some("aisys-chat/0.1.0".into()),
            },
        ),
        frame(
            "2",
            ClientMessage::Create {
                spec: SessionSpec {
                    agent: Some(AgentKind::ClaudeCode),
                    sandbox: Some(SandboxKind::Local),
                    workspace: None,
                    model: Some("claude-sonnet-4-5".into()),
                    permission_mode: Some(PermissionMode::Default),
                    title: Some("fix the login test".into()),
                    limits: Some(SessionLimits {
                        max_memory: Some(2 << 30),
                        ..Default::default()
                    }),
                    profile: Some("user".into()),
                },
            },
        ),
        frame("3", ClientMessage::List),
        frame(
            "4",
            ClientMessage::Attach {
                session_id: "s_01J9Z8".into(),
                after_seq: 40,
                view: AttachView::Events,
            },
        ),
        frame(
            "12",
            ClientMessage::Files {
                session_id: "s_01J9Z8".into(),
            },
        ),
        frame(
            "13",
            ClientMessage::ReadFile {
                session_id: "s_01J9Z8".into(),
                path: "src/hello.txt".into(),
            },
        ),
        frame(
            "5",
            ClientMessage::Detach {
                session_id: "s_01J9Z8".into(),
            },
        ),
        frame(
            "6",
            ClientMessage::Message {
                session_id: "s_01J9Z8".into(),
                text: "run the tests".into(),
            },
        ),
        frame(
            "7",
            ClientMessage::Interrupt {
                session_id: "s_01J9Z8".into(),
            },
        ),
        frame(
            "8",
            ClientMessage::Permission {
                session_id: "s_01J9Z8".into(),
                request_id: "req_7".into(),
                decision: PermissionDecision::Allow,
                message: None,
            },
        ),
        frame(
            "9",
            ClientMessage::Stop {
                session_id: "s_01J9Z8".into(),
            },
        ),
        frame(
            "10",
            ClientMessage::Delete {
                session_id: "s_01J9Z8".into(),
            },
        ),
    ]
}

/// One example of each [`ServerMessage`], as a frame.
pub fn server_frames() -> Vec<ServerFrame> {
    let frame = |id: Option<&str>, message: ServerMessage| ServerFrame {
        id: id.map(Into::into),
        message,
    };
    vec![
        frame(
            Some("1"),
            ServerMessage::Welcome {
                protocol_version: PROTOCOL_VERSION,
                server_version: "0.1.0".into(),
                profiles: vec!["user".into(), "none".into(), "review".into()],
            },
        ),
        frame(Some("2"), ServerMessage::Created { session: info() }),
        frame(
            Some("3"),
            ServerMessage::Sessions {
                sessions: vec![info()],
            },
        ),
        frame(
            Some("4"),
            ServerMessage::Attached {
                session: info(),
                last_seq: 42,
            },
        ),
        frame(
            None,
            ServerMessage::Event {
                session_id: "s_01J9Z8".into(),
                seq: 41,
                event: StreamEvent::Text {
                    message_id: Some("msg_01".into()),
                    text: "I'll create the file.".into(),
                    parent_tool_use_id: None,
                    timestamp: None,
                },
            },
        ),
        frame(
            None,
            ServerMessage::Blocks {
                session_id: "s_01J9Z8".into(),
                seq: 40,
                blocks: vec![ConversationBlock {
                    id: "u1".into(),
                    timestamp: None,
                    kind: BlockKind::UserMessage {
                        text: "create hello.txt".into(),
                        images: vec![],
                    },
                }],
            },
        ),
        frame(
            None,
            ServerMessage::Block {
                session_id: "s_01J9Z8".into(),
                seq: 41,
                index: 2,
                block: ConversationBlock {
                    id: "msg_01-text".into(),
                    timestamp: None,
                    kind: BlockKind::AssistantText {
                        text: "I'll create the file.".into(),
                    },
                },
            },
        ),
        frame(
            None,
            ServerMessage::BlockAppend {
                session_id: "s_01J9Z8".into(),
                seq: 42,
                index: 2,
                append: " It says hello.".into(),
            },
        ),
        frame(
            None,
            ServerMessage::State {
                session_id: "s_01J9Z8".into(),
                state: SessionState::Running,
                reason: None,
            },
        ),
        frame(Some("6"), ServerMessage::Ack),
        frame(
            Some("12"),
            ServerMessage::Files {
                session_id: "s_01J9Z8".into(),
                files: vec![
                    WorkspaceFile {
                        path: "src".into(),
                        kind: FileKind::Dir,
                        size: 0,
                        modified: Some(TS.into()),
                        changed: false,
                    },
                    WorkspaceFile {
                        path: "src/hello.txt".into(),
                        kind: FileKind::File,
                        size: 6,
                        modified: Some(TS.into()),
                        changed: true,
                    },
                ],
                truncated: false,
            },
        ),
        frame(
            Some("13"),
            ServerMessage::File {
                session_id: "s_01J9Z8".into(),
                path: "src/hello.txt".into(),
                size: 6,
                text: "hello\n".into(),
                binary: false,
                truncated: false,
            },
        ),
        frame(
            None,
            ServerMessage::FileChanged {
                session_id: "s_01J9Z8".into(),
                change: FileChange {
                    path: "src/hello.txt".into(),
                    kind: FileChangeKind::Created,
                    entry: FileKind::File,
                    size: 6,
                },
            },
        ),
        frame(
            None,
            ServerMessage::FilesResync {
                session_id: "s_01J9Z8".into(),
                changes: 1840,
            },
        ),
        frame(
            None,
            ServerMessage::Resync {
                session_id: "s_01J9Z8".into(),
                after_seq: 41,
            },
        ),
        frame(
            Some("7"),
            ServerMessage::Error {
                code: ErrorCode::InvalidState,
                message: "session s_01J9Z8 is idle: there is no turn to interrupt".into(),
            },
        ),
    ]
}
