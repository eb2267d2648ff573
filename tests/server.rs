//! `aisys serve` end to end: the real server process, real bubblewrap sandboxes, and an agent
//! that speaks Claude Code's stream-json (a fast stand-in here; the real Claude Code CLI runs in
//! `server_claude.rs`).

mod serve_harness;

use std::time::Duration;

use aisys::client::ClientError;
use aisys::types::{
    ClientMessage, ErrorCode, SessionSpec, SessionState, StateReason, StreamEvent, TurnStatus,
};
use futures_util::{SinkExt, StreamExt};
use serve_harness::*;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

fn env_for(bin: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("AISYS_CLAUDE_BIN", bin.display().to_string()),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9".into()),
    ]
}

/// Creates a session, attaches to it from the start and sends `text`: a turn begins.
async fn session_with_turn(
    client: &aisys::client::Client,
    text: &str,
) -> aisys::types::SessionInfo {
    let info = attached(client, SessionSpec::default()).await;
    say(client, &info.id, text).await;
    info
}

fn start(dir: &std::path::Path, bin: &std::path::Path, args: &[&str]) -> Server {
    let env = env_for(bin);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(&dir.join("data"), args, &env)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_turn_over_the_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &fake_claude(), &[]);
    let (client, mut notes) = server.client().await;
    let info = client
        .create(SessionSpec {
            title: Some("first".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(info.state, SessionState::Idle);
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hello").await;
    let events = until_result(&mut notes, &info.id).await;
    let seqs: Vec<u64> = events.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "seq from 1, no gaps"
    );
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    let texts = events
        .iter()
        .filter(|(_, e)| matches!(e, StreamEvent::Text { .. }))
        .count();
    assert_eq!(texts, 10, "every line of the agent arrives");
    assert!(
        events
            .iter()
            .any(|(_, e)| matches!(e, StreamEvent::UserMessage { text, .. } if text == "hello"))
    );
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        StreamEvent::StateChanged {
            to: SessionState::Running,
            ..
        }
    )));
    // The turn ran in the session's workspace, inside the sandbox.
    let args =
        std::fs::read_to_string(std::path::Path::new(&info.workspace).join(".fake-claude-args"))
            .unwrap();
    assert!(args.contains("--input-format=stream-json"), "{args}");

    let list = client.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title.as_deref(), Some("first"));
    // The HTTP side needs the token too.
    let http = reqwest_get(&server.http, "/api/sessions", Some(&server.token)).await;
    assert!(
        http.0 == 200 && http.1.contains(info.id.as_str()),
        "{http:?}"
    );
    let metrics = reqwest_get(&server.http, "/metrics", Some(&server.token))
        .await
        .1;
    assert!(metrics.contains("aisys_events_stored_total"), "{metrics}");
    assert_eq!(reqwest_get(&server.http, "/healthz", None).await.0, 401);
    assert_eq!(
        reqwest_get(&server.http, "/healthz", Some("wrong")).await.0,
        401
    );
    assert_eq!(
        reqwest_get(&server.http, "/healthz", Some(&server.token))
            .await
            .0,
        200
    );
}

/// A minimal HTTP GET over a raw socket: (status, body).
async fn reqwest_get(base: &str, path: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    (status, buf)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_clients_see_the_same_sequence_and_a_late_one_resumes_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 200}"#);
    let server = start(dir.path(), &bin, &[]);
    let (a, mut a_notes) = server.client().await;
    let (b, mut b_notes) = server.client().await;
    let info = a.create(SessionSpec::default()).await.unwrap();
    a.attach(&info.id, 0).await.unwrap();
    b.attach(&info.id, 0).await.unwrap();
    a.ack(ClientMessage::Message {
        session_id: info.id.clone(),
        text: "go".into(),
    })
    .await
    .unwrap();
    let ea = until_result(&mut a_notes, &info.id).await;
    let eb = until_result(&mut b_notes, &info.id).await;
    assert_eq!(ea, eb, "both clients see identical sequences");
    assert!(ea.len() > 200);

    // A third client that saw the first 50 events resumes after them: no gap, no duplicate.
    let (c, mut c_notes) = server.client().await;
    c.attach(&info.id, 50).await.unwrap();
    let ec = until_result(&mut c_notes, &info.id).await;
    assert_eq!(ec.first().map(|(s, _)| *s), Some(51));
    assert_eq!(ec, ea[50..].to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_welcome_names_the_profiles_a_session_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("data/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[profiles.review]\nmodel = \"m\"\n\n[profiles.bare]\n",
    )
    .unwrap();
    let server = start(dir.path(), &fake_claude(), &[]);
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::Text(
        r#"{"type":"hello","protocol_version":1,"id":"1"}"#.into(),
    ))
    .await
    .unwrap();
    let welcome: serde_json::Value = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => break serde_json::from_str(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    };
    assert_eq!(welcome["type"], "welcome");
    // The built-in ones first (as `aisys chat` offers them), then the config file's by name.
    assert_eq!(
        welcome["profiles"],
        serde_json::json!(["user", "none", "bare", "review"])
    );
    // The client library hands them on (`aisys chat` offers them in its new-session dialog).
    let (client, _notes) = server.client().await;
    assert_eq!(client.server_profiles(), ["user", "none", "bare", "review"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_errors_and_the_connection_stays() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &fake_claude(), &["--max-sessions", "2"]);
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    async fn ask(
        ws: &mut (
                 impl SinkExt<Message>
                 + StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
                 + Unpin
             ),
        text: &str,
    ) -> serde_json::Value {
        let _ = ws.send(Message::Text(text.to_string().into())).await;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("connection ended: {other:?}"),
            }
        }
    }
    let r = ask(&mut ws, r#"{"type":"session.list","id":"0"}"#).await;
    assert_eq!(r["type"], "error");
    assert!(r["message"].as_str().unwrap().contains("hello"));
    let r = ask(&mut ws, r#"{"type":"hello","protocol_version":1,"id":"1"}"#).await;
    assert_eq!(r["type"], "welcome");
    assert_eq!(r["id"], "1");
    let r = ask(&mut ws, "{not json").await;
    assert_eq!(
        (r["type"].as_str(), r["code"].as_str()),
        (Some("error"), Some("bad_request"))
    );
    let r = ask(&mut ws, r#"{"type":"session.explode","id":"2"}"#).await;
    assert_eq!(r["code"], "bad_request");
    assert_eq!(r["id"], "2", "errors name the request");
    assert!(r["message"].as_str().unwrap().contains("session.explode"));
    let r = ask(&mut ws, r#"{"type":"session.message","id":"3","text":"x"}"#).await;
    assert!(r["message"].as_str().unwrap().contains("session_id"), "{r}");
    let r = ask(
        &mut ws,
        r#"{"type":"session.attach","id":"4","session_id":"s_nope"}"#,
    )
    .await;
    assert_eq!(r["code"], "not_found");
    let r = ask(
        &mut ws,
        r#"{"type":"session.create","id":"5","workspace":"/"}"#,
    )
    .await;
    assert_eq!(r["code"], "forbidden", "{r}");
    let r = ask(&mut ws, r#"{"type":"session.create","id":"6"}"#).await;
    assert_eq!(r["type"], "session.created");
    let id = r["session"]["id"].as_str().unwrap().to_string();
    let r = ask(
        &mut ws,
        &format!(r#"{{"type":"session.interrupt","id":"7","session_id":"{id}"}}"#),
    )
    .await;
    assert_eq!(r["code"], "invalid_state", "{r}");
    let _ = ask(&mut ws, r#"{"type":"session.create","id":"8"}"#).await;
    let r = ask(&mut ws, r#"{"type":"session.create","id":"9"}"#).await;
    assert_eq!(r["code"], "limit", "{r}");
    let r = ask(
        &mut ws,
        &format!(r#"{{"type":"session.delete","id":"10","session_id":"{id}"}}"#),
    )
    .await;
    assert_eq!(r["type"], "ack");
    let r = ask(
        &mut ws,
        &format!(r#"{{"type":"session.message","id":"11","session_id":"{id}","text":"x"}}"#),
    )
    .await;
    assert_eq!(
        r["code"], "not_found",
        "a deleted session takes no messages"
    );
    // Still open after all of that:
    let r = ask(&mut ws, r#"{"type":"session.list","id":"12"}"#).await;
    assert_eq!(r["type"], "session.list");

    // A frame over the limit closes the connection with 1009.
    let big = format!(
        r#"{{"type":"session.list","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let _ = ws.send(Message::Text(big.into())).await;
    let mut code = None;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Close(Some(f)) = m {
            code = Some(u16::from(f.code));
            break;
        }
    }
    assert_eq!(code, Some(1009));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_and_foreign_origin_are_refused_before_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &fake_claude(), &[]);
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", "Bearer nope".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    req.headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    // The subprotocol form a browser can send works.
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        format!("aisys.token.{}", server.token).parse().unwrap(),
    );
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.data_dir.join("token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_turn_then_restart_recovers_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 3, "sleep": 30}"#);
    let mut server = start(dir.path(), &bin, &[]);
    let (client, mut notes) = server.client().await;
    let info = session_with_turn(&client, "long").await;
    // Wait until the agent's lines are stored, then crash the server.
    until_texts(&mut notes, 3).await;
    let (client, mut notes) = server.crash_and_reconnect(client).await;
    let list = client.list().await.unwrap();
    assert_eq!(list[0].state, SessionState::Stopped);
    assert_eq!(list[0].reason, Some(StateReason::ServerRestart));
    let before = client.attach(&info.id, 0).await.unwrap();
    // Every committed event is still there, then the recovery's own state change.
    let replayed = next_events(&mut notes, before.last_seq as usize).await;
    assert_eq!(
        replayed
            .iter()
            .filter(|(_, e)| matches!(e, StreamEvent::Text { .. }))
            .count(),
        3
    );
    assert!(matches!(
        replayed.last().unwrap().1,
        StreamEvent::StateChanged {
            to: SessionState::Stopped,
            ..
        }
    ));
    // The cut-short turn still ends with a `result`, once.
    let results: Vec<_> = replayed
        .iter()
        .filter_map(|(_, e)| match e {
            StreamEvent::Result { status, error, .. } => Some((*status, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 1, "one result for the one turn: {results:?}");
    assert_eq!(results[0].0, TurnStatus::Interrupted);
    assert!(
        results[0]
            .1
            .as_deref()
            .unwrap_or("")
            .starts_with("server_restart"),
        "{results:?}"
    );
    // The next message resumes the agent's own conversation.
    std::fs::write(dir.path().join("fake-claude.json"), r#"{"events": 1}"#).unwrap();
    say(&client, &info.id, "again").await;
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    let args =
        std::fs::read_to_string(std::path::Path::new(&info.workspace).join(".fake-claude-args"))
            .unwrap();
    let last = args.lines().last().unwrap();
    assert!(
        last.contains("--resume="),
        "the resumed turn passes --resume: {last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_stopped_by_a_client_still_ends_with_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 1, "sleep": 30}"#);
    let server = start(dir.path(), &bin, &[]);
    let (client, mut notes) = server.client().await;
    let info = session_with_turn(&client, "long").await;
    loop {
        match tokio::time::timeout(TURN_WAIT, notes.recv()).await {
            Ok(Some(aisys::client::Notification::Event {
                event: StreamEvent::Text { .. },
                ..
            })) => break,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the agent's first line never came"),
        }
    }
    client
        .ack(ClientMessage::Stop {
            session_id: info.id.clone(),
        })
        .await
        .unwrap();
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Interrupted));
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_while_events_stream_loses_none_that_a_client_was_sent() {
    // The agent writes as fast as it can; the server is killed while the events still come, so
    // some are journaled but not yet in SQLite. Every event a client got before the crash must
    // be there after the restart, with the same seq and the same content.
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 20000, "sleep": 30}"#);
    let mut server = start(dir.path(), &bin, &[]);
    let (client, mut notes) = server.client().await;
    let info = session_with_turn(&client, "stream").await;
    let mut got: Vec<(u64, StreamEvent)> = Vec::new();
    let texts = |got: &[(u64, StreamEvent)]| {
        got.iter()
            .filter(|(_, e)| matches!(e, StreamEvent::Text { .. }))
            .count()
    };
    while texts(&got) < 100 {
        match tokio::time::timeout(TURN_WAIT, notes.recv()).await {
            Ok(Some(aisys::client::Notification::Event { seq, event, .. })) => {
                got.push((seq, event))
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the agent's lines stopped at {}", got.len()),
        }
    }
    let (client, mut notes) = server.crash_and_reconnect(client).await;
    let after = client.attach(&info.id, 0).await.unwrap();
    assert!(
        after.last_seq >= got.last().unwrap().0,
        "the store ends at {} but a client was sent {}",
        after.last_seq,
        got.last().unwrap().0
    );
    let replayed = next_events(&mut notes, got.len()).await;
    assert_eq!(replayed, got, "what clients saw is what the store kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_concurrent_sessions_each_complete_a_turn() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 5}"#);
    let server = start(dir.path(), &bin, &[]);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (client, mut notes) = server.client().await;
        tasks.push(tokio::spawn(async move {
            let info = session_with_turn(&client, &format!("n{i}")).await;
            let events = until_result(&mut notes, &info.id).await;
            result_status(&events)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(TurnStatus::Success));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_unload_and_load_again_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 1}"#);
    let server = start(
        dir.path(),
        &bin,
        &["--sweep-interval", "200ms", "--idle-timeout", "300ms"],
    );
    let (client, mut notes) = server.client().await;
    let info = session_with_turn(&client, "one").await;
    until_result(&mut notes, &info.id).await;
    client.detach(&info.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // What the first attach delivered after the result (the move back to idle) is not part of
    // the sequence checked below.
    while notes.try_recv().is_ok() {}
    // Unloaded now; a message loads it again and it runs.
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "two").await;
    // The reloaded session replays its first turn, then runs the second: one unbroken sequence,
    // with two results in it.
    let mut events = until_result(&mut notes, &info.id).await;
    if events
        .iter()
        .filter(|(_, e)| matches!(e, StreamEvent::Result { .. }))
        .count()
        < 2
    {
        events.extend(until_result(&mut notes, &info.id).await);
    }
    let seqs: Vec<u64> = events.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    // The turn's duration is recorded just after its result is sent: poll briefly.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = reqwest_get(&server.http, "/metrics", Some(&server.token))
            .await
            .1;
        if metrics.contains("aisys_turn_duration_seconds_count 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        metrics.contains("aisys_turn_duration_seconds_count 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 1}"#);
    let mut server = start(dir.path(), &bin, &[]);
    let (client, mut notes) = server.client().await;
    let info = session_with_turn(&client, "one").await;
    until_result(&mut notes, &info.id).await;
    let status = server.terminate();
    assert!(status.success(), "exit 0 on SIGTERM: {status}");
    match client.list().await {
        Err(ClientError::Disconnected) | Err(ClientError::Timeout) => {}
        other => panic!("the server is gone: {other:?}"),
    }
    let _ = ErrorCode::Internal;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_gets_resync_and_every_event_once_while_the_session_never_waits() {
    let dir = tempfile::tempdir().unwrap();
    // Many events, fast: far more than the connection's queue and the session's broadcast hold,
    // and than loopback TCP buffers (up to about 4 MiB here) take in before the server must wait:
    // 30,000 frames are about 10 MB.
    let bin = fake_claude_with(dir.path(), r#"{"events": 30000}"#);
    let server = start(dir.path(), &bin, &[]);
    // A fast client drives the turn and proves the session finishes while the slow one sleeps.
    let (fast, mut fast_notes) = server.client().await;
    let info = fast.create(SessionSpec::default()).await.unwrap();
    fast.attach(&info.id, 0).await.unwrap();

    let mut slow = raw_attached(&server, &info.id).await;
    fast.ack(ClientMessage::Message {
        session_id: info.id.clone(),
        text: "flood".into(),
    })
    .await
    .unwrap();
    let fast_events = until_result(&mut fast_notes, &info.id).await;
    let last = fast_events.last().unwrap().0;
    // Only now does the slow client read.
    let mut seqs = Vec::new();
    let mut resyncs = 0;
    while seqs.last() != Some(&last) {
        let msg = tokio::time::timeout(TURN_WAIT, slow.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Message::Text(t) = msg else { continue };
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        match v["type"].as_str() {
            Some("event") => seqs.push(v["seq"].as_u64().unwrap()),
            Some("resync") => resyncs += 1,
            _ => {}
        }
    }
    assert!(resyncs >= 1, "the slow client was told to resync");
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );
}

/// A raw WebSocket that said hello with protocol `version` and attached to `session_id` with the
/// blocks view.
async fn blocks_client(
    server: &Server,
    version: u32,
    session_id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut ask = async |text: String, id: &str| {
        ws.send(Message::Text(text.into())).await.unwrap();
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["id"] == id {
                    return v;
                }
            }
        }
    };
    let hello = format!(r#"{{"type":"hello","protocol_version":{version},"id":"h"}}"#);
    let r = ask(hello, "h").await;
    assert_eq!(r["type"], "welcome");
    assert_eq!(
        r["protocol_version"], version,
        "the connection speaks the client's version"
    );
    let attach = format!(
        r#"{{"type":"session.attach","id":"a","session_id":"{session_id}","view":"blocks"}}"#
    );
    let r = ask(attach, "a").await;
    assert_eq!(r["type"], "session.attached");
    ws
}

/// The block frames (`block`, `block.append`) a blocks-view client gets until the turn's summary,
/// as sent.
async fn block_frames_of_a_turn(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Vec<String> {
    let mut frames = vec![];
    loop {
        let text = match tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("the turn's blocks never came")
        {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if matches!(v["type"].as_str(), Some("block" | "block.append")) {
            let done = v["block"]["type"] == "turn_summary";
            frames.push(text);
            if done {
                return frames;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_answer_reaches_the_blocks_view_as_one_block_then_appends() {
    let dir = tempfile::tempdir().unwrap();
    // One answer of 200 deltas of 100 bytes: 20,000 bytes.
    let bin = fake_claude_with(
        dir.path(),
        &format!(
            r#"{{"events": 0, "deltas": 200, "delta": "{}"}}"#,
            "d".repeat(96)
        ),
    );
    let answer: String = (0..200)
        .map(|i| format!("{i:04}{}", "d".repeat(96)))
        .collect();
    let server = start(dir.path(), &bin, &[]);
    let (client, _notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    let mut new = blocks_client(&server, 2, &info.id).await;
    let mut old = blocks_client(&server, 1, &info.id).await;
    say(&client, &info.id, "write a long answer").await;
    let (new_frames, old_frames) = tokio::join!(
        block_frames_of_a_turn(&mut new),
        block_frames_of_a_turn(&mut old)
    );

    // The answer's block and the bytes spent on it.
    let of_answer = |frames: &[String]| {
        let parsed: Vec<serde_json::Value> = frames
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        let index = parsed
            .iter()
            .find(|v| v["block"]["type"] == "assistant_text")
            .expect("no answer block")["index"]
            .clone();
        let mut kinds = vec![];
        let mut text = String::new();
        let mut bytes = 0;
        for (f, v) in frames.iter().zip(&parsed) {
            if v["index"] != index {
                continue;
            }
            bytes += f.len();
            let kind = v["type"].as_str().unwrap().to_string();
            if kind == "block" {
                text = v["block"]["text"].as_str().unwrap().to_string();
            } else {
                text.push_str(v["append"].as_str().unwrap());
            }
            kinds.push(kind);
        }
        (kinds, text, bytes)
    };

    let (kinds, text, bytes) = of_answer(&new_frames);
    assert_eq!(
        text, answer,
        "the block and its appends make the answer exactly"
    );
    assert_eq!(kinds[0], "block");
    assert!(
        kinds[1..].iter().all(|k| k == "block.append"),
        "after the first, only appends: {kinds:?}"
    );
    assert_eq!(
        kinds.len(),
        200,
        "one frame per delta, none for the complete message"
    );
    assert!(
        bytes < 3 * answer.len(),
        "{bytes} bytes for an answer of {}",
        answer.len()
    );

    // A protocol 1 client still gets whole blocks, and the same text.
    let (kinds, text, old_bytes) = of_answer(&old_frames);
    assert_eq!(text, answer);
    assert!(kinds.iter().all(|k| k == "block"), "{kinds:?}");
    assert!(
        old_bytes > 30 * bytes,
        "whole blocks: {old_bytes}, appends: {bytes}"
    );
    eprintln!(
        "a {}-byte answer in 200 deltas: {old_bytes} bytes as whole blocks, {bytes} as appends",
        answer.len()
    );
}
