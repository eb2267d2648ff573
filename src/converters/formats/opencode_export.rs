//! OpenCode `export <session id>` documents into events.
//!
//! An export is one JSON document, `{"info": {...}, "messages": [{"info": {...}, "parts":
//! [...]}]}`. An assistant message's parts have the same shape as the `part` of `opencode run
//! --format json` lines, so they go through that reader; user messages become prompts.

use serde_json::{Value, json};

use super::opencode_run::timestamp as ms_to_rfc3339;
use crate::converters::OpencodeRunReader;
use crate::types::{AgentKind, StreamEvent};

const SOURCE: &str = "opencode-export";

/// Part types that record the app's own bookkeeping (file snapshots, patches), not conversation.
const BOOKKEEPING_PARTS: &[&str] = &["snapshot", "patch"];

/// Every event of one export document.
pub fn export_events(doc: Value) -> Vec<StreamEvent> {
    let info = &doc["info"];
    let session = info["id"].as_str().map(str::to_string);
    let mut out = vec![StreamEvent::SessionStarted {
        agent: AgentKind::Opencode,
        agent_session_id: session.clone(),
        model: info["model"]["id"]
            .as_str()
            .or(info["modelID"].as_str())
            .map(str::to_string),
        tools: vec![],
        cwd: info["directory"].as_str().map(str::to_string),
        agent_version: info["version"].as_str().map(str::to_string),
        loaded: None,
        timestamp: ms_to_rfc3339(&info["time"]["created"]),
    }];
    if let Some(title) = info["title"].as_str() {
        out.push(StreamEvent::Notice {
            kind: "summary".into(),
            text: title.to_string(),
            timestamp: None,
        });
    }
    let mut reader = OpencodeRunReader::started();
    let empty = Vec::new();
    for msg in doc["messages"].as_array().unwrap_or(&empty) {
        let mi = &msg["info"];
        let created = ms_to_rfc3339(&mi["time"]["created"]);
        let parts = msg["parts"].as_array().unwrap_or(&empty);
        if mi["role"] == "user" {
            let text: Vec<&str> = parts
                .iter()
                .filter(|p| p["type"] == "text" && p["synthetic"] != true)
                .filter_map(|p| p["text"].as_str())
                .collect();
            out.push(StreamEvent::UserMessage {
                id: mi["id"].as_str().map(str::to_string),
                text: text.join("\n"),
                images: vec![],
                compact_summary: mi["summary"] == true,
                parent_tool_use_id: None,
                timestamp: created,
            });
            continue;
        }
        let model = mi["modelID"].as_str().map(str::to_string);
        for part in parts {
            let kind = part["type"].as_str().unwrap_or("");
            if BOOKKEEPING_PARTS.contains(&kind) {
                continue;
            }
            let line_type = match kind {
                "tool" => "tool_use",
                "step-start" => "step_start",
                "step-finish" => "step_finish",
                "text" | "reasoning" => kind,
                _ => {
                    out.push(StreamEvent::Raw {
                        source: Some(SOURCE.into()),
                        json: part.clone(),
                    });
                    continue;
                }
            };
            let ts = part["time"]["start"]
                .as_i64()
                .or(mi["time"]["created"].as_i64());
            let line =
                json!({"type": line_type, "timestamp": ts, "sessionID": session, "part": part});
            for mut ev in reader.read_value(line) {
                if let StreamEvent::Usage { model: m, .. } = &mut ev
                    && m.is_none()
                {
                    m.clone_from(&model);
                }
                out.push(ev);
            }
        }
        if let Some(err) = mi.get("error").filter(|e| e.is_object()) {
            out.push(StreamEvent::Error {
                message: err["data"]["message"]
                    .as_str()
                    .or(err["message"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| err.to_string()),
                code: err["name"].as_str().map(str::to_string),
                timestamp: ms_to_rfc3339(&mi["time"]["completed"]).or(created),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_export_reads_into_prompt_calls_results_and_usage() {
        let text = crate::converters::fixture_text("opencode-1.18.33/export-tool-run.json");
        let ev = export_events(serde_json::from_str(&text).unwrap());
        let kinds: Vec<&str> = ev.iter().map(|e| e.type_name()).collect();
        assert_eq!(kinds[0], "session_started");
        assert!(
            matches!(&ev[2], StreamEvent::UserMessage { text, .. } if text.contains("hello.txt"))
        );
        let calls: Vec<&str> = ev.iter().filter_map(StreamEvent::tool_name).collect();
        assert_eq!(calls, ["write", "bash"]);
        assert_eq!(kinds.iter().filter(|k| **k == "tool_result").count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == "usage").count(), 3);
        assert!(ev.iter().any(
            |e| matches!(e, StreamEvent::Usage { model: Some(m), .. } if m == "claude-sonnet-4-5")
        ));
        assert!(!kinds.contains(&"raw"), "{ev:?}");
    }
}
