//! The Claude Code sessions on this machine, for `aisys transcript list`: one summary per
//! `<claude home>/projects/<project>/<session>.jsonl` (id, folder, title, first prompt of the
//! main thread, first and last time, message count).
//!
//! Reads each transcript once, line by line, keeping a few fields of each line and nothing of its
//! content past the first prompt. Subagent transcripts (`<session>/subagents/`, and the 2.0.x
//! `agent-<id>.jsonl` beside the session) belong to their session and are not listed.
//!
//! Must not print or write: bad lines come back as [`BadLine`]s.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::formats::input_files::{FindError, session_files};
use super::lines::{BadLine, LineBuffer, LineError};
use super::usage::{READ_BUFFER_BYTES, raw_str};

/// Longest first prompt kept: enough to recognise a session, short enough for a list.
pub const MAX_PROMPT_CHARS: usize = 200;

/// Errors of listing sessions.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Find(#[from] FindError),
}

/// One session's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The session id (the transcript's file name), as `claude --resume` takes it.
    pub id: String,
    /// The folder the session ran in (its `cwd`), or the encoded project folder name when no
    /// line says.
    pub project_dir: String,
    /// The first thing the user asked in the main thread (a slash command as `/name args`), on
    /// one line, cut at [`MAX_PROMPT_CHARS`].
    pub first_prompt: Option<String>,
    /// The title the session was given (`/rename`), else the first summary Claude Code wrote.
    pub title: Option<String>,
    pub started: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
    /// User prompts and tool results, plus model responses (a response written as several
    /// lines counts once).
    pub messages: u64,
    /// The transcript file.
    pub path: PathBuf,
}

/// Every session found, newest activity first, and the lines that could not be read.
#[derive(Debug, Default)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
    pub bad_lines: Vec<BadLine>,
}

/// Lists the sessions under `projects` (Claude Code's `projects` folder), reading files on
/// every core.
pub fn list_sessions(projects: &Path) -> Result<SessionList, SessionsError> {
    let files = session_files(projects)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let next = AtomicUsize::new(0);
    type Slot = Option<Result<(SessionInfo, Vec<BadLine>), SessionsError>>;
    let results: Mutex<Vec<Slot>> = Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut buf = LineBuffer::new(READ_BUFFER_BYTES);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() {
                        break;
                    }
                    let r = summarize(&files[i], &mut buf, false);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let mut list = SessionList::default();
    for r in results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
    {
        let (info, bad) = r?;
        list.sessions.push(info);
        list.bad_lines.extend(bad);
    }
    // Newest first; sessions without any time last, then by id so the order is stable.
    list.sessions.sort_by(|a, b| {
        b.last_activity
            .cmp(&a.last_activity)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(list)
}

/// The fields of a line that a summary needs; the rest is skipped unparsed.
#[derive(Deserialize)]
struct LineFields<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cwd: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isMeta")]
    is_meta: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isCompactSummary")]
    is_compact_summary: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isSidechain")]
    is_sidechain: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    summary: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "customTitle")]
    custom_title: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct MessageFields<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

/// User text that Claude Code writes itself (a command's output, reminders): not what the user
/// asked. A slash command (`<command-name>`) is read apart, by [`prompt_text`].
const GENERATED_PREFIXES: &[&str] = &[
    "<command-message>",
    "<local-command-",
    "<system-reminder>",
    "<bash-",
    "Caveat: ",
];

/// What a user line holds, as far as the first prompt is concerned.
#[derive(Debug, PartialEq)]
enum UserText {
    /// The user's own words, on one line and cut.
    Prompt(String),
    /// A slash command, as `/name args`.
    Command(String),
    /// A command's output as Claude Code ran it itself (`<local-command-stdout>`): the command
    /// before it was local (`/clear`, `/model`), not something asked of the model.
    LocalOutput,
    /// Nothing the user wrote (a tool result, a reminder, an empty line).
    Nothing,
}

/// One line, cut at [`MAX_PROMPT_CHARS`].
fn one_line(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_PROMPT_CHARS) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// What a user message's `content` holds.
fn user_text(content: &RawValue) -> UserText {
    let Some(text) = message_text(content) else {
        return UserText::Nothing;
    };
    let text = text.trim();
    if text.starts_with("<local-command-stdout>") {
        return UserText::LocalOutput;
    }
    if text.starts_with("<command-")
        && let Some((name, args)) = super::render::tool_view::slash_command(text)
    {
        return UserText::Command(one_line(&format!("{name} {args}")));
    }
    match prompt_text_of(text) {
        Some(p) => UserText::Prompt(p),
        None => UserText::Nothing,
    }
}

/// The first text of a message's `content` (a string, or the first text block).
fn message_text(content: &RawValue) -> Option<String> {
    if content.get().starts_with('"') {
        Some(
            serde_json::from_str::<Cow<'_, str>>(content.get())
                .ok()?
                .into_owned(),
        )
    } else {
        let blocks: Vec<Block> = serde_json::from_str(content.get()).ok()?;
        Some(
            blocks
                .into_iter()
                .find(|b| b.kind.as_deref() == Some("text"))
                .and_then(|b| b.text)?
                .into_owned(),
        )
    }
}

/// The user's own words in `text`, if it has any.
fn prompt_text_of(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || GENERATED_PREFIXES.iter().any(|p| text.starts_with(p)) {
        return None;
    }
    Some(one_line(text))
}

/// The title of the session in `path` as a list shows it: the title it was given or Claude Code's
/// summary, when one comes before its first prompt, else that prompt. Reads only that far (and
/// at most [`HEAD_MAX_BYTES`]).
pub fn session_title(path: &Path) -> Option<String> {
    let (info, _) = summarize(path, &mut LineBuffer::new(HEAD_FIRST_READ_BYTES), true).ok()?;
    info.title.or(info.first_prompt)
}

/// Bytes read first when only the start of a file is wanted: the first prompt is nearly
/// always in them, and reading no more keeps a title lookup per session cheap.
const HEAD_FIRST_READ_BYTES: usize = 64 * 1024;

/// Most bytes read of a file for its title: a session whose first prompt comes later (or that
/// has none) is not read to its end for it.
const HEAD_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// A reader whose first read hands out at most [`HEAD_FIRST_READ_BYTES`].
struct SmallFirstRead<R> {
    inner: R,
    first: bool,
}

impl<R: std::io::Read> std::io::Read for SmallFirstRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if std::mem::take(&mut self.first) {
            let n = buf.len().min(HEAD_FIRST_READ_BYTES);
            return self.inner.read(&mut buf[..n]);
        }
        self.inner.read(buf)
    }
}

/// Summarizes the session in `path`; with `head_only`, stops at the first prompt.
fn summarize(
    path: &Path,
    lines: &mut LineBuffer,
    head_only: bool,
) -> Result<(SessionInfo, Vec<BadLine>), SessionsError> {
    let read_err = |source| SessionsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut file: Box<dyn std::io::Read> = if head_only {
        use std::io::Read;
        Box::new(SmallFirstRead {
            inner: file.take(HEAD_MAX_BYTES),
            first: true,
        })
    } else {
        Box::new(file)
    };
    let project_folder = path
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut info = SessionInfo {
        id: path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
        project_dir: String::new(),
        first_prompt: None,
        title: None,
        started: None,
        last_activity: None,
        messages: 0,
        path: path.to_path_buf(),
    };
    let mut bad = Vec::new();
    let mut last_response_id: Option<String> = None;
    // A slash command waits to see whether Claude Code ran it itself (its output follows) or
    // sent it to the model; only the latter is a prompt.
    let mut pending_command: Option<String> = None;
    let (mut custom_title, mut summary): (Option<String>, Option<String>) = (None, None);
    lines.reset();
    let read = lines.for_each(&mut file, |line| {
        let number = line.number;
        let line = line.bytes.trim_ascii();
        if line.is_empty() {
            return true;
        }
        let fields: LineFields = match serde_json::from_slice(line) {
            Ok(f) => f,
            Err(e) => {
                let what = if e.is_data() {
                    "not a JSON object".to_string()
                } else {
                    format!("not JSON: {e}")
                };
                bad.push(BadLine::new(&path.display().to_string(), number, what));
                return true;
            }
        };
        if let Some(t) = raw_str(fields.timestamp).and_then(|t| t.parse::<Timestamp>().ok()) {
            info.started = Some(info.started.map_or(t, |s| s.min(t)));
            info.last_activity = Some(info.last_activity.map_or(t, |l| l.max(t)));
        }
        if info.project_dir.is_empty()
            && let Some(cwd) = raw_str(fields.cwd)
        {
            info.project_dir = cwd.into_owned();
        }
        let kind = raw_str(fields.kind);
        let message = fields
            .message
            .filter(|m| m.get().starts_with('{'))
            .and_then(|m| serde_json::from_str::<MessageFields>(m.get()).ok());
        let sidechain = matches!(fields.is_sidechain.map(|v| v.get()), Some("true"));
        match (kind.as_deref(), message) {
            (Some("user"), Some(m)) => {
                let meta = matches!(fields.is_meta.map(|v| v.get()), Some("true"))
                    || matches!(fields.is_compact_summary.map(|v| v.get()), Some("true"));
                // A subagent's prompt (1.0.x wrote subagents inline, as sidechain lines, and one
                // may come before the main thread's first prompt) is not the session's.
                if !meta {
                    info.messages += 1;
                }
                if !meta && !sidechain && info.first_prompt.is_none() {
                    match m.content.map_or(UserText::Nothing, user_text) {
                        UserText::Prompt(p) => {
                            // A command the model never answered was Claude Code's own.
                            pending_command = None;
                            info.first_prompt = Some(p);
                        }
                        UserText::Command(c) => {
                            if pending_command.is_none() {
                                pending_command = Some(c);
                            }
                        }
                        UserText::LocalOutput => pending_command = None,
                        UserText::Nothing => {}
                    }
                }
            }
            (Some("assistant"), Some(m)) => {
                if !sidechain && info.first_prompt.is_none() {
                    // The model answered: the command before was a prompt.
                    info.first_prompt = pending_command.take();
                }
                // One response is several consecutive lines sharing its id.
                let id = m.id.map(Cow::into_owned);
                if id.is_none() || id != last_response_id {
                    info.messages += 1;
                }
                last_response_id = id;
            }
            (Some("custom-title"), _) => {
                if let Some(t) = raw_str(fields.custom_title).filter(|t| !t.trim().is_empty()) {
                    custom_title = Some(one_line(&t));
                }
            }
            (Some("summary"), _) => {
                if summary.is_none()
                    && let Some(t) = raw_str(fields.summary).filter(|t| !t.trim().is_empty())
                {
                    summary = Some(one_line(&t));
                }
            }
            _ => {}
        }
        !(head_only && info.first_prompt.is_some())
    });
    if let Err(LineError::Io(e)) = read {
        return Err(read_err(e));
    }
    if info.first_prompt.is_none() {
        info.first_prompt = pending_command;
    }
    info.title = custom_title.or(summary);
    if let Err(LineError::TooLong { number }) = read {
        bad.push(BadLine::too_long(&path.display().to_string(), number));
    }
    if info.project_dir.is_empty() {
        info.project_dir = project_folder;
    }
    Ok((info, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    fn prompt(s: &str) -> Option<String> {
        match user_text(&raw(s)) {
            UserText::Prompt(p) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn prompts_are_the_users_words_on_one_line() {
        assert_eq!(
            prompt(r#""fix\n  the bug""#).as_deref(),
            Some("fix the bug")
        );
        assert_eq!(
            prompt(r#"[{"type":"image"},{"type":"text","text":"look"}]"#).as_deref(),
            Some("look")
        );
        assert_eq!(
            prompt(r#"[{"type":"tool_result","tool_use_id":"t","content":"x"}]"#),
            None
        );
        assert_eq!(prompt(r#""<system-reminder>x</system-reminder>""#), None);
        let long = format!("\"{}\"", "a".repeat(MAX_PROMPT_CHARS + 5));
        let cut = prompt(&long).unwrap();
        assert_eq!(cut.chars().count(), MAX_PROMPT_CHARS + 1);
    }

    #[test]
    fn a_slash_command_is_its_name_and_arguments() {
        assert_eq!(
            user_text(&raw(
                r#""<command-message>review</command-message>\n<command-name>/review</command-name>\n<command-args>src/main.rs  now</command-args>""#
            )),
            UserText::Command("/review src/main.rs now".into())
        );
        assert_eq!(
            user_text(&raw(r#""<command-name>/clear</command-name>""#)),
            UserText::Command("/clear".into())
        );
        assert_eq!(
            user_text(&raw(r#""<local-command-stdout></local-command-stdout>""#)),
            UserText::LocalOutput
        );
    }
}
