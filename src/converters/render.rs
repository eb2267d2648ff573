//! Renderers of conversation blocks: JSON for programs, Markdown for people, and the one-line
//! summary of a tool call's input that every view shows.

use std::fmt::Write;

use serde_json::Value;

use super::assembler::result_text;
use crate::types::{BlockKind, ConversationBlock, PermissionDecision, ToolStatus, TurnStatus};

/// Longest summary of a tool input, in characters.
const SUMMARY_CHARS: usize = 120;
/// Lines of a tool result kept in Markdown before it is cut, unless the caller says otherwise.
pub const DEFAULT_RESULT_LINES: usize = 40;

/// The blocks as one pretty JSON array.
pub fn render_json(blocks: &[ConversationBlock]) -> String {
    serde_json::to_string_pretty(blocks).unwrap_or_else(|_| "[]".into())
}

/// The one-line gist of a tool's input: the command, the path, the pattern, or the URL.
pub fn summarize_input(tool: &str, input: &Value) -> String {
    let field = |k: &str| input.get(k).and_then(Value::as_str);
    let gist = [
        "command",
        "file_path",
        "filePath",
        "path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ]
    .iter()
    .find_map(|k| field(k))
    .map(str::to_string)
    .unwrap_or_else(|| match input {
        Value::Object(m) if m.is_empty() => String::new(),
        Value::Null => String::new(),
        other => other.to_string(),
    });
    let one_line = gist.lines().next().unwrap_or("").to_string();
    let _ = tool;
    if one_line.chars().count() > SUMMARY_CHARS {
        let mut s: String = one_line.chars().take(SUMMARY_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        one_line
    }
}

/// The conversation as Markdown: a heading per user turn, tool calls with their input gist and
/// results in fenced blocks.
pub fn render_markdown(blocks: &[ConversationBlock]) -> String {
    render_markdown_cut(blocks, DEFAULT_RESULT_LINES)
}

/// [`render_markdown`] with tool results cut at `max_output_lines`.
/// Terminal control sequences from the agent are dropped: Markdown is read as text.
pub fn render_markdown_cut(blocks: &[ConversationBlock], max_output_lines: usize) -> String {
    let mut md = String::new();
    for b in blocks {
        markdown_block(&mut md, b, 0, max_output_lines);
    }
    match super::ansi::clean(&md, super::ansi::Keep::Nothing) {
        std::borrow::Cow::Borrowed(_) => md,
        std::borrow::Cow::Owned(cleaned) => cleaned,
    }
}

fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

fn markdown_block(md: &mut String, b: &ConversationBlock, depth: usize, max: usize) {
    let indent = "> ".repeat(depth);
    let mut push = |s: &str| {
        for line in s.lines() {
            let _ = writeln!(md, "{indent}{line}");
        }
        let _ = writeln!(md, "{}", indent.trim_end());
    };
    match &b.kind {
        BlockKind::UserMessage { text, .. } => push(&format!("## User\n\n{text}")),
        BlockKind::AssistantText { text } => push(text),
        BlockKind::Thinking { text, redacted } => {
            if *redacted {
                push("*(thinking redacted)*");
            } else {
                push(&format!(
                    "<details><summary>Thinking</summary>\n\n{text}\n\n</details>"
                ));
            }
        }
        BlockKind::ToolCall {
            name,
            input,
            status,
            result,
            ..
        } => {
            let mark = status_mark(*status);
            let mut s = format!("**{name}** `{}` {mark}", summarize_input(name, input));
            if let Some(r) = result {
                let text = result_text(r);
                let shown: Vec<&str> = text.lines().take(max).collect();
                let mut body = shown.join("\n");
                let total = text.lines().count();
                if total > max {
                    body.push_str(&format!("\n… ({} more lines)", total - max));
                }
                let f = fence(&body);
                s.push_str(&format!("\n\n{f}\n{body}\n{f}"));
            }
            push(&s);
        }
        BlockKind::SubagentRun {
            name,
            description,
            status,
            blocks,
            ..
        } => {
            push(&format!(
                "**{name}** {} {}",
                description.as_deref().unwrap_or(""),
                status_mark(*status)
            ));
            for inner in blocks {
                markdown_block(md, inner, depth + 1, max);
            }
        }
        BlockKind::Permission {
            tool_name,
            decision,
            ..
        } => push(&format!("*{}*", permission_line(tool_name, *decision))),
        BlockKind::SystemNotice { text, .. } => push(&format!("*{text}*")),
        BlockKind::CompactionSummary { text } => {
            push(&format!("## Summary of earlier conversation\n\n{text}"))
        }
        BlockKind::TurnSummary {
            status,
            duration_ms,
            cost_usd,
            error,
            ..
        } => {
            let mut s = format!("*{}*", turn_line(*status, *duration_ms, *cost_usd));
            if let Some(e) = error {
                s.push_str(&format!("\n\n**Error:** {e}"));
            }
            push(&s);
        }
        BlockKind::Error { message, .. } => push(&format!("**Error:** {message}")),
        BlockKind::Raw { json, .. } => {
            let j = json.to_string();
            let f = fence(&j);
            push(&format!("{f}json\n{j}\n{f}"));
        }
    }
}

/// A permission request and its answer, in one line: `permission for Bash: allow`.
pub(crate) fn permission_line(tool_name: &str, decision: Option<PermissionDecision>) -> String {
    let d = match decision {
        Some(d) => d.as_str().to_string(),
        None => "asked".into(),
    };
    format!("permission for {tool_name}: {d}")
}

/// How a turn ended, in one line: `turn success, 2.1s, $0.0042`.
pub(crate) fn turn_line(
    status: TurnStatus,
    duration_ms: Option<u64>,
    cost_usd: Option<f64>,
) -> String {
    let mut s = format!("turn {status}");
    if let Some(ms) = duration_ms {
        s.push_str(&format!(", {:.1}s", ms as f64 / 1000.0));
    }
    if let Some(c) = cost_usd {
        s.push_str(&format!(", ${c:.4}"));
    }
    s
}

pub(crate) fn status_mark(s: ToolStatus) -> &'static str {
    match s {
        ToolStatus::Pending => "…",
        ToolStatus::Ok => "✓",
        ToolStatus::Error => "✗",
        ToolStatus::Denied => "(denied)",
        ToolStatus::Interrupted => "(interrupted)",
    }
}
