//! `aisys transcript`: read, count and list agent transcripts. One file per subcommand, each
//! owning its arguments: `parse` (with `output_file` for `-o FILE` and `pages` for `-o DIR`),
//! `stats` and `list`.
//!
//! Here: the subcommands, and what they share: where Claude Code keeps its sessions, the one
//! reading of `--since`/`--until`, how a read error ends a command. Holds no reading logic: that
//! is the converters'.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_USAGE, Exit};
use crate::converters::ReadError;

mod list;
mod output_file;
mod pages;
mod parse;
mod stats;

pub use list::ListArgs;
pub use parse::{InputFormat, ParseArgs, ParseFormat};
pub use stats::{StatsArgs, StatsFormat};

/// Read agent transcripts and streams: convert them, count their cost, list sessions.
#[derive(Debug, Subcommand)]
pub enum TranscriptCommand {
    Parse(ParseArgs),
    Stats(StatsArgs),
    List(ListArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
}

pub fn run(ctx: &Context, cmd: TranscriptCommand) -> anyhow::Result<Exit> {
    match cmd {
        TranscriptCommand::Parse(args) => parse::run(ctx, args),
        TranscriptCommand::Stats(args) => stats::run(ctx, args),
        TranscriptCommand::List(args) => list::run(ctx, args),
    }
}

/// A read error as the command reports it, with the exit status it means.
fn read_error(e: ReadError) -> anyhow::Error {
    // Kept as it is, so that a reader that closed stdout ends the command quietly.
    if let ReadError::Output(io) = e {
        return io.into();
    }
    let code = match &e {
        ReadError::Find(_) | ReadError::Io { .. } => EXIT_USAGE,
        ReadError::Output(_) => EXIT_FAILURE,
        ReadError::Stopped | ReadError::TooLarge(_) => EXIT_BAD_INPUT,
    };
    CommandError::new(code, e.to_string()).into()
}

/// The value of `--since`/`--until` (`flag`) as a point in time: an RFC 3339 time as given, or
/// a date meaning its midnight in `tz` (the zone the command shows and groups times in). Both
/// `parse` and `stats` read it so.
fn time_flag(flag: &str, value: Option<&str>, tz: &TimeZone) -> anyhow::Result<Option<Timestamp>> {
    value
        .map(|text| {
            crate::converters::parse_time(text, tz)
                .map_err(|e| CommandError::new(EXIT_USAGE, format!("{flag} {e}")).into())
        })
        .transpose()
}

/// Runs `print` on stdout, flushed at the end; a reader that closed the pipe (`| head`) has all
/// it wanted, so the command goes on to its end (and its exit status, which bad lines make 3).
fn to_stdout(
    print: impl FnOnce(&mut crate::cli::output::Stdout) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let printed = (|| {
        let mut out = crate::cli::output::stdout();
        print(&mut out)?;
        std::io::Write::flush(&mut out)?;
        anyhow::Ok(())
    })();
    match printed {
        Err(e) if crate::cli::output::reader_gone(&e) => Ok(()),
        r => r,
    }
}

/// Claude Code's projects folder (`~/.claude/projects`, or under `$CLAUDE_CONFIG_DIR`), the
/// default input of `stats` and `list`; its absence is an error that ends with `fix`.
fn claude_projects(fix: &str) -> anyhow::Result<PathBuf> {
    let home = crate::config::claude_home(&crate::config::ProcessEnv)
        .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let projects = home.join("projects");
    if !projects.is_dir() {
        return Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "{}: no such folder (Claude Code's projects folder: no session was recorded here)\n  fix: {fix}",
                projects.display()
            ),
        )
        .into());
    }
    Ok(projects)
}
