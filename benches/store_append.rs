//! The server's store alone, SQLite (journal in front) against PostgreSQL, in the same run:
//! sessions appending one event at a time at a steady rate, and the time each `append` takes to
//! return (the commit the server waits for before a client is sent the event). PostgreSQL runs
//! as a throwaway cluster (tests/pg_support) with `fsync` switched back on, so that its commits
//! cost what a real one's do. `cargo bench --bench store_append`; as a test it runs a small
//! smoke load.

#[path = "support/cpu.rs"]
#[allow(dead_code)]
mod cpu;
#[path = "../tests/pg_support/mod.rs"]
mod pg_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aisys::server::store::{EncodedEvent, PostgresStore, SqliteStore, Store};
use aisys::types::StreamEvent;

/// A full run's load: the 100 sessions at 200 events/s each (20,000 events/s).
const FULL: (usize, usize, Duration) = (100, 200, Duration::from_secs(5));
/// A smoke run's load: enough to exercise both stores.
const SMOKE: (usize, usize, Duration) = (4, 50, Duration::from_millis(500));

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Runs the load on `store`: (events/s delivered, p50 ms, p99 ms, max ms).
async fn load(
    store: Arc<dyn Store>,
    sessions: usize,
    rate: usize,
    length: Duration,
) -> (f64, f64, f64, f64) {
    let began = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("bench-{s}");
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut took = Vec::new();
            let mut n = 0;
            while began.elapsed() < length {
                tick.tick().await;
                let event = EncodedEvent::batch(vec![StreamEvent::Stderr {
                    line: format!("line {n} of session {s}, about as long as an agent's text"),
                }])
                .unwrap();
                let t = Instant::now();
                store.append(&id, event).await.unwrap();
                took.push(t.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
            took
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = began.elapsed().as_secs_f64();
    let rate = all.len() as f64 / secs;
    let p50 = percentile(&mut all, 0.5);
    let p99 = percentile(&mut all, 0.99);
    let max = all.last().copied().unwrap_or(0.0);
    (rate, p50, p99, max)
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (mut sessions, mut rate, length) = if full { FULL } else { SMOKE };
    // `STORE_APPEND_LOAD=SESSIONS,RATE` measures another load.
    if let Ok(v) = std::env::var("STORE_APPEND_LOAD") {
        let (s, r) = v.split_once(',').expect("STORE_APPEND_LOAD=SESSIONS,RATE");
        sessions = s.parse().expect("STORE_APPEND_LOAD: a number of sessions");
        rate = r.parse().expect("STORE_APPEND_LOAD: events per second");
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("aisys.db")).unwrap());
    let url = pg_support::cluster().new_database();
    // The test cluster runs without fsync; a benchmark of commits needs it on.
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    for sql in [
        "ALTER SYSTEM SET fsync = on",
        "ALTER SYSTEM SET full_page_writes = on",
        "SELECT pg_reload_conf()",
    ] {
        admin.batch_execute(sql).await.unwrap();
    }
    // The reload is asynchronous: wait until the server runs with it.
    let began = Instant::now();
    loop {
        let fsync: String = admin.query_one("SHOW fsync", &[]).await.unwrap().get(0);
        if fsync == "on" {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "fsync stays {fsync}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let postgres: Arc<dyn Store> = Arc::new(PostgresStore::open(&url).await.unwrap());
    println!(
        "{sessions} sessions x {rate} events/s for {:.1} s, one event per append (offered {} events/s)",
        length.as_secs_f64(),
        sessions * rate
    );
    let this = cpu::Who::One(std::process::id());
    let pg = cpu::Who::Tree(pg_support::cluster().pid());
    for (name, store) in [("sqlite", sqlite), ("postgres", postgres)] {
        let (this_start, pg_start) = (cpu::read(this), cpu::read(pg));
        let (got, p50, p99, max) = load(store, sessions, rate, length).await;
        let events = (got * length.as_secs_f64()) as usize;
        let (u, s) = cpu::since(this, this_start).per_event(events);
        let (pu, ps) = cpu::since(pg, pg_start).per_event(events);
        println!(
            "{name:>8}: {got:.0} events/s; append p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; \
             CPU per event: this process {:.1} µs ({u:.1} user + {s:.1} system), PostgreSQL {:.1} µs",
            u + s,
            pu + ps
        );
        assert!(got > 0.0, "{name}: no event was appended");
    }
}
