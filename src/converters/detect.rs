//! Which agent format a stream is, judged from its first JSON line, and one reader for any of
//! them.

use serde_json::Value;

use super::{ClaudeStreamReader, OpencodeRunReader};
use crate::types::StreamEvent;

/// The formats this build reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `claude -p --output-format stream-json` lines, or a Claude Code session transcript (the
    /// same message lines, read in file order).
    Claude,
    /// `opencode run --format json` lines.
    OpencodeRun,
    /// An `opencode export` document (not read by this build yet).
    OpencodeExport,
}

/// The format of a stream whose first non-empty line is `line`, if it is one this build knows.
pub fn detect(line: &str) -> Option<Format> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v.get("info").is_some() && v.get("messages").is_some() {
        return Some(Format::OpencodeExport);
    }
    if v.get("sessionID").is_some() && v.get("part").is_some() {
        return Some(Format::OpencodeRun);
    }
    v.get("type").and(Some(Format::Claude))
}

/// A reader of any supported line format.
pub enum AnyReader {
    Claude(ClaudeStreamReader),
    OpencodeRun(OpencodeRunReader),
}

impl AnyReader {
    /// A reader for `format`, or `None` for a format read whole rather than by line.
    pub fn new(format: Format) -> Option<AnyReader> {
        match format {
            Format::Claude => Some(AnyReader::Claude(ClaudeStreamReader::new())),
            Format::OpencodeRun => Some(AnyReader::OpencodeRun(OpencodeRunReader::new())),
            Format::OpencodeExport => None,
        }
    }

    /// The events of one parsed line.
    pub fn read_value(&mut self, v: Value) -> Vec<StreamEvent> {
        match self {
            AnyReader::Claude(r) => r.read_value(v),
            AnyReader::OpencodeRun(r) => r.read_value(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_first_line() {
        assert_eq!(
            detect(r#"{"type":"system","subtype":"init","session_id":"x"}"#),
            Some(Format::Claude)
        );
        assert_eq!(
            detect(r#"{"type":"step_start","sessionID":"ses","part":{}}"#),
            Some(Format::OpencodeRun)
        );
        assert_eq!(
            detect(r#"{"info":{},"messages":[]}"#),
            Some(Format::OpencodeExport)
        );
        assert_eq!(detect("not json"), None);
        assert_eq!(detect("[1,2]"), None);
    }
}
