//! The fair ceiling for `server_load`: a relay in its own process that starts the same stand-in
//! agents aisys does, reads their stdout through pipes and sends every line to one WebSocket
//! client each, as an `event` frame. It parses nothing, stores nothing and writes each frame
//! with one send, as the simplest relay would: what aisys adds on top of it is aisys's cost.
//! Its CPU time is read from `/proc/<pid>/stat`, like the server's.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// The argument that makes the bench binary the relay process (the agent's path and the
/// folder it runs in follow it).
pub const CHILD_ARG: &str = "--fair-relay-child";

/// What the stand-in agent is told, as aisys tells it: one user message on stdin.
const USER_LINE: &[u8] =
    b"{\"type\":\"user\",\"session_id\":\"\",\"message\":{\"role\":\"user\",\"content\":\"go\"}}\n";

/// The relay process's body: listens on a free loopback port (printed on stdout), and for each
/// WebSocket connection runs one stand-in agent and relays its lines.
pub fn child_main(agent: String, workdir: String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let (agent, workdir) = (agent.clone(), workdir.clone());
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let mut child = tokio::process::Command::new(&agent)
                    .current_dir(&workdir)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .unwrap();
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(USER_LINE).await.unwrap();
                let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
                let mut seq = 0u64;
                while let Ok(Some(line)) = lines.next_line().await {
                    seq += 1;
                    let frame = format!(
                        r#"{{"type":"event","session_id":"s","seq":{seq},"event":{line}}}"#
                    );
                    if ws.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                drop(stdin);
                let _ = child.wait().await;
                let _ = ws.send(Message::Text(r#"{"type":"done"}"#.into())).await;
                let _ = ws.close(None).await;
            });
        }
    });
}

/// The relay process, started from the bench's own binary.
pub struct RelayProcess {
    child: std::process::Child,
    pub addr: String,
}

impl RelayProcess {
    pub fn start(agent: &std::path::Path, workdir: &std::path::Path) -> RelayProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg(CHILD_ARG)
            .arg(agent)
            .arg(workdir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the fair relay process");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut addr = String::new();
        out.read_line(&mut addr).unwrap();
        RelayProcess {
            addr: addr.trim().to_string(),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one measured load gave.
pub struct LoadResult {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub received: usize,
    pub secs: f64,
    pub cpu: super::cpu::CpuUse,
    /// The machine's cores busy meanwhile, everything on it counted, and stolen.
    pub machine: super::cpu::MachineUse,
    /// The CPU use of this bench's own process meanwhile: its clients, reading every frame.
    pub clients: super::cpu::CpuUse,
}

/// One load through the relay: `clients` connections, each one agent; lines are due from `due`.
pub async fn run_load(
    relay: &RelayProcess,
    clients: usize,
    due: Instant,
    latency_ms: fn(&str) -> Option<f64>,
) -> LoadResult {
    let cpu_start = super::cpu::at(super::cpu::Who::One(relay.pid()), due);
    let clients_start = super::cpu::at(super::cpu::Who::this_bench(), due);
    let machine_start = super::cpu::machine_at(due);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let url = format!("ws://{}/", relay.addr);
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut lat = Vec::new();
            loop {
                let msg = match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
                    Ok(Some(Ok(m))) => m,
                    _ => break,
                };
                let Message::Text(t) = msg else { continue };
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "done" {
                    break;
                }
                let event = &v["event"];
                if event["type"] == "assistant"
                    && let Some(l) = event["message"]["content"][0]["text"]
                        .as_str()
                        .and_then(latency_ms)
                {
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
    let cpu = super::cpu::since(super::cpu::Who::One(relay.pid()), cpu_start.await.unwrap());
    let clients = super::cpu::since(super::cpu::Who::this_bench(), clients_start.await.unwrap());
    let machine = super::cpu::machine_busy_since(machine_start.await.unwrap());
    let secs = due.elapsed().as_secs_f64();
    let received = lat.len();
    LoadResult {
        p50: super::percentile(&mut lat, 0.5),
        p99: super::percentile(&mut lat, 0.99),
        max: super::percentile(&mut lat, 1.0),
        received,
        secs,
        cpu,
        machine,
        clients,
    }
}
