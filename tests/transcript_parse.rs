//! `aisys transcript parse` through the real binary, on the agent output in tests/fixtures
//! (recorded with the pinned CLIs, and hand-written older shapes; or `AISYS_FIXTURES_DIR`).

mod common;
mod fixtures;

use fixtures::fixture;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use aisys::types::{BlockKind, ConversationBlock, ToolStatus};

fn parse(args: &[&str], stdin: Option<&str>) -> Output {
    common::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["transcript", "parse"])
            .args(args),
        stdin,
    )
}

/// `parse`, which must exit with 0 (its stderr is the failure message).
fn parse_ok(args: &[&str], stdin: Option<&str>) -> Output {
    let out = parse(args, stdin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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
    let out = parse_ok(&[f.to_str().unwrap(), "--format", "jsonl"], None);
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
    let out = parse_ok(
        &[fixture("opencode-1.18.33/run-format-json-tool-run.jsonl")
            .to_str()
            .unwrap()],
        None,
    );
    assert_eq!(
        tools(&blocks(&out))
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["write", "bash"]
    );
    let out = parse_ok(
        &[fixture("claude-code-2.1.197/transcript-tool-run.jsonl")
            .to_str()
            .unwrap()],
        None,
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

    // The same bad line in a transcript (read in two passes) is reported once, by its line.
    let t =
        std::fs::read_to_string(fixture("claude-code-2.1.197/transcript-tool-run.jsonl")).unwrap();
    let mut lines: Vec<&str> = t.lines().collect();
    lines.insert(4, "{\"type\": \"user\", broken");
    let f = dir.path().join("broken-transcript.jsonl");
    std::fs::write(&f, lines.join("\n")).unwrap();
    let out = parse(&[f.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(":5: not JSON").count(), 1, "{err}");
    assert_eq!(tools(&blocks(&out)).len(), 2, "the rest is still converted");
}

#[test]
fn a_line_over_the_limit_is_refused_by_name() {
    // 64 MiB is the limit: one line a little longer, then a good line.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("huge.jsonl");
    let mut data = Vec::with_capacity(65 << 20);
    data.extend_from_slice(b"{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\"}\n{\"type\":\"x\",\"pad\":\"");
    data.resize(data.len() + (64 << 20) + 10, b'a');
    data.extend_from_slice(b"\"}\n");
    std::fs::write(&f, &data).unwrap();
    let out = parse(&[f.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":2: line longer than 67108864 bytes"), "{err}");
}

#[test]
fn a_missing_input_and_unbuilt_options_say_so() {
    let out = parse(&["/nonexistent/x.jsonl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.jsonl"));
    let f = fixture("claude-code-2.1.197/stream-json-tool-run.jsonl");
    let out = parse(&[f.to_str().unwrap(), "--since", "last tuesday"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
    let out = parse(&[f.to_str().unwrap(), "--follow", "--format", "html"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("whole documents"));
}

/// The texts of user messages, assistant text and notices, in order, one level deep.
fn flow(b: &[ConversationBlock]) -> Vec<String> {
    b.iter()
        .filter_map(|b| match &b.kind {
            BlockKind::UserMessage { text, .. } => Some(format!("user: {text}")),
            BlockKind::AssistantText { text } => Some(format!("assistant: {text}")),
            BlockKind::SystemNotice { kind, .. } => Some(format!("notice: {kind}")),
            BlockKind::CompactionSummary { .. } => Some("summary".into()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_rewind_and_a_compaction_follow_the_parent_chain() {
    let f = fixture("handwritten/rewind-compact.jsonl");
    let out = parse_ok(&[f.to_str().unwrap(), "--format", "jsonl"], None);
    assert_eq!(
        flow(&blocks(&out)),
        [
            "notice: session_started",
            "user: Plan a vegetable bed",
            "assistant: Sure. How big is the bed?",
            "user: Three metres by one",
            "assistant: Tomatoes along the back, beans in front.",
            "notice: rewind",
            "user: Two metres by one",
            "assistant: Lettuce and radishes, then.",
            "user: Add some herbs",
            "assistant: Basil and chives fit at the sunny end.",
            "notice: compact_boundary",
            "summary",
            "user: What goes in first?",
            "assistant: Radishes: they come up within a week.",
        ]
    );
}

#[test]
fn lines_out_of_file_order_are_put_back_in_conversation_order() {
    // The same session with its lines shuffled: the parent chain, not the file, gives the order.
    let text = std::fs::read_to_string(fixture("handwritten/rewind-compact.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.jsonl");
    std::fs::write(&f, lines.join("\n")).unwrap();
    let shuffled = flow(&blocks(&parse(
        &[f.to_str().unwrap(), "--format", "jsonl"],
        None,
    )));
    let orig = flow(&blocks(&parse(
        &[
            fixture("handwritten/rewind-compact.jsonl")
                .to_str()
                .unwrap(),
            "--format",
            "jsonl",
        ],
        None,
    )));
    // Siblings keep file order, so the two branches swap places; each stays whole and in order.
    let pos = |v: &[String], s: &str| v.iter().position(|x| x == s).unwrap();
    for seq in [
        [
            "user: Plan a vegetable bed",
            "assistant: Sure. How big is the bed?",
            "user: Three metres by one",
        ],
        [
            "user: Two metres by one",
            "assistant: Lettuce and radishes, then.",
            "user: Add some herbs",
        ],
        [
            "assistant: Basil and chives fit at the sunny end.",
            "summary",
            "assistant: Radishes: they come up within a week.",
        ],
    ] {
        assert!(pos(&shuffled, seq[0]) < pos(&shuffled, seq[1]));
        assert!(pos(&shuffled, seq[1]) < pos(&shuffled, seq[2]));
    }
    assert_eq!(shuffled.len(), orig.len());
}

fn subagent_runs(b: &[ConversationBlock]) -> Vec<(String, Vec<String>)> {
    b.iter()
        .filter_map(|b| match &b.kind {
            BlockKind::SubagentRun {
                call_id, blocks, ..
            } => Some((call_id.clone(), flow(blocks))),
            _ => None,
        })
        .collect()
}

#[test]
fn subagents_nest_under_their_call_in_all_three_layouts() {
    // Today's layout: <session>/subagents/agent-<id>.jsonl with a .meta.json.
    let dir = fixture("handwritten/subagents-2.1");
    let out = parse_ok(&[dir.to_str().unwrap(), "--format", "jsonl"], None);
    let runs = subagent_runs(&blocks(&out));
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].0, "toolu_bakery_recipes");
    assert_eq!(
        runs[0].1[0],
        "user: List the recipes in recipes/ that still use the old flour."
    );
    assert_eq!(runs[1].0, "toolu_bakery_prices");
    assert!(
        runs[1]
            .1
            .last()
            .unwrap()
            .starts_with("assistant: One price is older than a year")
    );

    // Claude Code 2.0.x: agent-<id>.jsonl beside the session, tied by the agentId of the result.
    let tmp = tempfile::tempdir().unwrap();
    let session = "b7e21c04-5a93-4f6d-8e12-9c0d4a6f3e58";
    std::fs::copy(
        dir.join(format!("{session}.jsonl")),
        tmp.path().join(format!("{session}.jsonl")),
    )
    .unwrap();
    for agent in ["bakery1", "bakery2"] {
        std::fs::copy(
            dir.join(session)
                .join("subagents")
                .join(format!("agent-{agent}.jsonl")),
            tmp.path().join(format!("agent-{agent}.jsonl")),
        )
        .unwrap();
    }
    let out = parse_ok(&[tmp.path().to_str().unwrap(), "--format", "jsonl"], None);
    let beside = subagent_runs(&blocks(&out));
    assert_eq!(beside, runs, "the 2.0.x layout reads like today's");

    // Before that: isSidechain lines in the session file itself.
    let f = fixture("handwritten/sidechain-1.0.jsonl");
    let b = blocks(&parse(&[f.to_str().unwrap(), "--format", "jsonl"], None));
    let runs = subagent_runs(&b);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0, "toolu_weather_task");
    assert_eq!(
        runs[0].1,
        [
            "user: Find where the forecast page formats its date.",
            "assistant: I'll search the page templates for the date format.",
            "assistant: templates/forecast.py line 31 subtracts one day before formatting.",
        ]
    );
    // Nothing of the subagent leaks to the top level.
    assert!(!flow(&b).iter().any(|t| t.contains("I'll search")));

    // --no-sidechains leaves every subagent conversation out.
    let out = parse(
        &[
            dir.to_str().unwrap(),
            "--format",
            "jsonl",
            "--no-sidechains",
        ],
        None,
    );
    for (_, inner) in subagent_runs(&blocks(&out)) {
        assert!(inner.is_empty(), "{inner:?}");
    }
}

#[test]
fn opencode_exports_and_json_documents_are_read_whole() {
    let f = fixture("opencode-1.18.33/export-tool-run.json");
    let out = parse_ok(&[f.to_str().unwrap(), "--format", "jsonl"], None);
    let b = blocks(&out);
    assert_eq!(
        tools(&b),
        [
            ("write".into(), ToolStatus::Ok),
            ("bash".into(), ToolStatus::Ok)
        ]
    );
    assert!(flow(&b).contains(&"user: \"create hello.txt with a greeting\"".to_string()));

    // `claude -p --output-format json --verbose` is one array of the stream's messages.
    let lines =
        std::fs::read_to_string(fixture("claude-code-2.1.197/stream-json-tool-run.jsonl")).unwrap();
    let values: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pretty = serde_json::to_string_pretty(&values).unwrap();
    let out = parse_ok(&["--format", "jsonl"], Some(&pretty));
    assert_eq!(
        tools(&blocks(&out)),
        [
            ("Write".into(), ToolStatus::Ok),
            ("Bash".into(), ToolStatus::Ok)
        ]
    );
}

#[test]
fn session_and_time_filters() {
    let a = fixture("claude-code-2.1.197/transcript-tool-run.jsonl");
    let b = fixture("handwritten/rewind-compact.jsonl");
    let both = |extra: &[&str]| {
        let mut args = vec![
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "jsonl",
        ];
        args.extend_from_slice(extra);
        flow(&blocks(&parse(&args, None)))
    };
    let all = both(&[]);
    assert!(all.contains(&"user: create hello.txt with a greeting".to_string()));
    assert!(all.contains(&"user: Plan a vegetable bed".to_string()));
    let first_line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&b).unwrap().lines().next().unwrap()).unwrap();
    let only_b = both(&["--session", first_line["sessionId"].as_str().unwrap()]);
    assert!(only_b.contains(&"user: Plan a vegetable bed".to_string()));
    assert!(!only_b.iter().any(|t| t.contains("hello.txt")));
    // A window that ends before anything happened keeps nothing.
    assert!(both(&["--until", "2000-01-01"]).is_empty());
    assert_eq!(both(&["--since", "2000-01-01"]), all);
}

#[test]
fn a_date_given_to_since_is_its_midnight_in_the_tz_zone() {
    // 23:30 UTC on October 31st is already November 1st in Berlin.
    let line = |uuid: &str, parent: Option<&str>, time: &str, text: &str| {
        serde_json::json!({"type": "user", "sessionId": "s", "uuid": uuid, "parentUuid": parent,
            "timestamp": time, "message": {"role": "user", "content": text}})
        .to_string()
    };
    let stream = [
        line("u1", None, "2026-10-31T23:30:00Z", "late"),
        line("u2", Some("u1"), "2026-11-01T08:00:00Z", "morning"),
    ]
    .join("\n");
    let since_nov_1 = |tz: &str| {
        let args = ["--since", "2026-11-01", "--tz", tz, "--format", "jsonl"];
        let flow = flow(&blocks(&parse(&args, Some(&stream))));
        flow.into_iter()
            .filter(|t| t.starts_with("user: "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        since_nov_1("Europe/Berlin"),
        ["user: late", "user: morning"]
    );
    assert_eq!(since_nov_1("UTC"), ["user: morning"]);
}

#[test]
fn a_session_is_named_by_a_unique_prefix_of_its_id() {
    let dir = fixture("handwritten");
    let run = |extra: &[&str]| {
        let mut args = vec![dir.to_str().unwrap(), "--format", "jsonl"];
        args.extend_from_slice(extra);
        parse(&args, None)
    };
    // e1a4d9c7-...: the 1.0.x session with its subagent inline.
    let o = run(&["--session", "e1a4"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = flow(&blocks(&o));
    assert_eq!(
        f.get(1).map(String::as_str),
        Some("user: Why does the forecast page show yesterday's date?"),
        "{f:?}"
    );
    assert!(!f.iter().any(|t| t.contains("vegetable")), "{f:?}");

    // Nothing starts with it: exit 2, nothing printed.
    let o = run(&["--session", "ffff"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--session ffff: no session in the inputs has an id starting with it"),
        "{err}"
    );

    // Several start with it: exit 2, the candidates listed, nothing printed.
    let o = run(&["--session", "9d2c5e71-4b0a-4f38-b6d1-2e8c7a5f0b93"]);
    assert!(o.status.success(), "the whole id of one session");
    // A copy of the 1.0.x session under an id that starts the same.
    let tmp = tempfile::tempdir().unwrap();
    let twin = tmp.path().join("twin.jsonl");
    let text = std::fs::read_to_string(fixture("handwritten/sidechain-1.0.jsonl")).unwrap();
    std::fs::write(&twin, text.replace("e1a4d9c7-", "e1a4ffff-")).unwrap();
    let o = run(&["--session", "e1a4", twin.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--session e1a4: 2 sessions have an id starting with it"),
        "{err}"
    );
    assert!(
        err.contains("    e1a4d9c7-2b58-4c0f-a3e6-71f9b2d85c40\n    e1a4ffff-2b58"),
        "{err}"
    );
    assert!(err.contains("fix: give more of the id"), "{err}");
    let o = run(&["--session", "e1a4d", twin.to_str().unwrap()]);
    assert!(o.status.success());
}

#[test]
fn a_session_alone_is_found_in_claude_codes_projects_folder() {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("projects/-home-dev-weather");
    std::fs::create_dir_all(&project).unwrap();
    for (id, rel) in [
        (
            "e1a4d9c7-2b58-4c0f-a3e6-71f9b2d85c40",
            "handwritten/sidechain-1.0.jsonl",
        ),
        (
            "e1a4ffff-0000-4000-8000-000000000000",
            "handwritten/rewind-compact.jsonl",
        ),
    ] {
        std::fs::copy(fixture(rel), project.join(format!("{id}.jsonl"))).unwrap();
    }
    let run = |id: &str| {
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args([
                "transcript",
                "parse",
                "--session",
                id,
                "--format",
                "markdown",
            ])
            .env("CLAUDE_CONFIG_DIR", home.path())
            .output()
            .unwrap()
    };
    let o = run("e1a4d");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("forecast page"));
    let o = run("e1a4");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 sessions have an id starting with it"),
        "{err}"
    );
    assert!(
        err.contains(
            &project
                .join("e1a4ffff-0000-4000-8000-000000000000.jsonl")
                .display()
                .to_string()
        ),
        "{err}"
    );
    let o = run("0000");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("transcript list"));
}

#[test]
fn markdown_and_html_snapshots() {
    for (name, rel) in [
        ("tool_run", "claude-code-2.1.197/transcript-tool-run.jsonl"),
        ("showcase", "handwritten/subagents-2.1"),
        ("rewind", "handwritten/rewind-compact.jsonl"),
    ] {
        let f = fixture(rel);
        for format in ["markdown", "html"] {
            let out = parse_ok(&[f.to_str().unwrap(), "--format", format], None);
            insta::assert_snapshot!(
                format!("parse_{name}_{format}"),
                String::from_utf8(out.stdout).unwrap()
            );
        }
    }
}

/// Text that would be markup if it were not escaped.
const EVIL: &str = "<script>alert(1)</script></div></details><img src=x onerror=alert(2)>&amp;";

#[test]
fn html_escapes_every_text_field_into_one_inert_well_formed_page() {
    use serde_json::json;
    let head = |uuid: &str, parent: Option<&str>| {
        json!({"uuid": uuid, "parentUuid": parent, "sessionId": "s-1", "timestamp": "2026-01-01T00:00:00Z",
               "cwd": EVIL, "version": EVIL, "isSidechain": false})
    };
    let merge = |mut a: serde_json::Value, b: serde_json::Value| {
        a.as_object_mut()
            .unwrap()
            .extend(b.as_object().unwrap().clone());
        a
    };
    let lines = [
        json!({"type": "summary", "summary": EVIL, "leafUuid": "a3"}),
        merge(
            head("u1", None),
            json!({"type": "user", "message": {"role": "user", "content": EVIL}}),
        ),
        merge(
            head("a1", Some("u1")),
            json!({"type": "assistant", "message": {"id": "m1", "model": EVIL, "role": "assistant",
            "content": [{"type": "thinking", "thinking": EVIL}]}}),
        ),
        merge(
            head("a2", Some("a1")),
            json!({"type": "assistant", "message": {"id": "m1", "role": "assistant",
            "content": [{"type": "text", "text": EVIL}]}}),
        ),
        merge(
            head("a3", Some("a2")),
            json!({"type": "assistant", "message": {"id": "m1", "role": "assistant",
            "content": [{"type": "tool_use", "id": EVIL, "name": EVIL, "input": {"command": EVIL}}]}}),
        ),
        merge(
            head("r1", Some("a3")),
            json!({"type": "user", "message": {"role": "user",
            "content": [{"type": "tool_result", "tool_use_id": EVIL, "content": EVIL, "is_error": true}]}}),
        ),
        merge(
            head("a4", Some("r1")),
            json!({"type": "assistant", "message": {"id": "m2", "role": "assistant",
            "content": [{"type": "tool_use", "id": "t2", "name": "Task", "input": {"description": EVIL, "prompt": EVIL, "subagent_type": EVIL}}]}}),
        ),
        merge(
            head("s1", None),
            json!({"type": "user", "isSidechain": true, "message": {"role": "user", "content": EVIL}}),
        ),
        merge(
            head("x1", Some("a4")),
            json!({"type": "system", "subtype": "informational", "content": EVIL}),
        ),
        merge(
            head("x2", Some("x1")),
            json!({"type": "brand-new-kind", "payload": EVIL}),
        ),
        merge(
            head("x3", Some("x2")),
            json!({"type": "system", "subtype": "api_error", "error": {"message": EVIL}}),
        ),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = parse_ok(&["--format", "html"], Some(&text));
    let html = String::from_utf8(out.stdout).unwrap();

    let mut reader = quick_xml::Reader::from_str(&html);
    let mut depth = 0i32;
    let mut texts = String::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_lowercase();
                assert!(
                    !["script", "img", "iframe", "object"].contains(&name.as_str()),
                    "active element <{name}>"
                );
                for a in e.attributes() {
                    let a = a.unwrap();
                    assert!(
                        !String::from_utf8_lossy(a.key.as_ref()).starts_with("on"),
                        "event handler attribute"
                    );
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).to_lowercase();
                assert!(
                    ["meta"].contains(&name.as_str()),
                    "unexpected element <{name}/>"
                );
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Text(t)) => texts.push_str(&t.decode().unwrap()),
            Ok(quick_xml::events::Event::GeneralRef(r)) => {
                let r = String::from_utf8_lossy(&r).to_string();
                texts.push_str(match r.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "#39" => "'",
                    _ => "?",
                });
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{html}",
                reader.buffer_position()
            ),
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0, "every element is closed");
    // The evil text is there, as text: prompt, thinking, answer, tool name and input, result,
    // subagent prompt, notice, summary, error.
    let shown = texts.matches("<script>alert(1)</script>").count();
    assert!(shown >= 9, "only {shown} copies shown as text");
}

#[test]
fn follow_prints_blocks_as_lines_arrive_and_waits_for_a_tool_result() {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let src =
        std::fs::read_to_string(fixture("claude-code-2.1.197/transcript-tool-run.jsonl")).unwrap();
    let lines: Vec<&str> = src.lines().collect();
    let first_call = lines
        .iter()
        .position(|l| l.contains("\"tool_use\""))
        .expect("the recording has a tool call");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("live.jsonl");
    // Up to and including the first tool call, whose result is not written yet.
    std::fs::write(&f, lines[..=first_call].join("\n") + "\n").unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse", "--follow", "--format", "jsonl"])
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let b: ConversationBlock = serde_json::from_str(&line).unwrap();
            if tx.send(b).is_err() {
                break;
            }
        }
    });
    let wait_for = |pred: &dyn Fn(&ConversationBlock) -> bool,
                    seen: &mut Vec<ConversationBlock>| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
                let hit = pred(&b);
                seen.push(b);
                if hit {
                    return true;
                }
            }
        }
        false
    };
    let mut seen = Vec::new();
    assert!(
        wait_for(
            &|b| matches!(&b.kind, BlockKind::UserMessage { text, .. } if text.contains("hello.txt")),
            &mut seen
        ),
        "the prompt is printed at once: {seen:?}"
    );
    // The call waits for its result: nothing about it yet.
    std::thread::sleep(Duration::from_millis(600));
    while let Ok(b) = rx.try_recv() {
        seen.push(b);
    }
    assert!(
        !seen
            .iter()
            .any(|b| matches!(b.kind, BlockKind::ToolCall { .. })),
        "{seen:?}"
    );

    // The rest arrives, the next line first in two writes.
    let rest = lines[first_call + 1..].join("\n") + "\n";
    let (a, b) = rest.split_at(rest.len().min(40));
    let mut file = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
    file.write_all(a.as_bytes()).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    file.write_all(b.as_bytes()).unwrap();
    assert!(
        wait_for(
            &|b| matches!(&b.kind, BlockKind::AssistantText { text } if text.contains("Done")),
            &mut seen
        ),
        "the final answer arrives: {seen:?}"
    );
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        tools(&seen),
        [
            ("Write".into(), ToolStatus::Ok),
            ("Bash".into(), ToolStatus::Ok)
        ]
    );
    let stderr = {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut s).unwrap();
        s
    };
    assert!(stderr.is_empty(), "no bad lines: {stderr}");
}

#[test]
fn a_recorded_subagent_nests_under_its_agent_call() {
    // Claude Code 2.1.197's own layout: <session>.jsonl beside <session>/subagents/.
    let dir = fixture("claude-code-2.1.197/transcript-subagent");
    let out = parse_ok(&[dir.to_str().unwrap(), "--format", "jsonl"], None);
    let b = blocks(&out);
    let runs = subagent_runs(&b);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0].1,
        [
            "user: Count the lines of notes.txt and report the number.",
            "assistant: Counting with wc.",
            "assistant: notes.txt has 3 lines.",
        ]
    );
    let inner_tools = b
        .iter()
        .find_map(|b| match &b.kind {
            BlockKind::SubagentRun { blocks, status, .. } => {
                assert_eq!(*status, ToolStatus::Ok);
                Some(tools(blocks))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(inner_tools, [("Bash".to_string(), ToolStatus::Ok)]);
    // The subagent's words are inside its run only.
    assert_eq!(
        flow(&b)
            .into_iter()
            .filter(|l| !l.starts_with("notice"))
            .collect::<Vec<_>>(),
        [
            "user: count the lines of notes.txt with a helper",
            "assistant: I will ask a helper to count them.",
            "assistant: The helper counted 3 lines in notes.txt.",
        ]
    );
}

#[test]
fn one_html_page_of_several_sessions_lists_them_to_jump_to() {
    let out = parse_ok(
        &[fixture("handwritten").to_str().unwrap(), "--format", "html"],
        None,
    );
    let html = String::from_utf8(out.stdout).unwrap();
    let nav = &html[html
        .find("<nav class=\"toc\">")
        .expect("a list of sessions")..];
    for n in 1..=5 {
        assert!(nav.contains(&format!("<a href=\"#session-{n}\">")), "{nav}");
        assert!(html.contains(&format!("<section class=\"s\" id=\"session-{n}\">")));
    }
    assert!(
        nav.contains(">Forecast page shows yesterday&#39;s date</a>"),
        "{nav}"
    );
    // One session: nothing to jump between.
    let out = parse(
        &[
            fixture("handwritten/tool-views.jsonl").to_str().unwrap(),
            "--format",
            "html",
        ],
        None,
    );
    assert!(
        !String::from_utf8(out.stdout)
            .unwrap()
            .contains("class=\"toc\"")
    );
}
