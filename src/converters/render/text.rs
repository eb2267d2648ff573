//! A conversation as terminal text: prompts marked, tool calls one line each with their
//! status and then their view (a diff, a command and its output, a checklist; see
//! [`super::tool_view`]), subagent runs nested behind a bar, errors in red. Lines wider than the
//! terminal are wrapped here, each piece behind the same gutter, so nesting stays visible.
//!
//! Colors are ANSI codes, used only when the caller says so (a terminal, NO_COLOR unset); the
//! same text without them is what a pipe gets. No other control sequence reaches the output.

use std::borrow::Cow;
use std::fmt::Write;

use unicode_width::UnicodeWidthChar;

use super::ansi::{self, Keep};
use super::tool_view::{
    DiffRow, ItemStatus, LineKind, ToolCallView, ToolOutput, ToolView, slash_command,
};
use super::view_options::ViewOptions;
use super::{diff_counts, permission_line, status_mark, turn_line};
use crate::types::{BlockKind, ConversationBlock, ToolStatus};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    pub color: bool,
    /// Tool results longer than this are cut.
    pub max_output_lines: usize,
}

/// Narrowest text column kept when wrapping behind a deep gutter: below it lines are left long.
const MIN_WRAP_COLUMNS: usize = 20;

struct Out<'a> {
    out: String,
    color: bool,
    keep: Keep,
    opts: &'a ViewOptions,
}

impl Out<'_> {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color && !code.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// One logical line: `gutter` (already painted), then `text` painted with `code`, wrapped
    /// to the width with the gutter and `indent` repeated on every piece.
    fn line(&mut self, gutter: &str, indent: &str, code: &str, text: &str) {
        let text = ansi::clean(text, self.keep);
        let used = visible_width(gutter) + indent.chars().count();
        let room = self
            .opts
            .width
            .map(|w| w.saturating_sub(used))
            .filter(|&r| r >= MIN_WRAP_COLUMNS);
        let pieces = match room {
            Some(r) => wrap(&text, r),
            None => vec![text.as_ref()],
        };
        for piece in pieces {
            let painted = self.paint(code, piece);
            let _ = writeln!(self.out, "{gutter}{indent}{painted}");
        }
    }

    fn lines(&mut self, gutter: &str, indent: &str, code: &str, text: &str) {
        for l in text.lines() {
            self.line(gutter, indent, code, l);
        }
    }
}

/// Display width of `s`, not counting SGR sequences.
fn visible_width(s: &str) -> usize {
    let mut w = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            w += c.width().unwrap_or(0);
        }
    }
    w
}

/// `text` cut into pieces at most `width` columns wide (SGR sequences take no room), after a
/// space where there is one, else mid-word.
fn wrap(text: &str, width: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut w) = (0, 0);
    // After the last space of the current piece: where it breaks, and the width up to there.
    let mut space: Option<(usize, usize)> = None;
    let mut it = text.char_indices();
    while let Some((i, c)) = it.next() {
        if c == '\x1b' {
            for (_, c) in it.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
            continue;
        }
        let cw = if c == '\t' { 4 } else { c.width().unwrap_or(0) };
        if w + cw > width && i > start {
            match space.take() {
                Some((at, used)) if at > start => {
                    pieces.push(&text[start..at]);
                    start = at;
                    w -= used;
                }
                _ => {
                    pieces.push(&text[start..i]);
                    start = i;
                    w = 0;
                }
            }
        }
        w += cw;
        if c == ' ' {
            space = Some((i + 1, w));
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// The conversation as terminal text. Control sequences from the agent are dropped; its SGR
/// colour is kept only when colour is on (aisys's own painting is SGR too).
pub fn render_text(blocks: &[ConversationBlock], style: TextStyle) -> String {
    render_text_with(blocks, style, &ViewOptions::new(style.max_output_lines))
}

/// [`render_text`] with times, width and output length from `opts`.
pub fn render_text_with(
    blocks: &[ConversationBlock],
    style: TextStyle,
    opts: &ViewOptions,
) -> String {
    let keep = if style.color {
        Keep::Colour
    } else {
        Keep::Nothing
    };
    let mut o = Out {
        out: String::new(),
        color: style.color,
        keep,
        opts,
    };
    for b in blocks {
        block(&mut o, b, "");
    }
    match ansi::clean(&o.out, keep) {
        Cow::Borrowed(_) => o.out,
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

fn output(o: &mut Out, g: &str, out: &ToolOutput) {
    let code = if out.failed { "31" } else { "2" };
    o.lines(g, "  ", code, &out.head);
    if out.omitted_lines > 0 {
        let note = format!("… ({} lines left out) …", out.omitted_lines);
        o.line(g, "  ", "2;3", &note);
    }
    if let Some(t) = &out.tail {
        o.lines(g, "  ", code, t);
    }
}

fn view(o: &mut Out, g: &str, v: &ToolCallView) {
    let max = o.opts.max_output_lines;
    match &v.view {
        ToolView::Diff(d) => {
            o.line(g, "  ", "2", &diff_counts(d));
            for row in d.rows(max) {
                let l = match row {
                    DiffRow::Header(h) => {
                        o.line(g, "  ", "36", h);
                        continue;
                    }
                    DiffRow::Cut => {
                        o.line(g, "  ", "2;3", &format!("… (diff cut at {max} lines)"));
                        continue;
                    }
                    DiffRow::Line(l) => l,
                };
                let code = match l.kind {
                    LineKind::Context => "2",
                    LineKind::Removed => "31",
                    LineKind::Added => "32",
                };
                // Changed words in reverse video; the line's own colour around them.
                let mut s = String::new();
                s.push(l.kind.sign());
                for (changed, seg) in &l.segments {
                    let seg = ansi::clean(seg, Keep::Nothing);
                    if *changed && o.color {
                        let _ = write!(s, "\x1b[7m{seg}\x1b[27m");
                    } else {
                        s.push_str(&seg);
                    }
                }
                o.line(g, "  ", code, &s);
            }
        }
        ToolView::File {
            language, content, ..
        } => {
            let cut = ToolOutput::cut(content, max, false);
            let lang = language.map(|l| format!(" ({l})")).unwrap_or_default();
            o.line(g, "  ", "2", &format!("wrote {}{lang}", cut.size()));
            output(o, g, &cut);
        }
        ToolView::Excerpt { range: Some(r), .. } => o.line(g, "  ", "2", r),
        ToolView::Command { command, .. } if command.contains('\n') => {
            for (i, l) in command.lines().enumerate() {
                let mark = if i == 0 { "$ " } else { "> " };
                o.line(g, "  ", "36", &format!("{mark}{l}"));
            }
        }
        ToolView::Search { scope: Some(s), .. } => o.line(g, "  ", "2", &format!("in {s}")),
        ToolView::Checklist { items } => {
            for i in items {
                let code = match i.status {
                    ItemStatus::Completed => "32",
                    ItemStatus::InProgress => "1;33",
                    ItemStatus::Pending => "",
                    ItemStatus::Other => "2;9",
                };
                o.line(g, "  ", code, &format!("{} {}", i.status.mark(), i.text));
            }
        }
        ToolView::Task { prompt, .. } if !prompt.is_empty() => {
            let cut = ToolOutput::cut(prompt, max, false);
            output(o, g, &cut);
        }
        ToolView::Json { pretty } if !pretty.is_empty() && v.output.is_none() => {
            let cut = ToolOutput::cut(pretty, max, false);
            output(o, g, &cut);
        }
        _ => {}
    }
    if let Some(out) = &v.output {
        output(o, g, out);
    }
}

fn block(o: &mut Out, b: &ConversationBlock, g: &str) {
    match &b.kind {
        BlockKind::UserMessage { text, images } => {
            let _ = writeln!(o.out, "{g}");
            let time = b
                .timestamp
                .as_deref()
                .and_then(|t| o.opts.clock.time(t))
                .map(|t| format!("  {t}"));
            let shown = match slash_command(text) {
                Some((name, args)) if args.is_empty() => name,
                Some((name, args)) => format!("{name} {args}"),
                None => text.clone(),
            };
            let mark = if g.is_empty() { "› " } else { "▸ task: " };
            for (i, l) in shown.lines().enumerate() {
                let m = if i == 0 { mark } else { "  " };
                o.line(g, "", "1;36", &format!("{m}{l}"));
            }
            if let Some(t) = time {
                o.line(g, "", "2", &t);
            }
            for img in images {
                o.line(g, "  ", "", &format!("[{} {}]", img.kind, img.source));
            }
            let _ = writeln!(o.out, "{g}");
        }
        BlockKind::AssistantText { text } => o.lines(g, "", "", text),
        BlockKind::Thinking { text, redacted } => {
            if *redacted {
                o.line(g, "", "2", "(thinking redacted)");
            } else {
                o.lines(g, "", "2;3", text);
            }
        }
        BlockKind::ToolCall {
            name,
            input,
            status,
            result,
            ..
        } => {
            let v = ToolCallView::new(
                name,
                input,
                result.as_ref(),
                *status,
                o.opts.max_output_lines,
            );
            let head = format!(
                "{} {} {} {}",
                o.paint(status_color(*status), "●"),
                o.paint("1", name),
                v.gist,
                o.paint(status_color(*status), status_mark(*status))
            );
            o.line(g, "", "", &head);
            view(o, g, &v);
        }
        BlockKind::SubagentRun {
            name,
            description,
            status,
            blocks,
            ..
        } => {
            let head = format!(
                "{} {} {} {}",
                o.paint(status_color(*status), "◆"),
                o.paint("1", name),
                description.as_deref().unwrap_or(""),
                o.paint(status_color(*status), status_mark(*status))
            );
            o.line(g, "", "", &head);
            let inner = format!("{g}{} ", o.paint("2", "│"));
            for b in blocks {
                block(o, b, &inner);
            }
        }
        BlockKind::Permission {
            tool_name,
            decision,
            ..
        } => o.line(g, "", "33", &permission_line(tool_name, *decision)),
        BlockKind::SystemNotice { kind, text } if kind == "meta" => {
            let n = text.lines().count();
            let first = text.lines().next().unwrap_or("");
            o.line(
                g,
                "  ",
                "2",
                &format!("expanded prompt ({n} lines): {first}"),
            );
        }
        BlockKind::SystemNotice { text, .. } => o.lines(g, "", "2", text),
        BlockKind::CompactionSummary { text } => {
            o.line(g, "", "2", "── summary of the earlier conversation ──");
            o.lines(g, "", "2", text);
        }
        BlockKind::TurnSummary {
            status,
            duration_ms,
            cost_usd,
            error,
            ..
        } => {
            o.line(g, "", "2", &turn_line(*status, *duration_ms, *cost_usd));
            if let Some(e) = error {
                o.line(g, "", "31", &format!("error: {e}"));
            }
        }
        BlockKind::Error { message, .. } => o.line(g, "", "31", &format!("error: {message}")),
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
            let s = format!("[{}] {j}", source.as_deref().unwrap_or("unknown"));
            o.line(g, "", "2", &s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_ignores_colour_and_counts_wide_characters() {
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(wrap("ab cd ef", 6), ["ab cd ", "ef"]);
        assert_eq!(wrap("abc defghij", 6), ["abc ", "defghi", "j"]);
        assert_eq!(
            wrap("\x1b[31mabc\x1b[0mdef", 4),
            ["\x1b[31mabc\x1b[0md", "ef"]
        );
        assert_eq!(wrap("日本語", 4), ["日本", "語"]);
        assert_eq!(visible_width("\x1b[2m│\x1b[0m "), 2);
    }
}
