//! `aisys serve --store postgres://...` end to end: the real server process on a throwaway
//! PostgreSQL cluster (tests/pg_support), with the stand-in agent.

mod pg_support;
mod serve_harness;

use aisys::types::{SessionSpec, SessionState, StateReason, StreamEvent, TurnStatus};
use serve_harness::*;

fn start(dir: &std::path::Path, bin: &std::path::Path, store: &str) -> Server {
    let bin = bin.display().to_string();
    Server::start(
        dir,
        &["--store", store],
        &[
            ("AISYS_CLAUDE_BIN", &bin),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
        ],
    )
}

/// `aisys serve` on `data_dir` with the store `store`, which must refuse to start; returns what
/// it said. `home` is its home and config folder.
fn refused_serve(home: &std::path::Path, data_dir: &std::path::Path, store: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["serve", "--no-agent-install", "--bind", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AISYS_CONFIG_DIR", home.join("config"))
        .env("AISYS_STORE", store)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    stderr
}

/// A session made on one server is kept in the database: a server started after it, with a
/// data folder of its own, lists it and replays its events exactly as they were sent live;
/// meanwhile a second server on the same data folder is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_made_on_one_server_is_listed_and_replayed_by_the_next_on_the_database() {
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 50}"#);
    let mut a = start(&dir.path().join("a"), &bin, &url);
    let (client, mut notes) = a.client().await;
    let info = client
        .create(SessionSpec {
            title: Some("on a".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hello").await;
    let live = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&live), Some(TurnStatus::Success));
    let seqs: Vec<u64> = live.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // While A runs, a second server on A's data folder is refused, naming why (servers sharing
    // a database each have their own).
    let stderr = refused_serve(dir.path(), &dir.path().join("a"), &url);
    assert!(
        stderr.contains("in use by another aisys server"),
        "{stderr}"
    );

    drop(client);
    a.terminate();
    let b = start(&dir.path().join("b"), &bin, &url);
    let (client, mut notes) = b.client().await;
    let list = client.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, info.id);
    assert_eq!(list[0].title.as_deref(), Some("on a"));
    assert_eq!(list[0].state, SessionState::Idle);
    // What A stored after the turn's result (its state going back to idle) comes too.
    let attached = client.attach(&info.id, 0).await.unwrap();
    assert!(attached.last_seq >= live.len() as u64, "{attached:?}");
    let replayed = next_events(&mut notes, attached.last_seq as usize).await;
    let seqs: Vec<u64> = replayed.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=attached.last_seq).collect::<Vec<_>>());
    assert_eq!(
        replayed[..live.len()],
        live[..],
        "the replay is what was sent live, once"
    );
    // The session goes on from B with the next seq.
    say(&client, &info.id, "again").await;
    let next = until_result(&mut notes, &info.id).await;
    assert_eq!(next.first().map(|(s, _)| *s), Some(attached.last_seq + 1));
    assert_eq!(result_status(&next), Some(TurnStatus::Success));
    assert!(
        next.iter()
            .any(|(_, e)| matches!(e, StreamEvent::UserMessage { text, .. } if text == "again"))
    );
}

/// A server killed mid-turn: its lock on the database goes with its connections, so it starts
/// again at once; every event it had stored is replayed, the cut-short turn is recorded as
/// stopped, and the session goes on with the next seq.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_turn_then_restart_on_the_database_recovers() {
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 3, "sleep": 30}"#);
    let mut server = start(&dir.path().join("data"), &bin, &url);
    let (client, mut notes) = server.client().await;
    let info = attached(&client, SessionSpec::default()).await;
    say(&client, &info.id, "long").await;
    until_texts(&mut notes, 3).await;
    let (client, mut notes) = server.crash_and_reconnect(client).await;
    let list = client.list().await.unwrap();
    assert_eq!(list[0].state, SessionState::Stopped);
    assert_eq!(list[0].reason, Some(StateReason::ServerRestart));
    let attached = client.attach(&info.id, 0).await.unwrap();
    let replayed = next_events(&mut notes, attached.last_seq as usize).await;
    let seqs: Vec<u64> = replayed.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=attached.last_seq).collect::<Vec<_>>());
    let texts = replayed
        .iter()
        .filter(|(_, e)| matches!(e, StreamEvent::Text { .. }))
        .count();
    assert_eq!(texts, 3, "every line stored before the kill is there");
    std::fs::write(dir.path().join("fake-claude.json"), r#"{"events": 1}"#).unwrap();
    say(&client, &info.id, "again").await;
    let next = until_result(&mut notes, &info.id).await;
    assert_eq!(next.first().map(|(s, _)| *s), Some(attached.last_seq + 1));
    assert_eq!(result_status(&next), Some(TurnStatus::Success));
}

/// `/metrics` on the PostgreSQL store shows its appends waiting for a round and what its rounds
/// take: an operator sees the database falling behind before clients do.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_the_postgres_appends_in_flight_and_the_rounds_time() {
    let url = pg_support::cluster().new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 40, "rate": 400}"#);
    let server = start(&dir.path().join("data"), &bin, &url);
    let before = metrics(&server).await;
    let rounds_before = sample(&before, "aisys_store_rounds_total");
    let (client, mut notes) = server.client().await;
    let info = attached(&client, SessionSpec::default()).await;
    say(&client, &info.id, "hello").await;
    let events = until_result(&mut notes, &info.id).await;
    let text = metrics(&server).await;
    // Every event went through a round (several per round at most), and each round took time.
    let rounds = sample(&text, "aisys_store_rounds_total") - rounds_before;
    assert!(
        rounds >= 1 && rounds as usize <= events.len(),
        "{rounds} rounds for {} events:\n{text}",
        events.len()
    );
    assert!(
        sample_f64(&text, "aisys_store_round_seconds_total") > 0.0,
        "{text}"
    );
    assert!(peak(&text, "postgres_appends") >= 1, "{text}");
    // The turn is over: what it still writes (its end, the session's state) is soon committed,
    // and then nothing waits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = metrics(&server).await;
        if depth(&text, "postgres_appends") == 0 {
            assert_eq!(depth(&text, "journal"), 0, "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `sslmode=require`: a server that cannot verify the database's certificate refuses to start
/// and says why; given the authority that signed it (`sslrootcert`), it runs, and PostgreSQL
/// reports every one of its connections encrypted.
#[tokio::test(flavor = "multi_thread")]
async fn with_sslmode_require_every_connection_is_encrypted_and_its_certificate_checked() {
    let pg = pg_support::cluster();
    let ca = pg.enable_tls();
    let url = pg.new_database();
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 5}"#);

    let stderr = refused_serve(
        dir.path(),
        &dir.path().join("refused"),
        format!("{url}?sslmode=require").as_ref(),
    );
    assert!(stderr.contains("certificate"), "{stderr}");

    let tls_url = format!("{url}?sslmode=require&sslrootcert={}", ca.display());
    let server = start(&dir.path().join("a"), &bin, &tls_url);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hello").await;
    let live = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&live), Some(TurnStatus::Success));
    let counts = pg.psql(
        &url,
        "SELECT count(*) FILTER (WHERE s.ssl) || ' of ' || count(*)
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.application_name = 'aisys serve' AND a.datname = current_database()",
    );
    let (encrypted, all) = counts.trim().split_once(" of ").unwrap();
    assert!(all != "0", "the server is connected: {counts}");
    assert_eq!(encrypted, all, "every connection is encrypted: {counts}");
}
