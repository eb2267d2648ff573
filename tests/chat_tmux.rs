//! `aisys chat` end to end in tmux: a real `aisys serve`, the real Claude Code CLI in bubblewrap,
//! the scripted mock model. Keys go in with `send-keys`; the screen comes back with
//! `capture-pane`, and the test reads it as a person would.

mod mock_api;
mod serve_harness;
mod tmux_support;

use std::process::Command;
use std::time::{Duration, Instant};

use mock_api::{Block, Reply, Script, When, claude_bin as claude};
use serde_json::json;
use serve_harness::Server;
use tmux_support::{Pane, SCREEN_WAIT, tmux};

/// `aisys chat --new` in a 100x30 tmux pane, against a real server running the real Claude Code
/// against the mock model.
struct Chat {
    pane: Pane,
    server: Server,
    _mock: mock_api::MockAnthropic,
    _dir: tempfile::TempDir,
}

impl Chat {
    fn start(name: &str, script: Script) -> Chat {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let mock = script.start();
        let bin = claude();
        let server = Server::start(
            &dir.path().join("data"),
            &[],
            &[
                ("AISYS_CLAUDE_BIN", bin.to_str().unwrap()),
                ("ANTHROPIC_BASE_URL", &mock.base_url()),
                ("ANTHROPIC_API_KEY", "test"),
                ("DISABLE_TELEMETRY", "1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                ("CLAUDE_CODE_MAX_RETRIES", "0"),
            ],
        );
        let cmd = format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} AISYS_CONFIG_DIR={home}/cfg AISYS_DATA_DIR={home}/data {bin} chat --server {url} --token {token} --new",
            home = dir.path().display(),
            bin = env!("CARGO_BIN_EXE_aisys"),
            url = server.url,
            token = server.token,
        );
        let pane = Pane::start(
            format!("aisys-{name}-{}", std::process::id()),
            100,
            30,
            &cmd,
        );
        pane.wait_for("connected");
        Chat {
            pane,
            server,
            _mock: mock,
            _dir: dir,
        }
    }
}

/// The message box: the lines between the last box's top and bottom borders.
fn message_box(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.iter().rposition(|l| l.starts_with('┌')).unwrap_or(0);
    lines[top + 1..]
        .iter()
        .take_while(|l| !l.starts_with('└'))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn chat_shows_the_reply_and_the_tool_call_and_esc_interrupts() {
    let ws_marker = "greeting.txt";
    let chat = Chat::start(
        "chat",
        Script::new()
            .on(
                When::UserSays("make a greeting".into()),
                Reply::Message(vec![
                    Block::Text("Writing the greeting now.".into()),
                    Block::ToolUse {
                        name: "Bash".into(),
                        input: json!({"command": format!("echo hi > {ws_marker}"), "description": "write it"}),
                    },
                ]),
            )
            .on(When::ToolResultContains("".into()), Reply::text("All done, the file is written."))
            .on(
                When::UserSays("think slowly".into()),
                Reply::Slow(vec![Block::Text("Pondering for a long while".into())], Duration::from_secs(20)),
            ),
    );
    let pane = &chat.pane;
    pane.keys(&["make a greeting", "Enter"]);
    // The default permission mode asks before Bash runs: the prompt appears; allow it.
    pane.wait_for("permission");
    pane.keys(&["Tab"]);
    pane.keys(&["Enter"]);
    let screen = pane.wait_for("All done, the file is written.");
    assert!(screen.contains("Writing the greeting now."), "{screen}");
    assert!(
        screen.contains("Bash"),
        "the tool call is on screen:\n{screen}"
    );
    assert!(
        screen.contains(&format!("echo hi > {ws_marker}")),
        "{screen}"
    );
    // The agent's bookkeeping events (token estimates, hooks) draw no empty `· system` line.
    assert!(
        !screen
            .lines()
            .any(|l| l.trim() == "·" || l.trim_start().starts_with("· system")),
        "{screen}"
    );

    // A slow turn, interrupted with Esc.
    pane.keys(&["think slowly", "Enter"]);
    pane.wait_for("running");
    std::thread::sleep(Duration::from_millis(500));
    pane.keys(&["Escape"]);
    let screen = pane.wait_for("interrupted");
    assert!(
        !screen.contains("Pondering for a long while"),
        "the slow answer never finished:\n{screen}"
    );
}

#[test]
fn typing_during_a_permission_prompt_neither_allows_nor_denies() {
    let chat = Chat::start(
        "prompt",
        Script::new()
            .on(
                When::UserSays("clean the build".into()),
                Reply::tool(
                    "Bash",
                    json!({"command": "rm -rf build", "description": "clean"}),
                ),
            )
            .on(
                When::ToolResultContains("".into()),
                Reply::text("Cleaned it."),
            )
            .always(
                When::UserSays("queued during modal".into()),
                Reply::text("Got the queued note."),
            ),
    );
    let pane = &chat.pane;
    pane.keys(&["clean the build", "Enter"]);
    pane.wait_for("permission");
    // Typed ahead: the `d` of "queued" and the `a` of "modal" were once answers.
    pane.keys(&["queued during modal"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let screen = loop {
        let s = pane.screen();
        if message_box(&s).contains("queued during modal") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the text never reached the message box:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Give a wrongly sent answer time to come back from the server before looking.
    std::thread::sleep(Duration::from_secs(1));
    let screen_later = pane.screen();
    for s in [&screen, &screen_later] {
        assert!(s.contains("permission"), "the prompt is still open:\n{s}");
        assert!(s.contains("Bash asked"), "nothing was decided:\n{s}");
        assert!(
            !s.contains("Bash allowed") && !s.contains("Bash denied"),
            "{s}"
        );
        assert!(!s.contains("Cleaned it."), "{s}");
    }
    assert!(
        message_box(&screen_later).contains("queued during modal"),
        "the text is in the message box:\n{screen_later}"
    );

    // A deliberate answer: Tab takes the keyboard, Left moves to Deny, Enter answers.
    pane.keys(&["Tab"]);
    pane.wait_for("[Allow once]");
    pane.keys(&["Left"]);
    pane.wait_for("[Deny]");
    pane.keys(&["Enter"]);
    let screen = pane.wait_for("Bash denied");
    assert!(!screen.contains("[Deny]"), "the prompt closed:\n{screen}");
    // The typed text is still there, and Enter sends it as a message.
    assert!(
        message_box(&screen).contains("queued during modal"),
        "{screen}"
    );
    pane.keys(&["Enter"]);
    pane.wait_for("Got the queued note.");
}

#[test]
fn with_no_server_chat_starts_its_own_and_lists_sessions() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = Script::new()
        .always(
            When::UserSays("first question".into()),
            Reply::text("First answer."),
        )
        .start();
    // A config whose server URL nothing listens on: chat must run a server itself, in its own
    // folder: a server of chat's own lets the agent work in the folder chat runs in.
    let pane = embedded_chat("embedded", dir.path(), dir.path(), &mock);
    pane.wait_for("connected");
    pane.keys(&["first question", "Enter"]);
    pane.wait_for("First answer.");
    // The session list shows the new session under its title.
    pane.keys(&["Tab"]);
    let screen = pane.wait_for("sessions");
    assert!(screen.contains("first question"), "{screen}");
    assert!(screen.contains("claude-code"), "{screen}");
    // The embedded server kept its record in the data folder.
    assert!(dir.path().join("data/aisys.db").exists());
    // Two Ctrl-C quit.
    pane.keys(&["C-c"]);
    pane.wait_for("again to quit");
    pane.keys(&["C-c"]);
    let deadline = Instant::now() + SCREEN_WAIT;
    while !tmux(&["list-sessions"]).is_empty() && tmux(&["list-sessions"]).contains(&pane.name) {
        assert!(Instant::now() < deadline, "chat did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `aisys chat` run in `folder` with no server to reach (its config names a dead address), so it
/// starts one of its own; `home` holds its config and data.
fn embedded_chat(
    name: &str,
    home: &std::path::Path,
    folder: &std::path::Path,
    mock: &mock_api::MockAnthropic,
) -> Pane {
    let cfg = home.join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        "[server]\nurl = \"ws://127.0.0.1:9/ws\"\n",
    )
    .unwrap();
    let cmd = format!(
        "cd {folder} && env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} AISYS_CONFIG_DIR={cfg} AISYS_DATA_DIR={home}/data AISYS_CLAUDE_BIN={claude} ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY=test DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 {bin} chat",
        folder = folder.display(),
        home = home.display(),
        cfg = cfg.display(),
        claude = claude().display(),
        url = mock.base_url(),
        bin = env!("CARGO_BIN_EXE_aisys"),
    );
    Pane::start(
        format!("aisys-{name}-{}", std::process::id()),
        100,
        30,
        &cmd,
    )
}

/// Runs `aisys chat` with `args` in a pane whose shell stays after it exits, and returns the
/// screen once it has exited.
fn chat_exit_screen(name: &str, home: &std::path::Path, args: &str) -> String {
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} AISYS_CONFIG_DIR={home}/cfg AISYS_DATA_DIR={home}/data {bin} chat {args}; echo chat-exited-$?; sleep 60",
        home = home.display(),
        bin = env!("CARGO_BIN_EXE_aisys"),
    );
    let pane = Pane::start(
        format!("aisys-{name}-{}", std::process::id()),
        160,
        30,
        &cmd,
    );
    pane.wait_for("chat-exited-")
}

#[test]
fn a_wrong_token_is_named_and_starts_no_server_of_its_own() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let server = Server::start(&dir.path().join("server-data"), &[], &[]);
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("cfg")).unwrap();

    // Given with --server: the rejection is named, with where the token is.
    let screen = chat_exit_screen(
        "badtoken",
        &home,
        &format!("--server {} --token wrong", server.url),
    );
    assert!(screen.contains("the server rejected the token"), "{screen}");
    assert!(
        screen.contains("fix:") && screen.contains("token"),
        "{screen}"
    );
    assert!(!screen.contains("chat-exited-0"), "{screen}");

    // The configured address, a server that listens there, a stale token file: still an error
    // naming the token file, never a second server started in-process.
    std::fs::write(
        home.join("cfg/config.toml"),
        format!("[server]\nurl = \"{}\"\n", server.url),
    )
    .unwrap();
    std::fs::create_dir_all(home.join("data")).unwrap();
    std::fs::write(home.join("data/token"), "stale-token\n").unwrap();
    let screen = chat_exit_screen("stale", &home, "");
    assert!(screen.contains("the server rejected the token"), "{screen}");
    let token_file = home.join("data/token");
    assert!(
        screen.contains(&*token_file.to_string_lossy()),
        "the fix names the token file:\n{screen}"
    );
    assert!(!screen.contains("connected"), "{screen}");
    assert!(
        !home.join("data/aisys.db").exists(),
        "no embedded server was started"
    );

    // Nothing listens: the error says so once, without a doubled prefix.
    let screen = chat_exit_screen("refused", &home, "--server ws://127.0.0.1:9/ws --token x");
    assert!(
        screen.contains("nothing listens at ws://127.0.0.1:9/ws"),
        "{screen}"
    );
    assert_eq!(
        screen.matches("127.0.0.1:9/ws").count(),
        1,
        "the URL is named once:\n{screen}"
    );
}

#[test]
fn a_streamed_answer_appears_piece_by_piece() {
    let parts = [
        "Alpha one. ",
        "Bravo two. ",
        "Charlie three. ",
        "Delta four.",
    ];
    let chat = Chat::start(
        "stream",
        Script::new().on(
            When::UserSays("tell it slowly".into()),
            Reply::Chunked(
                parts.iter().map(|p| p.to_string()).collect(),
                Duration::from_millis(600),
            ),
        ),
    );
    let pane = &chat.pane;
    pane.keys(&["tell it slowly", "Enter"]);
    // How many of the pieces each screen shows; a growing answer passes through several counts.
    let deadline = Instant::now() + SCREEN_WAIT;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let screen = pane.screen();
        let shown = parts
            .iter()
            .take_while(|p| screen.contains(p.trim()))
            .count();
        if shown > 0 {
            seen.insert(shown);
        }
        if shown == parts.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the answer never completed:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        seen.len() >= 3,
        "the answer appeared in {} steps ({seen:?}), not as it streamed",
        seen.len()
    );
    // The complete message replaced the streamed pieces: the answer is on screen once.
    let screen = pane.wait_for("Delta four.");
    assert_eq!(screen.matches("Alpha one.").count(), 1, "{screen}");
}

#[test]
fn the_new_session_dialog_starts_a_session_in_the_folder_chat_runs_in() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("notes.txt"),
        "marker-41c7 in the user's folder\n",
    )
    .unwrap();
    let mock = Script::new()
        .on(
            When::UserSays("show the notes".into()),
            Reply::tool(
                "Bash",
                serde_json::json!({"command": "cat notes.txt", "description": "read"}),
            ),
        )
        .always(
            When::ToolResultContains("marker-41c7".into()),
            Reply::text("The notes say marker-41c7."),
        )
        .start();
    let pane = embedded_chat("dialog", dir.path(), &project, &mock);
    pane.wait_for("connected");
    pane.keys(&["C-n"]);
    let screen = pane.wait_for("permissions");
    assert!(screen.contains("workspace"), "{screen}");
    assert!(screen.contains("project"), "the current folder: {screen}");
    assert!(screen.contains("profile"), "{screen}");
    // To the permissions row; from `default` one step left wraps to bypassPermissions.
    pane.keys(&["Down", "Down", "Down", "Down", "Left"]);
    pane.wait_for("bypassPermissions");
    pane.keys(&["Enter"]);
    pane.keys(&["show the notes", "Enter"]);
    let screen = pane.wait_for("The notes say marker-41c7.");
    assert!(
        !screen.contains("Allow once"),
        "no prompt in bypassPermissions: {screen}"
    );
}

#[test]
fn ctrl_y_copies_the_answer_to_the_clipboard_and_alt_m_frees_the_mouse() {
    // tmux takes OSC 52 into its paste buffer with set-clipboard on, as a terminal takes it into
    // the system clipboard.
    tmux(&["start-server"]);
    let chat = Chat::start(
        "copy",
        Script::new().always(
            When::UserSays("say something".into()),
            Reply::text("The answer worth copying, marker-9e2d."),
        ),
    );
    tmux(&["set-option", "-s", "set-clipboard", "on"]);
    let pane = &chat.pane;
    pane.keys(&["say something", "Enter"]);
    pane.wait_for("marker-9e2d");
    pane.keys(&["C-y"]);
    pane.wait_for("copied");
    let deadline = Instant::now() + SCREEN_WAIT;
    loop {
        let buffer = Command::new("tmux")
            .args(["show-buffer"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if buffer.contains("The answer worth copying, marker-9e2d.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not in tmux's buffer: {buffer:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    pane.keys(&["M-m"]);
    pane.wait_for("the terminal selects text");
}

#[test]
fn a_draft_typed_while_disconnected_is_kept_and_sent_after_the_reconnect() {
    // Rules look for a prompt anywhere in the conversation: the later one goes first.
    let mut chat = Chat::start(
        "draft",
        Script::new()
            .always(
                When::UserSays("second question".into()),
                Reply::text("Second answer."),
            )
            .always(
                When::UserSays("first question".into()),
                Reply::text("First answer."),
            ),
    );
    chat.pane.keys(&["first question", "Enter"]);
    chat.pane.wait_for("success");
    chat.server.kill9();
    chat.pane.wait_for("disconnected");
    chat.pane.keys(&["second question", "Enter"]);
    // Enter did not send it into the void: it stays in the box.
    std::thread::sleep(Duration::from_millis(500));
    let screen = chat.pane.wait_for("disconnected");
    assert!(message_box(&screen).contains("second question"), "{screen}");
    chat.server.restart();
    chat.pane.wait_for("connected again");
    chat.pane.keys(&["Enter"]);
    let screen = chat.pane.wait_for("Second answer.");
    assert!(
        !message_box(&screen).contains("second question"),
        "sent: {screen}"
    );
}

/// A slow turn, cut short by `stop` (a crash or a clean shutdown), then the server started
/// again: the turn is labelled as ended by the restart, not by the user.
fn restart_mid_turn(name: &str, stop: fn(&mut Server)) {
    let mut chat = Chat::start(
        name,
        Script::new().on(
            When::UserSays("think slowly".into()),
            Reply::Slow(
                vec![Block::Text("Pondering for a long while".into())],
                Duration::from_secs(30),
            ),
        ),
    );
    chat.pane.keys(&["think slowly", "Enter"]);
    chat.pane.wait_for("running");
    // The agent is waiting for the model: the turn is truly under way.
    let deadline = Instant::now() + SCREEN_WAIT;
    while !chat
        ._mock
        .requests()
        .iter()
        .any(|r| r.to_string().contains("think slowly"))
    {
        assert!(Instant::now() < deadline, "the agent never asked the model");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(&mut chat.server);
    chat.pane.wait_for("disconnected");
    chat.server.restart();
    let screen = chat.pane.wait_for("interrupted by a server restart");
    assert!(
        screen.contains("the server stopped before this turn ended"),
        "{screen}"
    );
    assert!(
        !screen.contains("Request interrupted by user"),
        "labelled as a restart, not as the user's interrupt:\n{screen}"
    );
    // The session is left stopped, as the status line says; the next message resumes it.
    let deadline = Instant::now() + SCREEN_WAIT;
    loop {
        let screen = chat.pane.screen();
        if screen.lines().last().is_some_and(|l| l.contains("stopped")) {
            break;
        }
        assert!(Instant::now() < deadline, "not stopped:\n{screen}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

#[test]
fn a_turn_cut_short_by_a_server_crash_says_so() {
    restart_mid_turn("crash", Server::kill9);
}

#[test]
fn a_turn_cut_short_by_a_clean_server_shutdown_says_so() {
    restart_mid_turn("shutdown", |server| {
        let status = server.terminate();
        assert!(status.success(), "the server shut down cleanly: {status}");
    });
}
