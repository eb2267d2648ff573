//! `aisys run --sandbox modal` end to end: the real binary, the real bridge program and the real
//! Claude Code CLI driven by the mock model, with the fake `modal` package (tests/fake_modal)
//! standing in for Modal's cloud by running each sandbox's processes locally. Upload, exec,
//! stream, sync back, terminate, tags, resume from the home volume, and Ctrl-C.

mod mock_api;
mod run_harness;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aisys::types::StreamEvent;
use mock_api::{Block, MockAnthropic, Reply, Script, When, claude_bin};
use run_harness::output_within;
use serde_json::{Value, json};

/// Longest a scripted run may take before the test fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(120);

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Fake {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        std::fs::create_dir_all(dir.path().join("local-ws")).unwrap();
        Fake { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The workspace as the sandbox sees it (a host folder, since the fake runs locally).
    fn remote_ws(&self) -> PathBuf {
        self.path("remote/ws")
    }

    fn command(&self, mock: &MockAnthropic, args: &[&str]) -> Command {
        let agent_dir = claude_bin().parent().unwrap().to_path_buf();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisys"));
        cmd.arg("run")
            .args(args)
            .args([
                "--sandbox",
                "modal",
                "--agent",
                "claude-code",
                "--workspace",
            ])
            .arg(self.path("local-ws"))
            .env_clear()
            // Inside the fake sandbox `claude` is found on PATH, as in the real image.
            .env("PATH", format!("{}:/usr/bin:/bin", agent_dir.display()))
            .env("HOME", self.dir.path())
            .env("AISYS_CONFIG_DIR", self.path("cfg"))
            .env("AISYS_DATA_DIR", self.path("data"))
            .env("AISYS_MODAL_WORKDIR", self.remote_ws())
            .env("AISYS_MODAL_HOME", self.path("remote/home"))
            .env(
                "PYTHONPATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake_modal"),
            )
            .env("FAKE_MODAL_STATE", self.path("state"))
            .env("MODAL_TOKEN_ID", "ak-test")
            .env("MODAL_TOKEN_SECRET", "as-test")
            .env("ANTHROPIC_BASE_URL", mock.base_url())
            .env("ANTHROPIC_API_KEY", "test-key")
            .env("DISABLE_TELEMETRY", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, mock: &MockAnthropic, args: &[&str]) -> Output {
        output_within(&mut self.command(mock, args), RUN_LIMIT)
    }

    /// The fake's records of every sandbox it created.
    fn sandboxes(&self) -> Vec<Value> {
        let dir = self.path("state/sandboxes");
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap());
            }
        }
        out
    }
}

fn events(out: &Output) -> Vec<StreamEvent> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a StreamEvent: {l}: {e}")))
        .collect()
}

fn session_id(ev: &[StreamEvent]) -> String {
    ev.iter()
        .find_map(|e| match e {
            StreamEvent::SessionStarted {
                agent_session_id, ..
            } => agent_session_id.clone(),
            _ => None,
        })
        .expect("a session id")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}\nstdout: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_turn_runs_in_a_modal_sandbox_and_syncs_back_then_resumes() {
    let fake = Fake::new();
    std::fs::write(
        fake.path("local-ws/notes.txt"),
        "uploaded before the turn\n",
    )
    .unwrap();
    let hello = fake.remote_ws().join("hello.txt");
    let mock = Script::new()
        .on(
            When::UserSays("create hello.txt".into()),
            Reply::Message(vec![
                Block::Text("Writing it.".into()),
                Block::ToolUse {
                    name: "Write".into(),
                    input: json!({"file_path": hello, "content": "hello from modal\n"}),
                },
            ]),
        )
        .on(
            When::ToolResultContains("created".into()),
            Reply::tool("Bash", json!({"command": "cat notes.txt hello.txt"})),
        )
        .on(
            When::ToolResultContains("hello from modal".into()),
            Reply::text("Done in the sandbox."),
        )
        .on(
            When::UserSays("what did you write".into()),
            Reply::text("hello.txt, earlier."),
        )
        .start();
    let out = fake.run(
        &mock,
        &["create hello.txt", "--format", "jsonl", "--sync-back"],
    );
    ok(&out);
    let ev = events(&out);
    // The Bash call saw the uploaded file and the written one, inside the sandbox's workdir.
    let bash = ev
        .iter()
        .find_map(|e| match e {
            StreamEvent::ToolResult { content, .. } => {
                let t = serde_json::to_string(content).unwrap();
                t.contains("uploaded before the turn").then_some(t)
            }
            _ => None,
        })
        .expect("the Bash result");
    assert!(bash.contains("hello from modal"), "{bash}");
    // --sync-back brought the new file home.
    assert_eq!(
        std::fs::read_to_string(fake.path("local-ws/hello.txt")).unwrap(),
        "hello from modal\n"
    );
    // The sandbox was tagged with the session and terminated when the run ended.
    let boxes = fake.sandboxes();
    assert_eq!(boxes.len(), 1, "{boxes:?}");
    assert_eq!(boxes[0]["terminated"], true);
    assert_eq!(
        boxes[0]["tags"]["aisys.managed"], "true",
        "{}",
        boxes[0]["tags"]
    );

    // --resume in a new sandbox: the agent's home came back from the volume, so Claude Code
    // sends the earlier conversation with the new prompt.
    let id = session_id(&ev);
    let before = mock.requests().len();
    let out = fake.run(
        &mock,
        &["what did you write?", "--format", "jsonl", "--resume", &id],
    );
    ok(&out);
    let asked = &mock.requests()[before..];
    assert!(
        asked.iter().any(|r| {
            let t = r["messages"].to_string();
            t.contains("create hello.txt") && t.contains("what did you write")
        }),
        "the resumed request carries the first turn"
    );
    assert_eq!(
        fake.sandboxes()
            .iter()
            .filter(|b| b["terminated"] == true)
            .count(),
        2
    );
}

#[test]
fn ctrl_c_ends_the_run_and_terminates_the_sandbox() {
    let fake = Fake::new();
    let mock = Script::new()
        .on(
            When::UserSays("slowly".into()),
            Reply::Slow(
                vec![Block::Text("one two three ".repeat(50))],
                Duration::from_millis(200),
            ),
        )
        .start();
    let child = fake
        .command(&mock, &["answer slowly", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the sandbox to exist and the model to be asked.
    let deadline = std::time::Instant::now() + RUN_LIMIT;
    while mock
        .requests()
        .iter()
        .all(|r| !r["messages"].to_string().contains("slowly"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never asked the model"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let boxes = fake.sandboxes();
    assert_eq!(boxes.len(), 1);
    assert_eq!(
        boxes[0]["terminated"], true,
        "Ctrl-C leaves no sandbox running"
    );
    // And no process of it is left.
    for pid in boxes[0]["pids"].as_array().unwrap() {
        let pid = pid.as_i64().unwrap();
        let alive = unsafe { libc::kill(pid as i32, 0) } == 0;
        assert!(
            !alive || zombie(pid),
            "process {pid} of the sandbox still runs"
        );
    }
}

fn zombie(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2) == Some("Z"))
        .unwrap_or(true)
}

/// Extra environment for a run, and what its error must say.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn modal_errors_end_the_run_with_status_3_and_a_fix() {
    let fake = Fake::new();
    let mock = Script::new().start();
    let run_with = |extra: &[(&str, &str)]| {
        let mut cmd = fake.command(&mock, &["hello", "--format", "jsonl"]);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    let cases: [Case; 4] = [
        (
            &[("AISYS_MODAL_PYTHON", "/nonexistent/python3")],
            &["Python 3", "pip install 'modal>=1.6,<2'"],
        ),
        // No SDK on the path: the fake is not found, and no user site either.
        (
            &[("PYTHONPATH", ""), ("PYTHONNOUSERSITE", "1")],
            &["pip install 'modal>=1.6,<2'"],
        ),
        (
            &[("FAKE_MODAL_FAIL_CREATE", "AuthError")],
            &["AuthError", "modal token new"],
        ),
        (
            &[("FAKE_MODAL_FAIL_EXEC", "SandboxTimeoutError")],
            &["SandboxTimeoutError"],
        ),
    ];
    for (env, wanted) in cases {
        let out = run_with(env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{env:?}: {err}");
        for w in wanted {
            assert!(err.contains(w), "{env:?}: {w:?} not in: {err}");
        }
    }
    // Nothing was left running by the failures.
    assert!(fake.sandboxes().iter().all(|b| b["terminated"] == true));
}

#[test]
fn ask_without_a_terminal_is_refused_before_any_sandbox() {
    let fake = Fake::new();
    let mock = Script::new().start();
    let out = fake
        .command(&mock, &["hello", "--ask", "--format", "jsonl"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Refused before Modal was asked for anything: no sandbox was ever created.
    let created = std::fs::read_dir(fake.path("state/sandboxes"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(created, 0, "a sandbox was created first: {err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--ask needs a terminal"), "{err}");
    assert!(err.contains("--allow-tool"), "the fix is named: {err}");
}

#[test]
fn the_modal_sandbox_receives_the_agent_profile_in_its_home() {
    let fake = Fake::new();
    let claude = fake.path(".claude");
    std::fs::create_dir_all(claude.join("skills/hello")).unwrap();
    std::fs::write(
        claude.join("skills/hello/SKILL.md"),
        "---\nname: hello\ndescription: Say hello\n---\nSay hello.\n",
    )
    .unwrap();
    std::fs::write(claude.join(".credentials.json"), "{\"secret\": \"cred\"}").unwrap();
    let script = fake.path("tiny.py");
    std::fs::write(
        &script,
        "import sys, json\nfor line in sys.stdin:\n    m = json.loads(line)\n    if 'id' not in m: continue\n    r = {'protocolVersion': m['params']['protocolVersion'], 'capabilities': {}, 'serverInfo': {'name': 't', 'version': '1'}} if m['method'] == 'initialize' else {'tools': []}\n    print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': r}), flush=True)\n",
    )
    .unwrap();
    std::fs::write(
        fake.path(".claude.json"),
        json!({"mcpServers": {"tiny": {"command": "python3", "args": [script]}}}).to_string(),
    )
    .unwrap();
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let out = fake.run(&mock, &["go", "--format", "jsonl"]);
    ok(&out);
    let loaded = events(&out)
        .into_iter()
        .find_map(|e| match e {
            StreamEvent::SessionStarted { loaded, .. } => loaded,
            _ => None,
        })
        .expect("what the agent loaded");
    assert!(loaded.skills.iter().any(|s| s == "hello"), "{loaded:#?}");
    assert!(
        loaded
            .mcp_servers
            .iter()
            .any(|m| m.name == "tiny" && m.status == "connected"),
        "{loaded:#?}"
    );
    // The files arrived through the fake SDK's file API, under the sandbox's home.
    let home = fake.path("remote/home");
    assert!(home.join(".claude/skills/hello/SKILL.md").is_file());
    assert!(home.join(".aisys/mcp/tiny/tiny.py").is_file());
    assert!(!home.join(".claude/.credentials.json").exists());
}
