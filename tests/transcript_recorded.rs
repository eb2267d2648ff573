//! `aisys transcript parse` on transcripts recorded by this test itself: the real Claude Code CLI
//! runs against the scripted mock model, and what it leaves in its projects folder is parsed.
//! Covers a resumed multi-turn session, a Task subagent, a tool error, an API error mid-turn and
//! an interrupted turn; and OpenCode's `run --format json` output and `export` document of a
//! session with a tool error.

mod mock_api;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aisys::types::{BlockKind, ConversationBlock, ToolStatus};
use mock_api::{
    Block, CLAUDE_STREAM_JSON_IO, MockAnthropic, Reply, Script, When, claude_command,
    opencode_command, write_opencode_config,
};
use serde_json::{Value, json};

/// A home for Claude Code and a workspace to run it in.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        Home { dir }
    }

    fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    fn projects(&self) -> PathBuf {
        self.dir.path().join(".claude/projects")
    }

    fn claude(&self, mock: &MockAnthropic, args: &[&str]) -> Command {
        let mut c = claude_command(mock, self.dir.path(), &self.ws());
        c.args(args);
        c
    }

    /// `claude -p PROMPT` with stream-json output; its lines.
    fn run(&self, mock: &MockAnthropic, prompt: &str, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["-p", prompt, "--output-format", "stream-json", "--verbose"];
        args.extend_from_slice(extra);
        let out = self.claude(mock, &args).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The session transcripts Claude Code wrote (not its subagent files).
    fn transcripts(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for project in std::fs::read_dir(self.projects()).unwrap().flatten() {
            for f in std::fs::read_dir(project.path()).unwrap().flatten() {
                let p = f.path();
                if p.extension().is_some_and(|e| e == "jsonl")
                    && !p
                        .file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .starts_with("agent-")
                {
                    out.push(p);
                }
            }
        }
        out
    }
}

fn parse(input: &Path, extra: &[&str]) -> (Output, Vec<ConversationBlock>) {
    let out = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse", "--format", "jsonl"])
        .args(extra)
        .arg(input)
        .output()
        .unwrap();
    let blocks = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (out, blocks)
}

/// `parse` with no options, which must exit with 0 (its stderr is the failure message).
fn parse_ok(input: &Path) -> Vec<ConversationBlock> {
    let (out, blocks) = parse(input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    blocks
}

fn prompts(b: &[ConversationBlock]) -> Vec<String> {
    b.iter()
        .filter_map(|b| match &b.kind {
            BlockKind::UserMessage { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn texts(b: &[ConversationBlock]) -> Vec<String> {
    b.iter()
        .filter_map(|b| match &b.kind {
            BlockKind::AssistantText { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn session_id(lines: &[Value]) -> String {
    lines
        .iter()
        .find_map(|l| l["session_id"].as_str())
        .expect("a session id in the output")
        .to_string()
}

#[test]
fn a_resumed_session_reads_as_one_conversation_in_order() {
    let home = Home::new();
    let mock = Script::new()
        .on(
            When::UserSays("remember".into()),
            Reply::text("I will remember banana."),
        )
        .on(
            When::UserSays("which word".into()),
            Reply::text("The word was banana."),
        )
        .start();
    let first = home.run(&mock, "remember the word banana", &[]);
    let id = session_id(&first);
    home.run(&mock, "which word was it?", &["--resume", &id]);
    let b = parse_ok(&home.projects());
    assert_eq!(
        prompts(&b),
        ["remember the word banana", "which word was it?"]
    );
    assert_eq!(
        texts(&b),
        ["I will remember banana.", "The word was banana."]
    );
    // --session picks it out by the id Claude Code gave it.
    let (_, only) = parse(&home.projects(), &["--session", &id]);
    assert_eq!(prompts(&only), prompts(&b));
}

#[test]
fn a_task_subagent_nests_under_its_call() {
    let home = Home::new();
    let mock = Script::new()
        .on(
            When::UserSays("delegate".into()),
            Reply::tool(
                "Task",
                json!({"description": "count the files", "prompt": "count the files in the workspace",
                       "subagent_type": "general-purpose"}),
            ),
        )
        .on(When::UserSays("count the files".into()), Reply::text("There are no files."))
        .on(When::ToolResultContains("no files".into()), Reply::text("The subagent found no files."))
        .start();
    let lines = home.run(&mock, "delegate the counting", &["--allowedTools", "Task"]);
    assert!(
        lines.iter().any(|l| l["type"] == "result"),
        "the run ended: {lines:?}"
    );
    let transcript = home.transcripts().pop().expect("a transcript");
    let b = parse_ok(&transcript);
    let run = b
        .iter()
        .find_map(|b| match &b.kind {
            BlockKind::SubagentRun { blocks, status, .. } => Some((blocks.clone(), *status)),
            _ => None,
        })
        .expect("a subagent run block");
    assert_eq!(run.1, ToolStatus::Ok);
    assert_eq!(texts(&run.0), ["There are no files."], "{:?}", run.0);
    assert_eq!(prompts(&run.0), ["count the files in the workspace"]);
    // The subagent's words are inside its run only.
    assert_eq!(texts(&b), ["The subagent found no files."]);
    let (_, without) = parse(&transcript, &["--no-sidechains"]);
    assert!(without.iter().all(|b| match &b.kind {
        BlockKind::SubagentRun { blocks, .. } => blocks.is_empty(),
        _ => true,
    }));
}

#[test]
fn a_tool_error_and_an_api_error_show_as_such() {
    let home = Home::new();
    let mock = Script::new()
        .on(
            When::UserSays("read it".into()),
            Reply::tool("Read", json!({"file_path": "/nonexistent/nothing.txt"})),
        )
        .on(
            When::ToolResultContains("".into()),
            Reply::Error {
                status: 400,
                kind: "invalid_request_error".into(),
                message: "the mock refuses this request".into(),
            },
        )
        .start();
    home.run(&mock, "read it", &["--allowedTools", "Read"]);
    let transcript = home.transcripts().pop().expect("a transcript");
    let b = parse_ok(&transcript);
    let read = b
        .iter()
        .find_map(|b| match &b.kind {
            BlockKind::ToolCall { name, status, .. } if name == "Read" => Some(*status),
            _ => None,
        })
        .expect("the Read call");
    assert_eq!(read, ToolStatus::Error);
    let error = b
        .iter()
        .find_map(|b| match &b.kind {
            BlockKind::Error { message, code } => Some((message.clone(), code.clone())),
            _ => None,
        })
        .expect("an error block");
    assert!(
        error.0.contains("the mock refuses this request"),
        "{error:?}"
    );
    assert_eq!(error.1.as_deref(), Some("api_error_400"));
}

#[test]
fn an_interrupted_turn_is_marked() {
    let home = Home::new();
    let mock = Script::new()
        .on(
            When::UserSays("write a long story".into()),
            Reply::Slow(
                vec![Block::Text("Once upon a time ".repeat(40))],
                Duration::from_millis(150),
            ),
        )
        .start();
    let mut child = home
        .claude(&mock, &CLAUDE_STREAM_JSON_IO)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let user = json!({"type": "user", "session_id": "", "parent_tool_use_id": null,
                      "message": {"role": "user", "content": "write a long story"}});
    writeln!(stdin, "{user}").unwrap();
    // Wait until the model's reply has started, then interrupt.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("\"system\"") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(800));
    let interrupt = json!({"type": "control_request", "request_id": "int-1",
                           "request": {"subtype": "interrupt"}});
    writeln!(stdin, "{interrupt}").unwrap();
    let mut rest = String::new();
    while stdout.read_line(&mut line).unwrap_or(0) > 0 {
        rest.push_str(&line);
        if line.contains("\"type\":\"result\"") {
            break;
        }
        line.clear();
    }
    drop(stdin);
    let _ = child.wait();
    let transcript = home.transcripts().pop().expect("a transcript");
    let b = parse_ok(&transcript);
    assert_eq!(prompts(&b)[0], "write a long story");
    assert!(
        b.iter().any(|b| matches!(&b.kind,
            BlockKind::SystemNotice { kind, text } if kind == "interrupted" && text.contains("interrupted by user"))),
        "the interruption shows as a notice: {b:?}\nstdout after the interrupt: {rest}"
    );
}

#[test]
fn opencode_run_output_and_its_export_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let mock = Script::new()
        .on(
            When::UserSays("look around".into()),
            Reply::tool("read", json!({"filePath": ws.join("missing.txt")})),
        )
        .on(
            When::ToolResultContains("".into()),
            Reply::tool(
                "bash",
                json!({"command": "echo hi from bash", "description": "say hi"}),
            ),
        )
        .on(
            When::ToolResultContains("hi from bash".into()),
            Reply::text("Looked around."),
        )
        .start();
    write_opencode_config(&ws, &mock);
    let opencode = |args: &[&str]| {
        opencode_command(dir.path(), &ws, ["data", "config", "cache", "state"])
            .args(args)
            .output()
            .unwrap()
    };
    let run = opencode(&["run", "--format", "json", "--auto", "look around"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run_file = dir.path().join("run.jsonl");
    std::fs::write(&run_file, &run.stdout).unwrap();
    let session = String::from_utf8_lossy(&run.stdout)
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()?
                .get("sessionID")?
                .as_str()
                .map(str::to_string)
        })
        .expect("a session id in the run's output");
    let export = opencode(&["export", &session]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let export_file = dir.path().join("export.json");
    // The export may be preceded by a line of its own; keep the document.
    let text = String::from_utf8_lossy(&export.stdout);
    let start = text.find('{').expect("a JSON document");
    std::fs::write(&export_file, &text[start..]).unwrap();

    let tools = |b: &[ConversationBlock]| -> Vec<(String, ToolStatus)> {
        b.iter()
            .filter_map(|b| match &b.kind {
                BlockKind::ToolCall { name, status, .. } => Some((name.clone(), *status)),
                _ => None,
            })
            .collect()
    };
    let from_run = parse_ok(&run_file);
    let from_export = parse_ok(&export_file);
    let expected = vec![
        ("read".to_string(), ToolStatus::Error),
        ("bash".to_string(), ToolStatus::Ok),
    ];
    assert_eq!(tools(&from_run), expected, "{from_run:?}");
    assert_eq!(tools(&from_export), expected, "{from_export:?}");
    assert!(texts(&from_run).contains(&"Looked around.".to_string()));
    assert!(texts(&from_export).contains(&"Looked around.".to_string()));
    // The export also has the prompt, which the run's output does not repeat.
    assert!(
        prompts(&from_export)
            .iter()
            .any(|p| p.contains("look around"))
    );
}
