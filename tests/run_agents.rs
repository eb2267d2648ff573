//! `aisys run` end to end: the real Claude Code and OpenCode CLIs, in real bubblewrap sandboxes,
//! driven by the scripted mock model API. What a user sees: files in the workspace, the events,
//! the exit status, and what the sandbox keeps the agent from touching.

mod mock_api;
mod run_harness;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use aisys::types::StreamEvent;
use mock_api::{Block, MockAnthropic, Reply, Script, When};
use run_harness::{Run, events, stderr, tool_results};
use serde_json::json;

/// `written` is what the agent's write tool says on success.
fn write_then_bash(
    write: &str,
    path_key: &str,
    bash: &str,
    written: &str,
    file: &Path,
) -> MockAnthropic {
    Script::new()
        .on(
            When::UserSays("create hello.txt".into()),
            Reply::Message(vec![
                Block::Thinking("The user wants a file.".into()),
                Block::Text("I'll create the file.".into()),
                Block::ToolUse {
                    name: write.into(),
                    input: json!({path_key: file, "content": "hello from the agent\n"}),
                },
            ]),
        )
        .on(
            When::ToolResultContains(written.into()),
            Reply::tool(
                bash,
                json!({"command": "cat hello.txt", "description": "show it"}),
            ),
        )
        .on(
            When::ToolResultContains("hello from the agent".into()),
            Reply::text("Done: hello.txt has a greeting."),
        )
        .start()
}

#[test]
fn claude_code_writes_and_runs_in_the_sandbox() {
    let run = Run::new();
    let file = run.workspace.join("hello.txt");
    let mock = write_then_bash("Write", "file_path", "Bash", "created successfully", &file);
    let out = run.run(
        &mock,
        &["create hello.txt with a greeting", "--format", "jsonl"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "hello from the agent\n"
    );
    let ev = events(&out);
    assert!(
        matches!(ev.first(), Some(StreamEvent::SessionStarted { .. })),
        "{ev:?}"
    );
    let calls: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(calls, ["Write", "Bash"]);
    assert!(
        tool_results(&ev)
            .iter()
            .any(|r| r.contains("hello from the agent")),
        "the Bash output came back"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, StreamEvent::PermissionDecision { .. })),
        "decisions are events"
    );
    assert!(matches!(
        ev.last(),
        Some(StreamEvent::Result {
            status: aisys::types::TurnStatus::Success,
            ..
        })
    ));
    // The model saw both tool results.
    assert!(mock.requests().len() >= 3);
}

#[test]
fn opencode_writes_and_runs_in_the_sandbox() {
    let run = Run::new();
    let file = run.workspace.join("hello.txt");
    let mock = write_then_bash("write", "filePath", "bash", "Wrote file", &file);
    let out = run.run(
        &mock,
        &[
            "create hello.txt with a greeting",
            "--agent",
            "opencode",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "hello from the agent\n"
    );
    let ev = events(&out);
    let calls: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(calls, ["write", "bash"]);
    assert!(matches!(
        ev.last(),
        Some(StreamEvent::Result {
            status: aisys::types::TurnStatus::Success,
            ..
        })
    ));
}

#[test]
fn the_agent_cannot_read_host_secrets_write_outside_or_see_host_variables() {
    let run = Run::new();
    let secret = run.dir.path().join("host-home/.ssh/id_ed25519");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, "TOP-SECRET-KEY").unwrap();
    let outside = run.dir.path().join("outside.txt");
    let probe = format!(
        "cat {}; echo planted > {}; echo VAR=$AISYS_TEST_HOST_VAR; ls /root; echo done",
        secret.display(),
        outside.display()
    );
    let mock = Script::new()
        .on(
            When::UserSays("probe".into()),
            Reply::tool("Bash", json!({"command": probe})),
        )
        .on(
            When::ToolResultContains("done".into()),
            Reply::text("probed"),
        )
        .start();
    let out = run
        .command(&mock, &["probe", "--format", "jsonl"])
        .env("AISYS_TEST_HOST_VAR", "leaked")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = tool_results(&events(&out)).join("\n");
    assert!(results.contains("done"), "the probe ran: {results}");
    assert!(!results.contains("TOP-SECRET-KEY"), "{results}");
    assert!(!results.contains("leaked"), "{results}");
    assert!(
        !outside.exists(),
        "nothing is written outside the workspace"
    );
}

#[test]
fn a_denied_tool_does_not_run_and_the_decision_is_reported() {
    let run = Run::new();
    let file = run.workspace.join("hello.txt");
    let mock = Script::new()
        .on(
            When::UserSays("create".into()),
            Reply::tool("Write", json!({"file_path": file, "content": "x"})),
        )
        .always(When::Always, Reply::text("understood"))
        .start();
    let out = run.run(
        &mock,
        &[
            "create hello.txt",
            "--deny-tool",
            "Write",
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!file.exists());
    let ev = events(&out);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            StreamEvent::PermissionDecision {
                decision: aisys::types::PermissionDecision::Deny,
                ..
            }
        )),
        "{ev:?}"
    );
}

#[test]
fn an_overloaded_model_fails_the_turn_with_exit_1() {
    let run = Run::new();
    let mock = Script::new()
        .always(
            When::Always,
            Reply::Error {
                status: 529,
                kind: "overloaded_error".into(),
                message: "Overloaded".into(),
            },
        )
        .start();
    let out = run.run(&mock, &["hello", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ev = events(&out);
    match ev.last() {
        Some(StreamEvent::Result {
            status,
            error,
            text,
            ..
        }) => {
            assert_eq!(*status, aisys::types::TurnStatus::Error);
            let msg = format!("{error:?} {text:?}");
            assert!(msg.to_lowercase().contains("overload"), "{msg}");
        }
        other => panic!("no result: {other:?}"),
    }
}

#[test]
fn a_timeout_kills_the_agent_and_exits_124() {
    let run = Run::new();
    let mock = Script::new()
        .always(
            When::Always,
            Reply::Slow(
                vec![Block::Text("thinking very slowly about it".into())],
                Duration::from_secs(20),
            ),
        )
        .start();
    let started = std::time::Instant::now();
    let out = run.run(&mock, &["hello", "--timeout", "3s", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        events(&out).last(),
        Some(StreamEvent::Result {
            status: aisys::types::TurnStatus::Timeout,
            ..
        })
    ));
    std::thread::sleep(Duration::from_millis(300));
    let leftovers = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|c| String::from_utf8_lossy(&c).contains(&mock.base_url()))
                .unwrap_or(false)
        })
        .count();
    assert_eq!(
        leftovers, 0,
        "no process of the sandbox survives the timeout"
    );
}

#[test]
fn ctrl_c_interrupts_the_turn_and_exits_130() {
    let run = Run::new();
    let mock = Script::new()
        .always(
            When::Always,
            Reply::Slow(
                vec![Block::Text("a long answer that takes a while".into())],
                Duration::from_secs(20),
            ),
        )
        .start();
    let child = run
        .command(&mock, &["hello", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the model is being asked, then press Ctrl-C.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while mock
        .requests()
        .iter()
        .all(|r| r["tools"].as_array().is_none_or(|t| t.is_empty()))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never asked the model"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(matches!(
        events(&out).last(),
        Some(StreamEvent::Result {
            status: aisys::types::TurnStatus::Interrupted,
            ..
        })
    ));
}

#[test]
fn resume_continues_the_agents_own_conversation() {
    let run = Run::new();
    let mock = Script::new()
        .on(
            When::UserSays("remember the word zebra".into()),
            Reply::text("I will remember zebra."),
        )
        .on(
            When::UserSays("what was the word".into()),
            Reply::text("It was zebra."),
        )
        .start();
    let out = run.run(&mock, &["remember the word zebra", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = events(&out)
        .iter()
        .find_map(|e| match e {
            StreamEvent::Result {
                agent_session_id, ..
            } => agent_session_id.clone(),
            _ => None,
        })
        .expect("the result names the agent's session");
    let out = run.run(
        &mock,
        &["what was the word", "--resume", &id, "--format", "jsonl"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The resumed request carries the earlier exchange: the agent found its own transcript.
    let last = mock
        .requests()
        .into_iter()
        .rev()
        .find(|r| r["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .unwrap();
    let history = last["messages"].to_string();
    assert!(history.contains("remember the word zebra"), "{history}");
    assert!(history.contains("I will remember zebra."), "{history}");
}

#[test]
fn pretty_output_shows_text_tool_lines_and_a_summary() {
    let run = Run::new();
    let file = run.workspace.join("hello.txt");
    let mock = write_then_bash("Write", "file_path", "Bash", "created successfully", &file);
    let out = run.run(&mock, &["create hello.txt", "--format", "pretty"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("I'll create the file."), "{text}");
    assert!(
        text.contains(&format!("✓ Write {}", file.display())),
        "{text}"
    );
    assert!(text.contains("✓ Bash cat hello.txt"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("done ·"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colors when stdout is not a terminal"
    );
}

#[test]
fn markdown_and_json_print_the_whole_conversation_at_the_end() {
    let run = Run::new();
    let mock = Script::new()
        .always(When::Always, Reply::text("Plain answer with `code`."))
        .start();
    let out = run.run(&mock, &["hi", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plain answer with `code`."));
    let out = run.run(&mock, &["hi", "--format", "json"]);
    let blocks: Vec<aisys::types::ConversationBlock> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(blocks.iter().any(|b| matches!(&b.kind, aisys::types::BlockKind::AssistantText { text } if text.contains("Plain answer"))));
}
