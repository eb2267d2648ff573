//! `SERVER_LOAD_STORE=postgres cargo bench --bench server_load`: one load (100 sessions x 200
//! lines/s in a full run; each rate of `SERVER_LOAD_RATES` when it is set) on the SQLite store,
//! one server, and then on two servers sharing a
//! PostgreSQL store (tests/pg_support's throwaway cluster with `fsync` switched back on), where
//! each session's turn runs on server A and its client is attached to server B: the latency
//! from the agent's line to a client on the *other* server, beside SQLite's in the same run,
//! and beside the same store with the client on the server that runs the turn. Builds named by
//! `SERVER_LOAD_BEFORE` run the cross-server load too, each on a pair of servers of its own,
//! in turn with this build's at each rate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisys::client::Notification;
use aisys::types::{ClientMessage, SessionSpec, StreamEvent};

use super::fair_relay::LoadResult;
use super::serve_harness::Server;
use super::{agent_settings, cpu, latency_ms, percentile, report, throughput};

#[path = "../../tests/pg_support/mod.rs"]
mod pg_support;

pub async fn run(
    builds: &[(&str, PathBuf)],
    bin: &Path,
    dir: &Path,
    sessions: usize,
    rates: &[usize],
    seconds: usize,
    warmup: Duration,
) {
    // Each rate makes `sessions` sessions twice on A and once on the SQLite server.
    let max = (sessions * 2 * rates.len() + 10).to_string();
    let bin_s = bin.to_str().unwrap();
    let env = [
        ("AISYS_CLAUDE_BIN", bin_s),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
    ];
    let host = ["--sandbox", "host", "--max-sessions", &max];
    let sqlite = Server::start(&dir.join("sqlite"), &host, &env);
    let token = dir.join("shared-token");
    std::fs::write(&token, "bench-token\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A pair of servers per build, each pair on a database of its own.
    let mut pairs = Vec::new();
    for (i, (label, build)) in builds.iter().enumerate() {
        let url = fsync_on(pg_support::cluster().new_database()).await;
        let mut args: Vec<&str> = host.to_vec();
        args.extend(["--store", &url, "--token-file", token.to_str().unwrap()]);
        let a = Server::start_binary(build, &dir.join(format!("pg-a-{i}")), &args, &env);
        let b = Server::start_binary(build, &dir.join(format!("pg-b-{i}")), &args, &env);
        println!("{label}: {}", build.display());
        pairs.push((*label, a, b));
    }
    let (_, a, _) = pairs.last().expect("this build");
    let pg = cpu::Who::Tree(pg_support::cluster().pid());
    for &rate in rates {
        println!(
            "aisys serve, --sandbox host; {sessions} sessions x {rate} lines/s for {seconds} s"
        );
        // SQLite: one server, the client on the server that runs the turn.
        let (settings, due) = agent_settings(rate * seconds, rate, warmup);
        std::fs::write(dir.join("fake-claude.json"), settings).unwrap();
        let r = throughput(&sqlite, sessions, due).await;
        report("SQLite, one server", sessions, rate, seconds, &r);

        // The same store with the client on the server running the turn: what the store
        // costs, apart from following another server.
        let (settings, due) = agent_settings(rate * seconds, rate, warmup);
        std::fs::write(dir.join("fake-claude.json"), settings).unwrap();
        let pg_start = cpu::at(pg, due);
        let rounds_start = rounds(a).await;
        let r = throughput(a, sessions, due).await;
        let pg_use = cpu::since(pg, pg_start.await.unwrap());
        report(
            "PostgreSQL, turns and clients on A",
            sessions,
            rate,
            seconds,
            &r,
        );
        report_postgres(pg_use, r.received);
        report_rounds(rounds_start, rounds(a).await, r.secs);

        for (label, a, b) in &pairs {
            let (settings, due) = agent_settings(rate * seconds, rate, warmup);
            std::fs::write(dir.join("fake-claude.json"), settings).unwrap();
            let pg_start = cpu::at(pg, due);
            let rounds_start = rounds(a).await;
            let (r, cpu_a) = across(a, b, sessions, due).await;
            let pg_use = cpu::since(pg, pg_start.await.unwrap());
            report(
                &format!("{label}: PostgreSQL, turns on A, clients on B"),
                sessions,
                rate,
                seconds,
                &r,
            );
            let (u, s) = cpu_a.per_event(r.received);
            println!(
                "    server A (runs the turns) CPU {:.1} µs/event ({u:.1} user + {s:.1} system); the line above is B's (follows them)",
                u + s
            );
            report_postgres(pg_use, r.received);
            report_rounds(rounds_start, rounds(a).await, r.secs);
        }
    }
}

/// Server A's append rounds so far and their time in seconds, from its `/metrics` (zero for
/// a build from before they were counted).
async fn rounds(a: &Server) -> (f64, f64) {
    let text = super::serve_harness::metrics(a).await;
    let value = |name: &str| {
        super::serve_harness::sample_if_any(&text, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (
        value("aisys_store_rounds_total"),
        value("aisys_store_round_seconds_total"),
    )
}

/// What A's append rounds took during a load: an append waits for the round in flight and
/// then its own.
fn report_rounds(start: (f64, f64), end: (f64, f64), secs: f64) {
    let n = end.0 - start.0;
    if n > 0.0 {
        println!(
            "    server A's append rounds: {:.0}/s, {:.2} ms each from start to commit",
            n / secs,
            (end.1 - start.1) / n * 1000.0
        );
    }
}

/// PostgreSQL's own CPU time per line delivered (all its processes: it shares the cores).
fn report_postgres(used: cpu::CpuUse, lines: usize) {
    let (u, s) = used.per_event(lines);
    println!(
        "    PostgreSQL CPU {:.1} µs/event ({u:.1} user + {s:.1} system)",
        u + s
    );
}

/// The test cluster runs without fsync; a benchmark of commits needs it on.
async fn fsync_on(url: String) -> String {
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
    let began = Instant::now();
    loop {
        let fsync: String = admin.query_one("SHOW fsync", &[]).await.unwrap().get(0);
        if fsync == "on" {
            return url;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "fsync stays {fsync}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One turn in each of `sessions` new sessions, made and started through server A, each
/// followed by a client of server B: B's clients' latencies, and A's CPU use.
async fn across(
    a: &Server,
    b: &Server,
    sessions: usize,
    due: Instant,
) -> (LoadResult, cpu::CpuUse) {
    let (pid_a, pid_b) = (a.child.id(), b.child.id());
    let (start_a, start_b) = (
        cpu::at(cpu::Who::One(pid_a), due),
        cpu::at(cpu::Who::One(pid_b), due),
    );
    let clients_start = cpu::at(cpu::Who::this_bench(), due);
    let machine_start = cpu::machine_at(due);
    let mut tasks = Vec::new();
    for _ in 0..sessions {
        let (on_a, _notes_a) = a.client().await;
        let (on_b, mut notes_b) = b.client().await;
        tasks.push(tokio::spawn(async move {
            let info = on_a.create(SessionSpec::default()).await.unwrap();
            on_b.attach(&info.id, 0).await.unwrap();
            on_a.ack(ClientMessage::Message {
                session_id: info.id.clone(),
                text: "go".into(),
            })
            .await
            .unwrap();
            let mut lat = Vec::new();
            loop {
                match tokio::time::timeout(Duration::from_secs(60), notes_b.recv()).await {
                    Ok(Some(Notification::Event { event, .. })) => match event {
                        StreamEvent::Text { text, .. } => {
                            if let Some(l) = latency_ms(&text) {
                                lat.push(l);
                            }
                        }
                        StreamEvent::Result { .. } => break,
                        _ => {}
                    },
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            drop(on_a);
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let cpu_b = cpu::since(cpu::Who::One(pid_b), start_b.await.unwrap());
    let cpu_a = cpu::since(cpu::Who::One(pid_a), start_a.await.unwrap());
    let clients = cpu::since(cpu::Who::this_bench(), clients_start.await.unwrap());
    let secs = due.elapsed().as_secs_f64();
    let received = lat.len();
    (
        LoadResult {
            p50: percentile(&mut lat, 0.5),
            p99: percentile(&mut lat, 0.99),
            max: percentile(&mut lat, 1.0),
            received,
            secs,
            cpu: cpu_b,
            machine: cpu::machine_busy_since(machine_start.await.unwrap()),
            clients,
        },
        cpu_a,
    )
}
