//! Snapshots of `aisys chat`'s main screens, drawn by the real view into ratatui's TestBackend,
//! and the keys that lead to them, applied to the real state.

mod tui_support;

use aisys::client::Notification;
use aisys::tui::state::{Action, Input, State};
use aisys::tui::view;
use aisys::types::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use serde_json::json;
use tui_support::*;

#[test]
fn empty() {
    insta::assert_snapshot!(render(&connected(), 80, 16));
}

#[test]
fn streaming() {
    let s = after_turn([]);
    insta::assert_snapshot!(render(&s, 80, 20));
}

#[test]
fn tool_call_expanded() {
    let mut s = after_turn([tool_result(
        "t1",
        ToolResultContent::Text("File created".into()),
        false,
    )]);
    s.update(Input::Key(KeyEvent::new(
        KeyCode::Char('o'),
        KeyModifiers::CONTROL,
    )));
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn permission_modal() {
    let s = after_turn([permission_request(
        "Write",
        json!({"file_path": "/w/hello.txt", "content": "hello"}),
        "t1",
    )]);
    assert!(s.permission.is_some());
    insta::assert_snapshot!(render(&s, 80, 20));
}

/// A session waiting for permission to run `rm -rf build`.
fn asking() -> State {
    let s = after_turn([permission_request(
        "Bash",
        json!({"command": "rm -rf build", "description": "clean"}),
        "t2",
    )]);
    assert!(s.permission.is_some());
    s
}

fn decision(actions: &[Action]) -> Option<PermissionDecision> {
    actions.iter().find_map(|a| match a {
        Action::Send(ClientMessage::Permission { decision, .. }) => Some(*decision),
        _ => None,
    })
}

#[test]
fn typing_during_a_permission_prompt_goes_to_the_message_box() {
    let mut s = asking();
    // Letters of ordinary words (the `d` of "queued", the `a` of "modal") answer nothing.
    let actions = typed(&mut s, "queued during modal");
    assert_eq!(decision(&actions), None, "{actions:?}");
    assert!(s.permission.is_some(), "the prompt is still open");
    assert_eq!(s.input.lines(), ["queued during modal"]);
    // Upper-case A, y and n answer nothing either.
    let actions = typed(&mut s, " Always yes no");
    assert_eq!(decision(&actions), None, "{actions:?}");
    assert!(s.always_allow.is_empty());
    // Enter sends the typed message (the session queues it); it does not answer the prompt.
    let actions = key(&mut s, KeyCode::Enter);
    assert_eq!(decision(&actions), None, "{actions:?}");
    assert!(
        actions.iter().any(|a| matches!(a, Action::Send(ClientMessage::Message { text, .. }) if text == "queued during modal Always yes no")),
        "{actions:?}"
    );
    assert!(s.permission.is_some());
}

#[test]
fn a_permission_prompt_answers_only_to_its_own_keys() {
    // Tab takes the keyboard (Allow once highlighted), Enter allows once.
    let mut s = asking();
    assert!(key(&mut s, KeyCode::Tab).is_empty());
    assert_eq!(
        decision(&key(&mut s, KeyCode::Enter)),
        Some(PermissionDecision::Allow)
    );
    assert!(s.always_allow.is_empty());

    // Typing after Tab gives the keyboard back: Enter then sends the message instead.
    let mut s = asking();
    key(&mut s, KeyCode::Tab);
    typed(&mut s, "x");
    assert_eq!(decision(&key(&mut s, KeyCode::Enter)), None);
    assert!(s.permission.is_some());

    // Always allow needs a second Enter; Esc backs out of it.
    let mut s = asking();
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Right);
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(s.permission.as_ref().unwrap().confirming_always);
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert!(s.permission.is_some(), "Esc backed out, nothing sent");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert_eq!(
        decision(&key(&mut s, KeyCode::Enter)),
        Some(PermissionDecision::Allow)
    );
    assert!(s.always_allow["s_1"].contains("Bash"));

    // Left from Allow once wraps to Deny; Esc denies at once.
    let mut s = asking();
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Left);
    assert_eq!(
        decision(&key(&mut s, KeyCode::Enter)),
        Some(PermissionDecision::Deny)
    );
    let mut s = asking();
    assert_eq!(
        decision(&key(&mut s, KeyCode::Esc)),
        Some(PermissionDecision::Deny)
    );
}

#[test]
fn events_that_come_before_the_attach_answer_are_kept() {
    let reference = after_turn([]);
    let shown = |s: &State| render(s, 80, 20);
    assert_eq!(reference.conversation.blocks.len(), 5);

    // From the session list: the row opens at once; the replay starts before the answer.
    let mut s = connected();
    s.update(Input::Sessions(vec![info()]));
    key(&mut s, KeyCode::Tab);
    let actions = key(&mut s, KeyCode::Enter);
    assert!(actions.contains(&Action::Open("s_1".into())), "{actions:?}");
    feed(&mut s, turn());
    s.update(Input::Opened(info()));
    assert_eq!(s.conversation.blocks.len(), 5);
    assert_eq!(shown(&s), shown(&reference));

    // From the command line, known by id only until the answer comes.
    let mut s = connected();
    let actions = s.open_by_id("s_1".into());
    assert_eq!(actions, vec![Action::Open("s_1".into())]);
    feed(&mut s, turn());
    s.update(Input::Opened(info()));
    assert_eq!(s.conversation.blocks.len(), 5);
    assert_eq!(shown(&s), shown(&reference));
}

#[test]
fn permission_prompt_after_typing_80x24() {
    let mut s = asking();
    typed(&mut s, "queued during modal");
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn permission_prompt_focused_120x40() {
    let mut s = asking();
    typed(&mut s, "queued during modal");
    key(&mut s, KeyCode::Tab);
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Enter);
    insta::assert_snapshot!(render(&s, 120, 40));
}

#[test]
fn error() {
    let s = after_turn([
        tool_result(
            "t1",
            ToolResultContent::Text("permission denied: /w".into()),
            true,
        ),
        StreamEvent::Error {
            message: "Overloaded".into(),
            code: Some("overloaded_error".into()),
            timestamp: None,
        },
        StreamEvent::Result {
            status: TurnStatus::Error,
            duration_ms: Some(1200),
            num_turns: Some(1),
            cost_usd: None,
            usage: None,
            text: None,
            error: Some("API Error: 529 Overloaded".into()),
            agent_session_id: None,
        },
    ]);
    insta::assert_snapshot!(render(&s, 80, 20));
}

#[test]
fn a_turn_that_hit_its_limit_says_max_turns() {
    let s = after_turn([StreamEvent::Result {
        status: TurnStatus::MaxTurns,
        duration_ms: Some(1200),
        num_turns: Some(3),
        cost_usd: None,
        usage: None,
        text: None,
        error: None,
        agent_session_id: None,
    }]);
    let screen = render(&s, 80, 20);
    assert!(screen.contains("max_turns · 1.2s"), "{screen}");
}

#[test]
fn disconnected() {
    let mut s = after_turn([]);
    s.update(Input::Note(Notification::Disconnected {
        reason: "connection reset".into(),
    }));
    insta::assert_snapshot!(render(&s, 80, 16));
}

#[test]
fn narrow_terminal() {
    let s = after_turn([]);
    insta::assert_snapshot!(render(&s, 40, 20));
}

#[test]
fn the_help_shows_every_key_whole_at_any_width() {
    let mut s = connected();
    key(&mut s, KeyCode::Char('?'));
    assert!(s.show_help);
    for (w, h) in [(120, 40), (80, 24)] {
        let screen = render(&s, w, h);
        for (k, v) in view::KEYS {
            assert!(screen.contains(k), "{w}x{h}: key {k:?} missing:\n{screen}");
            assert!(screen.contains(v), "{w}x{h}: {v:?} cut:\n{screen}");
        }
    }
    // Narrow: descriptions wrap, and still every word is there.
    let screen = render(&s, 44, 60);
    for (_, v) in view::KEYS {
        for word in v.split(' ') {
            assert!(
                screen.contains(word),
                "44x60: {word:?} of {v:?} missing:\n{screen}"
            );
        }
    }
    // The session list's own keys are listed.
    assert!(
        view::KEYS
            .iter()
            .any(|(key, v)| key.contains("s / d (sessions)") && v.contains("stop, delete")),
        "s and d of the session list are listed"
    );
    insta::assert_snapshot!(render(&s, 80, 24));
}

fn two_sessions() -> State {
    let mut s = connected();
    let mut other = info();
    other.id = "s_2".into();
    other.title = Some("refactor".into());
    s.update(Input::Sessions(vec![info(), other]));
    key(&mut s, KeyCode::Tab);
    s
}

#[test]
fn the_selected_session_row_is_readable() {
    let s = two_sessions();
    let buf = draw(&s, 100, 20);
    // The second line of the selected (first) row: "claude-code idle 10:00".
    let y = 2;
    let row: String = (0..34).map(|x| buf[(x, y)].symbol().to_string()).collect();
    assert!(row.contains("claude-code"), "{row:?}");
    for x in 1..12 {
        let c = &buf[(x, y)];
        assert_ne!(c.fg, c.bg, "cell {x}: text the color of its background");
        assert_ne!(
            c.bg,
            Color::Reset,
            "cell {x}: the selected row is highlighted"
        );
    }
}

#[test]
fn the_session_list_shows_each_sessions_tokens_and_cost() {
    let mut s = connected();
    let mut used = info();
    used.usage = Some(SessionUsage {
        turns: 2,
        tokens: TokenUsage {
            input_tokens: 10_000,
            output_tokens: 2_345,
            cache_creation_tokens: 0,
            cache_read_tokens: 0,
        },
        cost_usd: 0.0421,
    });
    let mut fresh = info();
    fresh.id = "s_2".into();
    fresh.title = Some("untouched".into());
    s.update(Input::Sessions(vec![used, fresh]));
    key(&mut s, KeyCode::Tab);
    let screen = render(&s, 80, 24);
    assert!(screen.contains("12.3k tokens · $0.04"), "{screen}");
    assert_eq!(screen.matches(" tokens · $").count(), 1, "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn deleting_a_session_asks_first() {
    let deletes = |a: &[Action]| {
        a.iter()
            .filter(|a| matches!(a, Action::Send(ClientMessage::Delete { .. })))
            .count()
    };
    let mut s = two_sessions();
    assert_eq!(deletes(&key(&mut s, KeyCode::Char('d'))), 0);
    assert!(
        s.notice
            .as_deref()
            .unwrap_or("")
            .contains("delete greeting?")
    );
    assert!(render(&s, 100, 20).contains("delete? d again"));
    // Any other key keeps it, and the next `d` asks again.
    key(&mut s, KeyCode::Down);
    assert!(s.notice.is_none());
    assert_eq!(deletes(&key(&mut s, KeyCode::Char('d'))), 0);
    let actions = key(&mut s, KeyCode::Char('d'));
    assert_eq!(deletes(&actions), 1);
    assert!(actions.contains(&Action::Send(ClientMessage::Delete {
        session_id: "s_2".into()
    })));
}

#[test]
fn the_status_line_keeps_the_state_and_the_cost_at_80_columns() {
    let mut s = after_turn([
        StreamEvent::Usage {
            usage: TokenUsage {
                input_tokens: 12_345,
                output_tokens: 678,
                cache_creation_tokens: 0,
                cache_read_tokens: 90_000,
            },
            message_id: None,
            model: None,
            cost_usd: None,
            timestamp: None,
        },
        StreamEvent::Result {
            status: TurnStatus::Success,
            duration_ms: Some(4200),
            num_turns: Some(1),
            cost_usd: Some(0.0123),
            usage: None,
            text: None,
            error: None,
            agent_session_id: None,
        },
    ]);
    s.update(Input::Note(Notification::Disconnected {
        reason: "connection reset by peer".into(),
    }));
    let screen = render(&s, 80, 16);
    let status = screen.lines().last().unwrap();
    assert!(status.contains("running"), "{status:?}");
    assert!(status.contains("$0.0123"), "{status:?}");
    assert!(status.contains("disconnected"), "{status:?}");
}

#[test]
fn a_message_sent_during_a_turn_is_marked_queued_until_its_turn() {
    let mut s = opened_with(vec![
        user("first"),
        state_change(SessionState::Idle, SessionState::Running),
        user("second"),
    ]);
    let screen = render(&s, 80, 16);
    assert_eq!(screen.matches("queued").count(), 1, "{screen}");
    let second = screen.lines().position(|l| l.contains("› second")).unwrap();
    assert!(
        screen.lines().nth(second + 1).unwrap().contains("queued"),
        "{screen}"
    );
    // The turn ends and the next one takes the queued message.
    for event in [
        state_change(SessionState::Running, SessionState::Idle),
        state_change(SessionState::Idle, SessionState::Running),
    ] {
        s.update(Input::Note(Notification::Event {
            session_id: "s_1".into(),
            seq: 10,
            event,
        }));
    }
    let screen = render(&s, 80, 16);
    assert!(!screen.contains("queued"), "{screen}");
}

#[test]
fn a_draft_typed_while_disconnected_stays_in_the_box() {
    let mut s = connected();
    s.open(info());
    s.update(Input::Note(Notification::Disconnected {
        reason: "connection reset".into(),
    }));
    typed(&mut s, "hello there");
    let actions = key(&mut s, KeyCode::Enter);
    assert!(actions.is_empty(), "nothing is sent: {actions:?}");
    assert_eq!(s.input.lines(), ["hello there"]);
    assert!(s.notice.as_deref().unwrap().contains("not connected"));
    s.update(Input::Note(Notification::Connected));
    assert!(s.notice.as_deref().unwrap().contains("Enter sends"));
    let actions = key(&mut s, KeyCode::Enter);
    assert!(
        actions.iter().any(|a| matches!(a, Action::Send(ClientMessage::Message { text, .. }) if text == "hello there")),
        "{actions:?}"
    );
}

#[test]
fn ctrl_c_with_an_unsent_message_says_it_would_be_lost() {
    let ctrl_c = |s: &mut State| {
        s.update(Input::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )))
    };
    let mut s = connected();
    typed(&mut s, "half a thought");
    assert!(ctrl_c(&mut s).is_empty());
    assert!(
        s.notice.as_deref().unwrap().contains("not sent"),
        "{:?}",
        s.notice
    );
    // Another key keeps the draft and the question is gone.
    typed(&mut s, "!");
    assert!(s.notice.is_none());
    assert!(ctrl_c(&mut s).is_empty());
    assert_eq!(ctrl_c(&mut s), vec![Action::Quit]);
    // With an empty box, the plain question.
    let mut s = connected();
    ctrl_c(&mut s);
    assert_eq!(s.notice.as_deref(), Some("press Ctrl-C again to quit"));
}

#[test]
fn control_sequences_in_agent_output_never_reach_a_cell() {
    let nasty = "\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{1b}[Hcleared \u{1b}[31mred\u{1b}[0m\u{9b}6n";
    let s = after_turn([
        tool_result("t1", ToolResultContent::Text(nasty.into()), false),
        StreamEvent::Text {
            message_id: Some("m2".into()),
            text: format!("Said: {nasty}"),
            parent_tool_use_id: None,
            timestamp: None,
        },
    ]);
    let buf = draw(&s, 100, 40);
    let screen = render(&s, 100, 40);
    assert!(screen.contains("Said: cleared red6n"), "{screen}");
    for cell in buf.content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(|c| c.is_control() || ('\u{80}'..='\u{9f}').contains(&c)),
            "a control character reached the screen: {:?}\n{screen}",
            cell.symbol()
        );
    }
}

#[test]
fn a_permission_prompt_shows_the_edit_it_would_allow() {
    let s = after_turn([permission_request(
        "Edit",
        json!({"file_path": "/w/src/lib.rs", "old_string": "fn old() {}", "new_string": "fn new() {}\nfn added() {}"}),
        "t2",
    )]);
    let screen = render(&s, 80, 24);
    for line in ["- fn old() {}", "+ fn new() {}", "+ fn added() {}"] {
        assert!(screen.contains(line), "{line:?} in\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn a_long_write_in_a_permission_prompt_shows_its_head() {
    let asking_to_write = |content: String| {
        after_turn([permission_request(
            "Write",
            json!({"file_path": "/w/long.txt", "content": content}),
            "t2",
        )])
    };
    let s = asking_to_write((1..=30).map(|i| format!("line {i}\n")).collect());
    // As much of the file as the terminal has rows for, keeping some conversation in sight.
    let screen = render(&s, 80, 24);
    assert!(screen.contains("+ line 10 "), "{screen}");
    assert!(!screen.contains("+ line 11 "), "{screen}");
    assert!(screen.contains("… 20 more lines"), "{screen}");
    let screen = render(&s, 120, 40);
    assert!(screen.contains("+ line 26 "), "{screen}");
    assert!(!screen.contains("+ line 27 "), "{screen}");
    assert!(screen.contains("… 4 more lines"), "{screen}");
    insta::assert_snapshot!(screen);
    // Lines too long for the prompt wrap; the choices stay on screen at any size.
    let s = asking_to_write(format!("{}\n", "word ".repeat(60)).repeat(30));
    for (w, h) in [(80, 24), (120, 40), (60, 16)] {
        let screen = render(&s, w, h);
        assert!(screen.contains("Allow once"), "{w}x{h}:\n{screen}");
        assert!(screen.contains("more lines"), "{w}x{h}:\n{screen}");
    }
}

fn with_dialog() -> State {
    let mut s = connected();
    s.form_defaults = aisys::tui::new_session::FormDefaults {
        workspace: Some("/home/dev/projects/app".into()),
        profiles: vec!["user".into(), "none".into(), "review".into()],
    };
    s.update(Input::Key(KeyEvent::new(
        KeyCode::Char('n'),
        KeyModifiers::CONTROL,
    )));
    s
}

#[test]
fn new_session_dialog_80x24() {
    let mut s = with_dialog();
    key(&mut s, KeyCode::Right);
    insta::assert_snapshot!(render(&s, 80, 24));
}

#[test]
fn new_session_dialog_on_the_profile_120x40() {
    let mut s = with_dialog();
    for _ in 0..5 {
        key(&mut s, KeyCode::Down);
    }
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Right);
    key(&mut s, KeyCode::Right);
    insta::assert_snapshot!(render(&s, 120, 40));
    // Enter closes it, and the next message creates a session with what was picked.
    key(&mut s, KeyCode::Enter);
    assert!(s.form.is_none());
    typed(&mut s, "hello");
    let actions = key(&mut s, KeyCode::Enter);
    let spec = actions
        .iter()
        .find_map(|a| match a {
            Action::CreateAndSend { spec, .. } => Some(spec.clone()),
            _ => None,
        })
        .expect("the first message creates the session");
    assert_eq!(spec.profile.as_deref(), Some("review"));
    assert_eq!(spec.workspace.as_deref(), Some("/home/dev/projects/app"));
}

#[test]
fn the_view_follows_the_block_cursor_and_its_marker_takes_no_text() {
    let mut s = opened_with(
        (0..30)
            .map(|i| StreamEvent::Text {
                message_id: Some(format!("m{i}")),
                // Exactly as wide as the screen: the marker must not hide its last letter.
                text: format!("answer {i:02} {}z", "x".repeat(40 - 11)),
                parent_tool_use_id: None,
                timestamp: None,
            })
            .collect(),
    );
    key(&mut s, KeyCode::End);
    for _ in 0..12 {
        s.update(Input::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)));
    }
    let screen = render(&s, 40, 12);
    let marked: Vec<&str> = screen.lines().filter(|l| l.starts_with('▌')).collect();
    assert!(
        !marked.is_empty(),
        "the cursor's block is in view:\n{screen}"
    );
    assert!(
        marked.iter().any(|l| l.contains("answer 18")),
        "the 12th block from the end has the cursor:\n{screen}"
    );
    assert!(
        marked.iter().any(|l| l.contains('z')),
        "the last letter of the marked block is shown:\n{screen}"
    );
    // Scrolling goes on from the cursor's view, not from where the screen was before.
    key(&mut s, KeyCode::PageDown);
    let after = render(&s, 40, 12);
    assert!(
        !after.contains("answer 29"),
        "one page down from block 18, not the end:\n{after}"
    );
}

#[test]
fn tool_calls_show_the_shared_views_a_checklist_a_command_and_a_diff() {
    let call = |id: &str, name: &str, input| tool_call(id, name, input, &format!("m{id}"));
    let mut s = opened_with(vec![
        call(
            "t1",
            "TodoWrite",
            json!({"todos": [
                {"content": "write the parser", "status": "completed", "activeForm": "writing"},
                {"content": "test the parser", "status": "pending", "activeForm": "testing"}
            ]}),
        ),
        call(
            "t2",
            "Bash",
            json!({"command": "cargo test", "description": "run the tests"}),
        ),
        tool_result(
            "t2",
            ToolResultContent::Text("\u{1b}[32mok\u{1b}[0m: 3 passed".into()),
            false,
        ),
        call(
            "t3",
            "Edit",
            json!({"file_path": "/w/a.rs", "old_string": "let x = 1;", "new_string": "let x = 2;"}),
        ),
    ]);
    // The checklist shows folded; the command and the diff once unfolded.
    let folded = render(&s, 80, 30);
    assert!(folded.contains("☑ write the parser"), "{folded}");
    assert!(folded.contains("☐ test the parser"), "{folded}");
    for id in ["t2", "t3"] {
        s.expanded.insert(id.to_string());
    }
    let screen = render(&s, 80, 30);
    assert!(screen.contains("$ cargo test"), "{screen}");
    assert!(
        screen.contains("ok: 3 passed") && !screen.contains("[32m"),
        "{screen}"
    );
    assert!(
        screen.contains("- let x = 1;") && screen.contains("+ let x = 2;"),
        "{screen}"
    );
    assert!(
        !screen.contains("\"old_string\""),
        "no raw JSON input: {screen}"
    );
}

#[test]
fn a_subagent_result_shows_no_agent_internal_tags_80x24() {
    let mut s = after_turn([
        tool_call(
            "t9",
            "Task",
            json!({"description": "check recipes", "subagent_type": "Explore", "prompt": "Which recipes use the old flour?"}),
            "m2",
        ),
        tool_result("t9", recorded_task_result(), false),
    ]);
    s.expanded.insert("t9".into());
    let screen = render(&s, 80, 24);
    assert!(
        screen.contains("Two recipes still use the old flour"),
        "{screen}"
    );
    assert!(
        screen.contains("900 tokens · 1 tool use · 3.1 s"),
        "{screen}"
    );
    for tag in ["agentId", "SendMessage", "<usage>", "subagent_tokens"] {
        assert!(!screen.contains(tag), "{tag} on screen:\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn system_events_with_nothing_to_say_draw_no_line() {
    let mut s = after_turn([
        StreamEvent::Raw {
            source: Some("claude_code".into()),
            json: json!({"type": "system", "subtype": "hook_started", "session_id": "a1"}),
        },
        StreamEvent::Notice {
            kind: "init".into(),
            text: " ".into(),
            timestamp: None,
        },
    ]);
    let screen = render(&s, 80, 20);
    for line in screen.lines() {
        let l = line.trim();
        assert!(l != "·" && !l.starts_with("· system"), "{screen}");
    }
    // The block cursor passes over them: the first block up from the end is the tool call.
    s.update(Input::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)));
    let screen = render(&s, 80, 20);
    let marked: Vec<&str> = screen.lines().filter(|l| l.starts_with('▌')).collect();
    assert!(marked.iter().any(|l| l.contains("Write")), "{screen}");
    // An unknown event that says something is still shown.
    feed(
        &mut s,
        vec![StreamEvent::Raw {
            source: None,
            json: json!({"type": "system", "subtype": "hook_response", "message": "hook ran"}),
        }],
    );
    assert!(render(&s, 80, 20).contains("· system: hook ran"));
}

#[test]
fn a_turn_ended_by_a_server_restart_is_labelled_so_80x24() {
    let s = after_turn([
        // As the server records a turn its shutdown interrupted.
        StreamEvent::Notice {
            kind: "server_restart".into(),
            text: "the server shut down during this turn and interrupted it".into(),
            timestamp: None,
        },
        result(
            TurnStatus::Interrupted,
            Some("server_restart: the server stopped before this turn ended"),
        ),
        state_change(SessionState::Running, SessionState::Stopped),
    ]);
    let screen = render(&s, 80, 24);
    assert!(
        screen.contains("⏻ interrupted by a server restart · 4.2s"),
        "{screen}"
    );
    assert!(!screen.contains("server_restart:"), "{screen}");
    insta::assert_snapshot!(screen);
    // The user's own interrupt stays plain "interrupted".
    let s = after_turn([result(TurnStatus::Interrupted, None)]);
    let screen = render(&s, 80, 24);
    assert!(
        screen.contains("  interrupted · 4.2s") && !screen.contains("restart"),
        "{screen}"
    );
}

#[test]
fn a_permission_prompt_shows_a_multiedit_as_the_conversation_does_120x40() {
    let input = json!({"file_path": "/w/src/lib.rs", "edits": [
        {"old_string": "fn a() {}", "new_string": "fn a() { b(); }"},
        {"old_string": "const N: u32 = 1;", "new_string": "const N: u32 = 2;"}
    ]});
    let mut s = after_turn([
        tool_call("t2", "MultiEdit", input.clone(), "m2"),
        permission_request("MultiEdit", input, "t2"),
    ]);
    let screen = render(&s, 120, 40);
    insta::assert_snapshot!(screen);
    // The prompt's diff is the one the conversation shows for the call: one description.
    let diff: Vec<String> = screen
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .map(|l| l.trim_end().to_string())
        .filter(|l| l.starts_with("  - ") || l.starts_with("  + "))
        .collect();
    assert_eq!(diff.len(), 4, "{screen}");
    key(&mut s, KeyCode::Esc);
    s.expanded.insert("t2".into());
    let conversation = render(&s, 120, 40);
    for line in &diff {
        assert!(
            conversation.contains(line.as_str()),
            "{line:?} in\n{conversation}"
        );
    }
}
