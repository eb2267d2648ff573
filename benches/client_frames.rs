//! What a client spends reading the server's frames: `ServerFrame::from_json` (the client
//! library's reader) against `serde_json::from_str` (the derived reader), side by side on the
//! same texts. The texts are the `event` frames a following client reads most (an agent's text
//! and its usage, as the server load bench's stand-in agent makes them) and a `session.state`
//! frame. `cargo bench --bench client_frames` prints the median ns per frame of each over
//! several rounds; as a test it reads a few frames to prove the bench still works.

use std::hint::black_box;
use std::time::Instant;

use aisys::types::{ServerFrame, ServerMessage, SessionState, StreamEvent, TokenUsage};

/// Frames read per round, and rounds, in a full run.
const FULL: (usize, usize) = (200_000, 7);
/// The same, as a test.
const SMOKE: (usize, usize) = (200, 1);

fn texts() -> Vec<(&'static str, String)> {
    let event = |seq, event| ServerFrame {
        id: None,
        message: ServerMessage::Event {
            session_id: "s_3f2a9c41d2b84e7f9a01c5d6e7f80912".into(),
            seq,
            event,
        },
    };
    let frames = [
        (
            "event: assistant text",
            event(
                41,
                StreamEvent::Text {
                    message_id: Some("msg_17".into()),
                    text: "t=1764750000123456789".into(),
                    parent_tool_use_id: None,
                    timestamp: None,
                },
            ),
        ),
        (
            "event: usage",
            event(
                42,
                StreamEvent::Usage {
                    usage: TokenUsage {
                        input_tokens: 1,
                        output_tokens: 1,
                        ..TokenUsage::default()
                    },
                    message_id: Some("msg_17".into()),
                    model: Some("fake".into()),
                    cost_usd: None,
                    timestamp: None,
                },
            ),
        ),
        (
            "session.state",
            ServerFrame {
                id: None,
                message: ServerMessage::State {
                    session_id: "s_3f2a9c41d2b84e7f9a01c5d6e7f80912".into(),
                    state: SessionState::Running,
                    reason: None,
                },
            },
        ),
    ];
    frames
        .into_iter()
        .map(|(name, f)| (name, serde_json::to_string(&f).unwrap()))
        .collect()
}

/// Median ns per read of `text` by `read` over `rounds` rounds of `n` reads.
fn time(text: &str, n: usize, rounds: usize, read: fn(&str) -> ServerFrame) -> f64 {
    let mut per = Vec::new();
    for _ in 0..rounds {
        let began = Instant::now();
        for _ in 0..n {
            black_box(read(black_box(text)));
        }
        per.push(began.elapsed().as_nanos() as f64 / n as f64);
    }
    per.sort_by(f64::total_cmp);
    per[per.len() / 2]
}

fn main() {
    let (n, rounds) = if std::env::args().any(|a| a == "--bench") {
        FULL
    } else {
        SMOKE
    };
    println!("client frame reads, median of {rounds} rounds of {n} reads each");
    for (name, text) in texts() {
        let derived = time(&text, n, rounds, |t| serde_json::from_str(t).unwrap());
        let client = time(&text, n, rounds, |t| ServerFrame::from_json(t).unwrap());
        println!(
            "{name:<24} {} bytes: serde_json::from_str {derived:>6.0} ns, \
             ServerFrame::from_json {client:>6.0} ns ({:.2}x)",
            text.len(),
            derived / client
        );
    }
}
