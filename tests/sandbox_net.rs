//! The local sandbox's network, end to end: the real Claude Code under `aisys run`, driven by
//! the scripted mock model on host loopback. The agent reaches its model, and nothing else of
//! the host: a Bash tool call that connects to another host loopback port finds nobody there,
//! unless the run opted into the host's network with `--network host`.

mod mock_api;
mod run_harness;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aisys::types::{StreamEvent, TurnStatus};
use mock_api::{MockAnthropic, Reply, Script, When};
use run_harness::{Run, events, stderr, tool_results};
use serde_json::json;

/// What the probe prints last, so the test knows it ran to its end.
const DONE: &str = "PROBE-DONE";

/// A host loopback port standing in for a local service (`aisys serve`, a database, ...), and
/// how many connections reached it.
fn host_service() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (port, accepted)
}

/// A model that has the agent try the port with bash's /dev/tcp, then answers.
fn probing_model(port: u16) -> MockAnthropic {
    let probe =
        format!("(exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED-TO-HOST) 2>&1; echo {DONE}");
    Script::new()
        .on(
            When::UserSays("check the service".into()),
            Reply::tool("Bash", json!({"command": probe})),
        )
        .on(
            When::ToolResultContains(DONE.into()),
            Reply::text("checked"),
        )
        .start()
}

fn probe(extra: &[&str]) -> (std::process::Output, Vec<StreamEvent>, usize) {
    let (port, accepted) = host_service();
    let mock = probing_model(port);
    let run = Run::new();
    let mut args = vec!["check the service", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let out = run.run(&mock, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ev = events(&out);
    assert!(
        matches!(
            ev.iter()
                .rev()
                .find(|e| matches!(e, StreamEvent::Result { .. })),
            Some(StreamEvent::Result {
                status: TurnStatus::Success,
                ..
            })
        ),
        "the agent reached its model and finished: {ev:?}"
    );
    assert!(
        tool_results(&ev).join("\n").contains(DONE),
        "the probe ran: {ev:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    (out, ev, accepted.load(Ordering::SeqCst))
}

#[test]
fn the_agent_reaches_its_model_but_no_other_host_port() {
    let (_, ev, accepted) = probe(&[]);
    let results = tool_results(&ev).join("\n");
    assert!(!results.contains("CONNECTED-TO-HOST"), "{results}");
    assert_eq!(accepted, 0, "nothing reached the host's service");
}

#[test]
fn network_host_shares_the_hosts_network_and_says_so() {
    let (out, ev, accepted) = probe(&["--network", "host"]);
    let results = tool_results(&ev).join("\n");
    assert!(results.contains("CONNECTED-TO-HOST"), "{results}");
    assert_eq!(accepted, 1);
    assert!(stderr(&out).contains("--network host"), "{}", stderr(&out));
}
