//! Terminal control sequences in agent output. Agent text is untrusted: an escape sequence in a
//! tool's output can move the cursor, erase the screen, set the window title or write the
//! clipboard (OSC 52) when printed raw. Everything aisys shows from an agent passes through here:
//! terminal text keeps only SGR colour (and only when colour is on), Markdown and plain text keep
//! none, and HTML turns colour into styled spans.
//!
//! Sequences are recognised by `vte` (the parser of a real terminal emulator), never by a regex,
//! so a sequence split oddly or left unterminated cannot slip through.
//!
//! Must not know where the text goes: callers pick the mode.

use std::borrow::Cow;

use vte::{Params, Parser, Perform};

/// What survives of the control sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing: printable text, newlines and tabs.
    Nothing,
    /// SGR sequences (colour, bold, ...) as well, re-encoded from their parsed parameters.
    Colour,
}

/// Whether `text` holds anything the parser would have to look at: an escape, another C0 or C1
/// control (but newline and tab), or DEL. Most text holds none and is passed on as it is.
fn needs_cleaning(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_c1(c))
}

/// `text` with control sequences removed, or (with [`Keep::Colour`]) all but SGR colour.
pub fn clean(text: &str, keep: Keep) -> Cow<'_, str> {
    if !needs_cleaning(text) {
        return Cow::Borrowed(text);
    }
    let mut out = Cleaner {
        out: String::with_capacity(text.len()),
        keep,
    };
    let mut parser = Parser::new();
    parser.advance(&mut out, text.as_bytes());
    Cow::Owned(out.out)
}

struct Cleaner {
    out: String,
    keep: Keep,
}

/// C1 controls arrive as characters (UTF-8 encoded); some terminals still obey them (U+009B
/// is a CSI), so they are dropped like the sequences they start.
fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

impl Perform for Cleaner {
    fn print(&mut self, c: char) {
        if !is_c1(c) {
            self.out.push(c);
        }
    }

    fn execute(&mut self, byte: u8) {
        // Of the C0 controls only line structure survives; a carriage return would let later
        // text overwrite what came before on a terminal.
        if byte == b'\n' || byte == b'\t' {
            self.out.push(byte as char);
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if self.keep == Keep::Colour && action == 'm' && intermediates.is_empty() && !ignore {
            self.out.push_str("\x1b[");
            push_params(&mut self.out, params);
            self.out.push('m');
        }
    }
}

/// SGR parameters as `1;31` or `38:5:208`, from their parsed values (never the input's bytes).
fn push_params(out: &mut String, params: &Params) {
    for (i, group) in params.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        for (j, v) in group.iter().enumerate() {
            if j > 0 {
                out.push(':');
            }
            out.push_str(&v.to_string());
        }
    }
}

/// The CSS colour of a basic or bright SGR colour index (0-15), in the 16 colours of a common
/// terminal palette.
const PALETTE: [&str; 16] = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

/// HTML for `text` with its SGR colours as `<span style>` and everything else escaped (and every
/// other control sequence dropped). Only colours, bold, italic and underline are kept.
pub fn to_html(text: &str) -> String {
    let mut h = Html::default();
    let mut parser = Parser::new();
    parser.advance(&mut h, text.as_bytes());
    h.close();
    h.out
}

#[derive(Default)]
struct Html {
    out: String,
    fg: Option<String>,
    bold: bool,
    italic: bool,
    underline: bool,
    open: bool,
}

impl Html {
    fn close(&mut self) {
        if self.open {
            self.out.push_str("</span>");
            self.open = false;
        }
    }

    fn reopen(&mut self) {
        self.close();
        let mut style = String::new();
        if let Some(c) = &self.fg {
            style.push_str("color:");
            style.push_str(c);
            style.push(';');
        }
        if self.bold {
            style.push_str("font-weight:bold;");
        }
        if self.italic {
            style.push_str("font-style:italic;");
        }
        if self.underline {
            style.push_str("text-decoration:underline;");
        }
        if !style.is_empty() {
            self.out.push_str("<span style=\"");
            self.out.push_str(&style);
            self.out.push_str("\">");
            self.open = true;
        }
    }

    fn sgr(&mut self, params: &Params) {
        let flat: Vec<u16> = params.iter().flat_map(|g| g.iter().copied()).collect();
        let mut i = 0;
        if flat.is_empty() {
            self.reset();
        }
        while i < flat.len() {
            match flat[i] {
                0 => self.reset(),
                1 => self.bold = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => self.bold = false,
                23 => self.italic = false,
                24 => self.underline = false,
                39 => self.fg = None,
                n @ 30..=37 => self.fg = Some(PALETTE[usize::from(n - 30)].into()),
                n @ 90..=97 => self.fg = Some(PALETTE[usize::from(n - 90 + 8)].into()),
                38 => {
                    // 38;5;N (palette) or 38;2;R;G;B (true colour).
                    match flat.get(i + 1) {
                        Some(5) => {
                            if let Some(&n) = flat.get(i + 2) {
                                self.fg = Some(xterm_256(n));
                            }
                            i += 2;
                        }
                        Some(2) => {
                            if let (Some(r), Some(g), Some(b)) =
                                (flat.get(i + 2), flat.get(i + 3), flat.get(i + 4))
                            {
                                self.fg = Some(format!(
                                    "#{:02x}{:02x}{:02x}",
                                    r.min(&255),
                                    g.min(&255),
                                    b.min(&255)
                                ));
                            }
                            i += 4;
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.reopen();
    }

    fn reset(&mut self) {
        self.fg = None;
        self.bold = false;
        self.italic = false;
        self.underline = false;
    }
}

/// The CSS colour of an xterm 256-colour index.
fn xterm_256(n: u16) -> String {
    match n {
        0..=15 => PALETTE[usize::from(n)].into(),
        16..=231 => {
            let n = n - 16;
            let level = |v: u16| if v == 0 { 0 } else { 55 + v * 40 };
            format!(
                "#{:02x}{:02x}{:02x}",
                level(n / 36),
                level((n / 6) % 6),
                level(n % 6)
            )
        }
        _ => {
            let v = 8 + (n.min(255) - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

impl Perform for Html {
    fn print(&mut self, c: char) {
        match c {
            '<' => self.out.push_str("&lt;"),
            '>' => self.out.push_str("&gt;"),
            '&' => self.out.push_str("&amp;"),
            '"' => self.out.push_str("&quot;"),
            '\'' => self.out.push_str("&#39;"),
            c if is_c1(c) => {}
            c => self.out.push(c),
        }
    }

    fn execute(&mut self, byte: u8) {
        if byte == b'\n' || byte == b'\t' {
            self.out.push(byte as char);
        }
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if action == 'm' && intermediates.is_empty() && !ignore {
            self.sgr(params);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_untouched() {
        let t = "hello\n\tworld ✓";
        assert!(matches!(clean(t, Keep::Nothing), Cow::Borrowed(_)));
    }

    #[test]
    fn only_colour_survives_and_only_when_asked() {
        let t = "\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07clip \x1b]0;title\x1b\\ \x1b[2J\x1b[Hhome\x07\r\n";
        assert_eq!(clean(t, Keep::Nothing), "red clip  home\n");
        assert_eq!(clean(t, Keep::Colour), "\x1b[31mred\x1b[0m clip  home\n");
    }

    #[test]
    fn an_unterminated_sequence_does_not_swallow_the_filter() {
        assert_eq!(clean("a\x1b]52;c;abc", Keep::Nothing), "a");
        assert_eq!(clean("a\x1b[", Keep::Colour), "a");
        // A C1 CSI is dropped; what it would have started is left as plain text.
        assert_eq!(clean("x\u{9b}2Jy", Keep::Nothing), "x2Jy");
    }

    #[test]
    fn colour_becomes_spans_and_markup_is_escaped() {
        assert_eq!(
            to_html("\x1b[1;32mok\x1b[0m <b>&\x1b]0;t\x07"),
            "<span style=\"color:#0dbc79;font-weight:bold;\">ok</span> &lt;b&gt;&amp;"
        );
        assert_eq!(
            to_html("\x1b[38;5;208mo\x1b[38;2;1;2;3mt"),
            "<span style=\"color:#ff8700;\">o</span><span style=\"color:#010203;\">t</span>"
        );
    }
}
