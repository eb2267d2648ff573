//! `aisys transcript list` through the real binary, on a Claude Code home laid out here from the
//! recorded transcripts in tests/fixtures (or `AISYS_FIXTURES_DIR`) and a few written by hand.

mod fixtures;

use fixtures::fixture;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn list(home: &Path, args: &[&str]) -> Output {
    fixtures::transcript_in(home, "list", args)
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
    assert_eq!(new["title"], "README", "the summary line");
    assert_eq!(new["short_id"], "new-sess");
    assert_eq!(new["duration_s"], 67);
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
    assert_eq!(rec["title"], Value::Null);
    assert_eq!(rec["short_id"], &RECORDED[..8]);
    // Each of the 3 responses reported 120 input, 30 output and 80 cache-read tokens.
    assert_eq!(rec["input_tokens"], 360);
    assert_eq!(rec["output_tokens"], 90);
    assert_eq!(rec["cache_read_tokens"], 240);
    assert_eq!(rec["total_tokens"], 690);
    assert!(rec["cost_usd"].as_f64().unwrap() > 0.0, "{rec}");
    assert_eq!(
        rec["path"].as_str().unwrap(),
        h.path()
            .join(format!("projects/-home-dev-project/{RECORDED}.jsonl"))
            .display()
            .to_string(),
        "the path whole"
    );

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
        "Started",
        "Duration",
        "Messages",
        "Tokens",
        "Cost",
        "Session",
        "Project",
        "Title",
        "First prompt",
    ] {
        assert!(lines[0].contains(col), "{}", lines[0]);
    }
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with("2026-12-26 09:00"), "{}", lines[1]);
    assert!(lines[1].contains("new-sess") && lines[1].contains("add a README"));
    assert!(lines[1].contains("README  "), "the title: {}", lines[1]);
    assert!(lines[2].contains(&RECORDED[..8]) && lines[2].contains("/home/dev/project"));
    assert!(lines[3].starts_with("2025-01-02 03:04") && lines[3].contains("old-sess"));
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

/// A home with one project folder holding `files` (name, text).
fn home_with(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("projects/-home-dev-weather");
    std::fs::create_dir_all(&work).unwrap();
    for (name, text) in files {
        std::fs::write(work.join(name), text).unwrap();
    }
    dir
}

#[test]
fn a_recorded_1_0_session_whose_subagent_comes_first_shows_the_main_prompt() {
    // Claude Code 1.0.98 wrote a subagent's lines inline, and here before the main prompt.
    let text = std::fs::read_to_string(fixture("handwritten/sidechain-first-1.0.jsonl")).unwrap();
    let first_line = text.lines().nth(1).unwrap();
    assert!(
        first_line.contains("\"isSidechain\":true"),
        "the fixture starts with the subagent: {first_line}"
    );
    let id = "9d2c5e71-4b0a-4f38-b6d1-2e8c7a5f0b93";
    let h = home_with(&[(&format!("{id}.jsonl"), text)]);
    let o = list(h.path(), &["--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["sessions"][0];
    assert_eq!(
        s["first_prompt"],
        "Why does the forecast page show yesterday's date?"
    );
    assert_eq!(s["title"], "Forecast page shows yesterday's date");
    assert_eq!(s["started"], "2025-07-10T09:00:00Z");
    assert_eq!(s["duration_s"], 14);
    // Four responses, the subagent's two included (one written as two lines).
    assert_eq!(s["input_tokens"], 60 + 40 + 70 + 110);
    assert_eq!(s["output_tokens"], 25 + 12 + 16 + 30);

    // The table, at 80 columns, shows it on one line.
    let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "list"])
        .env("TZ", "UTC")
        .env("COLUMNS", "80")
        .env("CLAUDE_CONFIG_DIR", h.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[..4], ["2025-07-10", "09:00", "14s", "363"], "{table}");
    assert!(lines[1].contains("9d2c5e71  Forecast page"), "{table}");
}

#[test]
fn a_slash_command_the_model_answered_is_the_first_prompt() {
    let line = |v: Value| v.to_string() + "\n";
    let text = [
        // A local command (Claude Code ran it and wrote its output) is not a prompt.
        line(
            json!({"type": "user", "timestamp": "2026-03-01T10:00:00Z", "message": {"role": "user",
            "content": "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args></command-args>"}}),
        ),
        line(
            json!({"type": "user", "timestamp": "2026-03-01T10:00:01Z", "message": {"role": "user",
            "content": "<local-command-stdout>Set model to opus</local-command-stdout>"}}),
        ),
        line(
            json!({"type": "user", "timestamp": "2026-03-01T10:00:02Z", "message": {"role": "user",
            "content": "<command-message>review is running…</command-message>\n<command-name>/review</command-name>\n<command-args>src/forecast.py</command-args>"}}),
        ),
        line(
            json!({"type": "user", "isMeta": true, "timestamp": "2026-03-01T10:00:02Z", "message": {"role": "user",
            "content": [{"type": "text", "text": "Review the file for bugs."}]}}),
        ),
        line(
            json!({"type": "assistant", "timestamp": "2026-03-01T10:00:09Z", "message": {"id": "m1", "role": "assistant",
            "content": [{"type": "text", "text": "Looks fine."}]}}),
        ),
        line(json!({"type": "custom-title", "customTitle": "Forecast review", "sessionId": "cmd"})),
    ]
    .concat();
    let h = home_with(&[("cmd.jsonl", text)]);
    let o = list(h.path(), &["--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sessions"][0]["first_prompt"], "/review src/forecast.py");
    assert_eq!(v["sessions"][0]["title"], "Forecast review");
}

#[test]
fn the_full_table_has_each_sessions_file_to_copy() {
    let h = home();
    let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "list"])
        .env("TZ", "UTC")
        .env_remove("COLUMNS")
        .env("CLAUDE_CONFIG_DIR", h.path())
        .env("HOME", "/nonexistent")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.lines().next().unwrap().contains("File"), "{text}");
    let file = h
        .path()
        .join("projects")
        .read_dir()
        .unwrap()
        .flat_map(|p| p.unwrap().path().read_dir().unwrap())
        .map(|f| f.unwrap().path())
        .find(|f| f.to_string_lossy().contains(RECORDED))
        .expect("the recorded session's file");
    assert!(text.contains(&*file.to_string_lossy()), "{text}");
}

#[test]
fn the_table_fits_80_columns() {
    let h = home();
    for columns in ["80", "99", "100", "140"] {
        let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["transcript", "list"])
            .env("TZ", "UTC")
            .env("COLUMNS", columns)
            .env("CLAUDE_CONFIG_DIR", h.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        let width: usize = columns.parse().unwrap();
        for l in text.lines() {
            assert!(
                l.chars().count() <= width,
                "COLUMNS={columns}: {} columns: {l:?}",
                l.chars().count()
            );
        }
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains(&RECORDED[..8]), "{text}");
    }
}
