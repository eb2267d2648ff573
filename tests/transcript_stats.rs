//! `aisys transcript stats` through the real binary: on the recorded transcripts in
//! tests/fixtures (or `AISYS_FIXTURES_DIR`), and on a small Claude Code home written here
//! whose every count and price is known, so each expected number is worked out in the test.

mod fixtures;

use fixtures::fixture;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Runs `aisys transcript stats ARGS` in UTC, with `CLAUDE_CONFIG_DIR` set to `home`.
fn stats(home: &Path, args: &[&str]) -> Output {
    fixtures::transcript_in(home, "stats", args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstderr: {}",
        o.status.code(),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// The JSON report of one file, with no Claude home to fall back on.
fn file_report(f: &Path) -> Value {
    json_of(&stats(
        Path::new("/nonexistent"),
        &[f.to_str().unwrap(), "--format", "json"],
    ))
}

/// The four counters of a JSON group or total.
fn counts(v: &Value) -> [u64; 4] {
    [
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
    ]
    .map(|k| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}")))
}

fn group<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {report:#}"))
}

fn keys(report: &Value) -> Vec<String> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap().to_string())
        .collect()
}

fn assert_cost(v: &Value, want: f64) {
    let got = v["cost_usd"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9, "cost {got}, want {want} in {v}");
}

/// Published prices, USD per million tokens: input, output, cache write, cache read.
const SONNET_4_5: [f64; 4] = [3.0, 15.0, 3.75, 0.30];
const HAIKU_4_5: [f64; 4] = [1.0, 5.0, 1.25, 0.10];
const OPUS_4_8: [f64; 4] = [5.0, 25.0, 6.25, 0.50];

fn cost(price: [f64; 4], tokens: [u64; 4]) -> f64 {
    (0..4).map(|i| price[i] * tokens[i] as f64).sum::<f64>() / 1e6
}

fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

const SONNET: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";

/// One assistant line as Claude Code writes it: one content block, the response's usage.
/// `ids` are the session, `message.id` and `requestId`.
fn assistant(
    ids: [&str; 3],
    model: &str,
    time: &str,
    t: [u64; 4],
    block: Value,
    sidechain: bool,
) -> String {
    let [session, id, req] = ids;
    json!({
        "parentUuid": null, "isSidechain": sidechain, "type": "assistant",
        "uuid": format!("u-{id}-{}", block["type"].as_str().unwrap()),
        "timestamp": time, "sessionId": session, "version": "2.1.197", "requestId": req,
        "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [block],
            "usage": {
                "input_tokens": t[0], "output_tokens": t[1],
                "cache_creation_input_tokens": t[2], "cache_read_input_tokens": t[3],
                "service_tier": "standard"
            }
        }
    })
    .to_string()
}

fn user(session: &str, time: &str, text: &str) -> String {
    json!({"type": "user", "sessionId": session, "timestamp": time, "uuid": "u",
           "message": {"role": "user", "content": text}})
    .to_string()
}

// The responses of the home below, with the usage each is counted with.
/// sess-a's first response, written as three lines whose usage grows: the last counts.
const A1: [u64; 4] = [10, 20, 100, 1000];
/// sess-a's second response, copied into sess-b on resume: counted once, in sess-a.
const A2: [u64; 4] = [5, 50, 0, 2000];
/// A subagent of sess-a (its own file under sess-a/subagents).
const S1: [u64; 4] = [7, 3, 0, 0];
/// sess-b's own response.
const B1: [u64; 4] = [1000, 200, 0, 0];

/// A Claude Code home: two projects, two sessions, a subagent file, a resumed copy.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("projects/-home-u-app");
    let lib = dir.path().join("projects/-home-u-lib");
    std::fs::create_dir_all(app.join("sess-a/subagents")).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    let t1 = "2026-10-30T10:00:00.000Z";
    let t2 = "2026-10-31T23:30:00.000Z";
    let a = [
        user("sess-a", t1, "fix the bug"),
        assistant(
            ["sess-a", "msg_A1", "req_A1"],
            SONNET,
            t1,
            [10, 1, 100, 1000],
            json!({"type": "thinking", "thinking": "hmm", "signature": "s"}),
            false,
        ),
        assistant(
            ["sess-a", "msg_A1", "req_A1"],
            SONNET,
            t1,
            [10, 5, 100, 1000],
            json!({"type": "text", "text": "Looking."}),
            false,
        ),
        assistant(
            ["sess-a", "msg_A1", "req_A1"],
            SONNET,
            t1,
            A1,
            json!({"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}),
            false,
        ),
        json!({"type": "user", "sessionId": "sess-a", "timestamp": t1, "message": {"role": "user",
               "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.rs"}]}})
        .to_string(),
        assistant(
            ["sess-a", "msg_A2", "req_A2"],
            SONNET,
            t2,
            A2,
            json!({"type": "text", "text": "Done."}),
            false,
        ),
        json!({"type": "summary", "summary": "Bug fix", "leafUuid": "u"}).to_string(),
    ];
    std::fs::write(app.join("sess-a.jsonl"), a.join("\n") + "\n").unwrap();
    let side = [assistant(
        ["sess-a", "msg_S1", "req_S1"],
        HAIKU,
        "2026-11-01T08:00:00.000Z",
        S1,
        json!({"type": "text", "text": "found it"}),
        true,
    )];
    std::fs::write(
        app.join("sess-a/subagents/agent-x.jsonl"),
        side.join("\n") + "\n",
    )
    .unwrap();
    let b = [
        assistant(
            ["sess-b", "msg_A2", "req_A2"],
            SONNET,
            t2,
            A2,
            json!({"type": "text", "text": "Done."}),
            false,
        ),
        user("sess-b", "2026-11-02T11:59:00.000Z", "and now the docs"),
        assistant(
            ["sess-b", "msg_B1", "req_B1"],
            HAIKU,
            "2026-11-02T12:00:00.000Z",
            B1,
            json!({"type": "text", "text": "ok"}),
            false,
        ),
    ];
    // No trailing newline: the last line counts all the same.
    std::fs::write(lib.join("sess-b.jsonl"), b.join("\n")).unwrap();
    dir
}

#[test]
fn recorded_transcript_counts_each_response_once() {
    // Claude Code 2.1.197 wrote the mock's first message as three lines (thinking, text,
    // tool_use), each with the usage 120 in / 30 out / 80 cache read; the other two once each.
    let f = fixture("claude-code-2.1.197/transcript-tool-run.jsonl");
    let r = file_report(&f);
    let want = [3 * 120, 3 * 30, 0, 3 * 80];
    assert_eq!(counts(&r["total"]), want);
    assert_cost(&r["total"], cost(OPUS_4_8, want));
    assert_eq!(keys(&r), ["c4874699-780c-4178-8969-7009171d1413"]);
    let g = &r["groups"][0];
    assert_eq!(counts(g), want);
    assert_eq!(g["models"], json!(["claude-opus-4-8"]));
}

#[test]
fn stdin_is_read_as_claude_code_lines_and_counts_like_the_file() {
    use std::io::Write;
    let f = fixture("claude-code-2.1.197/transcript-tool-run.jsonl");
    let mut from_file = file_report(&f);
    // A title is looked up in the session's file; stdin has none to look in.
    assert_eq!(
        from_file["groups"][0]["title"],
        "create hello.txt with a greeting"
    );
    from_file["groups"][0]
        .as_object_mut()
        .unwrap()
        .remove("title");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "stats", "-", "--format", "json"])
        .env("TZ", "UTC")
        .env("CLAUDE_CONFIG_DIR", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(&f).unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let from_stdin = json_of(&child.wait_with_output().unwrap());
    assert_eq!(counts(&from_stdin["total"]), [3 * 120, 3 * 30, 0, 3 * 80]);
    // The session comes from the lines, as it does for a file outside a projects folder.
    assert_eq!(from_stdin, from_file);
    // Stdin can be read once.
    let o = stats(Path::new("/nonexistent"), &["-", "-"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("once"), "{}", stderr(&o));
}

#[test]
fn a_stream_counts_each_turn_from_its_result_line_like_the_transcript_of_the_same_run() {
    // The same Claude Code 2.1.197 run, recorded as stream-json and as its transcript: the
    // stream's assistant lines carry each message's usage as it started (output 1), its result
    // line the turn's totals (output 90), which the transcript's lines add up to.
    let stream = fixture("claude-code-2.1.197/stream-json-tool-run.jsonl");
    let transcript = fixture("claude-code-2.1.197/transcript-tool-run.jsonl");
    let (s, mut t) = (file_report(&stream), file_report(&transcript));
    assert_eq!(counts(&s["total"]), [360, 90, 0, 240]);
    // The stream has no prompt line, so no title, and no times; the transcript has both.
    let g = t["groups"][0].as_object_mut().unwrap();
    let title = g.remove("title");
    assert_eq!(title, Some(json!("create hello.txt with a greeting")));
    assert_eq!(g.remove("started"), Some(json!("2026-12-02T04:08:22.443Z")));
    assert_eq!(s["groups"], t["groups"]);
    assert_eq!(s["total"], t["total"]);
}

#[test]
fn opencode_run_lines_count_like_the_export_of_the_same_run() {
    // OpenCode 1.18.33's `run --format json` lines of one run end each step with its tokens and
    // cost (no model); its export has the same steps as messages, with the model.
    let run = file_report(&fixture("opencode-1.18.33/run-format-json-tool-run.jsonl"));
    let export = file_report(&fixture("opencode-1.18.33/export-tool-run.json"));
    assert_eq!(counts(&run["total"]), [360, 90, 0, 240]);
    assert_eq!(run["total"], export["total"], "tokens and cost");
    assert_eq!(keys(&run), keys(&export), "the same session");
}

#[test]
fn a_claude_line_that_mentions_step_finish_is_not_taken_for_opencode() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.jsonl");
    let line = user(
        "s",
        "2026-10-30T10:00:00.000Z",
        r#"why is there a "step_finish" here?"#,
    );
    std::fs::write(&f, format!("{line}\n")).unwrap();
    let o = stats(Path::new("/nonexistent"), &[f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn default_input_is_claude_config_dir_projects_by_session() {
    let h = home();
    let r = json_of(&stats(h.path(), &["--format", "json"]));
    assert_eq!(keys(&r), ["sess-a", "sess-b"]);
    let a = group(&r, "sess-a");
    assert_eq!(counts(a), add(add(A1, A2), S1));
    assert_cost(
        a,
        cost(SONNET_4_5, A1) + cost(SONNET_4_5, A2) + cost(HAIKU_4_5, S1),
    );
    assert_eq!(a["models"], json!([HAIKU, SONNET]));
    let b = group(&r, "sess-b");
    assert_eq!(counts(b), B1);
    assert_eq!(b["models"], json!([HAIKU]));
    assert_eq!(counts(&r["total"]), add(add(add(A1, A2), S1), B1));
    assert_cost(
        &r["total"],
        cost(SONNET_4_5, A1) + cost(SONNET_4_5, A2) + cost(HAIKU_4_5, S1) + cost(HAIKU_4_5, B1),
    );
}

#[test]
fn groups_by_day_month_model_and_project() {
    let h = home();
    let by = |g: &str| json_of(&stats(h.path(), &["--by", g, "--format", "json"]));

    let day = by("day");
    assert_eq!(
        keys(&day),
        ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
    );
    assert_eq!(counts(group(&day, "2026-10-30")), A1);
    assert_eq!(counts(group(&day, "2026-10-31")), A2);
    assert_eq!(counts(group(&day, "2026-11-01")), S1);
    assert_eq!(counts(group(&day, "2026-11-02")), B1);

    let month = by("month");
    assert_eq!(keys(&month), ["2026-10", "2026-11"]);
    assert_eq!(counts(group(&month, "2026-10")), add(A1, A2));
    assert_eq!(counts(group(&month, "2026-11")), add(S1, B1));
    assert_cost(group(&month, "2026-11"), cost(HAIKU_4_5, add(S1, B1)));

    let model = by("model");
    assert_eq!(keys(&model), [HAIKU, SONNET]);
    assert_eq!(counts(group(&model, SONNET)), add(A1, A2));
    assert_eq!(group(&model, SONNET)["models"], json!([SONNET]));
    assert_eq!(counts(group(&model, HAIKU)), add(S1, B1));

    let project = by("project");
    assert_eq!(keys(&project), ["-home-u-app", "-home-u-lib"]);
    assert_eq!(counts(group(&project, "-home-u-app")), add(add(A1, A2), S1));
    assert_eq!(counts(group(&project, "-home-u-lib")), B1);
}

#[test]
fn days_follow_the_local_time_zone() {
    // 2026-10-31T23:30Z is already November 1st in Berlin (UTC+1 after the October change).
    let h = home();
    let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "stats", "--by", "day", "--format", "json"])
        .env("TZ", "Europe/Berlin")
        .env("CLAUDE_CONFIG_DIR", h.path())
        .output()
        .unwrap();
    let r = json_of(&o);
    assert_eq!(counts(group(&r, "2026-11-01")), add(A2, S1));
}

#[test]
fn a_date_given_to_since_is_its_midnight_in_the_tz_zone() {
    // A2, at 23:30 UTC on October 31st, is already November 1st in Berlin.
    let h = home();
    let since_nov_1 = |tz: &str| {
        let args = ["--since", "2026-11-01", "--tz", tz, "--format", "json"];
        counts(&json_of(&stats(h.path(), &args))["total"])
    };
    assert_eq!(since_nov_1("Europe/Berlin"), add(add(A2, S1), B1));
    assert_eq!(since_nov_1("UTC"), add(S1, B1));
}

#[test]
fn since_and_until_keep_a_window() {
    let h = home();
    let r = json_of(&stats(
        h.path(),
        &[
            "--since",
            "2026-10-31",
            "--until",
            "2026-11-02",
            "--format",
            "json",
        ],
    ));
    assert_eq!(counts(&r["total"]), add(A2, S1));
    let r = json_of(&stats(
        h.path(),
        &["--since", "2026-11-02T12:00:00Z", "--format", "json"],
    ));
    assert_eq!(counts(&r["total"]), B1);
    let o = stats(h.path(), &["--since", "last tuesday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--since"), "{}", stderr(&o));
}

#[test]
fn csv_and_table_show_the_same_counts() {
    let h = home();
    let o = stats(h.path(), &["--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = add(add(A1, A2), S1);
    let a_cost = cost(SONNET_4_5, A1) + cost(SONNET_4_5, A2) + cost(HAIKU_4_5, S1);
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(
        lines[0],
        "key,input_tokens,output_tokens,cache_creation_tokens,cache_read_tokens,cost_usd,models"
    );
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(fields[0], "sess-a");
    let nums: Vec<u64> = fields[1..5].iter().map(|f| f.parse().unwrap()).collect();
    assert_eq!(nums, a);
    assert!((fields[5].parse::<f64>().unwrap() - a_cost).abs() < 1e-6);
    assert_eq!(fields[6], format!("{HAIKU};{SONNET}"));
    assert!(lines[2].starts_with("sess-b,1000,200,0,0,"), "{}", lines[2]);
    assert_eq!(lines.len(), 3);

    let o = stats(h.path(), &["--by", "project"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let header = text.lines().next().unwrap();
    for col in [
        "Project",
        "Input",
        "Output",
        "Cache write",
        "Cache read",
        "Cost (USD)",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(!text.contains('\x1b'), "colors with NO_COLOR: {text:?}");
    let app = text.lines().find(|l| l.starts_with("-home-u-app")).unwrap();
    // 22 input, 73 output, 100 cache write, 3,000 cache read, in that order.
    let cells: Vec<&str> = app.split_whitespace().collect();
    assert_eq!(&cells[1..5], ["22", "73", "100", "3,000"], "{app}");
    let total = text.lines().last().unwrap();
    assert!(total.starts_with("Total"), "{text}");
    assert!(total.contains("1,022"), "{total}");

    // By model, a models column would only repeat the key.
    let o = stats(h.path(), &["--by", "model"]);
    let text = stdout(&o);
    assert!(text.starts_with("Model "), "{text}");
    assert!(!text.lines().next().unwrap().contains("Models"), "{text}");
    let sonnet = text.lines().find(|l| l.starts_with(SONNET)).unwrap();
    assert_eq!(sonnet.matches(SONNET).count(), 1, "{sonnet}");
}

#[test]
fn pricing_file_overrides_the_table_in_toml_and_json() {
    let h = home();
    let toml = h.path().join("prices.toml");
    std::fs::write(
        &toml,
        "[models.\"claude-sonnet-4-5\"]\ninput = 1.0\noutput = 2.0\ncache_write = 3.0\ncache_read = 4.0\n",
    )
    .unwrap();
    let r = json_of(&stats(
        h.path(),
        &["--pricing", toml.to_str().unwrap(), "--format", "json"],
    ));
    let mine = [1.0, 2.0, 3.0, 4.0];
    assert_cost(
        &r["total"],
        cost(mine, A1) + cost(mine, A2) + cost(HAIKU_4_5, S1) + cost(HAIKU_4_5, B1),
    );

    let js = h.path().join("prices.json");
    std::fs::write(
        &js,
        r#"{"models": {"claude-haiku-4-5": {"input": 10, "output": 0, "cache_write": 0, "cache_read": 0}}}"#,
    )
    .unwrap();
    let r = json_of(&stats(
        h.path(),
        &[
            "--pricing",
            js.to_str().unwrap(),
            "--by",
            "model",
            "--format",
            "json",
        ],
    ));
    assert_cost(group(&r, HAIKU), (S1[0] + B1[0]) as f64 * 10.0 / 1e6);
    assert_cost(group(&r, SONNET), cost(SONNET_4_5, add(A1, A2)));

    std::fs::write(&toml, "[models.x]\ninput = \"cheap\"\n").unwrap();
    let o = stats(h.path(), &["--pricing", toml.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("prices.toml"), "{}", stderr(&o));
}

/// One Sonnet answer of `A1`'s tokens saying "hi", as a transcript line.
fn sonnet_says_hi() -> String {
    assistant(
        ["s", "msg_1", "req_1"],
        SONNET,
        "2026-11-01T00:00:00Z",
        A1,
        json!({"type": "text", "text": "hi"}),
        false,
    )
}

#[test]
fn bad_lines_are_reported_by_file_and_line_and_the_rest_counted() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.jsonl");
    let good = sonnet_says_hi();
    let wrong_field = good.replace("\"input_tokens\":10", "\"input_tokens\":\"ten\"");
    assert_ne!(wrong_field, good);
    let lines = [
        good.as_str(),
        r#"{"type":"user","message":{"role":"user","content":"cut sh"#,
        "not json at all",
        wrong_field.as_str(),
    ];
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let name = f.display().to_string();

    let o = stats(dir.path(), &[&name, "--format", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("{name}:2: not JSON")), "{err}");
    assert!(err.contains(&format!("{name}:3: not JSON")), "{err}");
    assert!(
        err.contains(&format!(
            "{name}:4: message.usage.input_tokens: expected a token count"
        )),
        "{err}"
    );
    assert!(!err.contains(&format!("{name}:1:")), "{err}");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(counts(&r["total"]), A1);

    let o = stats(dir.path(), &[&name, "--strict"]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(err.contains(&format!("{name}:2:")), "{err}");
    assert!(!err.contains(&format!("{name}:3:")), "{err}");
    assert!(o.stdout.is_empty(), "partial output under --strict");
}

#[test]
fn missing_input_is_named_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone.jsonl");
    let o = stats(dir.path(), &[gone.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("gone.jsonl"), "{}", stderr(&o));

    // No input and no projects folder in CLAUDE_CONFIG_DIR.
    let o = stats(dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let want = dir.path().join("projects").display().to_string();
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    assert!(stderr(&o).contains("CLAUDE_CONFIG_DIR"), "{}", stderr(&o));
}

#[test]
fn opencode_export_is_counted_from_its_messages() {
    // Three assistant steps of claude-sonnet-4-5, each 120 in / 30 out / 80 cache read.
    let f = fixture("opencode-1.18.33/export-tool-run.json");
    let r = file_report(&f);
    let want = [360, 90, 0, 240];
    assert_eq!(counts(&r["total"]), want);
    assert_cost(&r["total"], cost(SONNET_4_5, want));
    assert_eq!(keys(&r), ["ses_dcb0f7901ffeoFwO5tPa4Kuqg3"]);
    assert_eq!(r["groups"][0]["models"], json!(["claude-sonnet-4-5"]));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("export.json");
    std::fs::write(&bad, r#"{"info": {"id": "x"}, "messages": 3}"#).unwrap();
    let o = stats(dir.path(), &[bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("export.json"), "{}", stderr(&o));
}

#[test]
fn unknown_models_are_counted_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.jsonl");
    let line = assistant(
        ["s", "msg_1", "req_1"],
        "claude-future-9",
        "2026-11-01T00:00:00Z",
        B1,
        json!({"type": "text", "text": "hi"}),
        false,
    );
    std::fs::write(&f, line + "\n").unwrap();
    let o = stats(dir.path(), &[f.to_str().unwrap(), "--format", "json"]);
    let r = json_of(&o);
    assert_eq!(counts(&r["total"]), B1);
    assert_cost(&r["total"], 0.0);
    assert!(stderr(&o).contains("claude-future-9"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--pricing"), "{}", stderr(&o));
}

#[test]
fn usage_is_read_only_where_claude_code_puts_it() {
    // Text that mentions "usage", a Task result's own `usage` summary, and a 2.0.x progress line
    // carrying a subagent's response in `data.message.message`.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.jsonl");
    let lines = [
        json!({"type": "user", "timestamp": "2026-11-01T00:00:00Z",
               "message": {"role": "user", "content": "why is the \"usage\" so high?"}})
        .to_string(),
        json!({"type": "queue-operation", "content": "\"usage\": {\"input_tokens\": 5}"}).to_string(),
        json!({"type": "user", "timestamp": "2026-11-01T00:00:01Z",
               "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "done"}]},
               "toolUseResult": {"status": "completed", "usage": {"input_tokens": 999, "output_tokens": 999}}})
        .to_string(),
        json!({"type": "progress", "sessionId": "s", "data": {"type": "agent_progress", "message": {
            "type": "assistant", "timestamp": "2026-11-01T00:00:02Z", "requestId": "req_p",
            "message": {"id": "msg_p", "model": HAIKU, "role": "assistant", "content": [],
                        "usage": {"input_tokens": S1[0], "output_tokens": S1[1],
                                  "cache_creation_input_tokens": S1[2], "cache_read_input_tokens": S1[3]}}}}})
        .to_string(),
        assistant(
            ["s", "msg_1", "req_1"],
            SONNET,
            "2026-11-01T00:00:03Z",
            A1,
            json!({"type": "text", "text": "the usage is fine"}),
            false,
        ),
    ];
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let r = json_of(&stats(
        dir.path(),
        &[f.to_str().unwrap(), "--by", "model", "--format", "json"],
    ));
    assert_eq!(counts(group(&r, HAIKU)), S1);
    assert_eq!(counts(group(&r, SONNET)), A1);
    assert_eq!(counts(&r["total"]), add(S1, A1));
}

#[test]
fn a_line_over_64_mib_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("huge.jsonl");
    let good = sonnet_says_hi();
    let mut text = good + "\n";
    text.push_str("{\"type\":\"user\",\"message\":\"");
    text.push_str(&"x".repeat(64 * 1024 * 1024));
    text.push_str("\"}\n");
    std::fs::write(&f, text).unwrap();
    let o = stats(dir.path(), &[f.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "{}:2: line longer than 67108864 bytes",
            f.display()
        )),
        "{}",
        stderr(&o)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(counts(&r["total"]), A1);
}

#[test]
fn advisor_iterations_count_under_their_own_model() {
    // A response that consulted the advisor tool: its `usage.iterations` has the advisor's own
    // step, on another model, not included in the response's counters. Written as two
    // content-block lines, like any response.
    const ADVISED: [u64; 4] = [40, 300, 0, 500];
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.jsonl");
    let line = |block: Value| {
        let mut v: Value = serde_json::from_str(&assistant(
            ["s", "msg_1", "req_1"],
            SONNET,
            "2026-11-01T00:00:00Z",
            A1,
            block,
            false,
        ))
        .unwrap();
        v["message"]["usage"]["iterations"] = json!([
            {"type": "message", "input_tokens": A1[0], "output_tokens": 5},
            {"type": "advisor_message", "model": "claude-opus-4-8",
             "input_tokens": ADVISED[0], "output_tokens": ADVISED[1],
             "cache_creation_input_tokens": ADVISED[2], "cache_read_input_tokens": ADVISED[3]},
        ]);
        v.to_string()
    };
    let lines = [
        line(json!({"type": "text", "text": "asking"})),
        line(json!({"type": "text", "text": "done"})),
    ];
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let r = json_of(&stats(
        dir.path(),
        &[f.to_str().unwrap(), "--by", "model", "--format", "json"],
    ));
    assert_eq!(counts(group(&r, SONNET)), A1);
    assert_eq!(counts(group(&r, "claude-opus-4-8")), ADVISED);
    assert_eq!(counts(&r["total"]), add(A1, ADVISED));
    assert_cost(&r["total"], cost(SONNET_4_5, A1) + cost(OPUS_4_8, ADVISED));
}

#[test]
fn weeks_a_chosen_zone_and_a_total_column() {
    let h = home();
    let week = json_of(&stats(h.path(), &["--by", "week", "--format", "json"]));
    assert_eq!(keys(&week), ["2026-W44", "2026-W45"]);
    assert_eq!(counts(group(&week, "2026-W44")), add(add(A1, A2), S1));
    assert_eq!(counts(group(&week, "2026-W45")), B1);

    // 2026-10-31T23:30Z: November 1st in Berlin, still October 31st in UTC, whatever TZ says.
    let day_in = |tz: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["transcript", "stats", "--by", "day", "--tz", tz])
            .env("TZ", "Europe/Berlin")
            .env("CLAUDE_CONFIG_DIR", h.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let utc = day_in("UTC");
    assert!(utc.starts_with("Day (UTC)"), "{utc}");
    let a2 = utc.lines().find(|l| l.starts_with("2026-10-31")).unwrap();
    // Input, output, cache write, cache read, then their total.
    let cells: Vec<&str> = a2.split_whitespace().collect();
    assert_eq!(&cells[1..6], ["5", "50", "0", "2,000", "2,055"], "{a2}");
    assert!(day_in("Europe/Berlin").starts_with("Day (Europe/Berlin)"));
    assert!(day_in("Europe/Berlin").contains("2026-11-01"));

    let bad = stats(h.path(), &["--tz", "Nowhere/Land"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--tz: `Nowhere/Land` is not a time zone"));
}

#[test]
fn by_session_the_table_has_each_sessions_date_and_title_and_fits_80_columns() {
    let dir = fixture("handwritten");
    let run = |columns: &str, args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["transcript", "stats", dir.to_str().unwrap(), "--tz", "UTC"])
            .args(args)
            .env("COLUMNS", columns)
            .env("CLAUDE_CONFIG_DIR", "/nonexistent")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // Narrow: short id, date, total tokens, cost and title, every line within 80 columns.
    let text = run("80", &[]);
    assert!(
        text.starts_with("Session   Date (UTC)  Tokens  Cost (USD)  Title\n"),
        "{text}"
    );
    let row = text.lines().find(|l| l.starts_with("9d2c5e71 ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..4],
        ["9d2c5e71", "2025-07-10", "363", "0.00"],
        "{row}"
    );
    assert!(
        row.ends_with("Forecast page shows yesterday's date"),
        "{row}"
    );
    // A slash command's session is titled by its command.
    assert!(text.contains("  /review src/cart.py\n"), "{text}");
    for by in ["session", "day", "week", "month", "model", "project"] {
        let text = run("80", &["--by", by]);
        for l in text.lines() {
            assert!(l.chars().count() <= 80, "--by {by}: {l:?}\n{text}");
        }
        assert!(text.lines().last().unwrap().starts_with("Total"), "{text}");
    }
    // Wide: the whole id, every counter, the models, then the title.
    let text = run("200", &[]);
    let header = text.lines().next().unwrap();
    let cols: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "Session",
            "Date",
            "Input",
            "Output",
            "Cache write",
            "Cache read",
            "Total tokens",
            "Cost (USD)",
            "Models",
            "Title"
        ]
    );
    assert!(
        text.contains("9d2c5e71-4b0a-4f38-b6d1-2e8c7a5f0b93  2025-07-10"),
        "{text}"
    );
    // JSON has both for each session.
    let v: Value = serde_json::from_str(&run("80", &["--format", "json"])).unwrap();
    let g = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "9d2c5e71-4b0a-4f38-b6d1-2e8c7a5f0b93")
        .unwrap();
    assert_eq!(g["started"], "2025-07-10T09:00:04Z");
    assert_eq!(g["title"], "Forecast page shows yesterday's date");
}
