//! The renderers, the last stage of the converters: conversation blocks as text for a terminal
//! (`text`), Markdown (`markdown`), one HTML page or a folder's index (`html`), and JSON; what
//! each tool call shows, as data every renderer and the TUI share (`tool_view`); what of a
//! terminal control sequence in agent text may be shown (`ansi`); the view settings
//! (`view_options`) and what an index of sessions shows of each (`session_index`).
//!
//! Here: what every renderer shares: JSON for programs, the one-line summary of a tool call's
//! input, and the one-line forms of permissions, turn ends, tool statuses, a diff's size and a
//! count.
//!
//! Must not read agent formats or change blocks: renderers take the assembler's blocks as they
//! are.

pub mod ansi;
pub(crate) mod html;
pub(crate) mod markdown;
pub mod session_index;
pub(crate) mod text;
pub mod tool_view;
pub(crate) mod view_options;

use serde_json::Value;

use tool_view::Diff;

use crate::types::{ConversationBlock, PermissionDecision, ToolStatus, TurnStatus};

/// Longest summary of a tool input, in characters.
const SUMMARY_CHARS: usize = 120;

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
    let _ = tool;
    gist_line(&gist)
}

/// The first line of `text`, cut to [`SUMMARY_CHARS`].
pub(crate) fn gist_line(text: &str) -> String {
    let one_line = text.lines().next().unwrap_or("");
    if one_line.chars().count() > SUMMARY_CHARS {
        let mut s: String = one_line.chars().take(SUMMARY_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        one_line.to_string()
    }
}

/// A count with its thousands set apart: `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A diff's size in one line: `+3 −1`, and `, every occurrence` when each was replaced.
pub(crate) fn diff_counts(d: &Diff) -> String {
    let all = if d.replace_all {
        ", every occurrence"
    } else {
        ""
    };
    format!("+{} −{}{all}", d.added, d.removed)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
