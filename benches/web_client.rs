//! The browser client on a long session, in headless Chromium: how long a session of 10,000
//! blocks takes to open (from navigation to every block known and the newest on screen), how
//! smoothly it scrolls (frame times while scrolling by a screen per frame), and the bundle's
//! gzipped size (what every page loads, and apart from it the chunks loaded on demand). Run with
//! `cargo bench --bench web_client`; `cargo test --all-targets` runs a small smoke version.
//! Figures go in docs/benchmarks.md.

#[path = "../tests/browser/mod.rs"]
mod browser;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use aisys::server::store::{EncodedEvent, SqliteStore, Store};
use aisys::types::{SessionInfo, StreamEvent};
use serde_json::json;

/// Blocks in the benchmarked session: a long day's work with an agent.
const BLOCKS: usize = 10_000;
/// Blocks in the smoke version that `cargo test` runs.
const SMOKE_BLOCKS: usize = 200;
/// Times the session is opened; the median is reported.
const OPEN_RUNS: usize = 5;
/// Frames the scroll test runs for.
const SCROLL_FRAMES: usize = 180;
/// A frame longer than this missed the display's refresh (16.7 ms at 60 Hz), with some slack.
const LONG_FRAME_MS: f64 = 20.0;

fn session_info(id: &str, last_seq: u64) -> SessionInfo {
    serde_json::from_value(json!({
        "id": id, "title": "a long session", "agent": "claude-code", "sandbox": "local",
        "state": "idle", "workspace": "/tmp/none", "permission_mode": "default",
        "created_at": "2026-12-01T09:00:00Z", "last_activity": "2026-12-01T18:00:00Z",
        "last_seq": last_seq
    }))
    .unwrap()
}

/// Half user messages, half Markdown answers with a code fence: one block per event.
fn events(blocks: usize) -> Vec<Arc<EncodedEvent>> {
    (0..blocks)
        .map(|i| {
            let v = if i % 2 == 0 {
                json!({"type": "user_message", "text": format!("step {i}: make the next change")})
            } else {
                json!({"type": "text", "message_id": format!("m{i}"),
                       "text": format!("Done with **step {}**:\n\n- edited `src/lib.rs`\n- ran the tests\n\n```rust\nfn step_{i}() -> u32 {{ {i} }}\n```", i - 1)})
            };
            let e: StreamEvent = serde_json::from_value(v).unwrap();
            Arc::new(EncodedEvent::new(e).unwrap())
        })
        .collect()
}

/// The gzipped size of the app's files: (what every page loads, what is loaded on demand).
/// `index.html` names what every page loads; the rest are chunks (Mermaid and its diagram kinds)
/// that only a docs page with a diagram fetches.
fn gzipped_bundle_bytes() -> (u64, u64) {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dist");
    let index = std::fs::read_to_string(dist.join("index.html")).unwrap();
    let (mut initial, mut lazy) = (0, 0);
    for e in std::fs::read_dir(dist.join("assets")).unwrap() {
        let p = e.unwrap().path();
        let out = Command::new("gzip")
            .args(["-9", "-c"])
            .arg(&p)
            .output()
            .unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if index.contains(&format!("/assets/{name}")) {
            initial += out.stdout.len() as u64;
        } else {
            lazy += out.stdout.len() as u64;
        }
    }
    (initial, lazy)
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let blocks = if full { BLOCKS } else { SMOKE_BLOCKS };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let id = "s_benchlong0001";
    {
        let store = SqliteStore::open(&data.join("aisys.db")).unwrap();
        store
            .append_and_save(&session_info(id, blocks as u64), events(blocks))
            .await
            .unwrap();
    }

    let mut server = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args([
            "serve",
            "--no-agent-install",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .env("AISYS_CONFIG_DIR", data.join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    let http = first
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap()
        .replace("ws://", "http://")
        .trim_end_matches("/ws")
        .to_string();
    let token = std::fs::read_to_string(data.join("token")).unwrap();

    let b = browser::Browser::launch().await;
    let page = b.page(1280, 800, false).await;
    page.goto(&format!("{http}/?token={}", token.trim())).await;
    page.wait_for("document.querySelector('[data-screen=sessions]')")
        .await;

    let mut opens = Vec::new();
    for _ in 0..OPEN_RUNS {
        page.goto("about:blank").await;
        let t = Instant::now();
        page.goto(&format!("{http}/sessions/{id}")).await;
        page.wait_for(&format!(
            "document.querySelector('.block-list[data-count=\"{blocks}\"] [data-index=\"{}\"]')",
            blocks - 1
        ))
        .await;
        opens.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    opens.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rendered = page
        .eval("document.querySelectorAll('.block-list [data-index]').length")
        .await;

    // Scroll from the top, a screen per animation frame, and time every frame. The page follows
    // the newest block until the reader scrolls (a wheel, a key): a wheel event first, as a
    // reader's own scrolling starts, or the page would go back to the bottom and stay there.
    let scroll = page
        .eval(&format!(
            "new Promise(done => {{
                window.dispatchEvent(new WheelEvent('wheel', {{deltaY: -1}}));
                window.scrollTo(0, 0);
                const times = []; let last = performance.now(); let n = 0; let reached = 0;
                const step = now => {{
                    times.push(now - last); last = now; n += 1; reached = window.scrollY;
                    window.scrollBy(0, window.innerHeight);
                    if (n < {SCROLL_FRAMES}) requestAnimationFrame(step); else done([times.slice(1), reached]);
                }};
                requestAnimationFrame(step);
            }})"
        ))
        .await;
    let (mut frames, reached): (Vec<f64>, f64) = serde_json::from_value(scroll).unwrap();
    // Rows that came in light while scrolling are rendered in full once it stops.
    page.wait_for(
        "!document.querySelector('.block-list .light') && document.querySelector('.block-list .md pre code')",
    )
    .await;
    frames.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = frames.iter().sum::<f64>() / frames.len() as f64;
    let p95 = frames[frames.len() * 95 / 100];

    println!("web client, session of {blocks} blocks:");
    println!(
        "  open: median {:.0} ms (min {:.0}, max {:.0}) over {OPEN_RUNS} opens; {rendered} rows in the page",
        opens[opens.len() / 2],
        opens[0],
        opens[opens.len() - 1]
    );
    // A frame that missed the display's next refresh shows as one of twice the interval.
    let long = frames.iter().filter(|f| **f > LONG_FRAME_MS).count();
    println!(
        "  scroll: {:.1} frames/s (mean frame {mean:.1} ms, p95 {p95:.1} ms, max {:.1} ms) over {} frames, {long} over {LONG_FRAME_MS} ms; scrolled {:.0} px",
        1000.0 / mean,
        frames[frames.len() - 1],
        frames.len(),
        reached
    );
    let (initial, lazy) = gzipped_bundle_bytes();
    println!(
        "  bundle: {} KB gzipped loaded by every page (budget 400 KB), {} KB more on demand (Mermaid)",
        initial / 1024,
        lazy / 1024
    );
    let _ = server.kill();
    let _ = server.wait();
}
