//! Markdown for the terminal: an answer's text parsed with `pulldown-cmark` and laid out as styled,
//! wrapped lines — headings, emphasis, lists, block quotes, tables, links, rules, and code blocks
//! with their fences hidden and their code highlighted by `syntect`.
//!
//! Pure: text and a width in, lines out. Must not show a raw control character (the text is
//! cleaned of escape sequences before parsing) or block on anything.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme, ThemeSet};
use syntect::parsing::SyntaxSet;
use unicode_width::UnicodeWidthStr;

use crate::converters::ansi::{self, Keep};

/// The syntect theme code is drawn with: readable on dark and light terminals alike.
const THEME: &str = "base16-ocean.dark";
/// Longest code block highlighted, in bytes: past this, highlighting a block that grows with each
/// streamed delta would cost more than a frame; longer blocks are shown plain.
const MAX_HIGHLIGHT_BYTES: usize = 64 * 1024;
/// How code is indented under the text.
const CODE_INDENT: &str = "  ";

/// The highlighter: syntaxes and the theme, loaded once (tens of milliseconds).
struct Highlighter {
    syntaxes: SyntaxSet,
    theme: Theme,
}

static HIGHLIGHTER: OnceLock<Highlighter> = OnceLock::new();
/// Set once the highlighter is loaded and [`PRIMED`] languages are ready to highlight.
static READY: AtomicBool = AtomicBool::new(false);

/// The languages answers show most, made ready before code is highlighted: syntect compiles a
/// syntax's patterns on its first line, which for Rust alone takes longer than a frame.
const PRIMED: &[&str] = &[
    "rust", "python", "js", "ts", "bash", "json", "toml", "yaml", "go", "c", "cpp", "diff",
];
/// How much lower than the screen's thread the highlighter loads (a nice value): on a busy
/// machine with few cores, the frames come first.
const LOADER_NICENESS: libc::c_int = 10;

fn load() -> &'static Highlighter {
    HIGHLIGHTER.get_or_init(|| {
        let mut themes = ThemeSet::load_defaults();
        Highlighter {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            theme: themes.themes.remove(THEME).unwrap_or_default(),
        }
    })
}

/// Loads the highlighter on a thread of its own, at a lower priority, and primes the common
/// languages there. Until that is done code is drawn plain, so no frame ever waits for it or
/// compiles a syntax; the view lays blocks out again once [`highlighter_ready`] says so.
pub fn warm_up() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            // On Linux a nice value is the calling thread's own: this lowers only the loader.
            // SAFETY: setpriority takes plain integers and changes no memory.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, LOADER_NICENESS);
            }
            let h = load();
            for lang in PRIMED {
                if let Some(syntax) = h.syntaxes.find_syntax_by_token(lang) {
                    let mut lines = HighlightLines::new(syntax, &h.theme);
                    let _ = lines.highlight_line("x = f(1, \"s\") // c\n", &h.syntaxes);
                }
            }
            READY.store(true, Ordering::Release);
        });
    });
}

/// Whether code is highlighted yet.
pub fn highlighter_ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// Lays out `text` (Markdown) in `width` columns.
pub fn render(text: &str, width: usize) -> Vec<Line<'static>> {
    let text = ansi::clean(text, Keep::Nothing);
    let mut w = Writer::new(width.max(8));
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(&text, options) {
        w.event(event);
    }
    w.finish()
}

/// A list being laid out: its next number (None for bullets).
struct List {
    next: Option<u64>,
}

struct Table {
    align: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    cell: String,
}

struct Writer {
    width: usize,
    out: Vec<Line<'static>>,
    /// The line being filled, and its width so far.
    spans: Vec<Span<'static>>,
    used: usize,
    /// Prefixes of the blocks the text is in (quotes, list indents), and the marker the next line
    /// starts with instead of its item's indent.
    prefixes: Vec<String>,
    marker: Option<String>,
    bold: usize,
    italic: usize,
    strike: usize,
    heading: Option<HeadingLevel>,
    link: Option<String>,
    lists: Vec<List>,
    code: Option<(String, String)>,
    table: Option<Table>,
}

impl Writer {
    fn new(width: usize) -> Writer {
        Writer {
            width,
            out: Vec::new(),
            spans: Vec::new(),
            used: 0,
            prefixes: Vec::new(),
            marker: None,
            bold: 0,
            italic: 0,
            strike: 0,
            heading: None,
            link: None,
            lists: Vec::new(),
            code: None,
            table: None,
        }
    }

    fn style(&self) -> Style {
        let mut s = Style::default();
        if self.bold > 0 || self.heading.is_some() {
            s = s.add_modifier(Modifier::BOLD);
        }
        if self.italic > 0 {
            s = s.add_modifier(Modifier::ITALIC);
        }
        if self.strike > 0 {
            s = s.add_modifier(Modifier::CROSSED_OUT);
        }
        if matches!(self.heading, Some(HeadingLevel::H1)) {
            s = s.add_modifier(Modifier::UNDERLINED);
        }
        if self.link.is_some() {
            s = s.fg(Color::Blue).add_modifier(Modifier::UNDERLINED);
        }
        s
    }

    /// The prefix of a new line: the block prefixes, with the item's marker the first time.
    fn start_line(&mut self) {
        let mut prefix: String = self.prefixes.concat();
        if let Some(m) = self.marker.take() {
            // The marker takes the place of the innermost indent.
            let indent = self.prefixes.last().map(|p| p.len()).unwrap_or(0);
            prefix.truncate(prefix.len() - indent.min(prefix.len()));
            prefix.push_str(&m);
        }
        self.used = prefix.width();
        if !prefix.is_empty() {
            self.spans
                .push(Span::styled(prefix, Style::default().fg(Color::DarkGray)));
        }
    }

    fn flush_line(&mut self) {
        if !self.spans.is_empty() {
            self.out.push(Line::from(std::mem::take(&mut self.spans)));
        }
        self.used = 0;
    }

    /// Ends the current block with an empty line between it and the next.
    fn end_block(&mut self) {
        self.flush_line();
        if self.lists.is_empty() && self.out.last().is_some_and(|l| l.width() > 0) {
            self.out.push(Line::raw(""));
        }
    }

    /// Adds words, wrapping at the width.
    fn text(&mut self, text: &str, style: Style) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.flush_line();
            }
            for word in piece.split_inclusive(' ') {
                let w = word.width();
                if self.spans.is_empty() {
                    self.start_line();
                } else if self.used + w.saturating_sub(word.ends_with(' ') as usize) > self.width {
                    self.flush_line();
                    self.start_line();
                }
                let word = if self.used == self.prefix_width() {
                    word.trim_start()
                } else {
                    word
                };
                // A word wider than the line is cut into pieces that fit.
                let mut rest = word.to_string();
                while rest.width() > self.width.saturating_sub(self.used) && self.used < self.width
                {
                    let room = self.width - self.used;
                    let cut: String = take_width(&rest, room);
                    rest = rest[cut.len()..].to_string();
                    self.used += cut.width();
                    self.spans.push(Span::styled(cut, style));
                    self.flush_line();
                    self.start_line();
                }
                self.used += rest.width();
                self.spans.push(Span::styled(rest, style));
            }
        }
    }

    fn prefix_width(&self) -> usize {
        self.prefixes.concat().width()
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some(t) = self.table.as_mut() {
            match &event {
                Event::Text(s) | Event::Code(s) => {
                    t.cell.push_str(s);
                    return;
                }
                Event::End(TagEnd::TableCell) => {
                    let cell = std::mem::take(&mut t.cell);
                    if let Some(row) = t.rows.last_mut() {
                        row.push(cell);
                    }
                    return;
                }
                Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                    t.rows.push(Vec::new());
                    return;
                }
                Event::End(TagEnd::Table) => {}
                _ => return,
            }
        }
        if let Some((_, code)) = self.code.as_mut() {
            match event {
                Event::Text(s) => code.push_str(&s),
                Event::End(TagEnd::CodeBlock) => self.code_block(),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(s) => {
                let style = self.style();
                self.text(&s, style);
            }
            Event::Code(s) => self.text(&s, Style::default().fg(Color::Yellow)),
            Event::SoftBreak => {
                let style = self.style();
                self.text(" ", style);
            }
            Event::HardBreak => self.flush_line(),
            Event::Rule => {
                self.flush_line();
                self.out.push(Line::styled(
                    "─".repeat(self.width),
                    Style::default().fg(Color::DarkGray),
                ));
            }
            Event::TaskListMarker(done) => {
                self.text(if done { "☑ " } else { "☐ " }, Style::default());
            }
            Event::Html(s) | Event::InlineHtml(s) => {
                self.text(&s, Style::default().fg(Color::DarkGray));
            }
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush_line();
                self.heading = Some(level);
            }
            Tag::BlockQuote(_) => {
                self.flush_line();
                self.prefixes.push("│ ".into());
            }
            Tag::CodeBlock(kind) => {
                self.flush_line();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split([' ', ',']).next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush_line();
                self.lists.push(List { next: start });
            }
            Tag::Item => {
                self.flush_line();
                let marker = match self.lists.last_mut().and_then(|l| l.next.as_mut()) {
                    Some(n) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    None => "• ".to_string(),
                };
                self.prefixes.push(" ".repeat(marker.width()));
                self.marker = Some(marker);
            }
            Tag::Emphasis => self.italic += 1,
            Tag::Strong => self.bold += 1,
            Tag::Strikethrough => self.strike += 1,
            Tag::Link { dest_url, .. } => self.link = Some(dest_url.to_string()),
            Tag::Table(align) => {
                self.flush_line();
                self.table = Some(Table {
                    align,
                    rows: Vec::new(),
                    cell: String::new(),
                });
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_block(),
            TagEnd::Heading(_) => {
                self.heading = None;
                self.end_block();
            }
            TagEnd::BlockQuote(_) => {
                self.flush_line();
                self.prefixes.pop();
            }
            TagEnd::List(_) => {
                self.flush_line();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.out.push(Line::raw(""));
                }
            }
            TagEnd::Item => {
                self.flush_line();
                self.prefixes.pop();
                self.marker = None;
            }
            TagEnd::Emphasis => self.italic = self.italic.saturating_sub(1),
            TagEnd::Strong => self.bold = self.bold.saturating_sub(1),
            TagEnd::Strikethrough => self.strike = self.strike.saturating_sub(1),
            TagEnd::Link => {
                if let Some(url) = self.link.take() {
                    self.text(&format!(" ({url})"), Style::default().fg(Color::DarkGray));
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_lines(t);
                }
            }
            _ => {}
        }
    }

    /// A code block, highlighted when its language is known, indented, fences hidden.
    fn code_block(&mut self) {
        let Some((lang, code)) = self.code.take() else {
            return;
        };
        let prefix = format!("{}{CODE_INDENT}", self.prefixes.concat());
        let room = self.width.saturating_sub(prefix.width()).max(1);
        let plain = Style::default().fg(Color::Yellow);
        let loaded = HIGHLIGHTER.get().filter(|_| highlighter_ready());
        if loaded.is_none() {
            warm_up();
        }
        let syntax = loaded
            .filter(|_| !lang.is_empty() && code.len() <= MAX_HIGHLIGHT_BYTES)
            .and_then(|h| Some((h, h.syntaxes.find_syntax_by_token(&lang)?)));
        let mut highlighter = syntax.map(|(h, s)| (h, HighlightLines::new(s, &h.theme)));
        for line in syntect::util::LinesWithEndings::from(&code) {
            let pieces: Vec<(Style, String)> = match highlighter.as_mut() {
                Some((set, h)) => match h.highlight_line(line, &set.syntaxes) {
                    Ok(ranges) => ranges
                        .into_iter()
                        .map(|(s, t)| {
                            let c = s.foreground;
                            (
                                Style::default().fg(Color::Rgb(c.r, c.g, c.b)),
                                t.to_string(),
                            )
                        })
                        .collect(),
                    Err(_) => vec![(plain, line.to_string())],
                },
                None => vec![(plain, line.to_string())],
            };
            // Long code lines are wrapped under the same indent, never cut off.
            let mut spans = vec![Span::styled(
                prefix.clone(),
                Style::default().fg(Color::DarkGray),
            )];
            let mut used = 0;
            for (style, text) in pieces {
                let text = text.trim_end_matches('\n').replace('\t', "    ");
                let mut rest = text.as_str();
                while !rest.is_empty() {
                    if used == room {
                        self.out.push(Line::from(std::mem::take(&mut spans)));
                        spans.push(Span::styled(
                            prefix.clone(),
                            Style::default().fg(Color::DarkGray),
                        ));
                        used = 0;
                    }
                    let cut = take_width(rest, room - used);
                    let cut = if cut.is_empty() {
                        rest.chars().next().map(String::from).unwrap_or_default()
                    } else {
                        cut
                    };
                    used += cut.width();
                    rest = &rest[cut.len()..];
                    spans.push(Span::styled(cut, style));
                }
            }
            self.out.push(Line::from(spans));
        }
        self.out.push(Line::raw(""));
    }

    /// A table with its columns aligned, narrowed to fit the width.
    fn table_lines(&mut self, t: Table) {
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        if cols == 0 {
            return;
        }
        let mut widths = vec![0usize; cols];
        for row in &t.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let sep = 3 * (cols - 1);
        while widths.iter().sum::<usize>() + sep > self.width {
            let Some(widest) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
                break;
            };
            let i = widest.0;
            if widths[i] <= 3 {
                break;
            }
            widths[i] -= 1;
        }
        let dim = Style::default().fg(Color::DarkGray);
        for (r, row) in t.rows.iter().enumerate() {
            let mut spans = Vec::new();
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" │ ", dim));
                }
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let mut shown = take_width(cell, *w);
                if shown.len() < cell.len() && *w > 0 {
                    shown = take_width(cell, w - 1);
                    shown.push('…');
                }
                let pad = w.saturating_sub(shown.width());
                let text = match t.align.get(i) {
                    Some(Alignment::Right) => format!("{}{shown}", " ".repeat(pad)),
                    Some(Alignment::Center) => {
                        format!(
                            "{}{shown}{}",
                            " ".repeat(pad / 2),
                            " ".repeat(pad - pad / 2)
                        )
                    }
                    _ => format!("{shown}{}", " ".repeat(pad)),
                };
                let style = if r == 0 {
                    Style::default().add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                };
                spans.push(Span::styled(text, style));
            }
            self.out.push(Line::from(spans));
            if r == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                self.out.push(Line::styled(rule.join("─┼─"), dim));
            }
        }
        self.out.push(Line::raw(""));
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        if self.code.is_some() {
            // A code block still being streamed.
            self.code_block();
        }
        if let Some(t) = self.table.take() {
            self.table_lines(t);
        }
        self.flush_line();
        while self.out.last().is_some_and(|l| l.width() == 0) {
            self.out.pop();
        }
        self.out
    }
}

/// The longest start of `s` at most `width` columns wide.
fn take_width(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn styled<'a>(lines: &'a [Line<'a>], text: &str) -> Style {
        lines
            .iter()
            .flat_map(|l| &l.spans)
            .find(|s| s.content.contains(text))
            .map(|s| s.style)
            .unwrap_or_else(|| panic!("no span with {text:?} in {:?}", plain(lines)))
    }

    #[test]
    fn emphasis_lists_and_links_are_styled_not_shown_raw() {
        let lines = render(
            "# Title\n\nSome **bold** and *italic* and `code`.\n\n- one\n- two\n\n1. first\n2. second\n\n[docs](https://example.com)\n",
            60,
        );
        let text = plain(&lines).join("\n");
        assert!(
            !text.contains("**") && !text.contains("# ") && !text.contains("]("),
            "{text}"
        );
        assert!(
            styled(&lines, "Title")
                .add_modifier
                .contains(Modifier::BOLD)
        );
        assert!(styled(&lines, "bold").add_modifier.contains(Modifier::BOLD));
        assert!(
            styled(&lines, "italic")
                .add_modifier
                .contains(Modifier::ITALIC)
        );
        assert_eq!(styled(&lines, "code").fg, Some(Color::Yellow));
        assert!(
            text.contains("• one") && text.contains("2. second"),
            "{text}"
        );
        assert!(text.contains("docs (https://example.com)"), "{text}");
    }

    #[test]
    fn code_fences_are_hidden_and_code_is_highlighted() {
        warm_up();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !highlighter_ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "the highlighter never loaded"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let lines = render("Look:\n\n```rust\nfn main() { let x = 1; }\n```\n", 60);
        let text = plain(&lines).join("\n");
        assert!(!text.contains("```"), "{text}");
        assert!(text.contains("  fn main()"), "{text}");
        let colors: std::collections::HashSet<_> = lines
            .iter()
            .flat_map(|l| &l.spans)
            .filter_map(|s| s.style.fg)
            .collect();
        assert!(
            colors.len() > 2,
            "several colours in highlighted code: {colors:?}"
        );
    }

    #[test]
    fn tables_are_aligned_and_lines_fit_the_width() {
        let lines = render(
            "| name | size |\n| --- | ---: |\n| a long file name here | 10 |\n| b | 2000 |\n",
            30,
        );
        let text = plain(&lines);
        assert!(
            text[0].contains("name") && text[0].contains('│'),
            "{text:?}"
        );
        assert!(text[1].contains('┼'), "{text:?}");
        for l in &text {
            assert!(l.width() <= 30, "{l:?} is wider than 30");
        }
        let long = render(&"word ".repeat(50), 20);
        for l in plain(&long) {
            assert!(l.width() <= 20, "{l:?}");
        }
    }

    #[test]
    fn control_sequences_never_reach_the_lines() {
        let lines = render("a \x1b]52;c;aGk=\x07b \x1b[2Jc", 40);
        for l in plain(&lines) {
            assert!(!l.chars().any(|c| c.is_control()), "{l:?}");
        }
    }
}
