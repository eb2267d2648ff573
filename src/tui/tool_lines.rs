//! A tool call unfolded in the terminal, drawn from the converters' one description of each tool
//! (`converters::tool_view`), so the TUI shows what the text, Markdown and HTML renderers show: an
//! edit as a diff with its changed words marked, a write as its file, a shell call as `$ command`
//! with the head and tail of its output, a todo list as a checklist, other tools as pretty JSON.
//! The permission prompt draws the same view of the call it asks about ([`prompt_lines`]), so what
//! is approved looks like what the conversation then shows.
//!
//! Pure: a view and a width in, lines out. Agent text is cleaned of control sequences by the
//! wrapping helpers it goes through.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use super::blocks::{styled_wrapped, truncate, wrap};
use crate::converters::tool_view::{ItemStatus, LineKind, ToolCallView, ToolOutput, ToolView};

/// Most lines of a written file shown unfolded (the rest is counted).
const FILE_LINES: usize = 40;
/// What each line of a written file is drawn after.
const FILE_PREFIX: &str = "  + ";

/// The lines under a tool call's header when it is unfolded.
pub fn view_lines(v: &ToolCallView, width: usize) -> Vec<Line<'static>> {
    let mut l = input_lines(v, width, FILE_LINES);
    if let Some(out) = &v.output {
        l.extend(output_lines(out, width));
    }
    l
}

/// What a call would do, as the permission prompt shows it before it runs: the same view in at
/// most `max` rows (a file's first lines, the diff's start, the command), the last of them
/// saying how much more there is.
pub fn prompt_lines(v: &ToolCallView, width: usize, max: usize) -> Vec<Line<'static>> {
    if max == 0 {
        return Vec::new();
    }
    // A file: as many of its lines as fit once wrapped, beside its language and "more" lines.
    let file_lines = match &v.view {
        ToolView::File {
            content, language, ..
        } => {
            let mut budget = max.saturating_sub(1 + usize::from(language.is_some()));
            let room = width.saturating_sub(FILE_PREFIX.chars().count());
            let mut n = 0;
            for line in content.lines() {
                let rows = wrap(line, room).len();
                if rows > budget {
                    break;
                }
                budget -= rows;
                n += 1;
            }
            n
        }
        _ => max,
    };
    let mut l = input_lines(v, width, file_lines);
    if l.len() > max {
        let keep = max - 1;
        let more = l.len() - keep;
        l.truncate(keep);
        l.push(Line::styled(
            format!("  … {more} more lines"),
            Style::default().fg(Color::DarkGray),
        ));
    }
    l
}

/// A call's input as its view: the diff, the file (its first `file_lines`), the command, ...
fn input_lines(v: &ToolCallView, width: usize, file_lines: usize) -> Vec<Line<'static>> {
    let dim = Style::default().fg(Color::DarkGray);
    let gray = Style::default().fg(Color::Gray);
    let mut l = Vec::new();
    match &v.view {
        ToolView::Diff(d) => {
            let all = if d.replace_all {
                " (every occurrence)"
            } else {
                ""
            };
            l.push(Line::styled(
                format!("  +{} -{}{all}", d.added, d.removed),
                dim,
            ));
            for h in &d.hunks {
                l.push(Line::styled(format!("  {}", h.header), dim));
                for line in &h.lines {
                    l.push(diff_line(line, width));
                }
            }
        }
        ToolView::File {
            content, language, ..
        } => {
            let total = content.lines().count();
            if let Some(lang) = language {
                l.push(Line::styled(format!("  {lang}, {total} lines"), dim));
            }
            let shown: Vec<&str> = content.lines().take(file_lines).collect();
            l.extend(styled_wrapped(
                &shown.join("\n"),
                width,
                FILE_PREFIX,
                Style::default().fg(Color::Green),
            ));
            if total > file_lines {
                l.push(Line::styled(
                    format!("  … {} more lines", total - file_lines),
                    dim,
                ));
            }
        }
        ToolView::Excerpt { range, .. } => {
            if let Some(r) = range {
                l.push(Line::styled(format!("  {r}"), dim));
            }
        }
        ToolView::Command {
            command,
            description,
        } => {
            if let Some(d) = description {
                l.extend(styled_wrapped(d, width, "  # ", dim));
            }
            l.extend(styled_wrapped(
                command,
                width,
                "  $ ",
                Style::default().fg(Color::Yellow),
            ));
        }
        ToolView::Search { pattern, scope, .. } => {
            let at = scope
                .as_deref()
                .map(|s| format!(" in {s}"))
                .unwrap_or_default();
            l.extend(styled_wrapped(
                &format!("{pattern}{at}"),
                width,
                "  / ",
                gray,
            ));
        }
        ToolView::Checklist { items } => {
            for item in items {
                let (mark, style) = match item.status {
                    ItemStatus::Completed => ("☑ ", Style::default().fg(Color::Green)),
                    ItemStatus::InProgress => ("◐ ", Style::default().fg(Color::Yellow)),
                    ItemStatus::Pending => ("☐ ", Style::default()),
                    ItemStatus::Other => ("⊘ ", dim),
                };
                l.extend(styled_wrapped(
                    &item.text,
                    width,
                    &format!("  {mark}"),
                    style,
                ));
            }
        }
        ToolView::Task {
            prompt,
            subagent_type,
            ..
        } => {
            if let Some(t) = subagent_type {
                l.push(Line::styled(format!("  subagent: {t}"), dim));
            }
            l.extend(styled_wrapped(prompt, width, "  » ", gray));
        }
        ToolView::Json { pretty } => {
            if !pretty.is_empty() {
                l.extend(styled_wrapped(pretty, width, "  ", gray));
            }
        }
    }
    l
}

/// One diff line: its sign, and its changed words set off.
fn diff_line(line: &crate::converters::tool_view::DiffLine, width: usize) -> Line<'static> {
    let base = match line.kind {
        LineKind::Added => Style::default().fg(Color::Green),
        LineKind::Removed => Style::default().fg(Color::Red),
        LineKind::Context => Style::default().fg(Color::DarkGray),
    };
    let mut spans = vec![Span::styled(format!("  {} ", line.kind.sign()), base)];
    let mut room = width.saturating_sub(4);
    for (changed, text) in &line.segments {
        if room == 0 {
            break;
        }
        let shown = truncate(text, room);
        room = room.saturating_sub(unicode_width::UnicodeWidthStr::width(shown.as_str()));
        let style = if *changed {
            base.add_modifier(Modifier::REVERSED)
        } else {
            base
        };
        spans.push(Span::styled(shown, style));
    }
    Line::from(spans)
}

/// A result's head, how much was left out, and its tail; red when the call failed.
fn output_lines(out: &ToolOutput, width: usize) -> Vec<Line<'static>> {
    let style = if out.failed {
        Style::default().fg(Color::Red)
    } else {
        Style::default().fg(Color::Gray)
    };
    let mut l = styled_wrapped(&out.head, width, "  ⎿ ", style);
    if out.omitted_lines > 0 {
        l.push(Line::styled(
            format!(
                "  … {} lines left out ({} lines, {} bytes in all)",
                out.omitted_lines, out.total_lines, out.total_bytes
            ),
            Style::default().fg(Color::DarkGray),
        ));
    }
    if let Some(t) = &out.tail {
        l.extend(styled_wrapped(t, width, "  ⎿ ", style));
    }
    l
}
