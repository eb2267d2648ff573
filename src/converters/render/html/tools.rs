//! A tool call's [`ToolCallView`] as HTML: a diff with its changed words marked, a written file
//! with its language, a command and its output, a checklist, pretty JSON; long outputs folded
//! with their size shown.
//!
//! Must not let agent text through unescaped: every string here is escaped or, for output that
//! may carry terminal colour, turned into spans by [`ansi::to_html`].

use std::fmt::Write;

use super::escape_html;
use crate::converters::render::ansi;
use crate::converters::render::tool_view::{
    DiffRow, ItemStatus, LineKind, ToolCallView, ToolOutput, ToolView,
};

/// Outputs longer than this many lines are folded: a reader opens them on purpose.
const FOLD_LINES: usize = 12;

fn lang_attr(language: Option<&str>) -> String {
    language
        .map(|l| format!(" class=\"language-{}\"", escape_html(l)))
        .unwrap_or_default()
}

/// An output: folded with its size when long, its left-out middle named.
fn output(h: &mut String, o: &ToolOutput, label: &str) {
    let class = if o.failed { "out failed" } else { "out" };
    let body = |h: &mut String| {
        // Code in a known language is highlighted; other output keeps its terminal colours.
        let shown = |text: &str| match o.language {
            Some(l) => {
                super::highlight::highlight(&ansi::clean(text, ansi::Keep::Nothing), Some(l))
            }
            None => ansi::to_html(text),
        };
        let _ = write!(
            h,
            "<pre class=\"{class}\"><code{}>{}</code></pre>",
            lang_attr(o.language),
            shown(&o.head)
        );
        if o.omitted_lines > 0 {
            let _ = write!(
                h,
                "<div class=\"cut\">… {} lines left out …</div>",
                o.omitted_lines
            );
        }
        if let Some(t) = &o.tail {
            let _ = write!(h, "<pre class=\"{class}\">{}</pre>", shown(t));
        }
    };
    if o.total_lines > FOLD_LINES {
        let open = if o.failed { " open=\"open\"" } else { "" };
        let _ = write!(
            h,
            "<details class=\"fold\"{open}><summary>{label} · {}</summary>",
            escape_html(&o.size())
        );
        body(h);
        h.push_str("</details>");
    } else {
        body(h);
    }
}

/// Whether a call's view is worth showing open: a reader wants to see a change, a new file or
/// a plan without clicking, and a failure.
pub(super) fn open_by_default(v: &ToolCallView) -> bool {
    matches!(
        v.view,
        ToolView::Diff(_) | ToolView::File { .. } | ToolView::Checklist { .. }
    ) || v.output.as_ref().is_some_and(|o| o.failed)
}

/// The body of a tool call; diff lines are block spans (no newlines between them, which
/// `pre` would show as blank lines) (its summary line is the caller's).
pub(super) fn view_html(h: &mut String, v: &ToolCallView, max_lines: usize) {
    match &v.view {
        ToolView::Diff(d) => {
            let all = if d.replace_all {
                " · every occurrence"
            } else {
                ""
            };
            let _ = write!(
                h,
                "<div class=\"meta\"><span class=\"add\">+{}</span> <span class=\"rm\">−{}</span>{all}</div><pre class=\"diff\">",
                d.added, d.removed
            );
            for row in d.rows(max_lines) {
                let l = match row {
                    DiffRow::Header(header) => {
                        let _ = write!(h, "<span class=\"hh\">{}</span>", escape_html(header));
                        continue;
                    }
                    DiffRow::Cut => {
                        let _ = write!(
                            h,
                            "<span class=\"cut\">… diff cut at {max_lines} lines</span>"
                        );
                        continue;
                    }
                    DiffRow::Line(l) => l,
                };
                let class = match l.kind {
                    LineKind::Context => "ctx",
                    LineKind::Removed => "del",
                    LineKind::Added => "ins",
                };
                let _ = write!(h, "<span class=\"{class}\">{}", l.kind.sign());
                for (changed, seg) in &l.segments {
                    if *changed {
                        let _ = write!(h, "<mark>{}</mark>", escape_html(seg));
                    } else {
                        h.push_str(&escape_html(seg));
                    }
                }
                h.push_str("</span>");
            }
            h.push_str("</pre>");
        }
        ToolView::File {
            language, content, ..
        } => {
            let o = ToolOutput {
                language: *language,
                ..ToolOutput::cut(content, max_lines, false)
            };
            let lang = language.map(|l| format!(" · {l}")).unwrap_or_default();
            let _ = write!(
                h,
                "<div class=\"meta\">{}{}</div>",
                escape_html(&o.size()),
                escape_html(&lang)
            );
            output(h, &o, "File");
        }
        ToolView::Excerpt { range: Some(r), .. } => {
            let _ = write!(h, "<div class=\"meta\">{}</div>", escape_html(r));
        }
        ToolView::Command {
            command,
            description,
        } => {
            if let Some(d) = description {
                let _ = write!(h, "<div class=\"meta\">{}</div>", escape_html(d));
            }
            let _ = write!(
                h,
                "<pre class=\"cmd\"><span class=\"prompt\">$ </span>{}</pre>",
                escape_html(command)
            );
        }
        ToolView::Search {
            tool,
            pattern,
            scope,
        } => {
            let _ = write!(
                h,
                "<div class=\"meta\">{} <code>{}</code>",
                escape_html(tool),
                escape_html(pattern)
            );
            if let Some(s) = scope {
                let _ = write!(h, " in <code>{}</code>", escape_html(s));
            }
            h.push_str("</div>");
        }
        ToolView::Checklist { items } => {
            h.push_str("<ul class=\"todo\">");
            for i in items {
                let (class, mark) = match i.status {
                    ItemStatus::Completed => ("done", "☑"),
                    ItemStatus::InProgress => ("doing", "◐"),
                    ItemStatus::Pending => ("todo", "☐"),
                    ItemStatus::Other => ("gone", "☒"),
                };
                let _ = write!(
                    h,
                    "<li class=\"{class}\">{mark} {}</li>",
                    escape_html(&i.text)
                );
            }
            h.push_str("</ul>");
        }
        ToolView::Task { prompt, .. } if !prompt.is_empty() => {
            let _ = write!(
                h,
                "<div class=\"prompt\"><h2>Task prompt</h2>{}</div>",
                super::markdown::markdown_html(prompt, true)
            );
        }
        ToolView::Json { pretty } if !pretty.is_empty() => {
            let _ = write!(
                h,
                "<pre class=\"json\"><code class=\"language-json\">{}</code></pre>",
                escape_html(pretty)
            );
        }
        _ => {}
    }
    if let Some(o) = &v.output {
        output(h, o, if o.failed { "Error" } else { "Output" });
    }
}
