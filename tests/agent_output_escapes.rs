//! Agent output is untrusted wherever aisys shows it: terminal control sequences in a tool's
//! output (cursor moves, erase, OSC window title and OSC 52 clipboard writes, bells) never reach
//! stdout, in any format; colour survives only as SGR in coloured terminal text and as styled
//! spans in HTML.

mod common;

use common::run_ok;
use std::process::Command;

use serde_json::json;

const NASTY: &str = "\u{1b}[31mred\u{1b}[0m \u{1b}]52;c;ZXZpbA==\u{7}clip \u{1b}]0;owned\u{1b}\\ \u{1b}[2J\u{1b}[Hhome\u{7}\r\u{9b}6n done";

/// A Claude Code stream: a Bash call whose output carries the sequences above, and an answer
/// that carries them too.
fn stream(dir: &std::path::Path) -> std::path::PathBuf {
    let sid = "0f9c1e2a-1111-4222-8333-944455556666";
    let lines = [
        json!({"type": "system", "subtype": "init", "session_id": sid, "model": "claude-opus-4-8", "tools": [], "cwd": "/home/dev/project"}),
        json!({"type": "assistant", "session_id": sid, "parent_tool_use_id": null, "message": {"id": "msg_1", "role": "assistant", "model": "claude-opus-4-8", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls --color"}}]}}),
        json!({"type": "user", "session_id": sid, "parent_tool_use_id": null, "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": NASTY}]}}),
        json!({"type": "assistant", "session_id": sid, "parent_tool_use_id": null, "message": {"id": "msg_2", "role": "assistant", "model": "claude-opus-4-8", "content": [{"type": "text", "text": format!("Said: {NASTY}")}]}}),
        json!({"type": "result", "subtype": "success", "session_id": sid, "is_error": false, "num_turns": 1, "duration_ms": 10, "result": "ok"}),
    ];
    let p = dir.join("stream.jsonl");
    std::fs::write(
        &p,
        lines
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    p
}

fn parse(file: &std::path::Path, args: &[&str]) -> String {
    let out = run_ok(
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .arg("transcript")
            .arg("parse")
            .arg(file)
            .args(args)
            .env_remove("NO_COLOR"),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every escape sequence in `s`, as the text from ESC up to its final byte (or the bare C1).
fn sequences(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in s.char_indices() {
        if c == '\u{9b}' || c == '\u{7}' || c == '\r' {
            out.push(c.to_string());
        }
        if c == '\u{1b}' {
            let rest = &s[i..];
            let end = rest[1..]
                .find(|c: char| c.is_ascii_alphabetic() || c == '\\' || c == '\u{7}')
                .map(|e| e + 2)
                .unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

#[test]
fn text_without_colour_carries_no_control_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let f = stream(dir.path());
    let text = parse(&f, &["--format", "text", "--color", "never"]);
    assert_eq!(sequences(&text), Vec::<String>::new(), "{text:?}");
    assert!(text.contains("red clip  home"), "{text:?}");
}

#[test]
fn text_with_colour_carries_only_sgr() {
    let dir = tempfile::tempdir().unwrap();
    let f = stream(dir.path());
    let text = parse(&f, &["--format", "text", "--color", "always"]);
    let seqs = sequences(&text);
    assert!(!seqs.is_empty());
    for s in &seqs {
        assert!(
            s.starts_with("\u{1b}[") && s.ends_with('m'),
            "only SGR may reach a terminal, found {s:?} in {text:?}"
        );
    }
    assert!(text.contains("\u{1b}[31mred"), "{text:?}");
}

#[test]
fn markdown_carries_no_control_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let f = stream(dir.path());
    let md = parse(&f, &["--format", "markdown"]);
    assert_eq!(sequences(&md), Vec::<String>::new(), "{md:?}");
}

#[test]
fn html_shows_colour_as_spans_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let f = stream(dir.path());
    let html = parse(&f, &["--format", "html"]);
    assert_eq!(sequences(&html), Vec::<String>::new());
    assert!(!html.contains('\u{fffd}'), "no replacement marks left");
    assert!(
        html.contains("<span style=\"color:#cd3131;\">red</span>"),
        "{html}"
    );
}
