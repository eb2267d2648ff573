//! The common `assistant` line of Claude Code's stream-json read straight into borrowed fields,
//! without building a `serde_json::Value` first: most lines of a turn are these, and a `Value`
//! costs an allocation per key and per string.
//!
//! It takes only what it can read exactly as the general reader would: a line that starts as an
//! `assistant` line, with text, thinking and tool-use blocks, no error, and fields of the types
//! expected. Anything else (another block type, an API error, a field of another type, a key
//! given twice) makes [`read`] return `None`, and the line is read the general way.
//!
//! Must not decide what an event is: [`ClaudeStreamReader::assistant`](super::ClaudeStreamReader)
//! does, for both ways of reading.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::{Assistant, Block};
use crate::types::TokenUsage;

/// How Claude Code begins every `assistant` line; other lines are not tried here.
const ASSISTANT_START: &str = r#"{"type":"assistant""#;

/// A string, borrowed from the line unless it has escapes.
#[derive(Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

impl Str<'_> {
    fn owned(s: Option<Str<'_>>) -> Option<String> {
        s.map(|s| s.0.into_owned())
    }
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(default, borrow)]
    parent_tool_use_id: Option<Str<'a>>,
    /// Either of these (not null) is an API error, which the general reader reports.
    #[serde(default, rename = "isApiErrorMessage")]
    api_error: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(borrow)]
    message: Message<'a>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default, borrow)]
    id: Option<Str<'a>>,
    #[serde(default, borrow)]
    model: Option<Str<'a>>,
    #[serde(borrow)]
    content: Vec<ContentBlock<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ContentBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(default, borrow)]
    text: Option<Str<'a>>,
    #[serde(default, borrow)]
    thinking: Option<Str<'a>>,
    #[serde(default, borrow)]
    id: Option<Str<'a>>,
    #[serde(default, borrow)]
    name: Option<Str<'a>>,
    #[serde(default)]
    input: Option<Value>,
}

/// Anthropic's usage object; a count that is not a whole number fails the line here, and the
/// general reader counts it as 0.
#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// The line's content when it is an `assistant` line this reader takes, else `None`.
pub(super) fn read(line: &str) -> Option<Assistant> {
    if !line.starts_with(ASSISTANT_START) {
        return None;
    }
    let l: Line = serde_json::from_str(line).ok()?;
    if l.kind.0 != "assistant" || l.api_error.is_some() || l.error.is_some() {
        return None;
    }
    // Collected in the content's own allocation (a block is smaller than its content block).
    let blocks = l
        .message
        .content
        .into_iter()
        .map(|b| {
            Some(match &*b.kind.0 {
                "text" => Block::Text(Str::owned(b.text).unwrap_or_default()),
                "thinking" => Block::Thinking(Str::owned(b.thinking).unwrap_or_default()),
                "redacted_thinking" => Block::RedactedThinking,
                "tool_use" | "server_tool_use" => Block::ToolUse {
                    id: Str::owned(b.id).unwrap_or_default(),
                    name: Str::owned(b.name).unwrap_or_default(),
                    input: b.input.unwrap_or(Value::Null),
                },
                // Kept whole as a `raw` event: the general reader has the block's JSON.
                _ => return None,
            })
        })
        .collect::<Option<Vec<Block>>>()?;
    Some(Assistant {
        message_id: Str::owned(l.message.id),
        model: Str::owned(l.message.model),
        parent: Str::owned(l.parent_tool_use_id),
        blocks,
        usage: l.message.usage.map(|u| TokenUsage {
            input_tokens: u.input_tokens.unwrap_or(0),
            output_tokens: u.output_tokens.unwrap_or(0),
            cache_creation_tokens: u.cache_creation_input_tokens.unwrap_or(0),
            cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::super::ClaudeStreamReader;
    use crate::converters::fixture_text as fixture;

    /// What the general reader makes of `lines`, one reader for all of them.
    fn general(lines: &[&str]) -> Vec<Vec<crate::types::StreamEvent>> {
        let mut r = ClaudeStreamReader::new();
        lines
            .iter()
            .map(|l| match serde_json::from_str(l) {
                Ok(v) => r.read_value(v),
                Err(_) => r.read_line(l),
            })
            .collect()
    }

    fn by_line(lines: &[&str]) -> Vec<Vec<crate::types::StreamEvent>> {
        let mut r = ClaudeStreamReader::new();
        lines.iter().map(|l| r.read_line(l)).collect()
    }

    #[test]
    fn lines_read_either_way_give_the_same_events() {
        let lines = [
            r#"{"type":"assistant","message":{"id":"m1","model":"x","content":[{"type":"text","text":"a \"quoted\"\nline"}],"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":5}},"parent_tool_use_id":null,"session_id":"s"}"#,
            // The same message again: its usage is not reported twice.
            r#"{"type":"assistant","message":{"id":"m1","model":"x","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":3}},"parent_tool_use_id":"p1"}"#,
            r#"{"type":"assistant","message":{"id":"m2","content":[{"type":"thinking","thinking":"hm","signature":"x"},{"type":"redacted_thinking","data":"x"},{"type":"server_tool_use","id":"t2","name":"web_search"}]}}"#,
            // Taken by the general reader: another block type, an error, odd types, a key twice.
            r#"{"type":"assistant","message":{"id":"m3","content":[{"type":"image","source":{"type":"url","url":"u"}}]}}"#,
            r#"{"type":"assistant","isApiErrorMessage":true,"error":"rate_limit","message":{"id":"m4","content":[{"type":"text","text":"API Error: 429"}]}}"#,
            r#"{"type":"assistant","message":{"id":7,"content":[{"type":"text","text":"x"}],"usage":{"input_tokens":1.5}}}"#,
            r#"{"type":"assistant","message":{"id":"m5","content":[{"type":"text","text":1}],"usage":"none"}}"#,
            r#"{"type":"assistant","type":"user","message":{"id":"m6","content":[{"type":"text","text":"x"}]}}"#,
            r#"{"type":"assistant","message":{"id":"m7","content":"not blocks","usage":null}}"#,
            r#"{"type":"assistant","message":{"id":"m8","content":[{"text":"no type"}]}}"#,
            r#"{"type":"assistant"}"#,
            r#"{"type":"assistant","message":{"id":"m9","content":[{"type":"text","text":"cut"#,
        ];
        assert_eq!(by_line(&lines), general(&lines));
        // The common lines are the ones read here.
        assert!(super::read(lines[0]).is_some());
        assert!(super::read(lines[1]).is_some());
        assert!(super::read(lines[2]).is_some());
        assert!(lines[3..].iter().all(|l| super::read(l).is_none()));
    }

    #[test]
    fn recorded_runs_read_either_way_give_the_same_events() {
        for name in [
            "claude-code-2.1.197/stream-json-subagent.jsonl",
            "claude-code-2.1.197/stream-json-tool-run.jsonl",
            "claude-code-2.1.197/stream-json-stdin-control.jsonl",
        ] {
            let text = fixture(name);
            let lines: Vec<&str> = text.lines().collect();
            let taken = lines.iter().filter(|l| super::read(l).is_some()).count();
            assert!(taken > 0, "{name}: no assistant line was read the fast way");
            assert_eq!(by_line(&lines), general(&lines), "{name}");
        }
    }
}
