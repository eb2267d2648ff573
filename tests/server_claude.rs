//! `aisys serve` with the real Claude Code CLI in bubblewrap and the scripted mock model:
//! permission requests travel to a client and its answer back; a client that loses its
//! connection resumes without gaps or duplicates; the session list sums each session's tokens
//! and cost.

mod mock_api;
mod serve_harness;

use std::path::Path;
use std::time::Duration;

use aisys::client::Notification;
use aisys::types::{
    ClientMessage, DecidedBy, PermissionDecision, PermissionMode, SessionLimits, SessionSpec,
    StateReason, StreamEvent, TurnStatus,
};
use mock_api::{MockAnthropic, Reply, Script, When, claude_bin as claude};
use serde_json::json;
use serve_harness::*;

fn start(dir: &Path, mock: &MockAnthropic) -> Server {
    Server::with_claude(&dir.join("data"), &claude(), &mock.base_url(), &[])
}

/// Waits for the next permission request of a session; returns its request id.
async fn next_permission(notes: &mut tokio::sync::mpsc::Receiver<Notification>) -> String {
    loop {
        let n = tokio::time::timeout(TURN_WAIT, notes.recv())
            .await
            .unwrap()
            .unwrap();
        if let Notification::Event {
            event:
                StreamEvent::PermissionRequest {
                    request_id,
                    tool_name,
                    ..
                },
            ..
        } = n
        {
            assert_eq!(tool_name, "Write");
            return request_id;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_answers_permissions_over_the_websocket() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // Workspaces are named by the server; the agent writes relative paths inside them.
    let mock = Script::new()
        .on(
            When::UserSays("first".into()),
            Reply::write("allowed.txt", "yes\n"),
        )
        .on(
            When::UserSays("second".into()),
            Reply::write("denied.txt", "no\n"),
        )
        .always(When::Always, Reply::text("noted"))
        .start();
    let server = start(dir.path(), &mock);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    let ws = Path::new(&info.workspace);

    say(&client, &info.id, "first").await;
    let req = next_permission(&mut notes).await;
    client
        .ack(ClientMessage::Permission {
            session_id: info.id.clone(),
            request_id: req,
            decision: PermissionDecision::Allow,
            message: None,
        })
        .await
        .unwrap();
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        StreamEvent::PermissionDecision {
            decision: PermissionDecision::Allow,
            decided_by: Some(DecidedBy::Client),
            ..
        }
    )));
    assert_eq!(
        std::fs::read_to_string(ws.join("allowed.txt")).unwrap(),
        "yes\n"
    );

    say(&client, &info.id, "second").await;
    let req = next_permission(&mut notes).await;
    client
        .ack(ClientMessage::Permission {
            session_id: info.id.clone(),
            request_id: req,
            decision: PermissionDecision::Deny,
            message: Some("not that one".into()),
        })
        .await
        .unwrap();
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    assert!(
        !ws.join("denied.txt").exists(),
        "a denied write does not happen"
    );
    // The second turn resumed the agent's conversation.
    let last = mock.last_main_request();
    assert!(
        last["messages"].to_string().contains("first"),
        "the second turn sees the first"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_loses_its_connection_resumes_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = MockAnthropic::always(Reply::slow_text(
        "one two three four five six",
        Duration::from_millis(400),
    ));
    let mut server = start(dir.path(), &mock);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "talk").await;
    // Receive events until the turn runs, then take the server away under the client and bring
    // it back.
    let mut seqs = Vec::new();
    loop {
        if let Some(Notification::Event { seq, event, .. }) = notes.recv().await {
            seqs.push(seq);
            if matches!(
                event,
                StreamEvent::StateChanged {
                    to: aisys::types::SessionState::Running,
                    ..
                }
            ) {
                break;
            }
        }
    }
    server.kill9();
    server.restart();
    // The client reconnects by itself and re-attaches from its last seq.
    let deadline = tokio::time::Instant::now() + TURN_WAIT;
    let mut reconnected = false;
    loop {
        match tokio::time::timeout_at(deadline, notes.recv())
            .await
            .expect("resumed in time")
            .unwrap()
        {
            Notification::Connected => reconnected = true,
            Notification::Event { seq, event, .. } => {
                seqs.push(seq);
                if matches!(event, StreamEvent::StateChanged { reason: Some(ref r), .. } if *r == StateReason::ServerRestart)
                {
                    break;
                }
            }
            _ => {}
        }
    }
    assert!(reconnected);
    let expected: Vec<u64> = (1..=*seqs.last().unwrap()).collect();
    assert_eq!(
        seqs, expected,
        "every event exactly once, in order, across the reconnect"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_the_agent_never_saved_starts_afresh_with_a_notice() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = MockAnthropic::always(Reply::text("fresh start"));
    let mut server = start(dir.path(), &mock);
    let (client, _notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    drop(client);
    // What a server killed after the agent named its conversation, but before the agent wrote
    // it down, leaves behind: a session that resumes a conversation the agent does not have.
    server.terminate();
    {
        let store = aisys::server::store::SqliteStore::open(
            &server.data_dir.join(aisys::server::startup::STORE_FILE),
        )
        .unwrap();
        use aisys::server::store::Store;
        let mut stored = store.get_session(&info.id).await.unwrap().unwrap();
        stored.agent_session_id = Some("8d9fe6d2-189f-4ca8-a400-4ce669939d52".into());
        store.put_session(&stored).await.unwrap();
    }
    server.restart();
    let (client, mut notes) = server.client().await;
    let attached = client.attach(&info.id, 0).await.unwrap();
    for text in ["hello", "and again"] {
        say(&client, &info.id, text).await;
        let events = until_result(&mut notes, &info.id).await;
        assert_eq!(
            result_status(&events),
            Some(TurnStatus::Success),
            "{text}: {events:?}"
        );
        let notices = events
            .iter()
            .filter(|(_, e)| {
                matches!(e, StreamEvent::Notice { kind, .. } if kind == "conversation_restarted")
            })
            .count();
        // Only the first message finds the conversation missing; the second resumes the new one.
        assert_eq!(notices, usize::from(text == "hello"), "{text}: {events:?}");
        assert_eq!(
            events
                .iter()
                .filter(|(_, e)| matches!(e, StreamEvent::Result { .. }))
                .count(),
            1,
            "one result per message"
        );
    }
    assert!(attached.last_seq > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_can_lower_the_sandbox_limits_and_hears_when_one_is_hit() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = Script::new()
        .on(
            When::UserSays("fork".into()),
            Reply::tool(
                "Bash",
                json!({"command": "for i in $(seq 150); do sleep 1 >/dev/null 2>&1 & done 2>/dev/null; echo forked"}),
            ),
        )
        .always(When::Always, Reply::text("done"))
        .start();
    let mut server = start(dir.path(), &mock);
    let (client, mut notes) = server.client().await;

    let zero = SessionSpec {
        limits: Some(SessionLimits {
            max_pids: Some(0),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = client.create(zero).await.unwrap_err().to_string();
    assert!(err.contains("limits.max_pids"), "{err}");

    let info = client
        .create(SessionSpec {
            permission_mode: Some(PermissionMode::BypassPermissions),
            limits: Some(SessionLimits {
                max_pids: Some(64),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(info.limits.and_then(|l| l.max_pids), Some(64));
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "fork").await;
    let events = until_result(&mut notes, &info.id).await;
    assert!(
        events.iter().any(|(_, e)| matches!(e,
            StreamEvent::Error { code: Some(c), message, .. }
                if c == "pids_limit" && message.contains("(64 processes"))),
        "{events:?}"
    );
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    // A server that stops removes its sandboxes' cgroups (named after its pid).
    let pid = server.child.id();
    server.terminate();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controller, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let parent = match controller {
            "pids" | "memory" => Path::new("/sys/fs/cgroup").join(controller),
            _ => continue,
        };
        let Ok(entries) = std::fs::read_dir(parent.join(path.trim_start_matches('/'))) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(&format!("aisys-{pid}-")),
                "cgroup {} was left behind",
                e.path().display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_list_sums_each_sessions_tokens_and_cost_across_a_restart() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = MockAnthropic::always(Reply::text("ok"));
    let mut server = start(dir.path(), &mock);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    assert_eq!(
        info.usage,
        Some(Default::default()),
        "a new session counts from 0"
    );
    client.attach(&info.id, 0).await.unwrap();
    let mut want = aisys::types::SessionUsage::default();
    for text in ["one", "two"] {
        say(&client, &info.id, text).await;
        for (_, e) in until_result(&mut notes, &info.id).await {
            if let StreamEvent::Result {
                usage, cost_usd, ..
            } = e
            {
                want.add_turn(usage.as_ref(), cost_usd);
            }
        }
    }
    assert_eq!(want.turns, 2);
    assert!(
        want.tokens.output_tokens > 0 && want.cost_usd > 0.0,
        "{want:?}"
    );
    let listed = |sessions: Vec<aisys::types::SessionInfo>| {
        sessions
            .into_iter()
            .find(|s| s.id == info.id)
            .unwrap()
            .usage
    };
    assert_eq!(listed(client.list().await.unwrap()), Some(want));
    drop(client);
    server.terminate();
    server.restart();
    let (client, _notes) = server.client().await;
    assert_eq!(
        listed(client.list().await.unwrap()),
        Some(want),
        "the totals are stored with the session"
    );

    // A session as a server that did not count totals recorded it: they are summed from its
    // record, listed or opened.
    drop(client);
    server.terminate();
    let db = rusqlite::Connection::open(dir.path().join("data/aisys.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE sessions SET info = json_remove(info, '$.usage')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    server.restart();
    let (client, _notes) = server.client().await;
    assert_eq!(listed(client.list().await.unwrap()), Some(want));
    let opened = client.attach(&info.id, 0).await.unwrap();
    assert_eq!(opened.usage, Some(want), "{opened:?}");
}
