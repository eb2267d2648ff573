//! Converting many inputs at once: each input is read, filtered, assembled and rendered on its
//! own, on as many threads as there are cores, and the results come back in input order.
//!
//! An input's blocks live only while that input is converted, so memory follows the largest
//! session, not the whole corpus. Block ids are unique within a session.
//!
//! Must not print: rendered bytes and bad lines go back to the caller, which writes them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::render::session_index::SessionEntry;
use super::usage::PriceTable;
use super::{
    Assembler, BadLine, EventFilter, Input, InputReader, ReadError, ReadOptions, SessionHeader,
    Sink,
};
use crate::types::{BlockKind, ConversationBlock, StreamEvent};

/// Most converted inputs waiting to be written while an earlier one is still being converted:
/// bounds memory when one session is much larger than those after it.
const MAX_WAITING_RESULTS: usize = 8;

/// The prices session headers are costed with.
static PRICES: std::sync::LazyLock<PriceTable> = std::sync::LazyLock::new(PriceTable::builtin);

/// Turns one input's blocks (and its session's header) into output bytes.
pub type Render<'r> =
    dyn Fn(&[ConversationBlock], &SessionHeader, &mut Vec<u8>) -> std::io::Result<()> + Sync + 'r;

/// How inputs are converted.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    pub read: ReadOptions,
    /// Filter settings; each input gets a fresh filter with these.
    pub filter: EventFilter,
    /// Write events as JSON lines instead of rendering blocks.
    pub events_only: bool,
    /// Stop at the first bad line.
    pub strict: bool,
    /// Gather each session's [`SessionHeader`] for the renderer (it costs a little per event;
    /// only Markdown and HTML show it).
    pub session_header: bool,
    /// Gather each session's [`SessionEntry`] for an index of sessions (needs `session_header`).
    pub session_entry: bool,
}

/// One input, converted.
#[derive(Debug)]
pub struct Converted {
    pub output: Vec<u8>,
    pub bad_lines: Vec<BadLine>,
    /// Set when reading stopped early; what was converted before is in `output` only when the
    /// error is not a strict stop.
    pub error: Option<ReadError>,
    /// A title for the conversation: its summary, else its first prompt.
    pub title: Option<String>,
    /// The sessions a `session` filter kept, by agent session id.
    pub sessions: std::collections::BTreeSet<String>,
    /// The session as an index lists it, when asked for.
    pub entry: Option<SessionEntry>,
}

/// Converts one input.
pub fn convert_one(
    input: &Input,
    options: &ConvertOptions,
    reader: &mut InputReader,
    render: &Render<'_>,
) -> Converted {
    let mut filter = options.filter.fresh();
    let mut assembler = Assembler::new();
    let mut output = Vec::new();
    let mut bad_lines = Vec::new();
    let events_only = options.events_only;
    let mut header = SessionHeader::default();
    let gather_header = options.session_header && !events_only;
    let result = {
        let mut on_event = |mut ev: StreamEvent| -> std::io::Result<()> {
            if !filter.keep(&mut ev) {
                return Ok(());
            }
            if gather_header {
                header.observe(&ev, &PRICES);
            }
            if events_only {
                serde_json::to_writer(&mut output, &ev)?;
                output.push(b'\n');
            } else {
                assembler.push(ev);
            }
            Ok(())
        };
        let mut on_bad = |b: &BadLine| bad_lines.push(b.clone());
        let mut sink = Sink::new(options.strict, &mut on_event, &mut on_bad);
        reader.read(input, &mut sink)
    };
    let blocks = assembler.finish();
    let title = conversation_title(&blocks);
    let entry = (options.session_entry && !events_only).then(|| SessionEntry::of(&blocks, &header));
    let mut error = result.err();
    if matches!(error, Some(ReadError::Stopped)) {
        output.clear();
    } else if !events_only && let Err(e) = render(&blocks, &header, &mut output) {
        error = Some(ReadError::Output(e));
    }
    Converted {
        output,
        bad_lines,
        error,
        title,
        sessions: std::mem::take(&mut filter.matched),
        entry,
    }
}

/// Converts every input on up to `threads` threads, handing each result to `done` in input
/// order; `done` returns false to stop (the inputs not started yet are skipped).
pub fn convert_all(
    inputs: &[Input],
    options: &ConvertOptions,
    threads: usize,
    render: &Render<'_>,
    mut done: impl FnMut(&Input, Converted) -> bool,
) {
    let threads = threads.clamp(1, inputs.len().max(1));
    if threads == 1 {
        let mut reader = InputReader::new(options.read);
        for input in inputs {
            if !done(input, convert_one(input, options, &mut reader, render)) {
                return;
            }
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Results travel with their index; a bounded queue keeps workers from running far ahead.
    let (tx, rx) = mpsc::sync_channel::<(usize, Converted)>(MAX_WAITING_RESULTS);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                let mut reader = InputReader::new(options.read);
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let converted = convert_one(input, options, &mut reader, render);
                    if tx.send((i, converted)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Converted> = BTreeMap::new();
        let mut want = 0;
        'results: while let Ok((i, c)) = rx.recv() {
            waiting.insert(i, c);
            while let Some(c) = waiting.remove(&want) {
                if !done(&inputs[want], c) {
                    stop.store(true, Ordering::Relaxed);
                    break 'results;
                }
                want += 1;
            }
        }
        // Workers blocked on a full queue see it closed and stop.
        drop(rx);
    });
}

/// A title for a conversation: its summary, else its first prompt, as one line.
pub fn conversation_title(blocks: &[ConversationBlock]) -> Option<String> {
    let found = blocks
        .iter()
        .find_map(|b| match &b.kind {
            BlockKind::SystemNotice { kind, text } if kind == "summary" => Some(text.as_str()),
            _ => None,
        })
        .or_else(|| {
            blocks.iter().find_map(|b| match &b.kind {
                BlockKind::UserMessage { text, .. } => Some(text.as_str()),
                _ => None,
            })
        })?;
    let command = super::render::tool_view::slash_command(found).map(|(n, a)| format!("{n} {a}"));
    let line = command.as_deref().unwrap_or(found).trim().lines().next()?;
    let mut title: String = line.chars().take(TITLE_CHARS).collect();
    if line.chars().count() > TITLE_CHARS {
        title.push('…');
    }
    Some(title)
}

/// Longest title: a browser tab or a list column shows far less.
const TITLE_CHARS: usize = 80;
