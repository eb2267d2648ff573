//! Frame time of `aisys chat` on a 10,000-block session: the first frame, scrolling (PgUp through
//! the history, Home, End), and a keystroke (update + redraw). Run with `cargo bench --bench
//! tui_render`; it prints the median and p99 of each, in milliseconds.

use std::time::{Duration, Instant};

use aisys::client::Notification;
use aisys::tui::state::{Connection, Input, State};
use aisys::tui::view::{self, LayoutCache};
use aisys::types::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

/// Blocks in the benchmark session.
const BLOCKS: usize = 10_000;
/// Blocks when run as a test (`cargo test --all-targets`), just to prove the bench still works.
const SMOKE_BLOCKS: usize = 200;

fn session(blocks: usize) -> State {
    let mut s = State::new();
    s.connection = Connection::Connected;
    s.open(SessionInfo {
        id: "s".into(),
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
        created_at: jiff::Timestamp::UNIX_EPOCH,
        last_activity: jiff::Timestamp::UNIX_EPOCH,
        last_seq: 0,
        limits: None,
        profile: None,
        profile_resolved_at: None,
        usage: None,
    });
    let mut seq = 0;
    let mut push = |s: &mut State, event: StreamEvent| {
        seq += 1;
        s.update(Input::Note(Notification::Event {
            session_id: "s".into(),
            seq,
            event,
        }));
    };
    let mut i = 0;
    while s.conversation.blocks.len() < blocks {
        push(
            &mut s,
            StreamEvent::UserMessage {
                id: Some(format!("u{i}")),
                text: format!("question {i}: why does the test fail?"),
                images: vec![],
                compact_summary: false,
                parent_tool_use_id: None,
                timestamp: None,
            },
        );
        push(
            &mut s,
            StreamEvent::Text {
                message_id: Some(format!("m{i}")),
                text: format!(
                    "Let me look.\n```rust\nfn f{i}() {{}}\n```\nThe `test` fails because of step {i}; here is a longer paragraph that wraps across the width of the terminal more than once, as answers do."
                ),
                parent_tool_use_id: None,
                timestamp: None,
            },
        );
        push(
            &mut s,
            StreamEvent::ToolCall {
                id: format!("t{i}"),
                name: "Bash".into(),
                input: json!({"command": format!("cargo test case_{i}")}),
                message_id: Some(format!("m{i}")),
                parent_tool_use_id: None,
                timestamp: None,
            },
        );
        push(
            &mut s,
            StreamEvent::ToolResult {
                tool_use_id: format!("t{i}"),
                content: ToolResultContent::Text("ok\n".repeat(5)),
                is_error: false,
                parent_tool_use_id: None,
                timestamp: None,
            },
        );
        i += 1;
    }
    s
}

/// Prints the median, p99 and max of frames' wall-clock times, and the p99 and max of their CPU
/// times (what the frames cost, whatever else the machine was running).
fn stats(name: &str, frames: Vec<(Duration, Duration)>) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = frames.into_iter().unzip();
    wall.sort();
    cpu.sort();
    let n = wall.len();
    println!(
        "{name:<28} n={n:<5} median {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms   CPU p99 {:>7.3} ms   CPU max {:>7.3} ms",
        ms(wall[n / 2]),
        ms(wall[n * 99 / 100]),
        ms(wall[n - 1]),
        ms(cpu[n * 99 / 100]),
        ms(cpu[n - 1])
    );
}

/// CPU time this thread has used: unlike the wall clock, not stretched by other processes on a
/// shared machine.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Draws one frame with an empty layout cache, as the first frame of a session is drawn, and
/// prints its wall-clock and CPU time.
fn first_frame(name: &str, terminal: &mut Terminal<TestBackend>, state: &State) {
    let mut cache = LayoutCache::default();
    let ready = aisys::tui::markdown::highlighter_ready();
    let (t, cpu) = (Instant::now(), thread_cpu());
    terminal.draw(|f| view::draw(f, state, &mut cache)).unwrap();
    println!(
        "{name}: {:.3} ms, CPU {:.3} ms ({} blocks laid out, code {})",
        t.elapsed().as_secs_f64() * 1000.0,
        (thread_cpu() - cpu).as_secs_f64() * 1000.0,
        cache.len(),
        if ready { "highlighted" } else { "plain" }
    );
}

fn main() {
    // As `aisys chat` does once its first frame is out: the highlighter loads while the session
    // comes in.
    aisys::tui::markdown::warm_up();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs a small smoke version.
    let blocks = if std::env::args().any(|a| a == "--bench") {
        BLOCKS
    } else {
        SMOKE_BLOCKS
    };
    let built = Instant::now();
    let mut state = session(blocks);
    println!(
        "built a session of {} blocks in {:.2?}",
        state.conversation.blocks.len(),
        built.elapsed()
    );
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut cache = LayoutCache::default();
    state.update(Input::ViewHeight(view::conversation_height(40, 1)));

    first_frame("first frame", &mut terminal, &state);
    // The same frame once the highlighter is ready: code highlighted, nothing left to load.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !aisys::tui::markdown::highlighter_ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    first_frame("first frame, highlighter ready", &mut terminal, &state);
    // What priming saves a frame: the first code block in a language that is not primed compiles
    // its syntax then; the next one does not.
    for (name, lang) in [
        ("rust (primed)", "rust"),
        ("haskell (not primed)", "haskell"),
    ] {
        for round in ["first", "second"] {
            let md = format!("```{lang}\nmain = print (f 1) -- {round}\n```\n");
            let (t, cpu) = (Instant::now(), thread_cpu());
            let lines = aisys::tui::markdown::render(&md, 100);
            println!(
                "{round} {name} code block: {:.3} ms, CPU {:.3} ms ({} lines)",
                t.elapsed().as_secs_f64() * 1000.0,
                (thread_cpu() - cpu).as_secs_f64() * 1000.0,
                lines.len()
            );
        }
    }
    // The frames below start from the screen those first frames drew.
    terminal
        .draw(|f| view::draw(f, &state, &mut cache))
        .unwrap();

    let mut frames = Vec::new();
    for _ in 0..300 {
        state.update(Input::Key(KeyEvent::new(
            KeyCode::PageUp,
            KeyModifiers::NONE,
        )));
        let (t, cpu) = (Instant::now(), thread_cpu());
        terminal
            .draw(|f| view::draw(f, &state, &mut cache))
            .unwrap();
        frames.push((t.elapsed(), thread_cpu() - cpu));
    }
    stats("scroll up (PgUp x300)", frames);

    let mut frames = Vec::new();
    for _ in 0..300 {
        state.update(Input::Key(KeyEvent::new(
            KeyCode::PageDown,
            KeyModifiers::NONE,
        )));
        let (t, cpu) = (Instant::now(), thread_cpu());
        terminal
            .draw(|f| view::draw(f, &state, &mut cache))
            .unwrap();
        frames.push((t.elapsed(), thread_cpu() - cpu));
    }
    stats("scroll down (PgDn x300)", frames);

    let mut frames = Vec::new();
    for key in [KeyCode::Home, KeyCode::End].repeat(50) {
        state.update(Input::Key(KeyEvent::new(key, KeyModifiers::CONTROL)));
        let (t, cpu) = (Instant::now(), thread_cpu());
        terminal
            .draw(|f| view::draw(f, &state, &mut cache))
            .unwrap();
        frames.push((t.elapsed(), thread_cpu() - cpu));
    }
    stats("jump Home/End", frames);

    let mut frames = Vec::new();
    for c in "the quick brown fox jumps over the lazy dog "
        .repeat(5)
        .chars()
    {
        let (t, cpu) = (Instant::now(), thread_cpu());
        state.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
        terminal
            .draw(|f| view::draw(f, &state, &mut cache))
            .unwrap();
        frames.push((t.elapsed(), thread_cpu() - cpu));
    }
    stats("keystroke to frame", frames);

    let mut frames = Vec::new();
    for n in 0..300u64 {
        let (t, cpu) = (Instant::now(), thread_cpu());
        state.update(Input::Note(Notification::Event {
            session_id: "s".into(),
            seq: 1_000_000 + n,
            event: StreamEvent::TextDelta {
                message_id: Some("live".into()),
                index: 0,
                text: "token ".into(),
                parent_tool_use_id: None,
            },
        }));
        terminal
            .draw(|f| view::draw(f, &state, &mut cache))
            .unwrap();
        frames.push((t.elapsed(), thread_cpu() - cpu));
    }
    stats("streamed delta to frame", frames);
}
