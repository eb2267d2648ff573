//! The harness itself, proven with the real agent CLIs and nothing of aisys in between: the
//! scripted mock model drives `claude -p` and `opencode run` to write a file with their own
//! tools, and the test sees the file and the agents' JSON lines.

mod common;
mod mock_api;

use common::run_ok;
use std::path::PathBuf;

use mock_api::{
    Block, Reply, Script, When, claude_command, opencode_command, write_opencode_config,
};
use serde_json::{Value, json};

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A temporary home with an empty workspace `ws` in it.
fn home_with_ws() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    (dir, ws)
}

#[test]
fn claude_code_writes_a_file_driven_by_the_mock() {
    let (dir, ws) = home_with_ws();
    let file = ws.join("hello.txt");
    let mock = Script::new()
        .on(
            When::UserSays("create hello.txt".into()),
            Reply::Message(vec![
                Block::Text("Creating it.".into()),
                Block::ToolUse {
                    name: "Write".into(),
                    input: json!({"file_path": file, "content": "hi\n"}),
                },
            ]),
        )
        .on(
            When::ToolResultContains("created".into()),
            Reply::text("Done."),
        )
        .start();
    let out = run_ok(claude_command(&mock, dir.path(), &ws).args([
        "-p",
        "create hello.txt",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Write",
    ]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hi\n");
    let l = lines(&out.stdout);
    assert_eq!(
        (l[0]["type"].as_str(), l[0]["subtype"].as_str()),
        (Some("system"), Some("init"))
    );
    assert!(
        l.iter()
            .any(|x| x["type"] == "assistant" && x["message"]["content"][0]["type"] == "tool_use")
    );
    assert!(
        l.iter()
            .any(|x| x["type"] == "user" && x["message"]["content"][0]["type"] == "tool_result")
    );
    let last = l.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["subtype"].as_str()),
        (Some("result"), Some("success"))
    );
    // The mock saw the tool result come back.
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.to_string().contains("tool_result"))
    );
}

#[test]
fn opencode_writes_a_file_driven_by_the_mock() {
    let (dir, ws) = home_with_ws();
    let file = ws.join("hello.txt");
    let mock = Script::new()
        .on(
            When::UserSays("create hello.txt".into()),
            Reply::tool("write", json!({"filePath": file, "content": "hi\n"})),
        )
        .on(
            When::ToolResultContains("Wrote".into()),
            Reply::text("Done."),
        )
        .start();
    write_opencode_config(&ws, &mock);
    let out = run_ok(
        opencode_command(dir.path(), &ws, ["data", "config", "cache", "state"]).args([
            "run",
            "--format",
            "json",
            "--auto",
            "create hello.txt",
        ]),
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hi\n");
    let l = lines(&out.stdout);
    let tool = l
        .iter()
        .find(|x| x["type"] == "tool_use")
        .expect("a tool_use line");
    assert_eq!(tool["part"]["tool"], "write");
    assert_eq!(tool["part"]["state"]["status"], "completed");
    assert!(
        l.iter()
            .any(|x| x["type"] == "text" && x["part"]["text"] == "Done.")
    );
}
