//! How one conversation block is laid out as lines at a width: text as Markdown, tool calls
//! folded or expanded with their results and diffs, thinking folded, turn summaries. The view
//! caches what these return per block, width and version.
//!
//! Must not look at the rest of the screen or the state: a block's lines depend on the block,
//! the width and whether it is expanded or under the cursor, nothing else.

use std::collections::HashSet;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use serde_json::Value;
use unicode_width::UnicodeWidthChar;

use crate::converters::ansi::{self, Keep};
use crate::converters::tool_view::reader_result;
use crate::converters::{result_text, summarize_input};
use crate::types::{
    BlockKind, ConversationBlock, PermissionDecision, ToolResultContent, ToolStatus,
};

/// How the `error` of a turn's `result` begins when a restart or shutdown of the server ended
/// the turn (the server's `RESTART_ERROR`).
const RESTART_CODE: &str = "server_restart:";
/// Lines of a tool result shown when expanded; the rest is summarized.
const RESULT_LINES: usize = 30;

/// Wraps prose to `width` columns at spaces; a word longer than the width is cut by [`wrap`].
pub(super) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let w = |s: &str| s.chars().filter_map(|c| c.width()).sum::<usize>();
        if !cur.is_empty() && w(&cur) + 1 + w(word) > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        if w(&cur) > width {
            let mut pieces = wrap(&cur, width);
            cur = pieces.pop().unwrap_or_default();
            out.extend(pieces);
        }
    }
    out.push(cur);
    out
}

/// Wraps text to `width` columns (by display width), keeping empty lines. Terminal control
/// sequences in it (agent text is untrusted) are dropped first: a cell must never carry one.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let text = ansi::clean(text, Keep::Nothing);
    let width = width.max(1);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut cur = String::new();
        let mut w = 0;
        for ch in line.chars() {
            let cw = ch.width().unwrap_or(0);
            if w + cw > width && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                w = 0;
            }
            cur.push(ch);
            w += cw;
        }
        out.push(cur);
    }
    out
}

pub(super) fn styled_wrapped(
    text: &str,
    width: usize,
    prefix: &str,
    style: Style,
) -> Vec<Line<'static>> {
    wrap(text, width.saturating_sub(prefix.chars().count()))
        .into_iter()
        .map(|l| {
            Line::from(vec![
                Span::styled(prefix.to_string(), style),
                Span::styled(l, style),
            ])
        })
        .collect()
}

/// Lays out one block at a width.
pub(super) fn block_lines(
    block: &ConversationBlock,
    width: usize,
    expanded: bool,
    selected: bool,
    expanded_set: &HashSet<String>,
) -> Vec<Line<'static>> {
    // The cursor's marker takes a column: lay the block out one narrower.
    let width = if selected {
        width.saturating_sub(1).max(1)
    } else {
        width
    };
    let mut lines = match &block.kind {
        BlockKind::UserMessage { text, .. } => {
            let mut l = vec![Line::raw("")];
            l.extend(styled_wrapped(
                text,
                width,
                "› ",
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
            ));
            l
        }
        BlockKind::AssistantText { text } => super::markdown::render(text, width),
        BlockKind::Thinking { text, redacted } => {
            let dim = Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC);
            if *redacted {
                vec![Line::styled("∴ thinking (redacted)", dim)]
            } else if expanded {
                let mut l = vec![Line::styled("∴ thinking", dim)];
                l.extend(styled_wrapped(text, width, "  ", dim));
                l
            } else {
                vec![Line::styled(
                    format!(
                        "∴ thinking… ({} lines, Ctrl-O unfolds)",
                        text.lines().count()
                    ),
                    dim,
                )]
            }
        }
        BlockKind::ToolCall {
            name,
            input,
            status,
            result,
            ..
        } => tool_lines(name, input, *status, result.as_ref(), width, expanded),
        BlockKind::SubagentRun {
            name,
            description,
            status,
            blocks,
            input,
            result,
            ..
        } => {
            let label = description
                .clone()
                .unwrap_or_else(|| summarize_input(name, input));
            let mut l = vec![tool_header(name, &label, *status, width)];
            for child in blocks {
                let child_expanded = expanded_set.contains(&child.id);
                for line in block_lines(
                    child,
                    width.saturating_sub(2),
                    child_expanded,
                    false,
                    expanded_set,
                ) {
                    let mut spans = vec![Span::styled("│ ", Style::default().fg(Color::DarkGray))];
                    spans.extend(line.spans);
                    l.push(Line::from(spans));
                }
            }
            if expanded && let Some(r) = result {
                l.extend(result_lines(&reader_result(name, r), width));
            }
            l
        }
        BlockKind::Permission {
            tool_name,
            decision,
            input,
            ..
        } => {
            let (what, color) = match decision {
                Some(PermissionDecision::Allow) => ("allowed", Color::Green),
                Some(PermissionDecision::Deny) => ("denied", Color::Yellow),
                None => ("asked", Color::Magenta),
            };
            vec![Line::from(vec![
                Span::styled(
                    format!("  ⚿ {tool_name} {what}: "),
                    Style::default().fg(color),
                ),
                Span::styled(
                    truncate(&summarize_input(tool_name, input), width.saturating_sub(20)),
                    Style::default().fg(Color::DarkGray),
                ),
            ])]
        }
        // A notice with nothing to say draws nothing, not an empty `·` line.
        BlockKind::SystemNotice { text, .. } if text.trim().is_empty() => vec![],
        BlockKind::SystemNotice { text, .. } => {
            styled_wrapped(text, width, "· ", Style::default().fg(Color::DarkGray))
        }
        BlockKind::CompactionSummary { text } => {
            let mut l = vec![Line::styled(
                "── conversation compacted ──",
                Style::default().fg(Color::DarkGray),
            )];
            if expanded {
                l.extend(styled_wrapped(
                    text,
                    width,
                    "  ",
                    Style::default().fg(Color::DarkGray),
                ));
            }
            l
        }
        BlockKind::TurnSummary {
            status,
            duration_ms,
            cost_usd,
            error,
            ..
        } => {
            // A turn the server's restart (or shutdown) cut short says so, not just "interrupted",
            // which reads as the user's Esc.
            let restart = error
                .as_deref()
                .is_some_and(|e| e.starts_with(RESTART_CODE));
            let mut parts = vec![if restart {
                "⏻ interrupted by a server restart".to_string()
            } else {
                status.as_str().to_string()
            }];
            if let Some(ms) = duration_ms {
                parts.push(format!("{:.1}s", *ms as f64 / 1000.0));
            }
            if let Some(c) = cost_usd {
                parts.push(format!("${c:.4}"));
            }
            let mut l = vec![Line::styled(
                format!("  {}", parts.join(" · ")),
                Style::default().fg(Color::DarkGray),
            )];
            match error {
                Some(_) if restart => l.extend(styled_wrapped(
                    "the server stopped before this turn ended; the next message goes on from here",
                    width,
                    "  ",
                    Style::default().fg(Color::Yellow),
                )),
                Some(e) => l.extend(styled_wrapped(
                    e,
                    width,
                    "  ",
                    Style::default().fg(Color::Red),
                )),
                None => {}
            }
            l
        }
        BlockKind::Error { message, .. } => {
            styled_wrapped(message, width, "✗ ", Style::default().fg(Color::Red))
        }
        // An event the converters do not know is shown only by what it says; its bare type
        // (`· system` for Claude Code's token estimates and hook bookkeeping) tells a reader
        // nothing.
        BlockKind::Raw { json, .. } => match raw_text(json) {
            Some(text) => vec![Line::styled(
                truncate(
                    &format!(
                        "· {}: {text}",
                        json.get("type").and_then(Value::as_str).unwrap_or("event")
                    ),
                    width,
                ),
                Style::default().fg(Color::DarkGray),
            )],
            None => vec![],
        },
    };
    if selected {
        for l in &mut lines {
            l.spans
                .insert(0, Span::styled("▌", Style::default().fg(Color::Blue)));
        }
    }
    lines
}

/// Whether a block draws no line at all (see the `SystemNotice` and `Raw` arms of
/// [`block_lines`]): the block cursor passes over such blocks.
pub(super) fn shows_nothing(block: &ConversationBlock) -> bool {
    match &block.kind {
        BlockKind::SystemNotice { text, .. } => text.trim().is_empty(),
        BlockKind::Raw { json, .. } => raw_text(json).is_none(),
        _ => false,
    }
}

/// The readable text of an unknown event: its `text`, `message` or `content`, when not blank.
fn raw_text(json: &Value) -> Option<String> {
    ["text", "message", "content"].iter().find_map(|k| {
        let text = match json.get(*k)? {
            Value::String(s) => s.clone(),
            Value::Array(a) => result_text(&ToolResultContent::Blocks(a.clone())),
            _ => return None,
        };
        (!text.trim().is_empty()).then_some(text)
    })
}

pub(super) fn truncate(s: &str, width: usize) -> String {
    let s = ansi::clean(s, Keep::Nothing);
    let first = s.lines().next().unwrap_or("");
    if first.chars().count() <= width {
        first.to_string()
    } else {
        let mut t: String = first.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn tool_header(name: &str, summary: &str, status: ToolStatus, width: usize) -> Line<'static> {
    let (mark, color) = match status {
        ToolStatus::Pending => ("…", Color::Yellow),
        ToolStatus::Ok => ("✓", Color::Green),
        ToolStatus::Error => ("✗", Color::Red),
        ToolStatus::Denied => ("⊘", Color::Yellow),
        ToolStatus::Interrupted => ("⏸", Color::Yellow),
    };
    let room = width.saturating_sub(name.chars().count() + 5);
    Line::from(vec![
        Span::styled(format!("{mark} "), Style::default().fg(color)),
        Span::styled(
            ansi::clean(name, Keep::Nothing).into_owned(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(
            truncate(summary, room),
            Style::default().fg(Color::DarkGray),
        ),
    ])
}

fn tool_lines(
    name: &str,
    input: &Value,
    status: ToolStatus,
    result: Option<&ToolResultContent>,
    width: usize,
    expanded: bool,
) -> Vec<Line<'static>> {
    let mut l = vec![tool_header(
        name,
        &summarize_input(name, input),
        status,
        width,
    )];
    if !expanded {
        // A todo list is what such a call says: shown folded too.
        let checklist = matches!(
            name.to_ascii_lowercase().as_str(),
            "todowrite" | "taskcreate" | "taskupdate"
        );
        if checklist {
            let view =
                crate::converters::tool_view::ToolCallView::new(name, input, None, status, 0);
            l.extend(super::tool_lines::view_lines(&view, width));
        }
        if status == ToolStatus::Error
            && let Some(r) = result
        {
            l.push(Line::styled(
                format!("  {}", truncate(&result_text(r), width.saturating_sub(2))),
                Style::default().fg(Color::Red),
            ));
        }
        return l;
    }
    let view =
        crate::converters::tool_view::ToolCallView::new(name, input, result, status, RESULT_LINES);
    l.extend(super::tool_lines::view_lines(&view, width));
    l
}

fn result_lines(text: &str, width: usize) -> Vec<Line<'static>> {
    let total = text.lines().count();
    let shown: String = text
        .lines()
        .take(RESULT_LINES)
        .collect::<Vec<_>>()
        .join("\n");
    let mut l = styled_wrapped(&shown, width, "  ⎿ ", Style::default().fg(Color::Gray));
    if total > RESULT_LINES {
        l.push(Line::styled(
            format!("  … {} more lines", total - RESULT_LINES),
            Style::default().fg(Color::DarkGray),
        ));
    }
    l
}
