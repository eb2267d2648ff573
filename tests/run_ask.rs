//! `aisys run --ask` on a real terminal (tmux): each tool request is asked on the terminal, and
//! the answer decides.

mod mock_api;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mock_api::{Reply, Script, When};
use serde_json::json;

/// How long the test waits for the prompt or the end of the run.
const WAIT: Duration = Duration::from_secs(45);

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("tmux is needed ({e}): run scripts/install-test-deps"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(pane: &str, what: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = tmux(&["capture-pane", "-p", "-t", pane]);
        if s.contains(what) {
            return s;
        }
        assert!(Instant::now() < deadline, "never saw {what:?}:\n{s}");
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn ask_run(answer: &str) -> (bool, String) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let file = ws.canonicalize().unwrap().join("asked.txt");
    let mock = Script::new()
        .on(
            When::UserSays("make the file".into()),
            Reply::tool("Write", json!({"file_path": file, "content": "ok\n"})),
        )
        .always(When::Always, Reply::text("finished"))
        .start();
    let claude = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-deps/node_modules/@anthropic-ai/claude-code-linux-x64/claude");
    assert!(claude.exists(), "run scripts/install-test-deps");
    let pane = format!("aisys-ask-{}-{answer}", std::process::id());
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin TERM=xterm HOME={home} AISYS_CONFIG_DIR={home}/cfg AISYS_DATA_DIR={home}/data AISYS_CLAUDE_BIN={claude} ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY=test DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 {bin} run 'make the file' --ask --workspace {ws} --format pretty; echo EXIT=$?; sleep 30",
        home = dir.path().display(),
        claude = claude.display(),
        url = mock.base_url(),
        bin = env!("CARGO_BIN_EXE_aisys"),
        ws = ws.display(),
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &pane,
        "-x",
        "120",
        "-y",
        "30",
        &cmd,
    ]);
    let screen = wait_for(&pane, "[y/N]");
    assert!(screen.contains("Allow Write"), "{screen}");
    tmux(&["send-keys", "-t", &pane, answer, "Enter"]);
    let screen = wait_for(&pane, "EXIT=");
    tmux(&["kill-session", "-t", &pane]);
    (file.exists(), screen)
}

#[test]
fn ask_yes_runs_the_tool() {
    let (written, screen) = ask_run("y");
    assert!(written, "{screen}");
    assert!(screen.contains("permission allowed by user"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[test]
fn ask_no_denies_it() {
    let (written, screen) = ask_run("n");
    assert!(!written, "{screen}");
    assert!(screen.contains("permission denied by user"), "{screen}");
}
