//! What a user of `aisys serve` sees when part of the system is slower than the rest: a client
//! that stops reading holds up neither the session nor its other clients, the server's queues
//! stay within their bounds, and `/metrics` shows how full they are.

mod serve_harness;

use std::time::{Duration, Instant};

use aisys::types::{ClientMessage, SessionSpec};
use serve_harness::*;

/// Events the server holds for one running turn before the agent must wait: a batch of at most
/// `EVENT_BATCH` (64) being stored, one waiting in the session's queue (`TURN_EVENT_QUEUE`) and
/// one the runner holds while it waits for room. The gauge adds up every session's.
const AGENT_EVENTS_BOUND: i64 = 3 * 64;
/// The turns running at once here.
const SESSIONS: i64 = 2;

fn start(dir: &std::path::Path, bin: &std::path::Path) -> Server {
    Server::start(
        &dir.join("data"),
        &[],
        &[
            ("AISYS_CLAUDE_BIN", bin.to_str().unwrap()),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_holds_up_no_one_and_metrics_show_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    // An agent writing as fast as it can: more than loopback TCP buffers take in (30,000
    // frames are about 10 MB), so the client that does not read ends up with frames waiting.
    let bin = fake_claude_with(dir.path(), r#"{"events": 30000}"#);
    let server = start(dir.path(), &bin);
    let idle = metrics(&server).await;
    for q in ["agent_events", "journal", "sqlite_load", "outbound_frames"] {
        assert_eq!(depth(&idle, q), 0, "{q} is empty before anything runs");
    }

    let (fast, mut fast_notes) = server.client().await;
    let info = fast.create(SessionSpec::default()).await.unwrap();
    fast.attach(&info.id, 0).await.unwrap();
    // A second session with its own client, to show that one client's backlog is its own.
    let (other, mut other_notes) = server.client().await;
    let other_info = other.create(SessionSpec::default()).await.unwrap();
    other.attach(&other_info.id, 0).await.unwrap();

    let slow = raw_attached(&server, &info.id).await;
    for (client, id) in [(&fast, &info.id), (&other, &other_info.id)] {
        client
            .ack(ClientMessage::Message {
                session_id: id.clone(),
                text: "flood".into(),
            })
            .await
            .unwrap();
    }
    // Both turns end, each client gets every event, while the slow client reads nothing.
    let started = Instant::now();
    let fast_events = until_result(&mut fast_notes, &info.id).await;
    let other_events = until_result(&mut other_notes, &other_info.id).await;
    for events in [&fast_events, &other_events] {
        let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
        let first = seqs[0];
        assert_eq!(seqs, (first..first + seqs.len() as u64).collect::<Vec<_>>());
    }
    eprintln!(
        "two turns of 30,000 lines with a stalled client: {:.1?}",
        started.elapsed()
    );

    // The stalled client's frames wait in its queue, and /metrics says so; every other queue
    // has drained, and none went past its bound.
    let m = metrics(&server).await;
    assert!(
        depth(&m, "outbound_frames") > 0,
        "the stalled client's frames show as waiting:\n{m}"
    );
    assert_eq!(depth(&m, "agent_events"), 0, "{m}");
    assert_eq!(depth(&m, "journal"), 0, "{m}");
    let agent_peak = peak(&m, "agent_events");
    assert!(
        (1..=SESSIONS * AGENT_EVENTS_BOUND).contains(&agent_peak),
        "the events of running turns queue up to their bound, no further: {agent_peak}\n{m}"
    );
    assert!(
        peak(&m, "journal") <= SESSIONS + 1,
        "at most one append per session (and a read) waits for the journal\n{m}"
    );
    // SQLite catches up on its own.
    let deadline = Instant::now() + Duration::from_secs(10);
    while depth(&metrics(&server).await, "sqlite_load") > 0 {
        assert!(Instant::now() < deadline, "SQLite never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Once the client goes, its frames leave the count.
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics(&server).await;
        if depth(&m, "outbound_frames") == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "frames of a closed connection still counted:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_agents_lines_are_stored_and_sent_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    // 200 lines, one every millisecond: taken one by one, that is a store append each.
    const LINES: usize = 200;
    let bin = fake_claude_with(
        dir.path(),
        &format!(r#"{{"events": {LINES}, "rate": 1000}}"#),
    );
    let server = start(dir.path(), &bin);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    let before = metrics(&server).await;
    client
        .ack(ClientMessage::Message {
            session_id: info.id.clone(),
            text: "go".into(),
        })
        .await
        .unwrap();
    let events = until_result(&mut notes, &info.id).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
    let first = seqs[0];
    assert_eq!(seqs, (first..first + seqs.len() as u64).collect::<Vec<_>>());
    assert!(events.len() > LINES, "every line arrives: {}", events.len());

    let after = metrics(&server).await;
    let stored =
        sample(&after, "aisys_events_stored_total") - sample(&before, "aisys_events_stored_total");
    let appends =
        sample(&after, "aisys_store_appends_total") - sample(&before, "aisys_store_appends_total");
    assert!(
        appends > 0 && stored >= 4 * appends,
        "lines that come close together share an append: {stored} events in {appends} appends"
    );
}
