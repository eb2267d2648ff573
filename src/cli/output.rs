//! How human output looks: colors and quietness, decided once per process.
//!
//! Colors are on only when asked for, or when stdout is a terminal and `NO_COLOR` is unset
//! (<https://no-color.org>). Machine formats (`--format json|jsonl`) never use this.

use std::borrow::Cow;
use std::io::IsTerminal;

use super::{ColorChoice, GlobalArgs};
use crate::converters::render::ansi::{self, Keep};

/// Output settings for human-readable printing.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Whether to print ANSI colors on stdout.
    pub color: bool,
    /// Whether stdout is a terminal (pretty formats are the default there).
    pub stdout_is_tty: bool,
    /// Whether stderr is a terminal (progress bars and spinners only there).
    pub stderr_is_tty: bool,
    pub quiet: bool,
    pub verbose: u8,
}

impl Output {
    pub fn new(global: &GlobalArgs) -> Output {
        let stdout_is_tty = std::io::stdout().is_terminal();
        let no_color =
            std::env::var_os(super::reference::ENV_NO_COLOR).is_some_and(|v| !v.is_empty());
        Output {
            color: resolve_color(global.color, stdout_is_tty, no_color),
            stdout_is_tty,
            stderr_is_tty: std::io::stderr().is_terminal(),
            quiet: global.quiet,
            verbose: global.verbose,
        }
    }
}

/// Text aisys did not write (a plugin's name, a skill's body, a server's command) as human output
/// may show it: control sequences dropped, newlines and tabs kept, so that a file cannot drive
/// the terminal. Machine formats print the exact text instead.
pub fn plain(text: &str) -> Cow<'_, str> {
    ansi::clean(text, Keep::Nothing)
}

/// [`plain`] text on one line, for a table cell or a one-line message.
pub fn plain_line(text: &str) -> String {
    plain(text).replace(['\n', '\t'], " ")
}

/// `--color` against the terminal and `NO_COLOR`: an explicit choice wins.
pub fn resolve_color(choice: ColorChoice, is_tty: bool, no_color: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_tty && !no_color,
    }
}

/// The width human output is laid out for (text wrapped, tables fitted): `COLUMNS` when set,
/// else the terminal's when stdout is one; `None` (no limit) for a pipe.
pub fn text_width(stdout_is_tty: bool) -> Option<usize> {
    if let Some(w) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
    {
        return Some(w);
    }
    if !stdout_is_tty {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
        .filter(|&w| w > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_rules() {
        assert!(resolve_color(ColorChoice::Auto, true, false));
        assert!(!resolve_color(ColorChoice::Auto, true, true));
        assert!(!resolve_color(ColorChoice::Auto, false, false));
        assert!(resolve_color(ColorChoice::Always, false, true));
        assert!(!resolve_color(ColorChoice::Never, true, false));
    }
}
