//! The Transcripts tab on a growing session: what one appended line costs the server, before
//! (the whole session read and rendered again, as `GET /api/transcripts/view` does, which the
//! page used to call on every change) and after (the follower reads the new line and renders the
//! blocks it touched, as `/api/transcripts/follow` does), on a 10,000-line Claude Code transcript
//! built from the recorded one in tests/fixtures (its conversation repeated with fresh ids, one
//! parent chain). The usage table's recount, which the follow socket does at most every two
//! seconds, is timed too.
//!
//! `cargo bench --bench transcript_follow` prints the median and p90 per appended line in
//! milliseconds; `cargo test --all-targets` runs a 200-line version to prove it works. Figures
//! go in docs/benchmarks.md.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use aisys::docs::follow::SessionFollow;
use aisys::docs::transcripts::{session_page, session_usage};
use serde_json::Value;

/// Lines of the session before anything is appended.
const LINES: usize = 10_000;
/// Lines appended one at a time, each timed.
const APPENDS: usize = 40;
/// Sizes when run as a test.
const SMOKE_LINES: usize = 200;
const SMOKE_APPENDS: usize = 4;

/// The recorded conversation's lines (prompt to final answer), as JSON.
fn conversation() -> Vec<Value> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/claude-code-2.1.197/transcript-tool-run.jsonl"),
    )
    .unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["uuid"].is_string())
        .collect()
}

/// Every id of the conversation (uuids, message, request and tool ids), not the session's.
fn ids(lines: &[Value]) -> HashSet<String> {
    fn walk(v: &Value, key: Option<&str>, out: &mut HashSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| walk(v, Some(k), out)),
            Value::Array(a) => a.iter().for_each(|v| walk(v, None, out)),
            Value::String(s)
                if matches!(
                    key,
                    Some(
                        "uuid"
                            | "parentUuid"
                            | "id"
                            | "tool_use_id"
                            | "requestId"
                            | "sourceToolAssistantUUID"
                            | "promptId"
                    )
                ) =>
            {
                out.insert(s.clone());
            }
            _ => {}
        }
    }
    let mut out = HashSet::new();
    for l in lines {
        walk(l, None, &mut out);
    }
    out
}

fn rename(v: &mut Value, ids: &HashSet<String>, round: usize) {
    match v {
        Value::Object(m) => m.values_mut().for_each(|v| rename(v, ids, round)),
        Value::Array(a) => a.iter_mut().for_each(|v| rename(v, ids, round)),
        Value::String(s) if ids.contains(s.as_str()) => *s = format!("{s}-{round}"),
        _ => {}
    }
}

/// Line `n` of the generated session: round `n / len` of the conversation, its ids made its
/// own, its first line chained to the previous round's last.
fn line(conv: &[Value], ids: &HashSet<String>, n: usize) -> String {
    let (round, i) = (n / conv.len(), n % conv.len());
    let mut v = conv[i].clone();
    rename(&mut v, ids, round);
    if i == 0 && round > 0 {
        let mut prev = conv[conv.len() - 1].clone();
        rename(&mut prev, ids, round - 1);
        v["parentUuid"] = prev["uuid"].clone();
    }
    v.to_string() + "\n"
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what}: median {:.2} ms, p90 {:.2} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10])
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (lines, appends) = if full {
        (LINES, APPENDS)
    } else {
        (SMOKE_LINES, SMOKE_APPENDS)
    };
    let conv = conversation();
    let ids = ids(&conv);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.jsonl");
    let mut text = String::new();
    for n in 0..lines {
        text.push_str(&line(&conv, &ids, n));
    }
    std::fs::write(&path, &text).unwrap();
    println!(
        "a {lines}-line session ({:.1} MB), {appends} lines appended one at a time:",
        text.len() as f64 / 1e6
    );
    let append = |n: usize| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(line(&conv, &ids, n).as_bytes()).unwrap();
    };

    let t = Instant::now();
    let (mut follow, page) = SessionFollow::open(&path).unwrap();
    println!(
        "  opening it (follower primed, then the whole-file page): {:.1} ms, {} blocks",
        t.elapsed().as_secs_f64() * 1000.0,
        page.blocks.len()
    );

    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut usage = Vec::new();
    let mut touched = 0;
    for k in 0..appends {
        append(lines + k);
        let t = Instant::now();
        let found = follow.look().unwrap();
        after.push(t.elapsed());
        assert_eq!(found.lines, 1, "the follower read the one new line");
        touched += found.blocks.len();
        let t = Instant::now();
        let whole = session_page(&path).unwrap();
        before.push(t.elapsed());
        // (An attachment line touches no block.)
        for b in &found.blocks {
            assert!(
                whole.blocks.contains(b),
                "the follower's block is the one the whole-file reader renders"
            );
        }
        let t = Instant::now();
        std::hint::black_box(session_usage(&path).unwrap());
        usage.push(t.elapsed());
    }
    assert!(touched > 0, "the appended lines touched blocks");
    report(
        "before: the whole session read and rendered again (view)",
        before,
    );
    report(
        "after: the new line read and its blocks rendered (follow)",
        after,
    );
    report(
        "the usage recount (at most every 2 s while it grows)",
        usage,
    );
}
