//! Load on `aisys serve` over loopback, with a fast stand-in agent (support/stand_in.rs, the
//! bench binary itself) so that the server is what is measured: memory per idle session, 10,000 connections, and
//! events per second with their latency from the agent's stdout line to the client. A bare
//! tokio-tungstenite relay carrying the same frames to the same clients is measured in the same
//! run as the ceiling, and so is a fair one: a relay fed by the same stand-in agents through
//! pipes (benches/support/fair_relay.rs). Each load reports the CPU time the server (and the
//! fair relay) used per delivered event. `cargo bench --bench server_load`; as a test it runs a
//! small smoke load. `SERVER_LOAD_STORE=postgres` measures instead the store choice: the
//! heaviest load on SQLite, then across two servers sharing PostgreSQL (support/cross_server.rs).
//! `SERVER_LOAD_BEFORE=PATH[,PATH...]` measures earlier builds of aisys beside this one.

#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/cross_server.rs"]
mod cross_server;
#[path = "support/fair_relay.rs"]
mod fair_relay;
#[path = "../tests/serve_harness/mod.rs"]
mod serve_harness;
#[path = "support/stand_in.rs"]
mod stand_in;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aisys::client::Notification;
use aisys::types::{ClientMessage, SessionSpec, StreamEvent};
use futures_util::{SinkExt, StreamExt};
use serve_harness::Server;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The loads of a full run and of a smoke run.
struct Load {
    idle_sessions: usize,
    connections: usize,
    active_sessions: usize,
    /// Lines per second each active session's agent prints, one measurement per rate.
    rates: &'static [usize],
    /// A last run with few sessions at a high rate each: the same events/s from fewer agent
    /// processes, so less of the two cores goes to the stand-in agents.
    few: (usize, usize),
    seconds: usize,
    /// How long the stand-in agents hold their first line: a hundred Python interpreters
    /// starting on two cores take about two seconds, the stand-in's cost, not the server's
    /// (and more than three when other work shares the cores).
    warmup: Duration,
}

const FULL: Load = Load {
    idle_sessions: 1000,
    connections: 10_000,
    active_sessions: 100,
    rates: &[50, 100, 200],
    few: (10, 2000),
    seconds: 10,
    warmup: Duration::from_secs(5),
};
const SMOKE: Load = Load {
    idle_sessions: 20,
    connections: 50,
    active_sessions: 4,
    rates: &[50],
    few: (2, 100),
    seconds: 1,
    warmup: Duration::from_millis(300),
};
/// Settings for the stand-in agent: `events` lines at `rate` a second, the first after
/// `warmup`; and the moment that first line is due.
fn agent_settings(events: usize, rate: usize, warmup: Duration) -> (String, Instant) {
    let start = std::time::SystemTime::now() + warmup;
    let epoch = start
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    (
        format!(r#"{{"events": {events}, "rate": {rate}, "start_at": {epoch}}}"#),
        Instant::now() + warmup,
    )
}

/// Connections opened at once while building up to `connections`.
const CONNECT_BATCH: usize = 200;

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on this process.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p) as usize]
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Latency in ms of a text `t=<ns>` written by the fake agent.
fn latency_ms(text: &str) -> Option<f64> {
    let t: u128 = text.strip_prefix("t=")?.parse().ok()?;
    let l = (now_ns().saturating_sub(t)) as f64 / 1e6;
    if let Some(f) = DUMP.get() {
        use std::io::Write;
        let _ = writeln!(f.lock().unwrap_or_else(|e| e.into_inner()), "{t} {l:.3}");
    }
    Some(l)
}

/// Where `SERVER_LOAD_DUMP` asks every latency to be written, with its send time: a p99 made of
/// bursts shows as the moments they happened, to be set beside what the server was doing.
static DUMP: std::sync::OnceLock<std::sync::Mutex<std::fs::File>> = std::sync::OnceLock::new();

use fair_relay::LoadResult;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(fair_relay::CHILD_ARG) {
        return fair_relay::child_main(args[2].clone(), args[3].clone());
    }
    if args.get(1).map(String::as_str) == Some(stand_in::CHILD_ARG) {
        stand_in::child_main(&args[2..]);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}

async fn bench() {
    let full = std::env::args().any(|a| a == "--bench");
    let mut load = if full { FULL } else { SMOKE };
    // `SERVER_LOAD_ONLY_THROUGHPUT=1` skips the memory parts, to profile the event path alone.
    if std::env::var_os("SERVER_LOAD_ONLY_THROUGHPUT").is_some() {
        load.idle_sessions = 0;
        load.connections = 0;
    }
    // `SERVER_LOAD_RATES=200` measures only those rates (comma-separated), for quick comparisons.
    if let Ok(r) = std::env::var("SERVER_LOAD_RATES") {
        let rates: Vec<usize> = r.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        load.rates = Vec::leak(rates);
    }
    // `SERVER_LOAD_DUMP=FILE` writes "<send time ns> <latency ms>" for every event received.
    if let Some(p) = std::env::var_os("SERVER_LOAD_DUMP") {
        let file = std::fs::File::create(&p).expect("create the SERVER_LOAD_DUMP file");
        let _ = DUMP.set(std::sync::Mutex::new(file));
    }
    let fds = raise_fd_limit();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let bin = stand_in::install(dir.path(), r#"{"events": 1}"#);
    match std::env::var("SERVER_LOAD_STORE").as_deref() {
        Err(_) | Ok("sqlite") => {}
        Ok("postgres") => {
            // The heaviest rate, or every rate `SERVER_LOAD_RATES` names.
            let rates = match std::env::var_os("SERVER_LOAD_RATES") {
                Some(_) => load.rates,
                None => &load.rates[load.rates.len() - 1..],
            };
            return cross_server::run(
                &builds(),
                &bin,
                dir.path(),
                load.active_sessions,
                rates,
                load.seconds,
                load.warmup,
            )
            .await;
        }
        Ok(other) => panic!("SERVER_LOAD_STORE={other}: expected sqlite or postgres"),
    }
    // `SERVER_LOAD_REPEAT=N` runs the whole round of loads N times, each build and the relay in
    // turn every time, and adds the medians: on a shared machine one run's CPU figure moves by
    // ±10 %, more than most changes it is meant to show.
    let repeat: usize = std::env::var("SERVER_LOAD_REPEAT")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    // Every load's sessions stay: the server must hold all of them.
    let max =
        (load.idle_sessions + (load.active_sessions * load.rates.len() + load.few.0) * repeat + 10)
            .to_string();
    let mut env = vec![
        ("AISYS_CLAUDE_BIN", bin.to_str().unwrap().to_string()),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9".to_string()),
    ];
    // The server starts with a cleared environment; allocator settings tried on it (glibc's
    // `GLIBC_TUNABLES`) are passed on, and reach the fair relay too, which inherits them.
    if let Ok(t) = std::env::var("GLIBC_TUNABLES") {
        env.push(("GLIBC_TUNABLES", t));
    }
    // `SERVER_LOAD_WORKERS=N` runs the servers (not this bench) with N tokio worker threads.
    if let Ok(n) = std::env::var("SERVER_LOAD_WORKERS") {
        env.push(("TOKIO_WORKER_THREADS", n));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let builds = builds();
    let mut servers = Vec::new();
    for (i, (label, bin)) in builds.iter().enumerate() {
        let server = Server::start_binary(
            bin,
            &dir.path().join(format!("data-{i}")),
            &["--sandbox", "host", "--max-sessions", &max],
            &env,
        );
        println!("{label}: {}", bin.display());
        let (idle, conns) = memory(&server, &load).await;
        servers.push(Measured {
            label,
            server,
            idle,
            conns,
            loads: Vec::new(),
        });
    }
    println!(
        "aisys serve, --sandbox host (the stand-in agent is trusted: this measures the server)"
    );
    println!("open files allowed: {fds}");

    // (c) Throughput and latency: active sessions, one client each, at rising rates; after
    // each, the fair relay with the same agents at the same rate.
    std::fs::create_dir_all(dir.path().join("relay-work")).unwrap();
    let relay_proc = fair_relay::RelayProcess::start(&bin, &dir.path().join("relay-work"));
    let mut loads: Vec<(usize, usize)> = load
        .rates
        .iter()
        .map(|r| (load.active_sessions, *r))
        .collect();
    loads.push(load.few);
    let loads = loads.repeat(repeat);
    let mut relays = Vec::new();
    for &(sessions, rate) in &loads {
        for m in &mut servers {
            // The stand-in agent reads its settings when it starts: one file for every session.
            let (settings, due) = agent_settings(rate * load.seconds, rate, load.warmup);
            std::fs::write(dir.path().join("fake-claude.json"), settings).unwrap();
            let pid = m.server.child.id();
            let perf = perf_during(pid, due, &format!("{}.{sessions}x{rate}", m.label));
            let r = throughput(&m.server, sessions, due).await;
            if let Some(p) = perf {
                p.stop();
            }
            report(m.label, sessions, rate, load.seconds, &r);
            m.loads.push(r);
        }
        let (settings, due) = agent_settings(rate * load.seconds, rate, load.warmup);
        std::fs::write(dir.path().join("fake-claude.json"), settings).unwrap();
        let f = fair_relay::run_load(&relay_proc, sessions, due, latency_ms).await;
        report("fair relay", sessions, rate, load.seconds, &f);
        relays.push(f);
    }
    drop(relay_proc);
    // The last round's heaviest load.
    let heaviest = loads.len() - 2;
    let (aisys_p99, aisys_rate) = {
        let r = &servers.last().unwrap().loads[heaviest];
        (r.p99, r.received as f64 / r.secs)
    };
    let servers: Vec<(&str, String, String, Vec<LoadResult>)> = servers
        .into_iter()
        .map(|m| (m.label, m.idle, m.conns, m.loads))
        .collect();

    // (d) The ceiling: a bare relay sending the same frames at the same rate to as many clients.
    let (relay_p50, relay_p99, relay_rate) = relay(
        load.active_sessions,
        *load.rates.last().unwrap(),
        load.seconds,
    )
    .await;
    println!(
        "(d) bare tokio-tungstenite relay, same load: {relay_rate:.0} events/s delivered; latency p50 {relay_p50:.2} ms, p99 {relay_p99:.2} ms"
    );
    println!(
        "ratio aisys/relay: delivered events/s {:.2}, p99 latency {:.2}",
        aisys_rate / relay_rate,
        aisys_p99 / relay_p99
    );
    println!("\nsummary (server CPU in µs per delivered event, user + system):");
    for (label, idle, conns, _) in &servers {
        println!("{label}: (a) {idle}; (b) {conns}");
    }
    println!(
        "| load | build | delivered | p50 | p99 | max | CPU/event | fair relay: delivered, p99, CPU/event | CPU ratio |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (i, ((sessions, rate), f)) in loads.iter().zip(&relays).enumerate() {
        let offered = sessions * rate;
        let (fu, fs) = f.cpu.per_event(f.received);
        for (label, _, _, results) in &servers {
            let r = &results[i];
            let (u, s) = r.cpu.per_event(r.received);
            println!(
                "| {sessions} x {rate} lines/s | {label} | {:.0}/s of {offered} ({:.1}%) | {:.2} ms | {:.2} ms | {:.0} ms | {:.1} µs ({u:.1} + {s:.1}) | {:.0}/s, {:.2} ms, {:.1} µs ({fu:.1} + {fs:.1}) | {:.2} |",
                r.received as f64 / r.secs,
                100.0 * r.received as f64 / (offered * load.seconds) as f64,
                r.p50,
                r.p99,
                r.max,
                u + s,
                f.received as f64 / f.secs,
                f.p99,
                fu + fs,
                (u + s) / (fu + fs),
            );
        }
    }
    if repeat > 1 {
        medians(&loads[..loads.len() / repeat], &servers, &relays);
    }
}

/// The results of the load at `i` of every round of `n` loads.
fn same(results: &[LoadResult], i: usize, n: usize) -> Vec<&LoadResult> {
    results.iter().skip(i).step_by(n).collect()
}

/// The median over the repeated rounds of each load's p99 and CPU per event, per build and
/// for the fair relay.
fn medians(
    round: &[(usize, usize)],
    servers: &[(&str, String, String, Vec<LoadResult>)],
    relays: &[LoadResult],
) {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let cpu = |r: &LoadResult| {
        let (u, s) = r.cpu.per_event(r.received);
        u + s
    };
    println!("\nmedians of {} rounds:", relays.len() / round.len());
    println!("| load | build | p99 | CPU/event | fair relay: p99, CPU/event |");
    println!("| --- | --- | --- | --- | --- |");
    for (i, (sessions, rate)) in round.iter().enumerate() {
        let f = same(relays, i, round.len());
        let (fp99, fcpu) = (
            median(f.iter().map(|r| r.p99).collect()),
            median(f.iter().map(|r| cpu(r)).collect()),
        );
        for (label, _, _, results) in servers {
            let r = same(results, i, round.len());
            println!(
                "| {sessions} x {rate} lines/s | {label} | {:.2} ms | {:.1} µs | {fp99:.2} ms, {fcpu:.1} µs |",
                median(r.iter().map(|r| r.p99).collect()),
                median(r.iter().map(|r| cpu(r)).collect()),
            );
        }
    }
}

/// One build's server and what was measured of it.
struct Measured {
    label: &'static str,
    server: Server,
    /// (a) and (b), as printed.
    idle: String,
    conns: String,
    /// (c), one per load.
    loads: Vec<LoadResult>,
}

/// (a) Idle sessions created and attached (so they are loaded), with nothing running; (b) many
/// connections, each having said hello. Each returns its line of the summary.
async fn memory(server: &Server, load: &Load) -> (String, String) {
    let pid = server.child.id();
    let (client, mut notes) = server.client().await;
    let before = rss_kb(pid);
    let t = Instant::now();
    for _ in 0..load.idle_sessions {
        let info = client.create(SessionSpec::default()).await.unwrap();
        client.attach(&info.id, 0).await.unwrap();
    }
    let after = rss_kb(pid);
    let idle = format!(
        "{} idle sessions loaded in {:.1?}: server RSS {} -> {} KiB, {:.1} KiB per idle session",
        load.idle_sessions,
        t.elapsed(),
        before,
        after,
        (after.saturating_sub(before)) as f64 / load.idle_sessions.max(1) as f64
    );
    println!("(a) {idle}");
    while notes.try_recv().is_ok() {}

    let t = Instant::now();
    let before = rss_kb(pid);
    let mut conns = Vec::new();
    while conns.len() < load.connections {
        let n = CONNECT_BATCH.min(load.connections - conns.len());
        let mut batch = Vec::new();
        for _ in 0..n {
            let url = server.url.clone();
            let token = server.token.clone();
            batch.push(tokio::spawn(async move {
                let mut req = url.as_str().into_client_request().unwrap();
                req.headers_mut()
                    .insert("Authorization", format!("Bearer {token}").parse().unwrap());
                let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
                ws.send(Message::Text(
                    r#"{"type":"hello","protocol_version":1}"#.into(),
                ))
                .await
                .unwrap();
                let _ = ws.next().await;
                ws
            }));
        }
        for b in batch {
            conns.push(b.await.unwrap());
        }
    }
    let after = rss_kb(pid);
    let opened = format!(
        "{} WebSocket connections open in {:.1?}: server RSS {} -> {} KiB ({:.1} KiB each)",
        conns.len(),
        t.elapsed(),
        before,
        after,
        after.saturating_sub(before) as f64 / conns.len().max(1) as f64
    );
    println!("(b) {opened}");
    (idle, opened)
}

/// The builds to measure: this one, after those `SERVER_LOAD_BEFORE=PATH[,PATH...]` names
/// (aisys binaries built from earlier commits, each named in the tables by its file name), so
/// that a change is compared with them load by load in the same minutes.
fn builds() -> Vec<(&'static str, std::path::PathBuf)> {
    let mut builds: Vec<(&'static str, std::path::PathBuf)> = Vec::new();
    if let Ok(before) = std::env::var("SERVER_LOAD_BEFORE") {
        for path in before.split(',').filter(|p| !p.is_empty()) {
            let path = std::path::PathBuf::from(path);
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            builds.push((String::leak(name), path));
        }
    }
    builds.push((
        "aisys",
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_aisys")),
    ));
    builds
}

fn report(who: &str, sessions: usize, rate: usize, seconds: usize, r: &LoadResult) {
    let (u, s) = r.cpu.per_event(r.received);
    let (c_u, c_s) = r.clients.per_event(r.received);
    println!(
        "(c) {who}: {sessions} sessions x {rate} lines/s for {seconds} s: offered {} events/s, delivered {} events in {:.1} s ({:.0}/s); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; CPU {:.1} µs/event ({u:.1} user + {s:.1} system); {}; the bench's clients {:.1} µs/event",
        sessions * rate,
        r.received,
        r.secs,
        r.received as f64 / r.secs,
        r.p50,
        r.p99,
        r.max,
        u + s,
        r.machine,
        c_u + c_s,
    );
}

/// `SERVER_LOAD_PERF=PREFIX` runs `perf` on the server during each load, from the moment its
/// lines are due, writing `PREFIX.<sessions>x<rate>.data`: a profile (`record -F 999 -g`), or
/// what `SERVER_LOAD_PERF_ARGS` says, e.g. `stat --per-thread -e raw_syscalls:sys_enter` to count
/// system calls.
struct Perf(std::process::Child);

impl Perf {
    fn stop(mut self) {
        // SAFETY: kill(2) on the perf process this bench started.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGINT);
        }
        let _ = self.0.wait();
    }
}

fn perf_during(pid: u32, due: Instant, name: &str) -> Option<Perf> {
    let prefix = std::env::var("SERVER_LOAD_PERF").ok()?;
    let args = std::env::var("SERVER_LOAD_PERF_ARGS").unwrap_or_else(|_| "record -F 999 -g".into());
    let delay_ms = due
        .saturating_duration_since(Instant::now())
        .as_millis()
        .max(1);
    let child = std::process::Command::new("perf")
        .args(args.split_whitespace())
        .arg(format!("--delay={delay_ms}"))
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(format!("{prefix}.{name}.data"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("SERVER_LOAD_PERF needs perf: apt-get install linux-perf");
    Some(Perf(child))
}

/// Runs one turn in each of `sessions` new sessions at once, one client each; the agents'
/// lines are due from `due` on. The latencies, the events received, the seconds from `due` to
/// the last one and the server's CPU use from `due` to the end.
async fn throughput(server: &Server, sessions: usize, due: Instant) -> LoadResult {
    let pid = server.child.id();
    let cpu_start = cpu::at(cpu::Who::One(pid), due);
    let clients_start = cpu::at(cpu::Who::this_bench(), due);
    let machine_start = cpu::machine_at(due);
    let mut tasks = Vec::new();
    for _ in 0..sessions {
        let (c, mut n) = server.client().await;
        tasks.push(tokio::spawn(async move {
            let info = c.create(SessionSpec::default()).await.unwrap();
            c.attach(&info.id, 0).await.unwrap();
            c.ack(ClientMessage::Message {
                session_id: info.id.clone(),
                text: "go".into(),
            })
            .await
            .unwrap();
            let mut lat = Vec::new();
            let mut ready = None;
            loop {
                match tokio::time::timeout(Duration::from_secs(60), n.recv()).await {
                    Ok(Some(Notification::Event { event, .. })) => match event {
                        // The agent's first line: its interpreter has started.
                        StreamEvent::SessionStarted { .. } => ready = Some(Instant::now()),
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
            (lat, ready)
        }));
    }
    let mut lat = Vec::new();
    let mut last_ready = None;
    for t in tasks {
        let (l, ready) = t.await.unwrap();
        lat.extend(l);
        last_ready = last_ready.max(ready);
    }
    // A stand-in still starting when the lines are due would compete with the server for the
    // cores: the warm-up must cover the slowest start.
    match last_ready {
        Some(r) if r <= due => println!(
            "    every agent started {:.2} s before its first line was due",
            (due - r).as_secs_f64()
        ),
        Some(r) => println!(
            "    warning: the last agent started {:.2} s after its first line was due: make the warm-up longer",
            (r - due).as_secs_f64()
        ),
        None => println!("    warning: no agent reported its start"),
    }
    let cpu = cpu::since(cpu::Who::One(pid), cpu_start.await.unwrap());
    let clients = cpu::since(cpu::Who::this_bench(), clients_start.await.unwrap());
    let secs = due.elapsed().as_secs_f64();
    let received = lat.len();
    LoadResult {
        p50: percentile(&mut lat, 0.5),
        p99: percentile(&mut lat, 0.99),
        max: percentile(&mut lat, 1.0),
        received,
        secs,
        cpu,
        machine: cpu::machine_busy_since(machine_start.await.unwrap()),
        clients,
    }
}

/// A WebSocket server that sends each client `rate` frames a second for `seconds`, each frame an
/// `event` like aisys's with the send time inside; returns (p50, p99, delivered/s).
async fn relay(clients: usize, rate: usize, seconds: usize) -> (f64, f64, f64) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                let start = Instant::now();
                for i in 0..rate * seconds {
                    let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                    let frame = serde_json::json!({"type": "event", "session_id": "s", "seq": i + 1,
                        "event": {"type": "text", "message_id": format!("msg_{i}"), "text": format!("t={}", now_ns())}});
                    if ws
                        .send(Message::Text(frame.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = ws.send(Message::Text(r#"{"type":"done"}"#.into())).await;
            });
        }
    });
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
                .await
                .unwrap();
            let mut lat = Vec::new();
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "done" {
                    break;
                }
                if let Some(l) = v["event"]["text"].as_str().and_then(latency_ms) {
                    lat.push(l);
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let rate = lat.len() as f64 / start.elapsed().as_secs_f64();
    (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99), rate)
}
