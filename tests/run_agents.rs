//! `aisys run` end to end: the real Claude Code and OpenCode CLIs, in real bubblewrap sandboxes,
//! driven by the scripted mock model API. What a user sees: files in the workspace, the events,
//! the exit status, and what the sandbox keeps the agent from touching.

mod mock_api;
mod run_harness;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use aisys::types::StreamEvent;
use mock_api::{Block, MockAnthropic, Reply, Script, When};
use run_harness::{Run, events, stderr, tool_calls, tool_results};
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
    assert_eq!(tool_calls(&ev), ["Write", "Bash"]);
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
    assert_eq!(tool_calls(&ev), ["write", "bash"]);
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
    let mock = MockAnthropic::always(Reply::Error {
        status: 529,
        kind: "overloaded_error".into(),
        message: "Overloaded".into(),
    });
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
    let mock = MockAnthropic::always(Reply::slow_text(
        "thinking very slowly about it",
        Duration::from_secs(20),
    ));
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
    let mock = MockAnthropic::always(Reply::slow_text(
        "a long answer that takes a while",
        Duration::from_secs(20),
    ));
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
    let last = mock.last_main_request();
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
    let mock = MockAnthropic::always(Reply::text("Plain answer with `code`."));
    let out = run.run(&mock, &["hi", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plain answer with `code`."));
    let out = run.run(&mock, &["hi", "--format", "json"]);
    let blocks: Vec<aisys::types::ConversationBlock> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(blocks.iter().any(|b| matches!(&b.kind, aisys::types::BlockKind::AssistantText { text } if text.contains("Plain answer"))));
}

/// Runs one Bash command through Claude Code in a sandbox with `limits` flags; returns the run's
/// output and the tool result the model saw.
fn bash_with_limits(command: &str, limits: &[&str]) -> (Output, Vec<StreamEvent>) {
    let run = Run::new();
    let mock = Script::new()
        .on(
            When::UserSays("run it".into()),
            Reply::tool("Bash", json!({"command": command, "description": "run it"})),
        )
        .on(
            When::ToolResultContains("command-ended".into()),
            Reply::text("The command ended."),
        )
        .always(When::Always, Reply::text("The command failed."))
        .start();
    let mut args = vec!["run it", "--format", "jsonl", "-v"];
    args.extend_from_slice(limits);
    let out = run.run(&mock, &args);
    assert_no_cgroups_left(&out);
    let ev = events(&out);
    (out, ev)
}

/// The `error` events of a run, as (code, message).
fn errors(ev: &[StreamEvent]) -> Vec<(String, String)> {
    ev.iter()
        .filter_map(|e| match e {
            StreamEvent::Error { message, code, .. } => {
                Some((code.clone().unwrap_or_default(), message.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Asserts the run reported a `code` error whose message says each of `words`.
fn assert_limit_error(out: &Output, ev: &[StreamEvent], code: &str, words: &[&str]) {
    let errors = errors(ev);
    assert!(
        errors
            .iter()
            .any(|(c, m)| c == code && words.iter().all(|w| m.contains(w))),
        "the limit error is shown: {errors:?}\n{}",
        stderr(out)
    );
}

/// 150 processes started at once: more than a limit of 64 lets run.
const FORK_BOMB: &str =
    "for i in $(seq 150); do sleep 1 >/dev/null 2>&1 & done 2>/dev/null; echo command-ended";

/// Every cgroup the run made (`-v` names them) is gone once it ended.
fn assert_no_cgroups_left(out: &Output) {
    let log = stderr(out);
    let made: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("; cgroups: "))
        .flat_map(|(_, dirs)| dirs.split_whitespace())
        .collect();
    assert!(
        !made.is_empty(),
        "the run says which cgroups it made: {log}"
    );
    for dir in made {
        assert!(!Path::new(dir).exists(), "cgroup {dir} was left behind");
    }
}

#[test]
fn a_fork_bomb_stops_at_max_pids_and_the_user_is_told() {
    let (out, ev) = bash_with_limits(FORK_BOMB, &["--max-pids", "64"]);
    assert_limit_error(
        &out,
        &ev,
        "pids_limit",
        &["process limit (64 processes and threads)", "--max-pids"],
    );
    // The agent itself survived the command and finished its turn.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_allocation_past_max_memory_is_killed_and_the_user_is_told() {
    // The kernel kills the sandbox's largest process: Claude Code counts about 300 MiB (its
    // binary's pages included), so the limit leaves python room to become the largest.
    let (out, ev) = bash_with_limits(
        "python3 -c 'b = bytearray(2 << 30); print(len(b))'; echo command-ended status=$?",
        &["--max-memory", "1G"],
    );
    let results = tool_results(&ev);
    assert!(
        results.iter().any(|r| r.contains("status=137")),
        "python was killed: {results:?}\n{ev:?}\n{}",
        stderr(&out)
    );
    assert_limit_error(
        &out,
        &ev,
        "memory_limit",
        &["memory limit (1 GiB)", "--max-memory"],
    );
    // The agent survived its command and finished the turn.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_normal_turn_runs_within_the_default_limits() {
    let (out, ev) = bash_with_limits(
        "seq 3 | while read i; do sh -c 'echo step' & done; wait; echo command-ended",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(errors(&ev).is_empty(), "{:?}", errors(&ev));
    assert!(
        tool_results(&ev)
            .iter()
            .any(|r| r.contains("command-ended")),
        "{ev:?}"
    );
    // The defaults are in force (by a cgroup on this machine), not merely configured.
    let log = stderr(&out);
    assert!(
        log.contains("sandbox limits: 1024 tasks (cgroup v")
            && log.contains("4 GiB of memory (cgroup v"),
        "{log}"
    );
}

#[test]
fn a_bad_limit_is_refused_before_anything_starts() {
    let run = Run::new();
    let mock = MockAnthropic::always(Reply::text("hi"));
    let out = run.run(&mock, &["hi", "--max-memory", "lots"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--max-memory")
            && err.contains("`lots` is not a size")
            && err.contains("512M"),
        "{err}"
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn a_command_past_max_cpu_time_is_killed() {
    // Each process gets the limit: the spinning shell is stopped, Claude Code (about a second of
    // CPU per turn) finishes its turn.
    let (out, ev) = bash_with_limits(
        "timeout 60 sh -c 'while :; do :; done'; echo command-ended status=$?",
        &["--max-cpu-time", "3s"],
    );
    let results = tool_results(&ev);
    // 128 + SIGXCPU (24): the kernel stopped it at its CPU time.
    assert!(
        results.iter().any(|r| r.contains("status=152")),
        "the spinning command was stopped: {results:?}\n{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn the_host_backend_is_held_to_max_pids_too() {
    let (out, ev) = bash_with_limits(FORK_BOMB, &["--max-pids", "64", "--sandbox", "host"]);
    assert_limit_error(&out, &ev, "pids_limit", &[]);
}

#[test]
fn a_link_planted_in_the_agents_home_does_not_redirect_the_next_turns_config_write() {
    let run = Run::new();
    let victim = run.dir.path().join("host-file.txt");
    std::fs::write(&victim, "the user's own file\n").unwrap();
    let plant = format!(
        "ln -sfn {} ~/.config/opencode/opencode.json && echo planted",
        victim.display()
    );
    let mock = Script::new()
        .on(
            When::UserSays("plant a link".into()),
            Reply::tool("bash", json!({"command": plant, "description": "plant"})),
        )
        .on(
            When::ToolResultContains("planted".into()),
            Reply::text("link planted"),
        )
        .on(When::UserSays("second turn".into()), Reply::text("hello"))
        .start();
    let args = |prompt| [prompt, "--agent", "opencode", "--format", "jsonl"];
    let out = run.run(&mock, &args("plant a link"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        tool_results(&events(&out)).join("\n").contains("planted"),
        "the link was planted"
    );
    // The next turn writes the agent's config again: the link is replaced, not followed.
    let out = run.run(&mock, &args("second turn"));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the user's own file\n",
        "the host file behind the planted link is untouched"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
