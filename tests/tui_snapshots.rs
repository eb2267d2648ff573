//! Snapshots of `aisys chat`'s main screens, drawn by the real view into ratatui's TestBackend.

use aisys::client::Notification;
use aisys::tui::state::{Connection, Input, State};
use aisys::tui::view::{self, LayoutCache};
use aisys::types::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn info() -> SessionInfo {
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
        created_at: "2026-11-24T10:00:00Z".into(),
        last_activity: "2026-11-24T10:00:00Z".into(),
        last_seq: 0,
        limits: None,
    }
}

fn feed(state: &mut State, events: Vec<StreamEvent>) {
    for (i, event) in events.into_iter().enumerate() {
        state.update(Input::Note(Notification::Event {
            session_id: "s_1".into(),
            seq: i as u64 + 1,
            event,
        }));
    }
}

fn render(state: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut cache = LayoutCache::default();
    terminal.draw(|f| view::draw(f, state, &mut cache)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn connected() -> State {
    let mut s = State::new();
    s.connection = Connection::Connected;
    s
}

fn turn() -> Vec<StreamEvent> {
    vec![
        StreamEvent::StateChanged {
            from: Some(SessionState::Idle),
            to: SessionState::Running,
            reason: None,
        },
        StreamEvent::UserMessage {
            id: Some("u1".into()),
            text: "create hello.txt".into(),
            images: vec![],
            compact_summary: false,
            parent_tool_use_id: None,
            timestamp: None,
        },
        StreamEvent::SessionStarted {
            agent: AgentKind::ClaudeCode,
            agent_session_id: Some("a1".into()),
            model: Some("claude-sonnet-4-5".into()),
            tools: vec![],
            cwd: None,
            agent_version: None,
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

#[test]
fn empty() {
    insta::assert_snapshot!(render(&connected(), 80, 16));
}

#[test]
fn streaming() {
    let mut s = connected();
    s.open(info());
    feed(&mut s, turn());
    insta::assert_snapshot!(render(&s, 80, 20));
}

#[test]
fn tool_call_expanded() {
    let mut s = connected();
    s.open(info());
    let mut events = turn();
    events.push(StreamEvent::ToolResult {
        tool_use_id: "t1".into(),
        content: ToolResultContent::Text("File created".into()),
        is_error: false,
        parent_tool_use_id: None,
        timestamp: None,
    });
    feed(&mut s, events);
    s.update(Input::Key(KeyEvent::new(
        KeyCode::Char('o'),
        KeyModifiers::CONTROL,
    )));
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn permission_modal() {
    let mut s = connected();
    s.open(info());
    let mut events = turn();
    events.push(StreamEvent::PermissionRequest {
        request_id: "r1".into(),
        tool_name: "Write".into(),
        input: json!({"file_path": "/w/hello.txt", "content": "hello"}),
        tool_use_id: Some("t1".into()),
    });
    feed(&mut s, events);
    assert!(s.permission.is_some());
    insta::assert_snapshot!(render(&s, 80, 20));
}

#[test]
fn error() {
    let mut s = connected();
    s.open(info());
    let mut events = turn();
    events.push(StreamEvent::ToolResult {
        tool_use_id: "t1".into(),
        content: ToolResultContent::Text("permission denied: /w".into()),
        is_error: true,
        parent_tool_use_id: None,
        timestamp: None,
    });
    events.push(StreamEvent::Error {
        message: "Overloaded".into(),
        code: Some("overloaded_error".into()),
        timestamp: None,
    });
    events.push(StreamEvent::Result {
        status: TurnStatus::Error,
        duration_ms: Some(1200),
        num_turns: Some(1),
        cost_usd: None,
        usage: None,
        text: None,
        error: Some("API Error: 529 Overloaded".into()),
        agent_session_id: None,
    });
    feed(&mut s, events);
    insta::assert_snapshot!(render(&s, 80, 20));
}

#[test]
fn disconnected() {
    let mut s = connected();
    s.open(info());
    feed(&mut s, turn());
    s.update(Input::Note(Notification::Disconnected {
        reason: "connection reset".into(),
    }));
    insta::assert_snapshot!(render(&s, 80, 16));
}

#[test]
fn narrow_terminal() {
    let mut s = connected();
    s.open(info());
    feed(&mut s, turn());
    insta::assert_snapshot!(render(&s, 40, 20));
}
