//! Several `aisys serve` processes sharing one PostgreSQL store (tests/pg_support): a client on
//! one server follows, live and exactly once, a turn another server runs; a server killed
//! mid-turn is taken over by the next request within its lease; a permission request raised on
//! one server is answered from a client of another; a server whose listening connection the
//! database ends follows again once it is back; a client of a server that lost a session's lease
//! while paused follows the server that took it, and that server ends the turn it was running. The stand-in agent runs the turns, except
//! for permissions, which take the real Claude Code against the mock model.

mod mock_api;
mod pg_support;
mod serve_harness;

use std::path::Path;
use std::time::{Duration, Instant};

use aisys::client::Notification;
use aisys::types::{
    ClientMessage, DecidedBy, PermissionDecision, SessionSpec, SessionState, StateReason,
    StreamEvent, TurnStatus,
};
use futures_util::{SinkExt, StreamExt};
use serve_harness::*;
use tokio_tungstenite::tungstenite::Message;

/// The lease the tests' servers hold (`AISYS_LEASE_EXPIRY_MS`): short, so that a takeover after
/// a `kill -9` takes a second or two, not the default 15 s.
const LEASE_MS: u64 = 1500;

/// Two servers on one database, sharing a token file.
fn two_servers(dir: &Path, bin: &Path, url: &str) -> (Server, Server) {
    two_servers_with_lease(dir, bin, url, LEASE_MS)
}

fn two_servers_with_lease(dir: &Path, bin: &Path, url: &str, lease_ms: u64) -> (Server, Server) {
    let token = dir.join("shared-token");
    std::fs::write(&token, "cluster-test-token\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let lease = lease_ms.to_string();
    let start = |name: &str| {
        Server::start(
            &dir.join(name),
            &["--store", url, "--token-file", token.to_str().unwrap()],
            &[
                ("AISYS_CLAUDE_BIN", bin.to_str().unwrap()),
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
                ("AISYS_LEASE_EXPIRY_MS", &lease),
            ],
        )
    };
    (start("a"), start("b"))
}

/// The end of a turn: back to idle from running (not from provisioning, nor on creation).
fn idle(e: &StreamEvent) -> bool {
    matches!(
        e,
        StreamEvent::StateChanged {
            from: Some(SessionState::Running),
            to: SessionState::Idle,
            ..
        }
    )
}

fn seqs(events: &[(u64, StreamEvent)]) -> Vec<u64> {
    events.iter().map(|(s, _)| *s).collect()
}

/// Nothing more arrives for the session for a moment (no event twice).
async fn quiet(notes: &mut tokio::sync::mpsc::Receiver<Notification>, session_id: &str) {
    let until = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(Some(n)) = tokio::time::timeout_at(until, notes.recv()).await {
        if let Notification::Event {
            session_id: s, seq, ..
        } = n
        {
            assert_ne!(s, session_id, "event {seq} came after the turn ended");
        }
    }
}

/// Two servers on a fresh database, a client on each, and a session made on A that both
/// clients attach to (B's first, to follow it from the start).
struct Pair {
    a: Server,
    b: Server,
    on_a: aisys::client::Client,
    notes_a: tokio::sync::mpsc::Receiver<Notification>,
    on_b: aisys::client::Client,
    notes_b: tokio::sync::mpsc::Receiver<Notification>,
    info: aisys::types::SessionInfo,
    url: String,
    dir: tempfile::TempDir,
}

async fn pair() -> Pair {
    pair_with(r#"{"events": 40, "rate": 400}"#).await
}

/// [`pair`], with the stand-in agent's `settings`.
async fn pair_with(settings: &str) -> Pair {
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), settings);
    let (a, b) = two_servers(dir.path(), &bin, &url);
    let (on_a, notes_a) = a.client().await;
    let (on_b, notes_b) = b.client().await;
    let info = on_a.create(SessionSpec::default()).await.unwrap();
    // B lists the session A made and follows it from the start.
    assert!(on_b.list().await.unwrap().iter().any(|s| s.id == info.id));
    on_b.attach(&info.id, 0).await.unwrap();
    on_a.attach(&info.id, 0).await.unwrap();
    Pair {
        a,
        b,
        on_a,
        notes_a,
        on_b,
        notes_b,
        info,
        url,
        dir,
    }
}

impl Pair {
    /// Sends `text` on A and waits until B's client sees the turn's first text: A runs it.
    async fn turn_on_a(&mut self, text: &str) {
        say(&self.on_a, &self.info.id, text).await;
        events_until(&mut self.notes_b, &self.info.id, |e| {
            matches!(e, StreamEvent::Text { .. })
        })
        .await;
    }

    /// The stand-in agent's settings for the turns started from now on.
    fn agent_settings(&self, settings: &str) {
        std::fs::write(self.dir.path().join("fake-claude.json"), settings).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_on_one_server_follows_a_turn_another_runs_live_and_exactly_once() {
    let Pair {
        a,
        b,
        on_a,
        mut notes_a,
        on_b,
        mut notes_b,
        info,
        dir: _dir,
        ..
    } = pair().await;
    say(&on_a, &info.id, "hello").await;
    let seen_a = events_until(&mut notes_a, &info.id, idle).await;
    let seen_b = events_until(&mut notes_b, &info.id, idle).await;
    assert_eq!(result_status(&seen_b), Some(TurnStatus::Success));
    assert_eq!(
        seqs(&seen_b),
        (1..=seen_b.len() as u64).collect::<Vec<_>>(),
        "B gets every event once, in order"
    );
    assert_eq!(seen_b, seen_a, "B sees what A's own client sees");
    quiet(&mut notes_b, &info.id).await;
    // The turn ran on A: its agent's home is in A's data folder, not B's.
    assert!(a.data_dir.join("homes").join(info.id.as_str()).exists());
    assert!(!b.data_dir.join("homes").join(info.id.as_str()).exists());

    // A message sent to B goes to A, which owns the session now; both clients see the turn.
    let last = seen_b.last().unwrap().0;
    say(&on_b, &info.id, "from b").await;
    let seen_b = events_until(&mut notes_b, &info.id, idle).await;
    let seen_a = events_until(&mut notes_a, &info.id, idle).await;
    assert_eq!(seen_b, seen_a);
    assert_eq!(seqs(&seen_b)[0], last + 1);
    assert_eq!(
        seqs(&seen_b),
        (last + 1..=last + seen_b.len() as u64).collect::<Vec<_>>()
    );
    assert!(
        seen_b
            .iter()
            .any(|(_, e)| matches!(e, StreamEvent::UserMessage { text, .. } if text == "from b"))
    );
    assert!(
        !b.data_dir.join("homes").join(info.id.as_str()).exists(),
        "B ran nothing"
    );
    // Both list it idle, with the same last seq.
    for client in [&on_a, &on_b] {
        let listed = client.list().await.unwrap();
        let s = listed.iter().find(|s| s.id == info.id).unwrap();
        assert_eq!(s.state, SessionState::Idle);
        assert_eq!(s.last_seq, seen_b.last().unwrap().0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_listening_connection_drops_follows_again_once_it_is_back() {
    // Every part bound: what is not is dropped at once, servers and all.
    let Pair {
        a: _a,
        b: _b,
        on_a,
        mut notes_a,
        on_b: _on_b,
        mut notes_b,
        info,
        url,
        dir: _dir,
    } = pair().await;
    say(&on_a, &info.id, "one").await;
    events_until(&mut notes_a, &info.id, idle).await;
    events_until(&mut notes_b, &info.id, idle).await;

    // The database ends every server's listening connection (a restart, a network cut).
    let ended = pg_support::cluster().psql(
        &url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    );
    assert_eq!(ended.trim(), "2", "both servers were listening");
    say(&on_a, &info.id, "two").await;
    let seen_a = events_until(&mut notes_a, &info.id, idle).await;
    let seen_b = events_until(&mut notes_b, &info.id, idle).await;
    assert_eq!(
        seen_b, seen_a,
        "B follows the turn after its connection came back"
    );
    quiet(&mut notes_b, &info.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_turn_is_taken_over_by_the_next_request_within_its_lease() {
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 3, "sleep": 30}"#);
    let (mut a, b) = two_servers(dir.path(), &bin, &url);
    let (on_a, notes_a) = a.client().await;
    let (on_b, mut notes_b) = b.client().await;
    let info = on_a.create(SessionSpec::default()).await.unwrap();
    on_a.attach(&info.id, 0).await.unwrap();
    on_b.attach(&info.id, 0).await.unwrap();
    say(&on_a, &info.id, "long").await;
    let mut before = Vec::new();
    let mut n = 0;
    while n < 3 {
        let got = events_until(&mut notes_b, &info.id, |_| true).await;
        n += got
            .iter()
            .filter(|(_, e)| matches!(e, StreamEvent::Text { .. }))
            .count();
        before.extend(got);
    }
    drop(notes_a);
    a.kill9();
    let killed = Instant::now();
    std::fs::write(dir.path().join("fake-claude.json"), r#"{"events": 2}"#).unwrap();
    say(&on_b, &info.id, "again").await;
    let taken = killed.elapsed();
    assert!(
        taken < Duration::from_millis(LEASE_MS + 2000),
        "B took the session over {taken:?} after the kill (lease {LEASE_MS} ms)"
    );
    let after = events_until(&mut notes_b, &info.id, idle).await;
    let all: Vec<(u64, StreamEvent)> = before.into_iter().chain(after).collect();
    assert_eq!(
        seqs(&all),
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "no gap and no repeat across the takeover: {all:?}"
    );
    // The cut-short turn ends with a result and a stop that says why, before the new message.
    let stopped = all
        .iter()
        .position(|(_, e)| {
            matches!(e, StreamEvent::StateChanged { to: SessionState::Stopped, reason: Some(r), .. } if *r == StateReason::ServerLost)
        })
        .expect("the cut-short turn is recorded as stopped");
    assert!(matches!(
        &all[stopped - 1].1,
        StreamEvent::Result {
            status: TurnStatus::Interrupted,
            error: Some(e),
            ..
        } if e.starts_with("server_lost")
    ));
    let again = all
        .iter()
        .position(|(_, e)| matches!(e, StreamEvent::UserMessage { text, .. } if text == "again"))
        .unwrap();
    assert!(again > stopped);
    assert_eq!(
        result_status(&all[again..]),
        Some(TurnStatus::Success),
        "the session goes on, on B"
    );
    assert!(b.data_dir.join("homes").join(info.id.as_str()).exists());
    quiet(&mut notes_b, &info.id).await;
}

/// A server paused for longer than its lease loses the session to the server a message then
/// reaches; once running again, its client goes on getting the session's events, where it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_of_a_server_that_lost_its_lease_follows_the_new_owner() {
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 3}"#);
    let (a, b) = two_servers(dir.path(), &bin, &url);
    let (on_a, mut notes_a) = a.client().await;
    let (on_b, mut notes_b) = b.client().await;
    let info = on_a.create(SessionSpec::default()).await.unwrap();
    on_a.attach(&info.id, 0).await.unwrap();
    // Another client of A reads the blocks view (its attach replaces the events one).
    let mut blocks_a = raw_attached(&a, &info.id).await;
    let attach = format!(
        r#"{{"type":"session.attach","session_id":"{}","after_seq":0,"view":"blocks"}}"#,
        info.id
    );
    blocks_a.send(Message::Text(attach.into())).await.unwrap();
    say(&on_a, &info.id, "on a").await;
    let mut seen = events_until(&mut notes_a, &info.id, idle).await;

    let signal = |sig| {
        // SAFETY: kill only sends a signal to the test's own child process.
        assert_eq!(unsafe { libc::kill(a.child.id() as i32, sig) }, 0);
    };
    signal(libc::SIGSTOP);
    tokio::time::sleep(Duration::from_millis(LEASE_MS * 2)).await;
    on_b.attach(&info.id, 0).await.unwrap();
    say(&on_b, &info.id, "on b").await;
    events_until(
        &mut notes_b,
        &info.id,
        |e| matches!(e, StreamEvent::UserMessage { text, .. } if text == "on b"),
    )
    .await;
    events_until(&mut notes_b, &info.id, idle).await;
    signal(libc::SIGCONT);

    // A learns it lost the lease at its next renewal; its client sees B's turn.
    seen.extend(events_until(&mut notes_a, &info.id, idle).await);
    // And its requests go to B.
    say(&on_a, &info.id, "from a").await;
    seen.extend(events_until(&mut notes_a, &info.id, idle).await);
    assert_eq!(
        seqs(&seen),
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "no gap and no repeat across the loss: {seen:?}"
    );
    let at = |text: &str| {
        seen.iter()
            .position(|(_, e)| matches!(e, StreamEvent::UserMessage { text: t, .. } if t == text))
            .unwrap_or_else(|| panic!("{text:?} in {seen:?}"))
    };
    let (on_b_at, from_a_at) = (at("on b"), at("from a"));
    assert_eq!(
        result_status(&seen[on_b_at..from_a_at]),
        Some(TurnStatus::Success)
    );
    assert_eq!(result_status(&seen[from_a_at..]), Some(TurnStatus::Success));
    assert!(b.data_dir.join("homes").join(info.id.as_str()).exists());
    quiet(&mut notes_a, &info.id).await;
    // The blocks view goes on as well: it shows the message sent after the loss.
    loop {
        let frame = tokio::time::timeout(TURN_WAIT, blocks_a.next())
            .await
            .expect("the blocks of the turn after the loss never came")
            .expect("the connection stays open")
            .unwrap();
        let Message::Text(text) = frame else { continue };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if matches!(v["type"].as_str(), Some("block" | "blocks")) && text.contains("from a") {
            break;
        }
    }
}

/// The processes descended from `pid` whose command line mentions `name`.
fn descendants_named(pid: u32, name: &str) -> Vec<u32> {
    let mut parent = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The fields after the command's closing parenthesis: state, then the parent's pid.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
            parent.insert(p, ppid);
        }
    }
    let under = |mut p: u32| loop {
        match parent.get(&p) {
            Some(&q) if q == pid => return true,
            Some(&q) if q > 1 => p = q,
            _ => return false,
        }
    };
    parent
        .keys()
        .copied()
        .filter(|&p| under(p))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(name))
        })
        .collect()
}

/// A server paused for longer than its lease, whose session another server took over, ends the
/// turn it was running as soon as it runs again: the agent does not go on working for a
/// session whose record is another server's.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_lost_its_lease_ends_the_turn_it_was_running() {
    // A's client holds on to the session there throughout.
    let mut p = pair_with(r#"{"events": 2, "sleep": 120}"#).await;
    p.turn_on_a("long").await;
    let server = p.a.child.id();
    // The agent, and the sandbox's processes that started it.
    assert!(
        !descendants_named(server, "fake-claude").is_empty(),
        "the agent runs under A"
    );

    let signal = |sig| {
        // SAFETY: kill only sends a signal to the test's own child process.
        assert_eq!(unsafe { libc::kill(server as i32, sig) }, 0);
    };
    signal(libc::SIGSTOP);
    // B's keeper takes the expired lease over and records the turn as stopped.
    events_until(&mut p.notes_b, &p.info.id, |e| {
        matches!(e, StreamEvent::StateChanged { to: SessionState::Stopped, reason: Some(r), .. } if *r == StateReason::ServerLost)
    })
    .await;
    signal(libc::SIGCONT);

    // A learns at its next renewal that it lost the session, and ends the agent it ran.
    let deadline = Instant::now() + Duration::from_millis(LEASE_MS * 4);
    loop {
        let left = descendants_named(server, "fake-claude");
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "A's agent (pids {left:?}) still runs {LEASE_MS} ms x 4 after A lost the session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The session goes on from A's client, on the new owner.
    p.agent_settings(r#"{"events": 2}"#);
    say(&p.on_a, &p.info.id, "again").await;
    let after = events_until(&mut p.notes_b, &p.info.id, idle).await;
    assert_eq!(result_status(&after), Some(TurnStatus::Success));
    quiet(&mut p.notes_b, &p.info.id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permission_request_raised_on_one_server_is_answered_from_another() {
    use mock_api::{Reply, Script, When};
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = Script::new()
        .on(
            When::UserSays("write".into()),
            Reply::write("allowed.txt", "yes\n"),
        )
        .always(When::Always, Reply::text("noted"))
        .start();
    let token = dir.path().join("shared-token");
    std::fs::write(&token, "cluster-test-token\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let args = ["--store", &url, "--token-file", token.to_str().unwrap()];
    let claude = mock_api::claude_bin();
    let a = Server::with_claude(&dir.path().join("a"), &claude, &mock.base_url(), &args);
    let b = Server::with_claude(&dir.path().join("b"), &claude, &mock.base_url(), &args);
    let (on_a, mut notes_a) = a.client().await;
    let (on_b, mut notes_b) = b.client().await;
    let info = on_a.create(SessionSpec::default()).await.unwrap();
    on_a.attach(&info.id, 0).await.unwrap();
    on_b.attach(&info.id, 0).await.unwrap();
    say(&on_a, &info.id, "write").await;
    let asked = events_until(&mut notes_b, &info.id, |e| {
        matches!(e, StreamEvent::PermissionRequest { .. })
    })
    .await;
    let Some((_, StreamEvent::PermissionRequest { request_id, .. })) = asked.last() else {
        unreachable!()
    };
    on_b.ack(ClientMessage::Permission {
        session_id: info.id.clone(),
        request_id: request_id.clone(),
        decision: PermissionDecision::Allow,
        message: None,
    })
    .await
    .unwrap();
    let rest = events_until(&mut notes_b, &info.id, idle).await;
    assert_eq!(result_status(&rest), Some(TurnStatus::Success), "{rest:?}");
    assert!(rest.iter().any(|(_, e)| matches!(
        e,
        StreamEvent::PermissionDecision {
            decision: PermissionDecision::Allow,
            decided_by: Some(DecidedBy::Client),
            ..
        }
    )));
    assert_eq!(
        std::fs::read_to_string(Path::new(&info.workspace).join("allowed.txt")).unwrap(),
        "yes\n"
    );
    // A ran the turn and its own client saw the same events.
    let on_a_side = events_until(&mut notes_a, &info.id, idle).await;
    let b_side: Vec<_> = asked.into_iter().chain(rest).collect();
    assert_eq!(on_a_side, b_side);
    assert!(a.data_dir.join("homes").join(info.id.as_str()).exists());
    assert!(!b.data_dir.join("homes").join(info.id.as_str()).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_shuts_down_cleanly_hands_its_sessions_over_at_once() {
    // A lease far longer than the test may wait: only letting it go lets B in quickly.
    const LONG_LEASE_MS: u64 = 60_000;
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 2}"#);
    let (mut a, b) = two_servers_with_lease(dir.path(), &bin, &url, LONG_LEASE_MS);
    let (on_a, mut notes_a) = a.client().await;
    let (on_b, mut notes_b) = b.client().await;
    let info = on_a.create(SessionSpec::default()).await.unwrap();
    on_a.attach(&info.id, 0).await.unwrap();
    on_b.attach(&info.id, 0).await.unwrap();
    say(&on_a, &info.id, "on a").await;
    let first = events_until(&mut notes_a, &info.id, idle).await;
    events_until(&mut notes_b, &info.id, idle).await;
    assert!(a.data_dir.join("homes").join(info.id.as_str()).exists());
    drop(on_a);
    let status = a.terminate();
    assert!(status.success(), "{status:?}");
    let stopped = Instant::now();
    say(&on_b, &info.id, "on b").await;
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "B waited {:?} for a lease A had let go",
        stopped.elapsed()
    );
    let next = events_until(&mut notes_b, &info.id, idle).await;
    assert_eq!(next[0].0, first.last().unwrap().0 + 1, "{next:?}");
    assert_eq!(result_status(&next), Some(TurnStatus::Success));
    assert!(
        !next.iter().any(|(_, e)| matches!(
            e,
            StreamEvent::StateChanged {
                to: SessionState::Stopped,
                ..
            }
        )),
        "an idle session handed over has no turn to stop: {next:?}"
    );
    assert!(
        b.data_dir.join("homes").join(info.id.as_str()).exists(),
        "B ran it"
    );
}

/// A stop travels like an interrupt, without the agent's grace to end its turn by itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_sent_to_one_server_ends_the_turn_another_runs() {
    let Pair {
        a: _a,
        b,
        on_a: _on_a,
        mut notes_a,
        on_b,
        mut notes_b,
        info,
        url: _,
        dir: _dir,
    } = {
        let mut p = pair_with(r#"{"events": 2, "sleep": 30}"#).await;
        p.turn_on_a("long").await;
        p
    };
    on_b.ack(ClientMessage::Stop {
        session_id: info.id.clone(),
    })
    .await
    .unwrap();
    let stopped = |e: &StreamEvent| {
        matches!(
            e,
            StreamEvent::StateChanged {
                to: SessionState::Stopped,
                ..
            }
        )
    };
    let rest = events_until(&mut notes_b, &info.id, stopped).await;
    assert_eq!(
        result_status(&rest),
        Some(TurnStatus::Interrupted),
        "{rest:?}"
    );
    assert!(matches!(
        &rest.last().unwrap().1,
        StreamEvent::StateChanged { reason: Some(r), .. } if *r == StateReason::StoppedByClient
    ));
    let on_a_side = events_until(&mut notes_a, &info.id, stopped).await;
    assert_eq!(on_a_side.last(), rest.last(), "A ran it and stopped it");
    assert!(
        !b.data_dir.join("homes").join(info.id.as_str()).exists(),
        "B ran nothing"
    );
}

/// A server shutting down ends the turns it runs, not those it follows: they run on.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_shutting_down_leaves_the_turns_another_runs_alone() {
    let Pair {
        a: _a,
        mut b,
        on_a: _on_a,
        mut notes_a,
        on_b,
        notes_b: _notes_b,
        info,
        dir: _dir,
        ..
    } = {
        let mut p = pair_with(r#"{"events": 30, "rate": 15}"#).await;
        p.turn_on_a("two seconds").await;
        p
    };
    drop(on_b);
    let asked = Instant::now();
    assert!(b.terminate().success());
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "B waited {:?} for a turn it does not run",
        asked.elapsed()
    );
    let events = events_until(&mut notes_a, &info.id, idle).await;
    assert_eq!(
        result_status(&events),
        Some(TurnStatus::Success),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|(_, e)| matches!(
            e,
            StreamEvent::StateChanged {
                to: SessionState::Stopped | SessionState::Interrupting,
                ..
            }
        )),
        "{events:?}"
    );
}
