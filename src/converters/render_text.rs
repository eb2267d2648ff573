//! A conversation as terminal text: prompts marked, tool calls one line each with their
//! status, results indented and cut, subagent runs nested behind a bar, errors in red.
//!
//! Colors are ANSI codes, used only when the caller says so (a terminal, NO_COLOR unset); the
//! same text without them is what a pipe gets. No other control sequence reaches the output.

use std::borrow::Cow;
use std::fmt::Write;

use super::ansi::{self, Keep};
use super::assembler::result_text;
use super::render::{permission_line, status_mark, summarize_input, turn_line};
use crate::types::{BlockKind, ConversationBlock, ToolStatus};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    pub color: bool,
    /// Tool results longer than this are cut.
    pub max_output_lines: usize,
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The conversation as terminal text. Control sequences from the agent are dropped; its SGR
/// colour is kept only when colour is on (aisys's own painting is SGR too).
pub fn render_text(blocks: &[ConversationBlock], style: TextStyle) -> String {
    let p = Painter { color: style.color };
    let mut out = String::new();
    for b in blocks {
        block(&mut out, b, "", &p, style.max_output_lines);
    }
    let keep = if style.color {
        Keep::Colour
    } else {
        Keep::Nothing
    };
    match ansi::clean(&out, keep) {
        Cow::Borrowed(_) => out,
        Cow::Owned(cleaned) => cleaned,
    }
}

fn status_color(s: ToolStatus) -> &'static str {
    match s {
        ToolStatus::Ok => "32",
        ToolStatus::Error => "31",
        ToolStatus::Pending | ToolStatus::Denied | ToolStatus::Interrupted => "33",
    }
}

fn lines(out: &mut String, prefix: &str, text: &str) {
    for l in text.lines() {
        let _ = writeln!(out, "{prefix}{l}");
    }
}

fn block(out: &mut String, b: &ConversationBlock, prefix: &str, p: &Painter, max: usize) {
    match &b.kind {
        BlockKind::UserMessage { text, images } => {
            let _ = writeln!(out, "{prefix}");
            let mut first = true;
            for l in text.lines() {
                let mark = if first { "› " } else { "  " };
                first = false;
                let _ = writeln!(out, "{prefix}{}", p.paint("1;36", &format!("{mark}{l}")));
            }
            for img in images {
                let _ = writeln!(out, "{prefix}  [{} {}]", img.kind, img.source);
            }
            let _ = writeln!(out, "{prefix}");
        }
        BlockKind::AssistantText { text } => lines(out, prefix, text),
        BlockKind::Thinking { text, redacted } => {
            if *redacted {
                let _ = writeln!(out, "{prefix}{}", p.paint("2", "(thinking redacted)"));
            } else {
                for l in text.lines() {
                    let _ = writeln!(out, "{prefix}{}", p.paint("2;3", l));
                }
            }
        }
        BlockKind::ToolCall {
            name,
            input,
            status,
            result,
            ..
        } => {
            let _ = writeln!(
                out,
                "{prefix}{} {} {} {}",
                p.paint(status_color(*status), "●"),
                p.paint("1", name),
                summarize_input(name, input),
                p.paint(status_color(*status), status_mark(*status))
            );
            if let Some(r) = result {
                let text = result_text(r);
                let total = text.lines().count();
                let color = if *status == ToolStatus::Error {
                    "31"
                } else {
                    "2"
                };
                for l in text.lines().take(max) {
                    let _ = writeln!(out, "{prefix}  {}", p.paint(color, l));
                }
                if total > max {
                    let _ = writeln!(
                        out,
                        "{prefix}  {}",
                        p.paint("2", &format!("… ({} more lines)", total - max))
                    );
                }
            }
        }
        BlockKind::SubagentRun {
            name,
            description,
            status,
            blocks,
            ..
        } => {
            let _ = writeln!(
                out,
                "{prefix}{} {} {} {}",
                p.paint(status_color(*status), "◆"),
                p.paint("1", name),
                description.as_deref().unwrap_or(""),
                p.paint(status_color(*status), status_mark(*status))
            );
            let inner_prefix = format!("{prefix}{} ", p.paint("2", "│"));
            for inner in blocks {
                block(out, inner, &inner_prefix, p, max);
            }
        }
        BlockKind::Permission {
            tool_name,
            decision,
            ..
        } => {
            let _ = writeln!(
                out,
                "{prefix}{}",
                p.paint("33", &permission_line(tool_name, *decision))
            );
        }
        BlockKind::SystemNotice { text, .. } => {
            let _ = writeln!(out, "{prefix}{}", p.paint("2", text));
        }
        BlockKind::CompactionSummary { text } => {
            let _ = writeln!(
                out,
                "{prefix}{}",
                p.paint("2", "── summary of the earlier conversation ──")
            );
            for l in text.lines() {
                let _ = writeln!(out, "{prefix}{}", p.paint("2", l));
            }
        }
        BlockKind::TurnSummary {
            status,
            duration_ms,
            cost_usd,
            error,
            ..
        } => {
            let s = turn_line(*status, *duration_ms, *cost_usd);
            let _ = writeln!(out, "{prefix}{}", p.paint("2", &s));
            if let Some(e) = error {
                let _ = writeln!(out, "{prefix}{}", p.paint("31", &format!("error: {e}")));
            }
        }
        BlockKind::Error { message, .. } => {
            let _ = writeln!(
                out,
                "{prefix}{}",
                p.paint("31", &format!("error: {message}"))
            );
        }
        BlockKind::Raw { source, json } => {
            let mut j = json.to_string();
            if j.len() > 200 {
                let cut = (0..=200)
                    .rev()
                    .find(|&i| j.is_char_boundary(i))
                    .unwrap_or(0);
                j.truncate(cut);
                j.push('…');
            }
            let _ = writeln!(
                out,
                "{prefix}{}",
                p.paint(
                    "2",
                    &format!("[{}] {j}", source.as_deref().unwrap_or("unknown"))
                )
            );
        }
    }
}
