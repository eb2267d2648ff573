//! The readers, the first stage of the converters: each agent format into
//! [`StreamEvent`](crate::types::StreamEvent)s. Claude Code stream-json (`claude_stream`) and
//! session transcripts (`claude_transcript`, in conversation order with subagents nested),
//! OpenCode `run --format json` lines (`opencode_run`) and exports (`opencode_export`); which
//! files the paths given stand for (`input_files`); each input detected and read by the right
//! reader (`inputs`); a growing file followed as it is written (`follow`). Here: what the
//! JSON-lines readers share, a line that is not JSON.
//!
//! Must not assemble or render: events go to the caller's sink, bad lines are reported by input
//! and line.

pub(crate) mod claude_stream;
pub(crate) mod claude_transcript;
pub(crate) mod follow;
pub mod input_files;
pub(crate) mod inputs;
pub(crate) mod opencode_export;
pub(crate) mod opencode_run;

use serde_json::Value;

use crate::types::StreamEvent;

/// The events of one line of an agent's JSON lines, read by `read`: a blank line yields none,
/// and a line that is not JSON is passed on as a line of stderr.
fn json_line(line: &str, read: impl FnOnce(Value) -> Vec<StreamEvent>) -> Vec<StreamEvent> {
    match serde_json::from_str::<Value>(line) {
        Ok(v) => read(v),
        Err(_) if line.trim().is_empty() => vec![],
        Err(_) => vec![StreamEvent::Stderr {
            line: line.to_string(),
        }],
    }
}
