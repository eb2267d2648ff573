//! OpenCode's `run --format json` output into events, one line at a time.
//!
//! Each line is `{"type", "timestamp", "sessionID", "part"}`; a finished tool call is one
//! `tool_use` line with its input and output, so it becomes a call and its result.

use serde_json::Value;

use crate::types::{AgentKind, StreamEvent, TokenUsage, ToolResultContent};

const SOURCE: &str = "opencode-json";

/// Reads `opencode run --format json` lines.
#[derive(Debug, Default)]
pub struct OpencodeRunReader {
    started: bool,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// OpenCode's millisecond timestamps as RFC 3339.
pub(crate) fn timestamp(v: &Value) -> Option<String> {
    let ms = v.as_i64()?;
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

impl OpencodeRunReader {
    pub fn new() -> OpencodeRunReader {
        OpencodeRunReader::default()
    }

    /// A reader for parts whose session was announced already (an export's own header).
    pub fn started() -> OpencodeRunReader {
        OpencodeRunReader { started: true }
    }

    pub fn read_line(&mut self, line: &str) -> Vec<StreamEvent> {
        super::json_line(line, |v| self.read_value(v))
    }

    pub fn read_value(&mut self, v: Value) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        let ts = timestamp(&v["timestamp"]);
        if !self.started && v["sessionID"].is_string() {
            self.started = true;
            out.push(StreamEvent::SessionStarted {
                agent: AgentKind::Opencode,
                agent_session_id: s(&v["sessionID"]),
                model: None,
                tools: vec![],
                cwd: None,
                agent_version: None,
                loaded: None,
                timestamp: ts.clone(),
            });
        }
        let part = &v["part"];
        let message_id = s(&part["messageID"]);
        match v["type"].as_str() {
            Some("text") => out.push(StreamEvent::Text {
                message_id,
                text: s(&part["text"]).unwrap_or_default(),
                parent_tool_use_id: None,
                timestamp: ts,
            }),
            Some("reasoning") => out.push(StreamEvent::Thinking {
                message_id,
                text: s(&part["text"]).unwrap_or_default(),
                delta: false,
                redacted: false,
                parent_tool_use_id: None,
                timestamp: ts,
            }),
            Some("tool_use") => {
                let id = s(&part["callID"])
                    .or_else(|| s(&part["id"]))
                    .unwrap_or_default();
                let state = &part["state"];
                out.push(StreamEvent::ToolCall {
                    id: id.clone(),
                    name: s(&part["tool"]).unwrap_or_default(),
                    input: state["input"].clone(),
                    message_id,
                    parent_tool_use_id: None,
                    timestamp: ts.clone(),
                });
                match state["status"].as_str() {
                    Some("completed") | Some("error") => out.push(StreamEvent::ToolResult {
                        tool_use_id: id,
                        content: ToolResultContent::Text(
                            s(&state["output"])
                                .or_else(|| s(&state["error"]))
                                .unwrap_or_default(),
                        ),
                        is_error: state["status"] == "error",
                        parent_tool_use_id: None,
                        timestamp: ts,
                    }),
                    _ => {}
                }
            }
            Some("step_finish") => {
                let t = &part["tokens"];
                let n = |v: &Value| v.as_u64().unwrap_or(0);
                out.push(StreamEvent::Usage {
                    message_id,
                    model: None,
                    usage: TokenUsage {
                        input_tokens: n(&t["input"]),
                        // Saturating, as every token sum is: a count near u64::MAX is shown, never a panic.
                        output_tokens: n(&t["output"]).saturating_add(n(&t["reasoning"])),
                        cache_creation_tokens: n(&t["cache"]["write"]),
                        cache_read_tokens: n(&t["cache"]["read"]),
                    },
                    cost_usd: part["cost"].as_f64(),
                    timestamp: ts,
                });
            }
            Some("step_start") => {}
            Some("error") => {
                let e = &v["error"];
                let message = s(&e["data"]["message"])
                    .or_else(|| s(&e["message"]))
                    .unwrap_or_else(|| e.to_string());
                out.push(StreamEvent::Error {
                    message,
                    code: s(&e["name"]),
                    timestamp: ts,
                });
            }
            _ => out.push(StreamEvent::Raw {
                source: Some(SOURCE.into()),
                json: v,
            }),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_run_reads_into_calls_results_and_usage() {
        let text =
            crate::converters::fixture_text("opencode-1.18.33/run-format-json-tool-run.jsonl");
        let mut r = OpencodeRunReader::new();
        let ev: Vec<StreamEvent> = text.lines().flat_map(|l| r.read_line(l)).collect();
        assert!(matches!(ev[0], StreamEvent::SessionStarted { .. }));
        let calls: Vec<&str> = ev.iter().filter_map(StreamEvent::tool_name).collect();
        assert_eq!(calls, ["write", "bash"]);
        assert_eq!(
            ev.iter().filter(|e| e.type_name() == "tool_result").count(),
            2
        );
        assert_eq!(ev.iter().filter(|e| e.type_name() == "usage").count(), 3);
        assert!(!ev.iter().any(|e| e.type_name() == "raw"), "{ev:?}");
    }
}
