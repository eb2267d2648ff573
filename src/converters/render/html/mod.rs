//! One self-contained HTML page of a conversation: a header per session (agent, model, start,
//! duration, tokens, cost), the text as rendered Markdown, each tool call drawn from its
//! [`ToolCallView`] (diffs, files, commands, checklists), collapsible thinking and subagent
//! runs, a time on every message. No scripts and no external assets: a Content-Security-Policy
//! forbids both, so even a sanitizer miss could not run or load anything.
//!
//! Transcript text is untrusted. Text shown verbatim is escaped; Markdown goes through
//! [`markdown`] (rendered, then sanitized). The markup is also well-formed XML (void elements
//! closed), which the tests check with an XML parser.
//!
//! Must not decide what a tool call shows: that is [`crate::converters::render::tool_view`]'s.

mod highlight;
mod index;
mod markdown;
mod tools;

use std::fmt::Write;

pub use index::{
    INDEX_FILE, IndexRow, SEARCH_SCRIPT, SEARCH_SCRIPT_FILE, html_folder_page, html_index,
    html_sessions_nav,
};

use crate::converters::render::ansi::{self, Keep};
use crate::converters::render::tool_view::{
    ToolCallView, ToolOutput, ToolView, reader_result, slash_command,
};
use crate::converters::render::view_options::ViewOptions;
use crate::converters::render::{permission_line, status_mark, turn_line};
use crate::converters::session_header::SessionHeader;
use crate::types::{BlockKind, ConversationBlock, ToolStatus};

const STYLE: &str = "\
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.3rem}
main:has(>.toc){display:flex;flex-direction:column}main>.toc{order:-1}main:has(>.toc)>h1{order:-2}.toc h2{font-size:1rem;margin:.4rem 0}.toc ol{margin:0 0 1rem}section.s{border-top:2px solid #ddd;margin-top:1.5rem}
.b{margin:.6rem 0}
.user{background:#eef4ff;border-left:4px solid #3b6fd8;padding:.4rem .8rem;border-radius:4px}
.user h2{font-size:.8rem;text-transform:uppercase;color:#3b6fd8;margin:0}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.md{overflow-wrap:anywhere}.md>:first-child{margin-top:0}.md>:last-child{margin-bottom:0}
.md table{border-collapse:collapse}.md th,.md td{border:1px solid #ccc;padding:.2rem .5rem}
.md code{background:#f0f0f3;padding:0 .2rem;border-radius:3px;font-size:13px}.md pre code{background:none;padding:0}
.md blockquote{border-left:3px solid #ccc;margin:.3rem 0;padding-left:.8rem;color:#555}
time{float:right;color:#888;font-size:.75rem}
.session{border:1px solid #ddd;border-radius:6px;padding:.4rem .8rem;margin:1rem 0}
.session dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:0;font-size:.9rem}.session dt{color:#666}.session dd{margin:0}
.meta{color:#666;font-size:.85rem;margin:.2rem 0}.meta .add{color:#1a7f37}.meta .rm{color:#c62828}
.diff .hh,.diff .cut{display:block}.diff .hh{color:#6f42c1}.diff .del{background:#ffebe9;display:block}.diff .ins{background:#e6ffec;display:block}.diff .ctx{display:block;color:#555}
.diff .del mark{background:#ffb3ad}.diff .ins mark{background:#9be9a8}
.cmd .prompt{color:#888;user-select:none}
pre .k{color:#a626a4}pre .s{color:#50a14f}pre .c{color:#8a8f98;font-style:italic}pre .n{color:#b76b01}
.cut{color:#888;font-style:italic;font-size:.85rem}
.out.failed{color:#c62828}
.todo{list-style:none;padding-left:.4rem;margin:.3rem 0}.todo .done{color:#1a7f37}.todo .doing{font-weight:600}.todo .gone{text-decoration:line-through;color:#888}
.prompt h2{font-size:.8rem;text-transform:uppercase;color:#6f42c1;margin:0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f8;padding:.5rem;border-radius:4px;font-size:13px;margin:.3rem 0}
details{border:1px solid #ddd;border-radius:4px;padding:.2rem .6rem}
summary{cursor:pointer}
summary code{font-size:13px;color:#555}
.ok .st{color:#1a7f37}.error .st,.err{color:#c62828}.pending .st,.interrupted .st,.denied .st{color:#9a6700}
.thinking{color:#666;font-style:italic}
.notice{color:#666;font-size:.9rem;font-style:italic}
.sub>.inner{border-left:3px solid #ccc;padding-left:.8rem;margin-left:.2rem}
.err{font-weight:600}
.raw summary{color:#888}
@media (prefers-color-scheme:dark){body{background:#16171a;color:#ddd}.user{background:#1e2838}pre,.md code{background:#222428}details,.session{border-color:#333}.diff .del{background:#3d1f22}.diff .ins{background:#1b3324}.diff .del mark{background:#7a2f33}.diff .ins mark{background:#2b6a3d}.md blockquote{color:#aaa}pre .k{color:#c678dd}pre .s{color:#98c379}pre .n{color:#d19a66}}
@media (max-width:40rem){body{margin:.5rem auto;font-size:14px}time{float:none;display:block}}
";

/// Escapes text for HTML element content and attribute values; terminal control sequences in
/// it are dropped (agent text may carry them).
pub fn escape_html(text: &str) -> String {
    let text = ansi::clean(text, Keep::Nothing);
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML; show them as the replacement mark.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Refuses every script, frame, font, image and connection; allows the page's own style.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// The conversation as one HTML page titled `title`; tool results longer than
/// `max_output_lines` are cut.
pub fn render_html(blocks: &[ConversationBlock], title: &str, max_output_lines: usize) -> String {
    let mut h = html_page_start(title);
    h.push_str(&html_blocks(blocks, max_output_lines));
    h.push_str(HTML_PAGE_END);
    h
}

/// The start of a page: head, style and heading. Blocks follow, then [`HTML_PAGE_END`].
pub fn html_page_start(title: &str) -> String {
    let t = escape_html(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{t}</title><style>\n{STYLE}</style></head>\n<body><main>\n<h1>{t}</h1>\n"
    )
}

/// The end of a page begun with [`html_page_start`].
pub const HTML_PAGE_END: &str = "</main></body></html>\n";

/// Blocks as page content, to go between [`html_page_start`] and [`HTML_PAGE_END`].
pub fn html_blocks(blocks: &[ConversationBlock], max_output_lines: usize) -> String {
    html_session(blocks, None, &ViewOptions::new(max_output_lines))
}

/// One session as page content: its header (when known), then its blocks.
pub fn html_session(
    blocks: &[ConversationBlock],
    header: Option<&SessionHeader>,
    opts: &ViewOptions,
) -> String {
    let mut h = String::new();
    if let Some(head) = header {
        let facts = head.facts(&opts.clock);
        if !facts.is_empty() {
            h.push_str("<section class=\"session\"><dl>");
            for (label, value) in facts {
                let _ = write!(h, "<dt>{label}</dt><dd>{}</dd>", escape_html(&value));
            }
            h.push_str("</dl></section>\n");
        }
    }
    let r = Html { opts };
    for b in blocks {
        r.block(&mut h, b, 0);
    }
    h
}

fn status_class(s: ToolStatus) -> &'static str {
    match s {
        ToolStatus::Pending => "pending",
        ToolStatus::Ok => "ok",
        ToolStatus::Error => "error",
        ToolStatus::Denied => "denied",
        ToolStatus::Interrupted => "interrupted",
    }
}

/// Text as rendered, sanitized Markdown in a `div.md`.
fn md(text: &str, hard_breaks: bool) -> String {
    let inner =
        markdown::plain_html(text).unwrap_or_else(|| markdown::markdown_html(text, hard_breaks));
    format!("<div class=\"md\">{inner}</div>")
}

struct Html<'a> {
    opts: &'a ViewOptions,
}

impl Html<'_> {
    /// `<time>` for a block: the time of day in the chosen zone, the full time on hover.
    fn time(&self, b: &ConversationBlock, full: bool) -> String {
        let Some(t) = b.timestamp.as_deref() else {
            return String::new();
        };
        let c = &self.opts.clock;
        let shown = if full { c.date_time(t) } else { c.time(t) };
        match (shown, c.date_time(t)) {
            (Some(s), Some(all)) => format!(
                "<time datetime=\"{}\" title=\"{} {}\">{}</time>",
                escape_html(t),
                escape_html(&all),
                escape_html(c.label()),
                escape_html(&s)
            ),
            _ => String::new(),
        }
    }

    fn block(&self, h: &mut String, b: &ConversationBlock, depth: usize) {
        let max = self.opts.max_output_lines;
        let id = escape_html(&b.id);
        match &b.kind {
            BlockKind::UserMessage { text, images } => {
                let label = if depth > 0 { "Task prompt" } else { "User" };
                let _ = write!(
                    h,
                    "<section class=\"b user\" id=\"{id}\">{}<h2>{label}</h2>",
                    self.time(b, depth == 0)
                );
                match slash_command(text) {
                    Some((name, args)) => {
                        let _ = write!(
                            h,
                            "<div class=\"md\"><p><code>{}</code></p></div>",
                            escape_html(format!("{name} {args}").trim_end())
                        );
                    }
                    None => h.push_str(&md(text, true)),
                }
                for img in images {
                    let _ = write!(
                        h,
                        "<div class=\"notice\">[{} {}]</div>",
                        escape_html(&img.kind),
                        escape_html(&img.source)
                    );
                }
                h.push_str("</section>\n");
            }
            BlockKind::AssistantText { text } => {
                let _ = writeln!(
                    h,
                    "<div class=\"b answer\" id=\"{id}\">{}{}</div>",
                    self.time(b, false),
                    md(text, false)
                );
            }
            BlockKind::Thinking { text, redacted } => {
                let body = if *redacted {
                    "(redacted)".to_string()
                } else {
                    escape_html(text)
                };
                let _ = writeln!(
                    h,
                    "<details class=\"b thinking\" id=\"{id}\"><summary>Thinking</summary><div class=\"text\">{body}</div></details>"
                );
            }
            BlockKind::ToolCall {
                name,
                input,
                status,
                result,
                ..
            } => {
                let v = ToolCallView::new(name, input, result.as_ref(), *status, max);
                let open = if tools::open_by_default(&v) {
                    " open=\"open\""
                } else {
                    ""
                };
                let _ = write!(
                    h,
                    "<details class=\"b tool {}\" id=\"{id}\"{open}><summary><b>{}</b> <code>{}</code> <span class=\"st\">{}</span>{}</summary>",
                    status_class(*status),
                    escape_html(name),
                    escape_html(&v.gist),
                    escape_html(status_mark(*status)),
                    self.time(b, false)
                );
                tools::view_html(h, &v, max);
                h.push_str("</details>\n");
            }
            BlockKind::SubagentRun {
                name,
                description,
                subagent_type,
                input,
                status,
                blocks,
                result,
                ..
            } => {
                let _ = writeln!(
                    h,
                    "<details class=\"b sub {}\" id=\"{id}\" open=\"open\"><summary><b>{}</b> {} <code>{}</code> <span class=\"st\">{}</span>{}</summary><div class=\"inner\">",
                    status_class(*status),
                    escape_html(name),
                    escape_html(description.as_deref().unwrap_or("")),
                    escape_html(subagent_type.as_deref().unwrap_or("")),
                    escape_html(status_mark(*status)),
                    self.time(b, false)
                );
                // The prompt is the subagent's first message; without its thread, the call's.
                let has_prompt = blocks
                    .iter()
                    .any(|b| matches!(b.kind, BlockKind::UserMessage { .. }));
                if !has_prompt && let ToolView::Task { .. } = ToolView::of(name, input) {
                    let v = ToolCallView::new(name, input, None, *status, max);
                    tools::view_html(h, &v, max);
                }
                for inner in blocks {
                    self.block(h, inner, depth + 1);
                }
                if let Some(r) = result {
                    let o =
                        ToolOutput::cut(&reader_result(name, r), max, *status == ToolStatus::Error);
                    let _ = write!(
                        h,
                        "<details class=\"b\"><summary>Result · {}</summary>{}</details>",
                        escape_html(&o.size()),
                        md(&o.head, true)
                    );
                }
                h.push_str("</div></details>\n");
            }
            BlockKind::Permission {
                tool_name,
                decision,
                ..
            } => {
                let _ = writeln!(
                    h,
                    "<div class=\"b notice\" id=\"{id}\">{}</div>",
                    escape_html(&permission_line(tool_name, *decision))
                );
            }
            BlockKind::SystemNotice { kind, text } if kind == "meta" => {
                let _ = writeln!(
                    h,
                    "<details class=\"b meta\" id=\"{id}\"><summary>Expanded prompt</summary>{}</details>",
                    md(text, false)
                );
            }
            BlockKind::SystemNotice { text, .. } => {
                let _ = writeln!(
                    h,
                    "<div class=\"b notice\" id=\"{id}\">{}{}</div>",
                    self.time(b, false),
                    escape_html(text)
                );
            }
            BlockKind::CompactionSummary { text } => {
                let _ = writeln!(
                    h,
                    "<details class=\"b notice\" id=\"{id}\"><summary>Summary of the earlier conversation</summary>{}</details>",
                    md(text, false)
                );
            }
            BlockKind::TurnSummary {
                status,
                duration_ms,
                cost_usd,
                error,
                ..
            } => {
                let s = turn_line(*status, *duration_ms, *cost_usd);
                let _ = write!(h, "<div class=\"b notice\" id=\"{id}\">{}", escape_html(&s));
                if let Some(e) = error {
                    let _ = write!(h, " <span class=\"err\">{}</span>", escape_html(e));
                }
                h.push_str("</div>\n");
            }
            BlockKind::Error { message, .. } => {
                let _ = writeln!(
                    h,
                    "<div class=\"b err\" id=\"{id}\">{}Error: {}</div>",
                    self.time(b, false),
                    escape_html(message)
                );
            }
            BlockKind::Raw { source, json } => {
                let _ = writeln!(
                    h,
                    "<details class=\"b raw\" id=\"{id}\"><summary>{}</summary><pre>{}</pre></details>",
                    escape_html(source.as_deref().unwrap_or("unknown")),
                    escape_html(&serde_json::to_string_pretty(json).unwrap_or_default())
                );
            }
        }
    }
}
