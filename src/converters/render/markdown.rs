//! The conversation as Markdown: a heading per prompt with its time, the agent's text as it
//! wrote it, each tool call drawn from its [`ToolCallView`] (an edit as a `diff` fence, a written
//! file in a fence named by its language, a command as a `console` fence, a checklist as a task
//! list), subagent runs as block quotes.
//!
//! A diff fence can colour whole lines but not words, so below it the lines whose words changed
//! are repeated in git's `--word-diff=plain` form: `let x = [-1-]{+2+};`.
//!
//! Terminal control sequences from the agent are dropped: Markdown is read as text. Emphasis
//! this renderer adds never spans a line, so a multi-paragraph notice cannot leave a stray `*`.
//!
//! Must not decide what a tool call shows: that is [`super::tool_view`]'s.

use std::borrow::Cow;
use std::fmt::Write;

use super::ansi::{self, Keep};
use super::tool_view::{DiffRow, ItemStatus, ToolCallView, ToolOutput, ToolView, slash_command};
use super::view_options::ViewOptions;
use super::{diff_counts, permission_line, status_mark, turn_line};
use crate::converters::session_header::SessionHeader;
use crate::types::{BlockKind, ConversationBlock};

/// Lines of a tool result kept in Markdown before it is cut, unless the caller says otherwise.
pub const DEFAULT_RESULT_LINES: usize = 40;

/// The conversation as Markdown, tool results cut at [`DEFAULT_RESULT_LINES`].
pub fn render_markdown(blocks: &[ConversationBlock]) -> String {
    render_markdown_cut(blocks, DEFAULT_RESULT_LINES)
}

/// [`render_markdown`] with tool results cut at `max_output_lines`, times in UTC.
pub fn render_markdown_cut(blocks: &[ConversationBlock], max_output_lines: usize) -> String {
    render_markdown_with(blocks, None, &ViewOptions::new(max_output_lines))
}

/// The conversation as Markdown, opened by its session's header when there is one.
pub fn render_markdown_with(
    blocks: &[ConversationBlock],
    header: Option<&SessionHeader>,
    opts: &ViewOptions,
) -> String {
    let mut md = String::new();
    if let Some(h) = header {
        let facts = h.facts(&opts.clock);
        if !facts.is_empty() {
            for (label, value) in facts {
                let _ = writeln!(md, "- **{label}:** {}", inline(&value));
            }
            md.push('\n');
        }
    }
    let mut r = Md {
        md,
        opts,
        after_prompt: false,
    };
    for b in blocks {
        r.block(b, 0);
    }
    match ansi::clean(&r.md, Keep::Nothing) {
        Cow::Borrowed(_) => r.md,
        Cow::Owned(cleaned) => cleaned,
    }
}

/// A fence longer than any run of backticks in `text`.
pub(crate) fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// `text` in a fenced block named `lang`.
fn fenced(lang: &str, text: &str) -> String {
    let f = fence(text);
    format!("{f}{lang}\n{text}\n{f}")
}

/// Agent text for a one-line Markdown context (a heading, a list item): one line, with the
/// characters that would start emphasis or code escaped.
fn inline(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => s.push(' '),
            '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\' | '#' => {
                s.push('\\');
                s.push(c);
            }
            c => s.push(c),
        }
    }
    s
}

/// `text` in italics, each non-empty line on its own, so no emphasis spans a paragraph break.
fn italic(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.trim();
            if l.is_empty() {
                String::new()
            } else {
                format!("*{}*", inline(l))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An output's start, how much was left out, and its end.
fn output_body(o: &ToolOutput) -> String {
    let mut body = o.head.clone();
    if o.omitted_lines > 0 {
        let _ = write!(body, "\n… ({} lines left out) …", o.omitted_lines);
    }
    if let Some(t) = &o.tail {
        body.push('\n');
        body.push_str(t);
    }
    body
}

/// An output in a fence, marked as an error when the call failed.
fn output_md(o: &ToolOutput) -> String {
    let body = output_body(o);
    let mut s = String::new();
    if o.failed {
        s.push_str("**Error:**\n\n");
    }
    s.push_str(&fenced(o.language.unwrap_or(""), &body));
    s
}

/// A tool call's view in Markdown (the line naming the call is the caller's).
pub(crate) fn view_md(v: &ToolCallView, max_lines: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    match &v.view {
        ToolView::Diff(d) => {
            let mut fence = String::new();
            for row in d.rows(max_lines) {
                let _ = match row {
                    DiffRow::Header(h) => writeln!(fence, "{h}"),
                    DiffRow::Line(l) => writeln!(fence, "{}{}", l.kind.sign(), l.text()),
                    DiffRow::Cut => writeln!(fence, "… (diff cut at {max_lines} lines)"),
                };
            }
            parts.push(diff_counts(d));
            parts.push(fenced("diff", fence.trim_end_matches('\n')));
            // A diff fence cannot mark words: the changed lines again, as a word diff.
            let words: Vec<String> = d
                .hunks
                .iter()
                .flat_map(|h| h.word_diff())
                .take(max_lines)
                .collect();
            if !words.is_empty() {
                parts.push("Changed words (`[-removed-]{+added+}`):".to_string());
                parts.push(fenced("", &words.join("\n")));
            }
        }
        ToolView::File {
            language, content, ..
        } => {
            let o = ToolOutput::cut(content, max_lines, false);
            parts.push(format!("{} written", o.size()));
            parts.push(fenced(language.unwrap_or(""), &output_body(&o)));
        }
        ToolView::Excerpt { range: Some(r), .. } => parts.push(inline(r)),
        ToolView::Command { command, .. } => {
            // The command and what it printed, as a terminal shows them.
            let mut c = String::new();
            for (i, l) in command.lines().enumerate() {
                c.push_str(if i == 0 { "$ " } else { "> " });
                c.push_str(l);
                c.push('\n');
            }
            if let Some(o) = v.output.as_ref().filter(|o| !o.failed) {
                c.push_str(&output_body(o));
                parts.push(fenced("console", c.trim_end_matches('\n')));
                return parts.join("\n\n");
            }
            parts.push(fenced("console", c.trim_end_matches('\n')));
        }
        ToolView::Search { scope: Some(s), .. } => {
            parts.push(format!("in `{}`", s.replace('`', "'")))
        }
        ToolView::Checklist { items } => {
            let list: Vec<String> = items
                .iter()
                .map(|i| match i.status {
                    ItemStatus::Completed => format!("- [x] {}", inline(&i.text)),
                    ItemStatus::InProgress => {
                        format!("- [ ] **{}** (in progress)", inline(&i.text))
                    }
                    ItemStatus::Pending => format!("- [ ] {}", inline(&i.text)),
                    ItemStatus::Other => format!("- [ ] ~~{}~~", inline(&i.text)),
                })
                .collect();
            parts.push(list.join("\n"));
        }
        ToolView::Task { prompt, .. } if !prompt.is_empty() => {
            parts.push(format!("**Task prompt**\n\n{prompt}"))
        }
        ToolView::Json { pretty } if !pretty.is_empty() => parts.push(fenced("json", pretty)),
        _ => {}
    }
    if let Some(o) = &v.output {
        parts.push(output_md(o));
    }
    parts.join("\n\n")
}

struct Md<'a> {
    md: String,
    opts: &'a ViewOptions,
    /// The last block shown was a prompt: the agent's answer gets a heading with its time.
    after_prompt: bool,
}

impl Md<'_> {
    fn push(&mut self, depth: usize, s: &str) {
        let indent = "> ".repeat(depth);
        for line in s.lines() {
            let _ = writeln!(self.md, "{indent}{line}");
        }
        let _ = writeln!(self.md, "{}", indent.trim_end());
    }

    fn stamp(&self, b: &ConversationBlock, full: bool) -> String {
        let t = b.timestamp.as_deref().and_then(|t| {
            if full {
                self.opts
                    .clock
                    .date_time(t)
                    .map(|s| format!("{s} {}", self.opts.clock.label()))
            } else {
                self.opts.clock.time(t)
            }
        });
        t.map(|t| format!(" · {t}")).unwrap_or_default()
    }

    fn block(&mut self, b: &ConversationBlock, depth: usize) {
        let max = self.opts.max_output_lines;
        let was_prompt = std::mem::replace(&mut self.after_prompt, false);
        match &b.kind {
            BlockKind::UserMessage { text, images } => {
                let heading = if depth > 0 {
                    format!("**Task prompt**{}", self.stamp(b, false))
                } else {
                    format!("## User{}", self.stamp(b, true))
                };
                let body = match slash_command(text) {
                    Some((name, args)) if args.is_empty() => format!("`{name}`"),
                    Some((name, args)) => format!("`{name} {}`", args.replace('`', "'")),
                    None => text.clone(),
                };
                let mut s = format!("{heading}\n\n{body}");
                for img in images {
                    let _ = write!(s, "\n\n\\[{} {}\\]", inline(&img.kind), inline(&img.source));
                }
                self.push(depth, &s);
                self.after_prompt = depth == 0;
            }
            BlockKind::AssistantText { text } => {
                if was_prompt {
                    let heading = format!("### Assistant{}", self.stamp(b, false));
                    self.push(depth, &heading);
                }
                self.push(depth, text);
            }
            BlockKind::Thinking { text, redacted } => {
                self.after_prompt = was_prompt;
                if *redacted {
                    self.push(depth, "*(thinking redacted)*");
                } else {
                    self.push(
                        depth,
                        &format!("<details><summary>Thinking</summary>\n\n{text}\n\n</details>"),
                    );
                }
            }
            BlockKind::ToolCall {
                name,
                input,
                status,
                result,
                ..
            } => {
                let v = ToolCallView::new(name, input, result.as_ref(), *status, max);
                let mut s = format!(
                    "**{}** `{}` {}",
                    inline(name),
                    v.gist.replace('`', "'"),
                    status_mark(*status)
                );
                let body = view_md(&v, max);
                if !body.is_empty() {
                    s.push_str("\n\n");
                    s.push_str(&body);
                }
                self.push(depth, &s);
            }
            BlockKind::SubagentRun {
                name,
                description,
                subagent_type,
                status,
                blocks,
                ..
            } => {
                let kind = subagent_type
                    .as_deref()
                    .map(|t| format!(" ({})", inline(t)))
                    .unwrap_or_default();
                self.push(
                    depth,
                    &format!(
                        "**{}** {}{kind} {}",
                        inline(name),
                        inline(description.as_deref().unwrap_or("")),
                        status_mark(*status)
                    ),
                );
                for inner in blocks {
                    self.block(inner, depth + 1);
                }
                // A line at this depth ends the quote; otherwise what follows would continue it.
                let _ = writeln!(self.md, "{}", "> ".repeat(depth).trim_end());
            }
            BlockKind::Permission {
                tool_name,
                decision,
                ..
            } => self.push(depth, &italic(&permission_line(tool_name, *decision))),
            BlockKind::SystemNotice { kind, text } if kind == "meta" => {
                self.after_prompt = was_prompt;
                // What a slash command expanded to, or other text Claude Code added to a prompt.
                self.push(
                    depth,
                    &format!("<details><summary>Expanded prompt</summary>\n\n{text}\n\n</details>"),
                );
            }
            BlockKind::SystemNotice { text, .. } => self.push(depth, &italic(text)),
            BlockKind::CompactionSummary { text } => self.push(
                depth,
                &format!("## Summary of earlier conversation\n\n{text}"),
            ),
            BlockKind::TurnSummary {
                status,
                duration_ms,
                cost_usd,
                error,
                ..
            } => {
                let mut s = italic(&turn_line(*status, *duration_ms, *cost_usd));
                if let Some(e) = error {
                    s.push_str(&format!("\n\n**Error:** {e}"));
                }
                self.push(depth, &s);
            }
            BlockKind::Error { message, .. } => self.push(depth, &format!("**Error:** {message}")),
            BlockKind::Raw { json, .. } => self.push(depth, &fenced("json", &json.to_string())),
        }
    }
}
