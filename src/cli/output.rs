//! How human output looks: colors and quietness, decided once per process.
//!
//! Colors are on only when asked for, or when stdout is a terminal and `NO_COLOR` is unset
//! (<https://no-color.org>). Machine formats (`--format json|jsonl`) never use this.

use std::io::IsTerminal;

use crate::converters::ansi;

use super::{ColorChoice, GlobalArgs};

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

/// Prints `line` on stderr for a person. Errors, warnings and bad-line reports quote file names
/// and transcript text, which anyone may have written: their control sequences are dropped, so
/// that none reaches the terminal.
pub fn to_stderr(line: impl std::fmt::Display) {
    eprintln!("{}", ansi::clean(&line.to_string(), ansi::Keep::Nothing));
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
