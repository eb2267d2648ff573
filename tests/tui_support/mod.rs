//! What the TUI tests share: a session, the events of a turn, keys, and the screen drawn by the
//! real view into ratatui's TestBackend, as text.
#![allow(dead_code)]

use aisys::client::Notification;
use aisys::tui::state::{Action, Connection, Input, State};
use aisys::tui::view::{self, LayoutCache};
use aisys::types::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use serde_json::json;

pub fn info() -> SessionInfo {
    SessionInfo {
        id: "s_1".into(),
        title: Some("greeting".into()),
        agent: AgentKind::ClaudeCode,
        sandbox: SandboxKind::Local,
        state: SessionState::Idle,
        reason: None,
        workspace: "/w".into(),
        model: Some("claude-sonnet-4-5".into()),
        permission_mode: PermissionMode::Default,
        agent_session_id: None,
        sandbox_id: None,
        created_at: "2026-11-24T10:00:00Z".parse().unwrap(),
        last_activity: "2026-11-24T10:00:00Z".parse().unwrap(),
        last_seq: 0,
        limits: None,
        profile: None,
        profile_resolved_at: None,
        usage: None,
    }
}

pub fn feed(state: &mut State, events: Vec<StreamEvent>) {
    for (i, event) in events.into_iter().enumerate() {
        state.update(Input::Note(Notification::Event {
            session_id: "s_1".into(),
            seq: i as u64 + 1,
            event,
        }));
    }
}

pub fn draw(state: &State, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut cache = LayoutCache::default();
    terminal.draw(|f| view::draw(f, state, &mut cache)).unwrap();
    terminal.backend().buffer().clone()
}

pub fn render(state: &State, width: u16, height: u16) -> String {
    let buf = draw(state, width, height);
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

pub fn connected() -> State {
    let mut s = State::new();
    s.connection = Connection::Connected;
    s
}

pub fn turn() -> Vec<StreamEvent> {
    // As the server sends them: the message, then the turn it starts.
    vec![
        StreamEvent::UserMessage {
            id: Some("u1".into()),
            text: "create hello.txt".into(),
            images: vec![],
            compact_summary: false,
            parent_tool_use_id: None,
            timestamp: None,
        },
        StreamEvent::StateChanged {
            from: Some(SessionState::Idle),
            to: SessionState::Running,
            reason: None,
        },
        StreamEvent::SessionStarted {
            agent: AgentKind::ClaudeCode,
            agent_session_id: Some("a1".into()),
            model: Some("claude-sonnet-4-5".into()),
            tools: vec![],
            cwd: None,
            agent_version: None,
            loaded: None,
            timestamp: None,
        },
        StreamEvent::Thinking {
            message_id: Some("m1".into()),
            text: "The user wants a file.\nI will write it.".into(),
            delta: false,
            redacted: false,
            parent_tool_use_id: None,
            timestamp: None,
        },
        StreamEvent::Text {
            message_id: Some("m1".into()),
            text: "I'll create the file with `Write`:\n```\nhello\n```".into(),
            parent_tool_use_id: None,
            timestamp: None,
        },
        StreamEvent::ToolCall {
            id: "t1".into(),
            name: "Write".into(),
            input: json!({"file_path": "/w/hello.txt", "content": "hello\nworld\n"}),
            message_id: Some("m1".into()),
            parent_tool_use_id: None,
            timestamp: None,
        },
    ]
}

pub fn key(s: &mut State, code: KeyCode) -> Vec<Action> {
    s.update(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn typed(s: &mut State, text: &str) -> Vec<Action> {
    text.chars()
        .flat_map(|c| key(s, KeyCode::Char(c)))
        .collect()
}

pub fn user(text: &str) -> StreamEvent {
    StreamEvent::UserMessage {
        id: None,
        text: text.into(),
        images: vec![],
        compact_summary: false,
        parent_tool_use_id: None,
        timestamp: None,
    }
}

pub fn state_change(from: SessionState, to: SessionState) -> StreamEvent {
    StreamEvent::StateChanged {
        from: Some(from),
        to,
        reason: None,
    }
}

/// A subagent's result as Claude Code 2.1 records it: the answer, then a block with the
/// `agentId: ... (use SendMessage ...)` line and the `<usage>` figures meant for the model.
pub fn recorded_task_result() -> ToolResultContent {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/handwritten/subagents-2.1/b7e21c04-5a93-4f6d-8e12-9c0d4a6f3e58.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(r#""tool_use_id":"toolu_bakery_recipes""#))
        .expect("the fixture has the Task's result");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    serde_json::from_value(v["message"]["content"][0]["content"].clone()).unwrap()
}

pub fn result(status: TurnStatus, error: Option<&str>) -> StreamEvent {
    StreamEvent::Result {
        status,
        duration_ms: Some(4200),
        num_turns: None,
        cost_usd: None,
        usage: None,
        text: None,
        error: error.map(Into::into),
        agent_session_id: None,
    }
}

/// A connected client with the test session open, fed `events` in order.
pub fn opened_with(events: Vec<StreamEvent>) -> State {
    let mut s = connected();
    s.open(info());
    feed(&mut s, events);
    s
}

/// The open session after the events of `turn()` and then `more`, fed as one stream.
pub fn after_turn(more: impl IntoIterator<Item = StreamEvent>) -> State {
    let mut events = turn();
    events.extend(more);
    opened_with(events)
}

/// The main agent's call `id` of tool `name`, in message `message_id`.
pub fn tool_call(id: &str, name: &str, input: serde_json::Value, message_id: &str) -> StreamEvent {
    StreamEvent::ToolCall {
        id: id.into(),
        name: name.into(),
        input,
        message_id: Some(message_id.into()),
        parent_tool_use_id: None,
        timestamp: None,
    }
}

/// The result of the main agent's tool call `id`.
pub fn tool_result(id: &str, content: ToolResultContent, is_error: bool) -> StreamEvent {
    StreamEvent::ToolResult {
        tool_use_id: id.into(),
        content,
        is_error,
        parent_tool_use_id: None,
        timestamp: None,
    }
}

/// Request `r1`: may the call `tool_use_id` run `tool_name` with `input`?
pub fn permission_request(
    tool_name: &str,
    input: serde_json::Value,
    tool_use_id: &str,
) -> StreamEvent {
    StreamEvent::PermissionRequest {
        request_id: "r1".into(),
        tool_name: tool_name.into(),
        input,
        tool_use_id: Some(tool_use_id.into()),
    }
}
