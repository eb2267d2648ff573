//! One self-contained HTML page of a conversation: collapsible tool calls, thinking and
//! subagent runs, no scripts and no external assets.
//!
//! Every piece of transcript text is escaped and shown as preformatted text, never interpreted
//! as markup, so a transcript cannot put active content into the page. The markup is also
//! well-formed XML (void elements closed), which the tests check with an XML parser.

use std::fmt::Write;

use super::ansi::{self, Keep};
use super::assembler::result_text;
use super::render::{permission_line, status_mark, summarize_input, turn_line};
use crate::types::{BlockKind, ConversationBlock, ToolStatus};

const STYLE: &str = "\
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.3rem}
.b{margin:.6rem 0}
.user{background:#eef4ff;border-left:4px solid #3b6fd8;padding:.4rem .8rem;border-radius:4px}
.user h2{font-size:.8rem;text-transform:uppercase;color:#3b6fd8;margin:0}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
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
@media (prefers-color-scheme:dark){body{background:#16171a;color:#ddd}.user{background:#1e2838}pre{background:#222428}details{border-color:#333}}
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
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{t}</title><style>\n{STYLE}</style></head>\n<body><main>\n<h1>{t}</h1>\n"
    )
}

/// The end of a page begun with [`html_page_start`].
pub const HTML_PAGE_END: &str = "</main></body></html>\n";

/// Blocks as page content, to go between [`html_page_start`] and [`HTML_PAGE_END`].
pub fn html_blocks(blocks: &[ConversationBlock], max_output_lines: usize) -> String {
    let mut h = String::new();
    for b in blocks {
        block(&mut h, b, max_output_lines);
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

fn cut(text: &str, max: usize) -> String {
    let total = text.lines().count();
    if total <= max {
        return text.to_string();
    }
    let mut s: String = text.lines().take(max).collect::<Vec<_>>().join("\n");
    let _ = write!(s, "\n… ({} more lines)", total - max);
    s
}

fn block(h: &mut String, b: &ConversationBlock, max: usize) {
    let id = escape_html(&b.id);
    let time = b
        .timestamp
        .as_deref()
        .map(|t| format!(" title=\"{}\"", escape_html(t)))
        .unwrap_or_default();
    match &b.kind {
        BlockKind::UserMessage { text, images } => {
            let _ = write!(
                h,
                "<section class=\"b user\" id=\"{id}\"{time}><h2>User</h2><div class=\"text\">{}</div>",
                escape_html(text)
            );
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
                "<div class=\"b text\" id=\"{id}\"{time}>{}</div>",
                escape_html(text)
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
            let _ = write!(
                h,
                "<details class=\"b tool {}\" id=\"{id}\"{time}><summary><b>{}</b> <code>{}</code> <span class=\"st\">{}</span></summary><pre>{}</pre>",
                status_class(*status),
                escape_html(name),
                escape_html(&summarize_input(name, input)),
                escape_html(status_mark(*status)),
                escape_html(&serde_json::to_string_pretty(input).unwrap_or_default())
            );
            if let Some(r) = result {
                let _ = write!(
                    h,
                    "<pre>{}</pre>",
                    ansi::to_html(&cut(&result_text(r), max))
                );
            }
            h.push_str("</details>\n");
        }
        BlockKind::SubagentRun {
            name,
            description,
            subagent_type,
            status,
            blocks,
            result,
            ..
        } => {
            let _ = writeln!(
                h,
                "<details class=\"b sub {}\" id=\"{id}\" open=\"open\"><summary><b>{}</b> {} <code>{}</code> <span class=\"st\">{}</span></summary><div class=\"inner\">",
                status_class(*status),
                escape_html(name),
                escape_html(description.as_deref().unwrap_or("")),
                escape_html(subagent_type.as_deref().unwrap_or("")),
                escape_html(status_mark(*status))
            );
            for inner in blocks {
                block(h, inner, max);
            }
            if let Some(r) = result {
                let _ = write!(
                    h,
                    "<details class=\"b\"><summary>Result</summary><pre>{}</pre></details>",
                    ansi::to_html(&cut(&result_text(r), max))
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
        BlockKind::SystemNotice { text, .. } => {
            let _ = writeln!(
                h,
                "<div class=\"b notice\" id=\"{id}\"{time}>{}</div>",
                escape_html(text)
            );
        }
        BlockKind::CompactionSummary { text } => {
            let _ = writeln!(
                h,
                "<details class=\"b notice\" id=\"{id}\"><summary>Summary of the earlier conversation</summary><div class=\"text\">{}</div></details>",
                escape_html(text)
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
                "<div class=\"b err\" id=\"{id}\"{time}>Error: {}</div>",
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
