//! `aisys transcript list` through the real binary, on a Claude Code home laid out here from the
//! recorded transcripts in tests/fixtures (or `AISYS_FIXTURES_DIR`) and a few written by hand.

mod fixtures;

use fixtures::fixture;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn list(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "list"])
        .args(args)
        .env("TZ", "UTC")
        .env("CLAUDE_CONFIG_DIR", home)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const RECORDED: &str = "c4874699-780c-4178-8969-7009171d1413";

/// A home with: the recorded 2.1.197 session (3 prompts and tool results, 3 responses, the
/// first written as 3 lines); a hand-written newer session that starts with a slash command and
/// has a subagent file; an older session with no `cwd`.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("projects");
    let work = p.join("-home-dev-project");
    let app = p.join("-home-u-app");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(app.join("new-session/subagents")).unwrap();
    std::fs::copy(
        fixture("claude-code-2.1.197/transcript-tool-run.jsonl"),
        work.join(format!("{RECORDED}.jsonl")),
    )
    .unwrap();
    let line = |v: Value| v.to_string();
    let new = [
        line(
            json!({"type": "user", "cwd": "/home/u/app", "timestamp": "2026-12-26T09:00:00Z",
            "message": {"role": "user", "content": "<command-name>/clear</command-name>"}}),
        ),
        line(
            json!({"type": "user", "isMeta": true, "cwd": "/home/u/app", "timestamp": "2026-12-26T09:00:01Z",
            "message": {"role": "user", "content": "Caveat: generated"}}),
        ),
        line(
            json!({"type": "user", "cwd": "/home/u/app", "timestamp": "2026-12-26T09:01:00Z",
            "message": {"role": "user", "content": [{"type": "text", "text": "add a\n   README"}]}}),
        ),
        line(
            json!({"type": "assistant", "cwd": "/home/u/app", "timestamp": "2026-12-26T09:01:05Z",
            "message": {"id": "msg_a", "role": "assistant", "content": [{"type": "text", "text": "ok"}]}}),
        ),
        line(
            json!({"type": "assistant", "cwd": "/home/u/app", "timestamp": "2026-12-26T09:01:06Z",
            "message": {"id": "msg_a", "role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Write", "input": {}}]}}),
        ),
        line(
            json!({"type": "user", "cwd": "/home/u/app", "timestamp": "2026-12-26T09:01:07Z",
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "done"}]}}),
        ),
        line(json!({"type": "summary", "summary": "README", "leafUuid": "x"})),
    ];
    std::fs::write(app.join("new-session.jsonl"), new.join("\n") + "\n").unwrap();
    std::fs::write(
        app.join("new-session/subagents/agent-1.jsonl"),
        line(json!({"type": "user", "timestamp": "2026-12-27T00:00:00Z", "message": {"role": "user", "content": "sub"}})) + "\n",
    )
    .unwrap();
    let old = [line(
        json!({"type": "user", "timestamp": "2025-01-02T03:04:05Z",
        "message": {"role": "user", "content": "hello"}}),
    )];
    std::fs::write(app.join("old-session.jsonl"), old.join("\n") + "\n").unwrap();
    dir
}

#[test]
fn sessions_are_listed_newest_first_with_their_summary() {
    let h = home();
    let o = list(h.path(), &["--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = v["sessions"].as_array().unwrap();
    let ids: Vec<&str> = s.iter().map(|s| s["id"].as_str().unwrap()).collect();
    // The subagent file is part of new-session, not a session of its own.
    assert_eq!(ids, ["new-session", RECORDED, "old-session"]);

    let new = &s[0];
    assert_eq!(new["project_dir"], "/home/u/app");
    assert_eq!(new["first_prompt"], "add a README");
    assert_eq!(new["started"], "2026-12-26T09:00:00Z");
    assert_eq!(new["last_activity"], "2026-12-26T09:01:07Z");
    // /clear, the prompt, one response in two lines, one tool result (the meta line is not).
    assert_eq!(new["messages"], 4);

    let rec = &s[1];
    assert_eq!(rec["project_dir"], "/home/dev/project");
    assert_eq!(rec["first_prompt"], "create hello.txt with a greeting");
    assert_eq!(rec["started"], "2026-12-02T04:08:21.182Z");
    assert_eq!(rec["last_activity"], "2026-12-02T04:08:23.324Z");
    // 3 user lines (the prompt and two tool results) and 3 responses (msg_1 on three lines).
    assert_eq!(rec["messages"], 6);

    let old = &s[2];
    assert_eq!(
        old["project_dir"], "-home-u-app",
        "no cwd: the project folder's name"
    );
    assert_eq!(old["messages"], 1);
    assert!(
        old["path"].as_str().unwrap().ends_with("old-session.jsonl"),
        "{old}"
    );
}

#[test]
fn table_has_a_row_per_session_in_order() {
    let h = home();
    let o = list(h.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for col in [
        "Last activity",
        "Started",
        "Messages",
        "Session",
        "Project",
        "First prompt",
    ] {
        assert!(lines[0].contains(col), "{}", lines[0]);
    }
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with("2026-12-26 09:01"), "{}", lines[1]);
    assert!(lines[1].contains("new-session") && lines[1].contains("add a README"));
    assert!(lines[2].contains(RECORDED) && lines[2].contains("/home/dev/project"));
    assert!(lines[3].starts_with("2025-01-02 03:04") && lines[3].contains("old-session"));
}

#[test]
fn a_bad_line_is_reported_and_the_rest_listed() {
    let h = home();
    let f = h.path().join("projects/-home-u-app/old-session.jsonl");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("{\"type\":\"user\",\"message\n");
    std::fs::write(&f, text).unwrap();
    let o = list(h.path(), &["--format", "json"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains(&format!("{}:2: not JSON", f.display())),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 3);
}

#[test]
fn no_projects_folder_is_named_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = list(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let want = dir.path().join("projects").display().to_string();
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    // `aisys transcript list | head -1`: the pipe is closed before aisys writes.
    let h = home();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "list", "--format", "json"])
        .env("CLAUDE_CONFIG_DIR", h.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Broken pipe"), "{}", stderr(&o));
}

#[test]
fn a_subagent_prompt_before_the_main_one_is_not_the_first_prompt() {
    // Claude Code 1.0.x wrote subagents inline as sidechain lines; one can come first in the file.
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("projects/-home-u-lab");
    std::fs::create_dir_all(&work).unwrap();
    let lines = [
        json!({"type": "user", "isSidechain": true, "cwd": "/home/u/lab", "timestamp": "2026-11-02T10:00:00Z",
               "message": {"role": "user", "content": "Search the codebase for the parser"}}),
        json!({"type": "user", "isSidechain": false, "cwd": "/home/u/lab", "timestamp": "2026-11-02T10:00:01Z",
               "message": {"role": "user", "content": "Why does the parser fail on empty input?"}}),
    ];
    std::fs::write(
        work.join("side.jsonl"),
        lines
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let o = list(dir.path(), &["--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["sessions"][0]["first_prompt"],
        "Why does the parser fail on empty input?"
    );
}
