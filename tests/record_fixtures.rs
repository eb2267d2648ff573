//! Records the agent output in tests/fixtures/ with the pinned real CLIs (Claude Code and OpenCode
//! from .test-deps) against the scripted mock model, offline, with a clean environment.
//!
//! With `AISYS_RECORD_FIXTURES=1` (scripts/record-fixtures) the recordings are (re)written in
//! tests/fixtures/. Otherwise they are recorded into a temporary folder and compared with the
//! committed ones: each must still have the same shape (the sequence of line `type`/`subtype`
//! values, or of an export's message roles and part types), so a CLI whose output has changed shape
//! fails here and says how to re-record. It never writes in the repository unless asked to.

mod mock_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mock_api::{
    Block, CLAUDE_STREAM_JSON_IO, MockAnthropic, Reply, Script, When, claude_command,
    opencode_command, write_opencode_config,
};
use serde_json::{Value, json};

/// The stable home that every temporary home is rewritten to in the recordings.
const STABLE_HOME: &str = "/home/dev";

/// The prompt of every recorded run.
const PROMPT: &str = "create hello.txt with a greeting";

/// What the mock has the agent write into hello.txt.
const GREETING: &str = "Good morning from the fixture recorder!\n";

/// The recorded files, by their path inside tests/fixtures.
const CLAUDE_STREAM: &str = "claude-code-2.1.197/stream-json-tool-run.jsonl";
const CLAUDE_CONTROL: &str = "claude-code-2.1.197/stream-json-stdin-control.jsonl";
const CLAUDE_TRANSCRIPT: &str = "claude-code-2.1.197/transcript-tool-run.jsonl";
const OPENCODE_RUN: &str = "opencode-1.18.33/run-format-json-tool-run.jsonl";
const OPENCODE_EXPORT: &str = "opencode-1.18.33/export-tool-run.json";
/// The stream of the run with a subagent.
const CLAUDE_SUBAGENT_STREAM: &str = "claude-code-2.1.197/stream-json-subagent.jsonl";
/// The folder holding the session with a subagent as Claude Code keeps it: `<session>.jsonl` and
/// `<session>/subagents/agent-<id>.jsonl` with its `.meta.json`.
const CLAUDE_SUBAGENT_DIR: &str = "claude-code-2.1.197/transcript-subagent";

/// The prompt of the run with a subagent.
const SUBAGENT_PROMPT: &str = "count the lines of notes.txt with a helper";
/// The prompt the main conversation gives the subagent.
const SUBAGENT_TASK: &str = "Count the lines of notes.txt and report the number.";
/// What notes.txt holds in the run with a subagent.
const NOTES: &str = "flour\nsugar\neggs\n";

/// A temporary home with the workspace `project` in it; rewritten to /home/dev(/project).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("project")).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn ws(&self) -> PathBuf {
        self.path().join("project")
    }

    /// The text with this home's paths, plain and in Claude Code's encoded folder form, made stable.
    fn stable(&self, text: &str) -> String {
        let home = self.path().to_str().unwrap();
        let encoded = |p: &str| p.replace(['/', '.'], "-");
        // OpenCode also names files by their path without its leading slash.
        let relative = |p: &'static str| p.trim_start_matches('/');
        text.replace(home, STABLE_HOME)
            .replace(home.trim_start_matches('/'), relative(STABLE_HOME))
            .replace(&encoded(home), &encoded(STABLE_HOME))
    }

    /// Fails the test unless `agent` wrote the greeting into the workspace's hello.txt.
    fn assert_greeting_written(&self, agent: &str) {
        let written = std::fs::read_to_string(self.ws().join("hello.txt"));
        assert_eq!(
            written.ok().as_deref(),
            Some(GREETING),
            "{agent} wrote hello.txt"
        );
    }

    /// `claude ARGS` in the workspace with nothing of this machine's environment but PATH.
    fn claude(&self, mock: &MockAnthropic, args: &[&str]) -> Command {
        let mut c = claude_command(mock, self.path(), &self.ws());
        c.args(args);
        c
    }

    /// `opencode ARGS` in the workspace, its data, config, cache and state inside this home.
    fn opencode(&self, args: &[&str]) -> Command {
        let xdg = [".local/share", ".config", ".cache", ".local/state"];
        let mut c = opencode_command(self.path(), &self.ws(), xdg);
        c.args(args);
        c
    }
}

/// The mock's script for a tool run: a thinking block, text and a write call; after the write,
/// a bash call that shows the file; after that, a final text.
fn tool_run_script(write: &str, wrote: &str, bash: &str, file: &Path) -> Script {
    let path_key = if write == "Write" {
        "file_path"
    } else {
        "filePath"
    };
    Script::new()
        .on(
            When::UserSays(PROMPT.into()),
            Reply::Message(vec![
                Block::Thinking("A greeting file is wanted; I will write it, then show it.".into()),
                Block::Text("Writing hello.txt now.".into()),
                Block::ToolUse {
                    name: write.into(),
                    input: json!({path_key: file, "content": GREETING}),
                },
            ]),
        )
        .on(
            When::ToolResultContains(wrote.into()),
            Reply::tool(
                bash,
                json!({"command": "cat hello.txt", "description": "Show hello.txt"}),
            ),
        )
        .on(
            When::ToolResultContains("Good morning".into()),
            Reply::text("Done: hello.txt says good morning."),
        )
}

fn ok_stdout(what: &str, out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn session_id(lines: &str, key: &str) -> String {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v[key].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {key} in the output:\n{lines}"))
}

/// Records the three Claude Code files into `out`.
fn record_claude(out: &Path) {
    let home = Home::new();
    let mock = tool_run_script("Write", "created", "Bash", &home.ws().join("hello.txt")).start();
    let stream = ok_stdout(
        "claude -p",
        home.claude(
            &mock,
            &[
                "-p",
                PROMPT,
                "--output-format",
                "stream-json",
                "--verbose",
                "--allowedTools",
                "Write Bash Read",
            ],
        )
        .stdin(Stdio::null())
        .output()
        .unwrap(),
    );
    home.assert_greeting_written("Claude Code");
    let id = session_id(&stream, "session_id");
    let transcript = std::fs::read_dir(home.path().join(".claude/projects"))
        .unwrap()
        .flatten()
        .map(|d| d.path().join(format!("{id}.jsonl")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no transcript of session {id}"));
    write(out, CLAUDE_STREAM, &home.stable(&stream));
    write(
        out,
        CLAUDE_TRANSCRIPT,
        &home.stable(&std::fs::read_to_string(transcript).unwrap()),
    );

    // The control protocol, in the same workspace: hello.txt is there now and was not read in
    // this session, so the Write call fails as a tool error.
    let mock = tool_run_script("Write", "created", "Bash", &home.ws().join("hello.txt"))
        .on(
            When::ToolResultContains("has not been read".into()),
            Reply::text("hello.txt is already there; I left it as it was."),
        )
        .start();
    let mut child = home
        .claude(&mock, &CLAUDE_STREAM_JSON_IO)
        .args(["--permission-prompt-tool", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = [
        json!({"type": "control_request", "request_id": "req_init",
               "request": {"subtype": "initialize"}}),
        json!({"type": "user", "session_id": "", "parent_tool_use_id": null,
               "message": {"role": "user", "content": [{"type": "text", "text": PROMPT}]}}),
    ];
    let mut stdin = child.stdin.take().unwrap();
    for l in &input {
        std::io::Write::write_all(&mut stdin, format!("{l}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    let control = ok_stdout(
        "claude -p --input-format stream-json",
        child.wait_with_output().unwrap(),
    );
    write(out, CLAUDE_CONTROL, &home.stable(&control));
}

/// The mock's script for a run with a subagent: the main conversation calls `Agent` (the name
/// Claude Code 2.1.197 offers the model; its `system/init` line lists the tool as `Task`); the
/// subagent's own requests (its prompt is the task, so its rule comes first: a prompt is looked
/// for in all user text) run `wc -l` and report; after the `Agent` result the main conversation
/// answers.
fn subagent_script() -> Script {
    Script::new()
        .on(
            When::UserSays(SUBAGENT_TASK.into()),
            Reply::Message(vec![
                Block::Text("Counting with wc.".into()),
                Block::ToolUse {
                    name: "Bash".into(),
                    input: json!({"command": "wc -l notes.txt", "description": "Count the lines of notes.txt"}),
                },
            ]),
        )
        .on(
            When::ToolResultContains("3 notes.txt".into()),
            Reply::text("notes.txt has 3 lines."),
        )
        .on(
            When::UserSays(SUBAGENT_PROMPT.into()),
            Reply::Message(vec![
                Block::Text("I will ask a helper to count them.".into()),
                Block::ToolUse {
                    name: "Agent".into(),
                    input: json!({"description": "Count notes.txt lines", "prompt": SUBAGENT_TASK,
                                  "subagent_type": "general-purpose"}),
                },
            ]),
        )
        .on(
            When::ToolResultContains("has 3 lines".into()),
            Reply::text("The helper counted 3 lines in notes.txt."),
        )
}

/// Records the run with a subagent into `out`: its stream and its session folder.
fn record_claude_subagent(out: &Path) {
    let home = Home::new();
    std::fs::write(home.ws().join("notes.txt"), NOTES).unwrap();
    let mock = subagent_script().start();
    let stream = ok_stdout(
        "claude -p (subagent)",
        home.claude(
            &mock,
            &[
                "-p",
                SUBAGENT_PROMPT,
                "--output-format",
                "stream-json",
                "--verbose",
                "--allowedTools",
                "Agent Bash Read",
            ],
        )
        .stdin(Stdio::null())
        .output()
        .unwrap(),
    );
    assert!(
        stream.contains("The helper counted 3 lines in notes.txt."),
        "the main conversation did not answer after its subagent:\n{stream}"
    );
    let id = session_id(&stream, "session_id");
    let project = std::fs::read_dir(home.path().join(".claude/projects"))
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .find(|p| p.join(format!("{id}.jsonl")).exists())
        .unwrap_or_else(|| panic!("no transcript of session {id}"));
    let subagents = project.join(&id).join("subagents");
    let agents = subagent_files(&subagents);
    assert!(
        agents.iter().any(|f| f.ends_with(".jsonl"))
            && agents.iter().any(|f| f.ends_with(".meta.json")),
        "no subagent transcript with its .meta.json in {}: {agents:?}",
        subagents.display()
    );
    write(out, CLAUDE_SUBAGENT_STREAM, &home.stable(&stream));
    let dir = out.join(CLAUDE_SUBAGENT_DIR);
    // A re-recording names the session and agent afresh: the old ones go.
    let _ = std::fs::remove_dir_all(&dir);
    let rel = format!("{CLAUDE_SUBAGENT_DIR}/{id}");
    write(
        out,
        &format!("{rel}.jsonl"),
        &home.stable(&std::fs::read_to_string(project.join(format!("{id}.jsonl"))).unwrap()),
    );
    for f in agents {
        write(
            out,
            &format!("{rel}/subagents/{f}"),
            &home.stable(&std::fs::read_to_string(subagents.join(&f)).unwrap()),
        );
    }
}

/// The file names in a `subagents` folder, sorted.
fn subagent_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Records the two OpenCode files into `out`.
fn record_opencode(out: &Path) {
    let home = Home::new();
    let mock = tool_run_script("write", "Wrote", "bash", &home.ws().join("hello.txt")).start();
    write_opencode_config(&home.ws(), &mock);
    let run = ok_stdout(
        "opencode run",
        home.opencode(&["run", "--format", "json", "--auto", PROMPT])
            .output()
            .unwrap(),
    );
    home.assert_greeting_written("OpenCode");
    let id = session_id(&run, "sessionID");
    let export = ok_stdout(
        "opencode export",
        home.opencode(&["export", &id]).output().unwrap(),
    );
    write(out, OPENCODE_RUN, &home.stable(&run));
    write(out, OPENCODE_EXPORT, &home.stable(&export));
}

fn write(out: &Path, rel: &str, text: &str) {
    let p = out.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
}

/// The shape of a recording: per JSON line its `type`/`subtype`; for an export document, per
/// message its role and the types of its parts.
fn shape(rel: &str, text: &str) -> Vec<String> {
    if rel.ends_with(".json") {
        let doc: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{rel} is not one JSON document: {e}"));
        return doc["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("{rel} has no messages array"))
            .iter()
            .map(|m| {
                let parts: Vec<&str> = m["parts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["type"].as_str())
                    .collect();
                format!(
                    "{} [{}]",
                    m["info"]["role"].as_str().unwrap_or("?"),
                    parts.join(" ")
                )
            })
            .collect();
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{rel}: a line is not JSON ({e}): {l}"));
            let sub = v["subtype"]
                .as_str()
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            format!("{}{sub}", v["type"].as_str().unwrap_or("?"))
        })
        .collect()
}

/// The shape of a recorded session folder: the session's lines, then per subagent (in file name
/// order, which the ids make arbitrary, so sorted by shape) its lines' shape and its
/// `.meta.json`'s keys.
fn session_dir_shape(dir: &Path) -> Vec<String> {
    let session = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (record it with scripts/record-fixtures)",
                dir.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap_or_else(|| panic!("no session file in {}", dir.display()));
    let rel = session.display().to_string();
    let mut out = shape(&rel, &std::fs::read_to_string(&session).unwrap());
    let subagents = session.with_extension("").join("subagents");
    let mut agents: Vec<String> = subagent_files(&subagents)
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(subagents.join(&f)).unwrap();
            if f.ends_with(".meta.json") {
                let meta: Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{f} is not JSON: {e}"));
                let mut keys: Vec<&str> = meta
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.as_str())
                    .collect();
                keys.sort();
                format!("meta {{{}}}", keys.join(" "))
            } else {
                format!("agent [{}]", shape(&f, &text).join(" "))
            }
        })
        .collect();
    agents.sort();
    out.extend(agents);
    out
}

/// The committed fixtures, a temporary folder, and the folder this run records into: the
/// committed one with `AISYS_RECORD_FIXTURES=1`, else the temporary one.
fn fixture_folders() -> (PathBuf, tempfile::TempDir, PathBuf) {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let recording = std::env::var("AISYS_RECORD_FIXTURES").is_ok_and(|v| v == "1");
    let tmp = tempfile::tempdir().unwrap();
    let out = if recording {
        committed.clone()
    } else {
        tmp.path().to_path_buf()
    };
    (committed, tmp, out)
}

fn assert_same_shape(rel: &str, old: Vec<String>, now: Vec<String>) {
    assert_eq!(
        old, now,
        "tests/fixtures/{rel} no longer has the shape the pinned CLI gives \
         (left: committed, right: now); re-record with scripts/record-fixtures"
    );
}

#[test]
fn the_committed_subagent_recording_matches_what_claude_code_produces_now() {
    let (committed, _tmp, out) = fixture_folders();
    let out = out.as_path();
    record_claude_subagent(out);
    let rel = CLAUDE_SUBAGENT_STREAM;
    let old = std::fs::read_to_string(committed.join(rel)).unwrap_or_else(|e| {
        panic!("tests/fixtures/{rel}: {e} (record it with scripts/record-fixtures)")
    });
    let now = std::fs::read_to_string(out.join(rel)).unwrap();
    assert_same_shape(rel, shape(rel, &old), shape(rel, &now));
    assert_same_shape(
        CLAUDE_SUBAGENT_DIR,
        session_dir_shape(&committed.join(CLAUDE_SUBAGENT_DIR)),
        session_dir_shape(&out.join(CLAUDE_SUBAGENT_DIR)),
    );
}

#[test]
fn the_committed_recordings_match_what_the_pinned_clis_produce_now() {
    let (committed, _tmp, out) = fixture_folders();
    let out = out.as_path();
    std::thread::scope(|s| {
        s.spawn(|| record_claude(out));
        s.spawn(|| record_opencode(out));
    });
    for rel in [
        CLAUDE_STREAM,
        CLAUDE_CONTROL,
        CLAUDE_TRANSCRIPT,
        OPENCODE_RUN,
        OPENCODE_EXPORT,
    ] {
        let now = std::fs::read_to_string(out.join(rel)).unwrap();
        let old = std::fs::read_to_string(committed.join(rel)).unwrap_or_else(|e| {
            panic!("tests/fixtures/{rel}: {e} (record it with scripts/record-fixtures)")
        });
        assert_same_shape(rel, shape(rel, &old), shape(rel, &now));
    }
}
