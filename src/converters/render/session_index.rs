//! What an index of sessions shows of each one (`transcript parse -o DIR` writes one): its title,
//! when it started, the first prompt of its main thread, its tokens and cost, and the text a
//! search looks through. Built from a session's blocks and header once they are complete.
//!
//! Must not render or write: the HTML index is `render::html`'s.

use super::tool_view::slash_command;
use crate::converters::session_header::SessionHeader;
use crate::types::{BlockKind, ConversationBlock};

/// Most characters of a session's text kept for the search: enough for every prompt and most
/// answers of a long session, while an index of a thousand sessions stays a page a browser
/// opens at once.
pub const MAX_SEARCH_CHARS: usize = 32 * 1024;

/// How Claude Code writes the output of a command it ran itself.
const LOCAL_OUTPUT: &str = "<local-command-stdout>";

/// Most characters of the first prompt an index shows: a line of a table, not the prompt.
const MAX_PROMPT_CHARS: usize = 200;

/// One session as an index lists it.
#[derive(Debug, Clone, Default)]
pub struct SessionEntry {
    /// The summary Claude Code wrote, if any.
    pub summary: Option<String>,
    /// The first prompt of the main thread (a slash command as `/name args`), on one line.
    pub first_prompt: Option<String>,
    pub header: SessionHeader,
    /// Lower-case text of the session (prompts and answers, the summary), whitespace collapsed,
    /// at most [`MAX_SEARCH_CHARS`].
    pub search_text: String,
}

/// Whitespace runs as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(text: String, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

impl SessionEntry {
    /// The entry of a session whose (top-level) blocks are `blocks`.
    pub fn of(blocks: &[ConversationBlock], header: &SessionHeader) -> SessionEntry {
        let mut e = SessionEntry {
            header: header.clone(),
            ..SessionEntry::default()
        };
        let mut search = Search::default();
        // A slash command is the first prompt once the model answers it; one that Claude Code
        // ran itself (its output comes next) is not a prompt.
        let mut pending: Option<String> = None;
        for b in blocks {
            if e.first_prompt.is_none()
                && pending.is_some()
                && !matches!(
                    b.kind,
                    BlockKind::UserMessage { .. } | BlockKind::SystemNotice { .. }
                )
            {
                e.first_prompt = pending.take();
            }
            match &b.kind {
                BlockKind::SystemNotice { kind, text } if kind == "summary" => {
                    if e.summary.is_none() && !text.trim().is_empty() {
                        e.summary = Some(one_line(text));
                    }
                    search.add(text);
                }
                BlockKind::UserMessage { text, .. } => {
                    if text.trim_start().starts_with(LOCAL_OUTPUT) {
                        pending = None;
                        continue;
                    }
                    let command = slash_command(text);
                    let shown = match &command {
                        Some((name, args)) => one_line(&format!("{name} {args}")),
                        None => one_line(text),
                    };
                    search.add(&shown);
                    if e.first_prompt.is_some() || shown.is_empty() {
                        continue;
                    }
                    let shown = cut(shown, MAX_PROMPT_CHARS);
                    if command.is_some() {
                        pending.get_or_insert(shown);
                    } else {
                        pending = None;
                        e.first_prompt = Some(shown);
                    }
                }
                BlockKind::AssistantText { text } => search.add(text),
                BlockKind::SubagentRun {
                    description,
                    blocks,
                    ..
                } => {
                    if let Some(d) = description {
                        search.add(d);
                    }
                    for inner in blocks {
                        if let BlockKind::AssistantText { text } = &inner.kind {
                            search.add(text);
                        }
                    }
                }
                _ => {}
            }
        }
        if e.first_prompt.is_none() {
            e.first_prompt = pending;
        }
        e.search_text = search.text;
        e
    }

    /// The summary, else the first prompt.
    pub fn title(&self) -> Option<&str> {
        self.summary.as_deref().or(self.first_prompt.as_deref())
    }
}

/// The search text being gathered.
#[derive(Default)]
struct Search {
    text: String,
    chars: usize,
}

impl Search {
    fn add(&mut self, text: &str) {
        for word in text.split_whitespace() {
            let n = word.chars().count();
            if self.chars + n + 1 > MAX_SEARCH_CHARS {
                return;
            }
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.extend(word.chars().flat_map(char::to_lowercase));
            self.chars += n + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: BlockKind) -> ConversationBlock {
        ConversationBlock {
            id: "b".into(),
            kind,
            timestamp: None,
        }
    }

    #[test]
    fn the_entry_has_the_main_prompt_the_summary_and_the_words() {
        let blocks = [
            block(BlockKind::UserMessage {
                text: "<command-name>/review</command-name><command-args>src/a.rs</command-args>"
                    .into(),
                images: vec![],
            }),
            block(BlockKind::AssistantText {
                text: "The  Parser\nfails".into(),
            }),
            block(BlockKind::SystemNotice {
                kind: "summary".into(),
                text: "Parser review".into(),
            }),
        ];
        let e = SessionEntry::of(&blocks, &SessionHeader::default());
        assert_eq!(e.first_prompt.as_deref(), Some("/review src/a.rs"));
        // A command Claude Code ran itself is not the first prompt.
        let user = |text: &str| {
            block(BlockKind::UserMessage {
                text: text.into(),
                images: vec![],
            })
        };
        let local = [
            user("<command-name>/model</command-name><command-args></command-args>"),
            user("<local-command-stdout>Set model</local-command-stdout>"),
            user("fix the parser"),
        ];
        let l = SessionEntry::of(&local, &SessionHeader::default());
        assert_eq!(l.first_prompt.as_deref(), Some("fix the parser"));
        assert_eq!(e.title(), Some("Parser review"));
        assert_eq!(
            e.search_text,
            "/review src/a.rs the parser fails parser review"
        );
    }

    #[test]
    fn the_search_text_is_bounded() {
        let long = "word ".repeat(MAX_SEARCH_CHARS);
        let blocks = [block(BlockKind::AssistantText { text: long })];
        let e = SessionEntry::of(&blocks, &SessionHeader::default());
        assert!(e.search_text.chars().count() <= MAX_SEARCH_CHARS);
    }
}
