//! Inputs of `aisys transcript`: files, folders and stdin, each detected and read by the right
//! reader into one stream of events, with bad lines reported by input and line number.
//!
//! Owns the limits on what is read (line length, whole-document size) and the rule that a bad
//! line is reported and skipped, never fatal unless the caller asked for strictness. Must not
//! print: events and bad lines go to the caller's [`Sink`].

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use super::claude_transcript::{SubagentFiles, TranscriptReader};
use super::input_files::{FindError, find_inputs};
use super::opencode_export::export_events;
use crate::converters::lines::{BadLine, LineBuffer, LineError};
use crate::converters::{ClaudeStreamReader, OpencodeRunReader};
use crate::types::StreamEvent;

/// Largest single JSON document read whole (an OpenCode export, `--output-format json`): it is
/// parsed in memory, so this bounds memory, and real exports are far smaller.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024 * 1024;

/// Read-buffer size for line formats.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// The formats this build reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `claude -p --output-format stream-json` lines (or the `json` form: one result object, or
    /// with `--verbose` an array of the same messages).
    ClaudeStreamJson,
    /// A Claude Code session transcript, read in conversation order.
    ClaudeTranscript,
    /// `opencode run --format json` lines.
    OpencodeRun,
    /// An `opencode export` document.
    OpencodeExport,
}

/// Line types found only in transcripts, never in stream-json.
const TRANSCRIPT_ONLY_TYPES: &[&str] = &[
    "summary",
    "file-history-snapshot",
    "queue-operation",
    "last-prompt",
    "custom-title",
    "progress",
    "attachment",
];

/// The format of a stream whose first JSON value is `v`, if it is one this build knows.
pub fn detect_value(v: &Value) -> Option<Format> {
    match v {
        Value::Array(items) => items
            .first()
            .filter(|f| f.get("type").is_some())
            .map(|_| Format::ClaudeStreamJson),
        Value::Object(m) => {
            if m.contains_key("info") && m.contains_key("messages") {
                Some(Format::OpencodeExport)
            } else if m.contains_key("sessionID") && m.contains_key("part") {
                Some(Format::OpencodeRun)
            } else if m.contains_key("parentUuid")
                || m.contains_key("sessionId")
                || m.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| TRANSCRIPT_ONLY_TYPES.contains(&t))
            {
                Some(Format::ClaudeTranscript)
            } else if m.contains_key("type") {
                Some(Format::ClaudeStreamJson)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The format of a stream whose first non-empty line is `line`.
pub fn detect(line: &str) -> Option<Format> {
    detect_value(&serde_json::from_str(line).ok()?)
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{input}: {source}")]
    Io {
        input: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Find(#[from] FindError),
    #[error("{0}: a whole-document input larger than {MAX_DOCUMENT_BYTES} bytes is refused")]
    TooLarge(String),
    #[error("stopped at the first bad line (strict mode)")]
    Stopped,
    /// The consumer of the events failed (for example, a closed pipe).
    #[error("writing the output failed: {0}")]
    Output(std::io::Error),
}

/// Where a reader's events and bad lines go.
pub struct Sink<'a> {
    on_event: &'a mut dyn FnMut(StreamEvent) -> std::io::Result<()>,
    on_bad: &'a mut dyn FnMut(&BadLine),
    strict: bool,
    bad_lines: usize,
}

impl<'a> Sink<'a> {
    /// A sink; with `strict` the first bad line stops reading.
    pub fn new(
        strict: bool,
        on_event: &'a mut dyn FnMut(StreamEvent) -> std::io::Result<()>,
        on_bad: &'a mut dyn FnMut(&BadLine),
    ) -> Sink<'a> {
        Sink {
            on_event,
            on_bad,
            strict,
            bad_lines: 0,
        }
    }

    pub fn event(&mut self, ev: StreamEvent) -> Result<(), ReadError> {
        (self.on_event)(ev).map_err(ReadError::Output)
    }

    pub fn bad(&mut self, bad: BadLine) -> Result<(), ReadError> {
        self.bad_lines += 1;
        (self.on_bad)(&bad);
        if self.strict {
            return Err(ReadError::Stopped);
        }
        Ok(())
    }

    /// How many bad lines were reported.
    pub fn bad_lines(&self) -> usize {
        self.bad_lines
    }
}

/// One input: a file, or stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// As bad-line reports name it: the path, or `-`.
    pub name: String,
    pub path: Option<PathBuf>,
}

impl Input {
    pub fn stdin() -> Input {
        Input {
            name: "-".into(),
            path: None,
        }
    }

    pub fn file(path: PathBuf) -> Input {
        Input {
            name: path.display().to_string(),
            path: Some(path),
        }
    }
}

/// The inputs `paths` stand for (see [`super::input_files`]); subagent files found in
/// folders are read with their session, not alone.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, ReadError> {
    Ok(find_inputs(paths)?
        .into_iter()
        .filter(|f| !f.subagent)
        .map(|f| {
            if f.is_stdin() {
                Input::stdin()
            } else {
                Input::file(f.path)
            }
        })
        .collect())
}

/// How inputs are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// The format of every input, or `None` to detect it per input.
    pub from: Option<Format>,
    /// Leave subagent conversations out of transcripts.
    pub no_sidechains: bool,
}

/// Reads inputs one after the other, sharing what is found once per folder.
pub struct InputReader {
    options: ReadOptions,
    subagents: SubagentFiles,
}

impl InputReader {
    pub fn new(options: ReadOptions) -> InputReader {
        InputReader {
            options,
            subagents: SubagentFiles::new(),
        }
    }

    /// Reads one input into `sink`.
    pub fn read(&mut self, input: &Input, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        let io = |e: std::io::Error| ReadError::Io {
            input: input.name.clone(),
            source: e,
        };
        let mut r: Box<dyn Read> = match &input.path {
            Some(p) => Box::new(File::open(p).map_err(io)?),
            None => Box::new(std::io::stdin()),
        };
        let mut lines = LineBuffer::new(READ_BUFFER_BYTES);
        // The first non-empty line decides the format.
        let (format, first) = loop {
            let Some((number, line)) = next_line(&mut lines, &mut r, &input.name, sink)? else {
                return Ok(());
            };
            if let Some(f) = self.options.from {
                break (f, (number, line.to_vec()));
            }
            let text = String::from_utf8_lossy(line);
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => match detect_value(&v) {
                    Some(f) => break (f, (number, line.to_vec())),
                    None => sink.bad(BadLine::new(
                        &input.name,
                        number,
                        "not a line of a known agent format (Claude Code stream-json or transcript, OpenCode JSON or export)",
                    ))?,
                },
                // The start of a pretty-printed document: read it whole.
                Err(_) if text.starts_with('{') || text.starts_with('[') => {
                    let mut doc = line.to_vec();
                    read_rest(&lines, &mut r, &mut doc, &input.name)?;
                    return self.read_document(&input.name, number, &doc, sink);
                }
                Err(e) => sink.bad(BadLine::new(&input.name, number, format!("not JSON: {e}")))?,
            }
        };
        match format {
            Format::ClaudeTranscript => {
                let mut transcript = TranscriptReader {
                    no_sidechains: self.options.no_sidechains,
                    subagents: &mut self.subagents,
                };
                match &input.path {
                    Some(p) => {
                        drop(r);
                        transcript.read(&input.name, Some(p), None, sink)
                    }
                    None => {
                        // Ordering needs every line: keep stdin in memory, from its start.
                        let (number, line) = first;
                        // Keep line numbers true by padding the lines already consumed.
                        let mut all = vec![b'\n'; number - 1];
                        all.extend_from_slice(&line);
                        all.push(b'\n');
                        read_rest(&lines, &mut r, &mut all, &input.name)?;
                        transcript.read(&input.name, None, Some(all), sink)
                    }
                }
            }
            Format::OpencodeExport => {
                let mut doc = first.1;
                read_rest(&lines, &mut r, &mut doc, &input.name)?;
                self.read_document(&input.name, 1, &doc, sink)
            }
            Format::ClaudeStreamJson | Format::OpencodeRun => {
                let mut reader = match format {
                    Format::OpencodeRun => LineFormat::Opencode(OpencodeRunReader::new()),
                    _ => LineFormat::Claude(ClaudeStreamReader::new()),
                };
                reader.read_line(&input.name, first.0, &first.1, sink)?;
                while let Some((number, line)) = next_line(&mut lines, &mut r, &input.name, sink)? {
                    reader.read_line(&input.name, number, line, sink)?;
                }
                Ok(())
            }
        }
    }

    /// A whole JSON document: an OpenCode export, or `claude -p --output-format json`.
    fn read_document(
        &mut self,
        name: &str,
        line: usize,
        doc: &[u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let v: Value = match serde_json::from_slice(doc) {
            Ok(v) => v,
            Err(e) => {
                return sink.bad(BadLine::new(
                    name,
                    line + e.line().saturating_sub(1),
                    format!("not a JSON document: {e}"),
                ));
            }
        };
        match detect_value(&v) {
            Some(Format::OpencodeExport) => {
                for ev in export_events(v) {
                    sink.event(ev)?;
                }
            }
            Some(_) => LineFormat::Claude(ClaudeStreamReader::new()).read_values(v, sink)?,
            None => sink.bad(BadLine::new(
                name,
                line,
                "a JSON document of no known agent format (expected an OpenCode export or `claude -p --output-format json` output)",
            ))?,
        }
        Ok(())
    }
}

enum LineFormat {
    Claude(ClaudeStreamReader),
    Opencode(OpencodeRunReader),
}

impl LineFormat {
    fn read_value(&mut self, v: Value) -> Vec<StreamEvent> {
        match self {
            LineFormat::Claude(r) => r.read_value(v),
            LineFormat::Opencode(r) => r.read_value(v),
        }
    }

    /// The events of line `number` of `name` (an array is several values).
    fn read_line(
        &mut self,
        name: &str,
        number: usize,
        line: &[u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => self.read_values(v, sink),
            Err(e) => sink.bad(BadLine::new(name, number, format!("not JSON: {e}"))),
        }
    }

    /// The events of `v`, or of each of its items when it is an array.
    fn read_values(&mut self, v: Value, sink: &mut Sink<'_>) -> Result<(), ReadError> {
        // One value is not put in a vector of its own: this runs for every line.
        let (items, one) = match v {
            Value::Array(items) => (items, None),
            other => (Vec::new(), Some(other)),
        };
        for item in items.into_iter().chain(one) {
            for ev in self.read_value(item) {
                sink.event(ev)?;
            }
        }
        Ok(())
    }
}

/// The rest of an input after the lines already read from `lines`, into `buf`.
fn read_rest(
    lines: &LineBuffer,
    r: &mut dyn Read,
    buf: &mut Vec<u8>,
    name: &str,
) -> Result<(), ReadError> {
    let held = lines.held();
    buf.extend_from_slice(held);
    let n = r
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(buf)
        .map_err(|e| ReadError::Io {
            input: name.to_string(),
            source: e,
        })?;
    if (n + held.len()) as u64 > MAX_DOCUMENT_BYTES {
        return Err(ReadError::TooLarge(name.to_string()));
    }
    Ok(())
}

/// The next non-empty line of `r` with its number, trimmed; a line over the limit is reported
/// and ends the input.
pub(crate) fn next_line<'b>(
    lines: &'b mut LineBuffer,
    r: &mut impl Read,
    name: &str,
    sink: &mut Sink<'_>,
) -> Result<Option<(usize, &'b [u8])>, ReadError> {
    match lines.next_trimmed(r) {
        Ok(line) => Ok(line.map(|l| (l.number, l.bytes))),
        Err(LineError::TooLong { number }) => {
            sink.bad(BadLine::too_long(name, number))?;
            Ok(None)
        }
        Err(LineError::Io(e)) => Err(ReadError::Io {
            input: name.to_string(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_first_line() {
        assert_eq!(
            detect(r#"{"type":"system","subtype":"init","session_id":"x"}"#),
            Some(Format::ClaudeStreamJson)
        );
        assert_eq!(
            detect(r#"{"type":"user","parentUuid":null,"sessionId":"s","uuid":"u"}"#),
            Some(Format::ClaudeTranscript)
        );
        assert_eq!(
            detect(r#"{"type":"summary","summary":"t","leafUuid":"u"}"#),
            Some(Format::ClaudeTranscript)
        );
        assert_eq!(
            detect(r#"{"type":"step_start","sessionID":"ses","part":{}}"#),
            Some(Format::OpencodeRun)
        );
        assert_eq!(
            detect(r#"{"info":{},"messages":[]}"#),
            Some(Format::OpencodeExport)
        );
        assert_eq!(
            detect(r#"[{"type":"system","subtype":"init"}]"#),
            Some(Format::ClaudeStreamJson)
        );
        assert_eq!(detect("not json"), None);
        assert_eq!(detect("[1,2]"), None);
    }
}
