//! How a tool call is shown, decided once for every view: an Edit is a diff, a Write the file it
//! wrote, a Bash call its command and output, a TodoWrite a checklist, and so on. The HTML,
//! Markdown and terminal renderers each draw the same [`ToolCallView`] in their own way, so the
//! three show the same thing.
//!
//! Must not format or do I/O: it turns a call's name, input and result into plain data (no
//! markup, no colour, no escaping). Text in it is the agent's, untrusted: renderers escape it.

use std::borrow::Cow;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{gist_line, summarize_input};
use crate::converters::assembler::result_text;
use crate::types::{ToolResultContent, ToolStatus};

/// Lines of unchanged text kept around each change in a diff.
const DIFF_CONTEXT_LINES: usize = 3;
/// Longest time one edit's diff may take: past it, the diff is coarser (whole blocks replaced)
/// rather than slow, so a huge edit cannot stall a conversion.
const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_millis(100);
/// Of an output cut to `max_lines`, the share of lines kept from its end (1 in this many): the
/// end of a build or test run is where its verdict is.
const TAIL_SHARE: usize = 4;

/// A tool call, ready to draw: a one-line gist, its view, and the output worth showing.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallView {
    pub name: String,
    /// One line: the command, path or pattern.
    pub gist: String,
    pub view: ToolView,
    /// The result, when it says more than "done" (always when the call failed).
    pub output: Option<ToolOutput>,
}

/// What a tool call's input means.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolView {
    /// Edit and MultiEdit: the change as a unified diff.
    Diff(Diff),
    /// Write: the whole file written.
    File {
        path: String,
        language: Option<&'static str>,
        content: String,
    },
    /// Read: which file and lines; the excerpt is the output.
    Excerpt {
        path: String,
        language: Option<&'static str>,
        /// `lines 10-49`, when a range was asked for.
        range: Option<String>,
    },
    /// Bash and other shells: the command; what it printed is the output.
    Command {
        command: String,
        description: Option<String>,
    },
    /// Grep and Glob: the pattern and where; the matches are the output.
    Search {
        tool: String,
        pattern: String,
        scope: Option<String>,
    },
    /// TodoWrite, TaskCreate, TaskUpdate: items with their status.
    Checklist { items: Vec<ChecklistItem> },
    /// Task (a subagent): its prompt; the subagent's thread is shown nested by the renderer.
    Task {
        description: Option<String>,
        subagent_type: Option<String>,
        prompt: String,
    },
    /// Any other tool: its input as pretty JSON (nothing for an empty input).
    Json { pretty: String },
}

/// The edits of one file as a unified diff.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub path: String,
    pub hunks: Vec<DiffHunk>,
    pub added: usize,
    pub removed: usize,
    /// Every occurrence was replaced (`replace_all`).
    pub replace_all: bool,
}

/// One row of a diff as drawn, in order: a hunk's header, one of its lines, or the mark that
/// the rest was cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DiffRow<'a> {
    Header(&'a str),
    Line(&'a DiffLine),
    Cut,
}

impl Diff {
    /// The rows to draw: each hunk's header and lines, at most `max_lines` lines in all, then
    /// [`DiffRow::Cut`] when lines were left.
    pub fn rows(&self, max_lines: usize) -> Vec<DiffRow<'_>> {
        let mut rows = Vec::new();
        let mut shown = 0;
        for h in &self.hunks {
            rows.push(DiffRow::Header(&h.header));
            for l in &h.lines {
                if shown == max_lines {
                    rows.push(DiffRow::Cut);
                    return rows;
                }
                shown += 1;
                rows.push(DiffRow::Line(l));
            }
        }
        rows
    }
}

/// One hunk of a diff: `@@ -old_start,old_len +new_start,new_len @@` and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffHunk {
    pub header: String,
    pub lines: Vec<DiffLine>,
}

impl DiffHunk {
    /// Each changed line whose words were marked, as one line in git's `--word-diff=plain`
    /// form: removed words as `[-old-]`, added words as `{+new+}`, the rest as it was. For
    /// output that cannot colour (Markdown's diff fences).
    pub fn word_diff(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            // A run of removed lines, then the added lines they were paired with.
            let dels = self.lines[i..]
                .iter()
                .take_while(|l| l.kind == LineKind::Removed)
                .count();
            let adds = self.lines[i + dels..]
                .iter()
                .take_while(|l| l.kind == LineKind::Added)
                .count();
            if dels == 0 && adds == 0 {
                i += 1;
                continue;
            }
            let (old, new) = (
                &self.lines[i..i + dels],
                &self.lines[i + dels..i + dels + adds],
            );
            for (o, n) in old.iter().zip(new) {
                let marked = |l: &DiffLine| l.segments.iter().any(|(c, _)| *c);
                if marked(o) || marked(n) {
                    out.push(merge_words(&o.segments, &n.segments));
                }
            }
            i += dels + adds;
        }
        out
    }
}

/// A removed and an added line's segments as one word-diff line. Their unchanged segments are
/// the same words in the same order; the changed ones between them are shown removed, then
/// added.
fn merge_words(old: &[(bool, String)], new: &[(bool, String)]) -> String {
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    let mut line = String::new();
    loop {
        while let Some((true, s)) = a.peek() {
            line.push_str(&format!("[-{s}-]"));
            a.next();
        }
        while let Some((true, s)) = b.peek() {
            line.push_str(&format!("{{+{s}+}}"));
            b.next();
        }
        match (a.next(), b.next()) {
            (Some((_, s)), _) | (None, Some((_, s))) => line.push_str(s),
            (None, None) => return line,
        }
    }
}

/// Whether a diff line was kept, removed or added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Removed,
    Added,
}

impl LineKind {
    /// The unified diff sign: ` `, `-` or `+`.
    pub fn sign(self) -> char {
        match self {
            LineKind::Context => ' ',
            LineKind::Removed => '-',
            LineKind::Added => '+',
        }
    }
}

/// A diff line as segments; `changed` marks the words that differ from the paired line.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffLine {
    pub kind: LineKind,
    pub segments: Vec<(bool, String)>,
}

impl DiffLine {
    /// The line's text without its change marks.
    pub fn text(&self) -> String {
        self.segments.iter().map(|(_, s)| s.as_str()).collect()
    }
}

/// A checklist item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    Pending,
    InProgress,
    Completed,
    /// Anything else the tool said (cancelled, deleted, ...).
    Other,
}

impl ItemStatus {
    /// The item's mark in text and Markdown: `[ ]`, `[~]`, `[x]`, `[-]`.
    pub fn mark(self) -> &'static str {
        match self {
            ItemStatus::Pending => "[ ]",
            ItemStatus::InProgress => "[~]",
            ItemStatus::Completed => "[x]",
            ItemStatus::Other => "[-]",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistItem {
    pub status: ItemStatus,
    pub text: String,
}

/// A tool's result, cut to what a reader scrolls through: its first lines and its last ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub head: String,
    /// The last lines, when lines between were left out.
    pub tail: Option<String>,
    pub omitted_lines: usize,
    pub total_lines: usize,
    pub total_bytes: usize,
    /// The call failed: the output is its error.
    pub failed: bool,
    /// The language of the output's text, for a file excerpt.
    pub language: Option<&'static str>,
}

impl ToolOutput {
    /// `text` cut to `max_lines`: three quarters from the start, a quarter from the end.
    pub fn cut(text: &str, max_lines: usize, failed: bool) -> ToolOutput {
        let text = text.trim_end_matches('\n');
        let lines: Vec<&str> = text.lines().collect();
        let total = lines.len();
        let max = max_lines.max(1);
        let (head, tail, omitted) = if total <= max {
            (text.to_string(), None, 0)
        } else {
            let tail_n = if max >= TAIL_SHARE {
                max / TAIL_SHARE
            } else {
                0
            };
            let head_n = max - tail_n;
            let tail = (tail_n > 0).then(|| lines[total - tail_n..].join("\n"));
            (lines[..head_n].join("\n"), tail, total - head_n - tail_n)
        };
        ToolOutput {
            head,
            tail,
            omitted_lines: omitted,
            total_lines: total,
            total_bytes: text.len(),
            failed,
            language: None,
        }
    }

    /// `230 lines, 12.4 KB`: the size of the whole output.
    pub fn size(&self) -> String {
        let lines = if self.total_lines == 1 {
            "1 line".to_string()
        } else {
            format!("{} lines", self.total_lines)
        };
        let b = self.total_bytes;
        let bytes = if b < 1000 {
            format!("{b} B")
        } else if b < 1_000_000 {
            format!("{:.1} KB", b as f64 / 1e3)
        } else {
            format!("{:.1} MB", b as f64 / 1e6)
        };
        format!("{lines}, {bytes}")
    }
}

fn str_field<'a>(input: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| input.get(*k).and_then(Value::as_str))
}

impl ToolCallView {
    /// The view of a call to `name` with `input`, and its result cut to `max_lines`.
    pub fn new(
        name: &str,
        input: &Value,
        result: Option<&ToolResultContent>,
        status: ToolStatus,
        max_lines: usize,
    ) -> ToolCallView {
        let view = ToolView::of(name, input);
        let failed = status == ToolStatus::Error;
        // An edit's or a checklist's result only says it worked; show it when it did not.
        let result_says_more = failed
            || !matches!(
                view,
                ToolView::Diff(_) | ToolView::File { .. } | ToolView::Checklist { .. }
            );
        let output = result
            .filter(|_| result_says_more)
            .map(|r| {
                let mut o = ToolOutput::cut(&reader_result(name, r), max_lines, failed);
                if let ToolView::Excerpt { language, .. } = &view
                    && !failed
                {
                    o.language = *language;
                }
                o
            })
            .filter(|o| o.total_bytes > 0 || failed);
        let gist = match &view {
            ToolView::Search { pattern, .. } => gist_line(pattern),
            ToolView::Checklist { items } => {
                let done = items
                    .iter()
                    .filter(|i| i.status == ItemStatus::Completed)
                    .count();
                format!("{} items, {done} done", items.len())
            }
            _ => summarize_input(name, input),
        };
        ToolCallView {
            name: name.to_string(),
            gist,
            view,
            output,
        }
    }
}

impl ToolView {
    /// What `input` of a call to `name` means; unknown tools and unexpected inputs are JSON.
    pub fn of(name: &str, input: &Value) -> ToolView {
        let path = || str_field(input, &["file_path", "filePath", "path"]).map(str::to_string);
        let lower = name.to_ascii_lowercase();
        let known = match lower.as_str() {
            "edit" | "str_replace_editor" => path().and_then(|p| {
                let old = str_field(input, &["old_string", "oldString"])?;
                let new = str_field(input, &["new_string", "newString"])?;
                let replace_all = input
                    .get("replace_all")
                    .or_else(|| input.get("replaceAll"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                Some(diff(p, &[(old, new)], replace_all))
            }),
            "multiedit" => path().and_then(|p| {
                let edits = input.get("edits")?.as_array()?;
                let pairs: Option<Vec<(&str, &str)>> = edits
                    .iter()
                    .map(|e| {
                        Some((
                            str_field(e, &["old_string", "oldString"])?,
                            str_field(e, &["new_string", "newString"])?,
                        ))
                    })
                    .collect();
                Some(diff(p, &pairs?, false))
            }),
            "write" => path().and_then(|p| {
                let content = str_field(input, &["content"])?.to_string();
                Some(ToolView::File {
                    language: language_of(&p),
                    path: p,
                    content,
                })
            }),
            "read" => path().map(|p| {
                let n = |k: &str| input.get(k).and_then(Value::as_u64);
                let range = match (n("offset"), n("limit")) {
                    (Some(o), Some(l)) => Some(format!("lines {o}-{}", o + l.saturating_sub(1))),
                    (Some(o), None) => Some(format!("from line {o}")),
                    (None, Some(l)) => Some(format!("first {l} lines")),
                    (None, None) => None,
                };
                ToolView::Excerpt {
                    language: language_of(&p),
                    path: p,
                    range,
                }
            }),
            "bash" | "shell" | "bashoutput" => {
                str_field(input, &["command"]).map(|c| ToolView::Command {
                    command: c.to_string(),
                    description: str_field(input, &["description"]).map(str::to_string),
                })
            }
            "grep" | "glob" | "search" => {
                str_field(input, &["pattern", "query"]).map(|p| ToolView::Search {
                    tool: name.to_string(),
                    pattern: p.to_string(),
                    scope: [
                        str_field(input, &["path"]),
                        str_field(input, &["glob", "include"]),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into(),
                })
            }
            "todowrite" => {
                input
                    .get("todos")
                    .and_then(Value::as_array)
                    .map(|todos| ToolView::Checklist {
                        items: todos.iter().map(item).collect(),
                    })
            }
            "taskcreate" | "taskupdate" => {
                str_field(input, &["subject", "content", "description", "taskId"]).map(|_| {
                    ToolView::Checklist {
                        items: vec![item(input)],
                    }
                })
            }
            "task" | "agent" => Some(ToolView::Task {
                description: str_field(input, &["description"]).map(str::to_string),
                subagent_type: str_field(input, &["subagent_type", "subagentType"])
                    .map(str::to_string),
                prompt: str_field(input, &["prompt"]).unwrap_or("").to_string(),
            }),
            _ => None,
        };
        known
            .unwrap_or_else(|| ToolView::Json {
                pretty: match input {
                    Value::Null => String::new(),
                    Value::Object(m) if m.is_empty() => String::new(),
                    v => serde_json::to_string_pretty(v).unwrap_or_default(),
                },
            })
            .normalize_scope()
    }

    fn normalize_scope(self) -> ToolView {
        match self {
            ToolView::Search {
                tool,
                pattern,
                scope: Some(s),
            } if s.is_empty() => ToolView::Search {
                tool,
                pattern,
                scope: None,
            },
            v => v,
        }
    }
}

fn item(v: &Value) -> ChecklistItem {
    let status = match str_field(v, &["status"]).unwrap_or("pending") {
        "pending" => ItemStatus::Pending,
        "in_progress" | "in-progress" => ItemStatus::InProgress,
        "completed" | "done" => ItemStatus::Completed,
        _ => ItemStatus::Other,
    };
    let text = str_field(v, &["content", "subject", "description"])
        .map(str::to_string)
        .or_else(|| str_field(v, &["taskId"]).map(|t| format!("task {t}")))
        .unwrap_or_default();
    ChecklistItem { status, text }
}

/// The edits `(old, new)` of one file as hunks, with the changed words of paired lines marked.
fn diff(path: String, edits: &[(&str, &str)], replace_all: bool) -> ToolView {
    let (mut hunks, mut added, mut removed) = (Vec::new(), 0, 0);
    for (old, new) in edits {
        let d = TextDiff::configure()
            .deadline(std::time::Instant::now() + DIFF_DEADLINE)
            .diff_lines(*old, *new);
        for group in d.grouped_ops(DIFF_CONTEXT_LINES) {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            let (o, n) = (first.old_range().start, first.new_range().start);
            let (o_len, n_len) = (
                last.old_range().end - o,
                last.new_range().end - first.new_range().start,
            );
            let mut lines = Vec::new();
            for op in &group {
                for change in d.iter_inline_changes(op) {
                    let kind = match change.tag() {
                        ChangeTag::Equal => LineKind::Context,
                        ChangeTag::Delete => {
                            removed += 1;
                            LineKind::Removed
                        }
                        ChangeTag::Insert => {
                            added += 1;
                            LineKind::Added
                        }
                    };
                    let mut segments: Vec<(bool, String)> = Vec::new();
                    for (emph, s) in change.iter_strings_lossy() {
                        let s = s.trim_end_matches(['\n', '\r']);
                        if s.is_empty() {
                            continue;
                        }
                        match segments.last_mut() {
                            Some((e, prev)) if *e == emph => prev.push_str(s),
                            _ => segments.push((emph, s.to_string())),
                        }
                    }
                    // A line changed as a whole has nothing to mark inside it.
                    if segments.iter().all(|(e, _)| *e) {
                        for s in &mut segments {
                            s.0 = false;
                        }
                    }
                    lines.push(DiffLine { kind, segments });
                }
            }
            hunks.push(DiffHunk {
                header: format!("@@ -{},{o_len} +{},{n_len} @@", o + 1, n + 1),
                lines,
            });
        }
    }
    ToolView::Diff(Diff {
        path,
        hunks,
        added,
        removed,
        replace_all,
    })
}

/// A result's text as a reader should see it: for a subagent's call (Task, Agent), without the
/// trailer Claude Code adds for the model — the `agentId: ... (use SendMessage ...)` line and the
/// `<usage>...</usage>` block — whose figures are kept as one line (`900 tokens · 1 tool use ·
/// 3.1 s`). Other tools' results are their text.
pub fn reader_result(name: &str, r: &ToolResultContent) -> String {
    let text = result_text(r);
    if matches!(name.to_ascii_lowercase().as_str(), "task" | "agent") {
        without_agent_trailer(&text).into_owned()
    } else {
        text
    }
}

/// `text` without a subagent's trailing `agentId:` line and `<usage>` block. Only a trailer is
/// taken: the same words inside the answer are the subagent's own and stay.
fn without_agent_trailer(text: &str) -> Cow<'_, str> {
    let mut rest = text.trim_end();
    let mut usage = None;
    loop {
        if let Some(before) = rest.strip_suffix("</usage>")
            && let Some(open) = before.rfind("<usage>")
        {
            usage = usage.or_else(|| usage_line(&before[open + "<usage>".len()..]));
            rest = before[..open].trim_end();
            continue;
        }
        let (head, last) = rest.rsplit_once('\n').unwrap_or(("", rest));
        if is_agent_id_line(last) {
            rest = head.trim_end();
            continue;
        }
        break;
    }
    if rest.len() == text.trim_end().len() {
        return Cow::Borrowed(text);
    }
    match usage {
        Some(u) if rest.is_empty() => Cow::Owned(u),
        Some(u) => Cow::Owned(format!("{rest}\n{u}")),
        None => Cow::Owned(rest.to_string()),
    }
}

/// `agentId: a1b2 (use SendMessage with to: 'a1b2' to continue this agent)`, or the older
/// `agentId: a1b2 (for resuming ...)`, or the bare `agentId: a1b2`.
fn is_agent_id_line(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix("agentId: ") else {
        return false;
    };
    let (id, hint) = rest.split_once(' ').unwrap_or((rest, ""));
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && (hint.is_empty() || (hint.starts_with('(') && hint.ends_with(')')))
}

/// A `<usage>` block's `key: value` lines as `900 tokens · 1 tool use · 3.1 s`; `None` when it
/// has none of them.
fn usage_line(block: &str) -> Option<String> {
    let field = |keys: &[&str]| {
        block.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            keys.contains(&k.trim())
                .then(|| v.trim().parse::<u64>().ok())
                .flatten()
        })
    };
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let parts: Vec<String> = [
        field(&["total_tokens", "subagent_tokens", "tokens"]).map(|n| plural(n, "token", "tokens")),
        field(&["tool_uses"]).map(|n| plural(n, "tool use", "tool uses")),
        field(&["duration_ms"]).map(|ms| format!("{:.1} s", ms as f64 / 1000.0)),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The language of a file by its extension (or name), as code fences and highlighters name it.
pub fn language_of(path: &str) -> Option<&'static str> {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match file {
        "Dockerfile" => return Some("dockerfile"),
        "Makefile" => return Some("makefile"),
        _ => {}
    }
    let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => "rust",
        "py" => "python",
        "js" | "mjs" | "cjs" => "javascript",
        "ts" | "mts" => "typescript",
        "tsx" => "tsx",
        "jsx" => "jsx",
        "go" => "go",
        "java" => "java",
        "kt" => "kotlin",
        "c" | "h" => "c",
        "cc" | "cpp" | "hpp" | "cxx" => "cpp",
        "cs" => "csharp",
        "rb" => "ruby",
        "php" => "php",
        "swift" => "swift",
        "sh" | "bash" | "zsh" => "bash",
        "json" => "json",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "md" => "markdown",
        "html" | "htm" => "html",
        "css" => "css",
        "sql" => "sql",
        "xml" => "xml",
        "lua" => "lua",
        _ => return None,
    })
}

/// A slash command's prompt, as Claude Code records it (`<command-name>/review</command-name>`
/// and `<command-args>`): `("/review", "the args")`.
pub fn slash_command(text: &str) -> Option<(String, String)> {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&close)?;
        Some(text[start..end].trim().to_string())
    };
    let mut name = tag("command-name")?;
    if !name.starts_with('/') {
        name.insert(0, '/');
    }
    Some((name, tag("command-args").unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_words_read_as_a_word_diff() {
        let v = ToolView::of(
            "Edit",
            &json!({"file_path": "a.py", "old_string": "x = compute(1)\nkeep\ngone\n", "new_string": "x = compute(2, fast)\nkeep\n"}),
        );
        let ToolView::Diff(Diff { hunks, .. }) = v else {
            panic!("{v:?}")
        };
        assert_eq!(
            hunks[0].word_diff(),
            ["x = [-compute(1)-]{+compute(2, fast)+}"]
        );
    }

    #[test]
    fn an_edit_is_a_diff_with_the_changed_words_marked() {
        let v = ToolView::of(
            "Edit",
            &json!({"file_path": "src/a.rs", "old_string": "let x = 1;\nkeep\n", "new_string": "let x = 2;\nkeep\n"}),
        );
        let ToolView::Diff(Diff {
            hunks,
            added,
            removed,
            ..
        }) = v
        else {
            panic!("{v:?}")
        };
        assert_eq!((added, removed), (1, 1));
        assert_eq!(hunks[0].header, "@@ -1,2 +1,2 @@");
        let l = &hunks[0].lines;
        assert_eq!(l[0].kind, LineKind::Removed);
        assert_eq!(
            l[0].segments,
            [(false, "let x = ".into()), (true, "1;".into())]
        );
        assert_eq!(l[1].text(), "let x = 2;");
        assert_eq!(l[2].kind, LineKind::Context);
    }

    #[test]
    fn outputs_keep_their_start_and_end() {
        let text: String = (1..=100).map(|i| format!("{i}\n")).collect();
        let o = ToolOutput::cut(&text, 8, false);
        assert_eq!(o.head, "1\n2\n3\n4\n5\n6");
        assert_eq!(o.tail.as_deref(), Some("99\n100"));
        assert_eq!((o.omitted_lines, o.total_lines), (92, 100));
        assert_eq!(o.size(), "100 lines, 291 B");
    }

    #[test]
    fn a_subagent_result_loses_the_trailer_meant_for_the_model() {
        // As Claude Code 2.1 writes a Task result: the answer, then the trailer as its own block.
        let r = ToolResultContent::Blocks(vec![
            json!({"type": "text", "text": "Two recipes still use the old flour."}),
            json!({"type": "text", "text": "agentId: bakery1 (use SendMessage with to: 'bakery1' to continue this agent)\n<usage>subagent_tokens: 900\ntool_uses: 1\nduration_ms: 3100</usage>"}),
        ]);
        assert_eq!(
            reader_result("Task", &r),
            "Two recipes still use the old flour.\n900 tokens · 1 tool use · 3.1 s"
        );
        let v = ToolCallView::new(
            "Agent",
            &json!({"prompt": "p"}),
            Some(&r),
            ToolStatus::Ok,
            20,
        );
        let out = v.output.unwrap();
        assert!(
            !out.head.contains("agentId") && !out.head.contains("<usage>"),
            "{out:?}"
        );
        // The older hint, the usage block first: the same.
        let older = ToolResultContent::Text(
            "Done.\n<usage>total_tokens: 12\ntool_uses: 0\nduration_ms: 50</usage>\nagentId: a-1 (for resuming to continue this agent's work if needed)\n".into(),
        );
        assert_eq!(
            reader_result("Task", &older),
            "Done.\n12 tokens · 0 tool uses · 0.1 s"
        );
        // Inside the answer, or from another tool, the words are the agent's own.
        let quoted = ToolResultContent::Text("agentId: x (y)\nthen the answer".into());
        assert_eq!(
            reader_result("Task", &quoted),
            "agentId: x (y)\nthen the answer"
        );
        let bash = ToolResultContent::Text("<usage>tool_uses: 1</usage>".into());
        assert_eq!(reader_result("Bash", &bash), "<usage>tool_uses: 1</usage>");
    }

    #[test]
    fn unknown_tools_and_odd_inputs_fall_back_to_json() {
        assert!(matches!(
            ToolView::of("Edit", &json!({"file_path": 3})),
            ToolView::Json { .. }
        ));
        assert_eq!(
            slash_command(
                "<command-message>x</command-message>\n<command-name>/review</command-name>\n<command-args>PR 7</command-args>"
            ),
            Some(("/review".into(), "PR 7".into()))
        );
    }
}
