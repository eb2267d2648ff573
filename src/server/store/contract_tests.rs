//! What every store promises, checked against each backend: SQLite in a temporary folder and
//! PostgreSQL in a throwaway cluster (a missing PostgreSQL fails these tests with how to
//! install it).

use std::sync::Arc;

use super::{EncodedEvent, PostgresStore, SqliteStore, Store, StoreError};
use crate::types::{
    AgentKind, PermissionMode, SandboxKind, SessionInfo, SessionState, StreamEvent,
};

#[path = "../../../tests/pg_support/mod.rs"]
pub(crate) mod pg_support;

pub fn info(id: &str, last: &str) -> SessionInfo {
    SessionInfo {
        id: id.into(),
        title: None,
        agent: AgentKind::ClaudeCode,
        sandbox: SandboxKind::Local,
        state: SessionState::Idle,
        reason: None,
        workspace: "/w".into(),
        model: None,
        permission_mode: PermissionMode::Default,
        agent_session_id: None,
        sandbox_id: None,
        created_at: last.parse().unwrap(),
        last_activity: last.parse().unwrap(),
        last_seq: 0,
        limits: None,
        profile: Some("none".into()),
        profile_resolved_at: None,
        usage: None,
    }
}

pub fn ev(n: usize) -> StreamEvent {
    StreamEvent::Stderr {
        line: format!("line {n}"),
    }
}

fn batch(events: Vec<StreamEvent>) -> Vec<Arc<EncodedEvent>> {
    EncodedEvent::batch(events).unwrap()
}

fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("aisys.db")).unwrap());
    (dir, store)
}

/// A fresh database in the test process's cluster.
fn postgres_url() -> String {
    pg_support::cluster().new_database()
}

async fn postgres() -> Arc<dyn Store> {
    Arc::new(PostgresStore::open(&postgres_url()).await.unwrap())
}

/// Runs a contract check against both backends.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (_dir, store) = super::sqlite();
                super::$name(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::postgres().await).await;
            }
        }
    )*};
}

on_both!(
    seqs_start_at_one_without_gaps,
    concurrent_appends_are_numbered_in_order_per_session,
    concurrent_appends_to_one_session_leave_no_gap_or_repeat,
    sessions_are_listed_newest_first_and_deleted_with_their_events,
    a_deleted_session_numbers_from_one_again_and_reads_see_every_answered_write,
    append_and_save_stores_the_metadata_with_the_new_last_seq,
    every_event_is_read_once_from_any_seq_across_loads_and_sessions,
    large_events_with_line_breaks_are_read_back_whole_from_any_seq,
);

async fn seqs_start_at_one_without_gaps(s: Arc<dyn Store>) {
    assert_eq!(s.append("a", batch(vec![ev(1), ev(2)])).await.unwrap(), 1);
    assert_eq!(s.append("b", batch(vec![ev(1)])).await.unwrap(), 1);
    assert_eq!(s.append("a", batch(vec![ev(3)])).await.unwrap(), 3);
    assert_eq!(s.last_seq("a").await.unwrap(), 3);
    assert_eq!(s.last_seq("none").await.unwrap(), 0);
    let after = s.events_after("a", 1, 10).await.unwrap();
    let seqs: Vec<u64> = after.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(*after[0].1.event(), ev(2));
    assert_eq!(&*after[0].1.json, serde_json::to_string(&ev(2)).unwrap());
    assert_eq!(s.events_after("a", 0, 2).await.unwrap().len(), 2);
    // Past every event, however large: 2^63 and above do not wrap to negative numbers.
    for far in [3, 1 << 63, u64::MAX] {
        assert!(
            s.events_after("a", far, 10).await.unwrap().is_empty(),
            "{far}"
        );
    }
}

async fn concurrent_appends_are_numbered_in_order_per_session(s: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for session in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("s{session}");
            for i in 0..50 {
                s.append(&id, batch(vec![ev(i)])).await.unwrap();
            }
            // Metadata saved among other sessions' appends gets its own session's last seq.
            let first = s
                .append_and_save(&info(&id, "2026-01-01T00:00:00Z"), batch(vec![ev(50)]))
                .await
                .unwrap();
            assert_eq!(first, 51);
            id
        }));
    }
    for t in tasks {
        let id = t.await.unwrap();
        assert_eq!(s.get_session(&id).await.unwrap().unwrap().last_seq, 51);
        let all = s.events_after(&id, 0, 1000).await.unwrap();
        assert_eq!(all.len(), 51);
        for (i, (seq, e)) in all.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
            assert_eq!(*e.event(), ev(i));
        }
    }
}

/// Many writers on one session at once: every event gets its own seq, each batch's seqs are
/// consecutive, and together they run from 1 without a gap.
async fn concurrent_appends_to_one_session_leave_no_gap_or_repeat(s: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const BATCHES: usize = 25;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for b in 0..BATCHES {
                let n = 1 + (w + b) % 3;
                let events: Vec<StreamEvent> =
                    (0..n).map(|k| ev(w * 10_000 + b * 10 + k)).collect();
                let first = s.append("one", batch(events.clone())).await.unwrap();
                got.push((first, events));
            }
            got
        }));
    }
    let mut batches = Vec::new();
    for t in tasks {
        batches.extend(t.await.unwrap());
    }
    let total: usize = batches.iter().map(|(_, e)| e.len()).sum();
    let stored = s.events_after("one", 0, total + 10).await.unwrap();
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
    for (first, events) in batches {
        for (k, e) in events.into_iter().enumerate() {
            assert_eq!(
                *stored[first as usize - 1 + k].1.event(),
                e,
                "seq {first}+{k}"
            );
        }
    }
    assert_eq!(s.last_seq("one").await.unwrap(), total as u64);
}

async fn sessions_are_listed_newest_first_and_deleted_with_their_events(s: Arc<dyn Store>) {
    s.put_session(&info("old", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    s.put_session(&info("new", "2026-02-01T00:00:00Z"))
        .await
        .unwrap();
    s.append("old", batch(vec![ev(1)])).await.unwrap();
    let ids: Vec<String> = s
        .list_sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id.into_string())
        .collect();
    assert_eq!(ids, ["new", "old"]);
    assert_eq!(s.count_sessions().await.unwrap(), 2);
    assert!(s.delete_session("old").await.unwrap());
    assert!(!s.delete_session("old").await.unwrap());
    assert_eq!(s.get_session("old").await.unwrap(), None);
    assert_eq!(s.last_seq("old").await.unwrap(), 0);
    assert!(s.events_after("old", 0, 10).await.unwrap().is_empty());
    assert_eq!(s.count_sessions().await.unwrap(), 1);
}

async fn a_deleted_session_numbers_from_one_again_and_reads_see_every_answered_write(
    s: Arc<dyn Store>,
) {
    s.put_session(&info("x", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    for i in 0..50 {
        s.append("x", batch(vec![ev(i)])).await.unwrap();
        // No wait in between: the read must still see the append just answered.
        assert_eq!(
            s.events_after("x", i as u64, 10).await.unwrap().len(),
            1,
            "event {i}"
        );
    }
    assert!(s.delete_session("x").await.unwrap());
    assert_eq!(s.append("x", batch(vec![ev(0)])).await.unwrap(), 1);
    assert_eq!(s.events_after("x", 0, 100).await.unwrap().len(), 1);
    assert_eq!(s.get_session("x").await.unwrap(), None);
}

async fn every_event_is_read_once_from_any_seq_across_loads_and_sessions(s: Arc<dyn Store>) {
    // Two sessions' appends of one to three events, interleaved, with reads now and then (each
    // makes SQLite load what was written): a session's events lie in many pieces.
    let mut n = [0usize; 2];
    for round in 0..40 {
        for (i, id) in ["p", "q"].into_iter().enumerate() {
            let size = 1 + (round + i) % 3;
            let events = (0..size).map(|k| ev(n[i] + k + 1)).collect();
            s.append(id, batch(events)).await.unwrap();
            n[i] += size;
        }
        if round % 7 == 0 {
            s.events_after("p", 0, 1).await.unwrap();
        }
    }
    for (i, id) in ["p", "q"].into_iter().enumerate() {
        let total = n[i] as u64;
        assert_eq!(s.last_seq(id).await.unwrap(), total, "{id}");
        for after in 0..=total + 1 {
            let page = s.events_after(id, after, 4).await.unwrap();
            let want: Vec<u64> = (after + 1..=total.min(after + 4)).collect();
            let seqs: Vec<u64> = page.iter().map(|(seq, _)| *seq).collect();
            assert_eq!(seqs, want, "{id} after {after}");
            for (seq, e) in &page {
                assert_eq!(*e.event(), ev(*seq as usize), "{id} seq {seq}");
            }
        }
    }
    // Deleting one session leaves every event of the other.
    s.delete_session("p").await.unwrap();
    assert_eq!(s.last_seq("p").await.unwrap(), 0);
    assert!(s.events_after("p", 0, 10).await.unwrap().is_empty());
    let rest = s.events_after("q", 0, 1000).await.unwrap();
    assert_eq!(rest.len(), n[1]);
}

async fn large_events_with_line_breaks_are_read_back_whole_from_any_seq(s: Arc<dyn Store>) {
    // 60 events of 6 KB, more than one load keeps together (the SQLite store's chunks hold 64
    // KiB), each with line breaks of its own and sent in batches of one to five.
    let big = |n: usize| StreamEvent::Stderr {
        line: format!("event {n}\n{}\r\nend {n}", "x".repeat(6000)),
    };
    let mut n = 0;
    while n < 60 {
        let size = (1 + n % 5).min(60 - n);
        s.append("big", batch((n + 1..=n + size).map(big).collect()))
            .await
            .unwrap();
        n += size;
    }
    assert_eq!(s.last_seq("big").await.unwrap(), 60);
    for after in 0..=61 {
        let page = s.events_after("big", after, 7).await.unwrap();
        let seqs: Vec<u64> = page.iter().map(|(seq, _)| *seq).collect();
        let want: Vec<u64> = (after + 1..=60.min(after + 7)).collect();
        assert_eq!(seqs, want, "after {after}");
        for (seq, e) in &page {
            assert_eq!(*e.event(), big(*seq as usize), "seq {seq}");
        }
    }
}

async fn append_and_save_stores_the_metadata_with_the_new_last_seq(s: Arc<dyn Store>) {
    let mut i = info("m", "2026-01-01T00:00:00Z");
    s.put_session(&i).await.unwrap();
    i.title = Some("renamed".into());
    i.state = SessionState::Running;
    assert_eq!(
        s.append_and_save(&i, batch(vec![ev(1), ev(2)]))
            .await
            .unwrap(),
        1
    );
    let saved = s.get_session("m").await.unwrap().unwrap();
    assert_eq!(saved.title.as_deref(), Some("renamed"));
    assert_eq!(saved.state, SessionState::Running);
    assert_eq!(saved.last_seq, 2);
    // A plain append leaves the metadata as it was saved.
    assert_eq!(s.append("m", batch(vec![ev(3)])).await.unwrap(), 3);
    assert_eq!(s.get_session("m").await.unwrap().unwrap().last_seq, 2);
    assert_eq!(s.append_and_save(&i, batch(vec![ev(4)])).await.unwrap(), 4);
    let saved = s.get_session("m").await.unwrap().unwrap();
    assert_eq!(saved.last_seq, 4);
    assert_eq!(
        saved,
        SessionInfo {
            last_seq: 4,
            ..i.clone()
        },
        "every field comes back as it was saved"
    );
}

// PostgreSQL's own behaviour.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_everything_across_reopening_and_two_stores_number_one_session_together() {
    let url = postgres_url();
    {
        let s = PostgresStore::open(&url).await.unwrap();
        s.put_session(&info("a", "2026-01-01T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(s.append("a", batch(vec![ev(1), ev(2)])).await.unwrap(), 1);
    }
    // Two stores on one database, as two servers would be: they number one session together.
    let a = Arc::new(PostgresStore::open(&url).await.unwrap());
    let b = Arc::new(PostgresStore::open(&url).await.unwrap());
    assert_eq!(b.last_seq("a").await.unwrap(), 2);
    assert!(b.get_session("a").await.unwrap().is_some());
    let mut tasks = Vec::new();
    for (w, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                s.append("a", batch(vec![ev(w * 100 + i)])).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seqs: Vec<u64> = a
        .events_after("a", 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(seqs, (1..=82).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_store_numbering_from_a_stale_seq_numbers_again_from_the_table() {
    let url = postgres_url();
    let a = PostgresStore::open(&url).await.unwrap();
    let b = PostgresStore::open(&url).await.unwrap();
    let seqs = |events: Vec<(u64, EncodedEvent)>| -> Vec<(u64, StreamEvent)> {
        events
            .into_iter()
            .map(|(s, e)| (s, e.into_event()))
            .collect()
    };
    // `a` remembers seq 2 as the session's last; `b` appends behind its back.
    assert_eq!(a.append("s", batch(vec![ev(1), ev(2)])).await.unwrap(), 1);
    assert_eq!(b.append("s", batch(vec![ev(3), ev(4)])).await.unwrap(), 3);
    // Behind: `a` would number from 3, which `b` took; it numbers again after 4.
    assert_eq!(a.append("s", batch(vec![ev(5)])).await.unwrap(), 5);
    assert_eq!(
        seqs(b.events_after("s", 0, 100).await.unwrap()),
        (1..=5).map(|i| (i as u64, ev(i))).collect::<Vec<_>>()
    );
    // Ahead: `b` deletes the session, so `a`'s next seq (6) would leave a gap from 1.
    b.delete_session("s").await.unwrap();
    assert_eq!(b.last_seq("s").await.unwrap(), 0);
    assert_eq!(a.append("s", batch(vec![ev(6)])).await.unwrap(), 1);
    assert_eq!(
        seqs(a.events_after("s", 0, 100).await.unwrap()),
        [(1, ev(6))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_is_versioned_and_a_newer_one_is_refused() {
    let url = postgres_url();
    drop(PostgresStore::open(&url).await.unwrap());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let version: i32 = client
        .query_one("SELECT version FROM aisys_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version as usize, super::postgres::MIGRATIONS.len());
    // Opening again migrates nothing and keeps one version row.
    drop(PostgresStore::open(&url).await.unwrap());
    let rows = client
        .query("SELECT version FROM aisys_schema", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    client
        .execute("UPDATE aisys_schema SET version = 99", &[])
        .await
        .unwrap();
    let err = PostgresStore::open(&url).await.err().unwrap();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer aisys"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_of_the_second_schema_are_migrated_into_chunks() {
    let url = postgres_url();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // A database as a server of schema 2 left it: a row per event.
    let migrations = &super::postgres::MIGRATIONS[..2];
    client
        .batch_execute(&format!(
            "CREATE TABLE aisys_schema (version INTEGER NOT NULL);
             INSERT INTO aisys_schema (version) VALUES (2); {}",
            migrations.join(";\n")
        ))
        .await
        .unwrap();
    for seq in 1..=3i64 {
        let json = serde_json::to_string(&ev(seq as usize)).unwrap();
        client
            .execute(
                "INSERT INTO aisys_events (session_id, seq, json) VALUES ('old', $1, $2)",
                &[&seq, &json],
            )
            .await
            .unwrap();
    }
    client
        .execute(
            "INSERT INTO aisys_seqs (session_id, last_seq) VALUES ('old', 3)",
            &[],
        )
        .await
        .unwrap();
    let s = PostgresStore::open(&url).await.unwrap();
    let events: Vec<(u64, StreamEvent)> = s
        .events_after("old", 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, e)| (seq, e.into_event()))
        .collect();
    assert_eq!(events, [(1, ev(1)), (2, ev(2)), (3, ev(3))]);
    assert_eq!(s.append("old", batch(vec![ev(4), ev(5)])).await.unwrap(), 4);
    let after: Vec<u64> = s
        .events_after("old", 2, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(after, [3, 4, 5]);
}

#[tokio::test]
async fn postgres_an_unreachable_database_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://u:secret@127.0.0.1:{port}/none");
    let err = PostgresStore::open(&url).await.err().unwrap().to_string();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(
        err.contains(&format!("postgres://u:***@127.0.0.1:{port}/none")),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}
