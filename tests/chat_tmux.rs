//! `aisys chat` end to end in tmux: a real `aisys serve`, the real Claude Code CLI in bubblewrap,
//! the scripted mock model. Keys go in with `send-keys`; the screen comes back with
//! `capture-pane`, and the test reads it as a person would.

mod mock_api;
mod serve_harness;

use std::process::Command;
use std::time::{Duration, Instant};

use mock_api::{Block, Reply, Script, When, claude_bin as claude};
use serde_json::json;
use serve_harness::Server;

/// How long the test waits for something to appear on screen.
const SCREEN_WAIT: Duration = Duration::from_secs(45);

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("tmux is needed for this test ({e}): run scripts/install-test-deps")
        });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Pane {
    name: String,
}

impl Pane {
    fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + SCREEN_WAIT;
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what:?} on screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        tmux(&args);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.name]);
    }
}

#[test]
fn chat_shows_the_reply_and_the_tool_call_and_esc_interrupts() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws_marker = "greeting.txt";
    let mock = Script::new()
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
        )
        .start();
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
    let pane = Pane {
        name: format!("aisys-chat-{}", std::process::id()),
    };
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} AISYS_CONFIG_DIR={home}/cfg AISYS_DATA_DIR={home}/data {bin} chat --server {url} --token {token} --new",
        home = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_aisys"),
        url = server.url,
        token = server.token,
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &pane.name,
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    pane.wait_for("connected");

    pane.keys(&["make a greeting", "Enter"]);
    // The default permission mode asks before Bash runs: the modal appears; allow it.
    pane.wait_for("permission");
    pane.keys(&["a"]);
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
fn with_no_server_chat_starts_its_own_and_lists_sessions() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = Script::new()
        .always(
            When::UserSays("first question".into()),
            Reply::text("First answer."),
        )
        .start();
    // A config whose server URL nothing listens on: chat must run a server itself.
    let cfg = dir.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        "[server]\nurl = \"ws://127.0.0.1:9/ws\"\n",
    )
    .unwrap();
    let pane = Pane {
        name: format!("aisys-embedded-{}", std::process::id()),
    };
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} AISYS_CONFIG_DIR={cfg} AISYS_DATA_DIR={home}/data AISYS_CLAUDE_BIN={claude} ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY=test DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 {bin} chat",
        home = dir.path().display(),
        cfg = cfg.display(),
        claude = claude().display(),
        url = mock.base_url(),
        bin = env!("CARGO_BIN_EXE_aisys"),
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &pane.name,
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
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
