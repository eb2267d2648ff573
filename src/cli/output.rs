//! How output looks and where it goes: colors and quietness, decided once per process; stdout,
//! whose reader may leave early; stderr, where nothing untrusted reaches the terminal raw.
//!
//! Colors are on only when asked for, or when stdout is a terminal and `NO_COLOR` is unset
//! (<https://no-color.org>). Machine formats (`--format json|jsonl`) never use this.
//!
//! A reader that closes stdout (`| head -1`) has all it wanted: every command writes stdout
//! through [`stdout`], which notes it, and the binary ends quietly with success on the error
//! that follows ([`reader_gone`]) instead of panicking or reporting a broken pipe.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Set once a write to stdout failed because its reader closed it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Stdout, locked; use it (never `println!`, which panics) for all a command prints.
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

/// Stdout that notes when its reader has gone.
pub struct Stdout(std::io::StdoutLock<'static>);

impl Stdout {
    fn noted<T>(r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Self::noted(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Self::noted(self.0.flush())
    }
}

/// Whether `err` ended a command because the reader of its stdout closed it: a broken pipe,
/// when stdout's was one (a broken pipe elsewhere, to an agent say, is an error like any).
pub fn reader_gone(err: &anyhow::Error) -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
        && err.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                || c.downcast_ref::<serde_json::Error>()
                    .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
        })
}

/// Prints `line` on stderr for a person. Errors, warnings and bad-line reports quote file names
/// and transcript text, which anyone may have written: their control sequences are dropped, so
/// that none reaches the terminal.
pub fn to_stderr(line: impl std::fmt::Display) {
    eprintln!("{}", plain(&line.to_string()));
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
