//! `aisys transcript parse` through the real binary, on the recorded agent output in
//! ../shared/fixtures (or `AISYS_FIXTURES_DIR`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use aisys::types::{BlockKind, ConversationBlock, ToolStatus};

fn fixture(rel: &str) -> PathBuf {
    let dir = std::env::var("AISYS_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        });
    let p = dir.join(rel);
    assert!(
        p.exists(),
        "fixture {} is missing (set AISYS_FIXTURES_DIR)",
        p.display()
    );
    p
}

fn parse(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn blocks(out: &Output) -> Vec<ConversationBlock> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn tools(b: &[ConversationBlock]) -> Vec<(String, ToolStatus)> {
    b.iter()
        .filter_map(|b| match &b.kind {
            BlockKind::ToolCall { name, status, .. } => Some((name.clone(), *status)),
            _ => None,
        })
        .collect()
}

#[test]
fn claude_stream_json_becomes_paired_tool_calls() {
    let f = fixture("claude-code-2.1.197/stream-json-tool-run.jsonl");
    let out = parse(&[f.to_str().unwrap(), "--format", "jsonl"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = blocks(&out);
    assert_eq!(
        tools(&b),
        [
            ("Write".to_string(), ToolStatus::Ok),
            ("Bash".to_string(), ToolStatus::Ok)
        ]
    );
    assert!(matches!(
        b.last().unwrap().kind,
        BlockKind::TurnSummary { .. }
    ));
}

#[test]
fn opencode_json_and_a_claude_transcript_are_detected() {
    let out = parse(
        &[fixture("opencode-1.18.33/run-format-json-tool-run.jsonl")
            .to_str()
            .unwrap()],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        tools(&blocks(&out))
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["write", "bash"]
    );
    let out = parse(
        &[fixture("claude-code-2.1.197/transcript-tool-run.jsonl")
            .to_str()
            .unwrap()],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = blocks(&out);
    assert!(b.iter().any(
        |b| matches!(&b.kind, BlockKind::UserMessage { text, .. } if text.contains("hello.txt"))
    ));
    assert_eq!(tools(&b).len(), 2);
}

#[test]
fn stdin_markdown_and_events() {
    let text =
        std::fs::read_to_string(fixture("claude-code-2.1.197/stream-json-tool-run.jsonl")).unwrap();
    let out = parse(&["-", "--format", "markdown"], Some(&text));
    assert!(out.status.success());
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("**Write**"), "{md}");
    let out = parse(&["--events"], Some(&text));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "session_started");
}

#[test]
fn bad_lines_are_reported_with_file_and_line_and_the_rest_is_converted() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(fixture("claude-code-2.1.197/stream-json-tool-run.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "{this is not json");
    let f = dir.path().join("broken.jsonl");
    std::fs::write(&f, lines.join("\n")).unwrap();
    let out = parse(&[f.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3: not JSON", f.display())),
        "{err}"
    );
    assert_eq!(tools(&blocks(&out)).len(), 2, "the rest is still converted");
    let out = parse(&[f.to_str().unwrap(), "--strict"], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty(), "strict stops before printing");
}

#[test]
fn a_missing_input_and_unbuilt_options_say_so() {
    let out = parse(&["/nonexistent/x.jsonl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.jsonl"));
    let f = fixture("claude-code-2.1.197/stream-json-tool-run.jsonl");
    let out = parse(&[f.to_str().unwrap(), "--format", "html"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not implemented yet"));
}
