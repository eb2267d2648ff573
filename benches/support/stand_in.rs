//! The load benches' stand-in agent, compiled: the bench binary itself, run as
//! `claude -p --input-format stream-json --output-format stream-json` would be. It prints what
//! `benches/support/fake-claude` (the Python stand-in the tests use) prints, line for line, and
//! costs a fraction of its CPU: with a hundred of them on two cores, the Python interpreters
//! took about 0.8 of a core at 20,000 lines/s, time that then went missing from the server
//! being measured and from the fair relay beside it.
//!
//! It answers the control protocol and, for each user message, prints `events` assistant lines
//! at `rate` lines per second (0: as fast as it can), each carrying the time it was written (ns
//! since the epoch) in its text, then a result. Settings come from the JSON file the wrapper
//! script names (`events`, `rate`, `start_at`: the moment the first line is due, seconds since
//! the epoch, plus a random part of one interval so that the agents do not write in lockstep).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The argument that makes the bench binary the stand-in agent (the settings file follows it,
/// then the agent's own arguments).
pub const CHILD_ARG: &str = "--stand-in-agent";

/// Writes the wrapper the server runs as its agent (`AISYS_CLAUDE_BIN`) into `dir`, with
/// `settings` beside it as `fake-claude.json` (rewritten by each load); returns its path.
pub fn install(dir: &Path, settings: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let wrapper = dir.join("stand-in-agent");
    let json = dir.join("fake-claude.json");
    std::fs::write(&json, settings).unwrap();
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' {CHILD_ARG} '{}' \"$@\"\n",
            exe.display(),
            json.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// The stand-in's body; `args` are what follows [`CHILD_ARG`].
pub fn child_main(args: &[String]) -> ! {
    if args.iter().any(|a| a == "--version") {
        println!("0.0.0 (fake-claude)");
        std::process::exit(0);
    }
    let conf: serde_json::Value = std::fs::read_to_string(&args[0])
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let events = conf["events"].as_u64().unwrap_or(10);
    let rate = conf["rate"].as_f64().unwrap_or(0.0);
    let start_at = conf["start_at"].as_f64().unwrap_or(0.0);
    let started = now();
    let session = args
        .iter()
        .find_map(|a| a.strip_prefix("--resume=").map(str::to_string))
        .unwrap_or_else(|| format!("stand-in-{}-{}", std::process::id(), started.as_nanos()));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut emit = |line: &str| {
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
        out.flush().unwrap();
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if msg["type"] == "control_request" {
            let reply = serde_json::json!({"type": "control_response", "response": {
                "subtype": "success", "request_id": msg["request_id"], "response": {}}});
            emit(&reply.to_string());
            continue;
        }
        if msg["type"] != "user" {
            continue;
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        let init = serde_json::json!({"type": "system", "subtype": "init",
            "session_id": session, "model": "fake", "tools": [],
            "cwd": cwd.display().to_string(), "claude_code_version": "0.0.0"});
        emit(&init.to_string());
        if start_at > 0.0 {
            // A phase from the clock's low digits and the pid: random enough to spread agents.
            let phase = if rate > 0.0 {
                let mix = started.subsec_nanos() as u64 ^ (std::process::id() as u64 * 7919);
                (mix % 1_000_000) as f64 / 1_000_000.0 / rate
            } else {
                0.0
            };
            let wait = start_at + phase - now().as_secs_f64();
            if wait > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(wait));
            }
        }
        let head = format!(
            r#"{{"type":"assistant","session_id":{},"parent_tool_use_id":null,"message":{{"id":"msg_"#,
            serde_json::Value::from(session.as_str())
        );
        let start = now();
        let mut buf = String::with_capacity(head.len() + 160);
        for i in 0..events {
            if rate > 0.0 {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                let t = now();
                if due > t {
                    std::thread::sleep(due - t);
                }
            }
            use std::fmt::Write as _;
            buf.clear();
            buf.push_str(&head);
            let _ = write!(
                buf,
                r#"{i}","role":"assistant","model":"fake","content":[{{"type":"text","text":"t={}"}}],"usage":{{"input_tokens":1,"output_tokens":1}}}}}}"#,
                now().as_nanos()
            );
            emit(&buf);
        }
        let result = serde_json::json!({"type": "result", "subtype": "success",
            "is_error": false, "num_turns": 1,
            "duration_ms": (now() - start).as_millis() as u64, "result": "done",
            "session_id": session, "total_cost_usd": 0.0,
            "usage": {"input_tokens": 1, "output_tokens": events}});
        emit(&result.to_string());
        std::process::exit(0);
    }
    std::process::exit(0);
}
