//! `aisys transcript list`: the Claude Code sessions on this machine, newest first, as a table
//! or JSON.
//!
//! Finds Claude Code's projects folder (honouring `CLAUDE_CONFIG_DIR`), calls
//! [`crate::converters::sessions::list_sessions`] for what each session is and
//! [`crate::converters::usage::count`] for its tokens and cost, and prints. Holds no reading
//! logic itself.

use std::io::Write;

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

use crate::cli::output::to_stderr;
use crate::cli::table::{Table, cut_to};
use clap::Args;

use super::{TableFormat, claude_projects, to_stdout};
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::converters::sessions::{SessionInfo, list_sessions};
use crate::converters::short_duration;
use crate::converters::usage::{self, Grouping, PriceTable, ScanOptions, Totals};

/// Widest title or first prompt in a table laid out for no particular width (a pipe): enough
/// to recognise a session, and a row stays one line.
const TABLE_PROMPT_CHARS: usize = 50;

/// Shortest session id shown in the table: a prefix this long is almost always unique, and
/// `transcript parse --session` takes it. Longer where two sessions share it.
const SHORT_ID_CHARS: usize = 8;

/// Below this many columns the table drops its secondary columns (messages, project, the
/// separate title) so that a row stays on one line.
const WIDE_TABLE_COLUMNS: usize = 100;

/// List the Claude Code sessions on this machine, newest first.
///
/// Each session shows when it started, how long it ran, its tokens and cost (subagents
/// included), a short id (`transcript parse --session` takes it), its title (`/rename`, else
/// Claude Code's summary) and the first prompt of its main thread (a slash command as
/// `/name args`). Below 100 columns the table keeps only what fits on one line.
///
/// --format json prints {"sessions": [{"id", "short_id", "project_dir", "title",
/// "first_prompt", "started", "last_activity", "duration_s", "messages", "input_tokens",
/// "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens", "cost_usd",
/// "path"}]}, times in RFC 3339, the path whole, the text as written; it is stable. The table
/// drops terminal control sequences from what it shows (a title, a prompt).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys transcript list
  aisys transcript list --format json | jq -r '.sessions[0].path'
  aisys transcript parse --session 3f2a1b9c -o session.html")]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
}

pub fn run(ctx: &Context, args: ListArgs) -> anyhow::Result<Exit> {
    let projects =
        claude_projects("set CLAUDE_CONFIG_DIR to Claude Code's home if it is elsewhere")?;
    let list =
        list_sessions(&projects).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let usage = session_usage(&projects)?;
    for b in &list.bad_lines {
        to_stderr(b);
    }
    let short = short_ids(&list.sessions);
    let width = crate::cli::output::text_width(ctx.out.stdout_is_tty);
    to_stdout(|out| {
        match args.format {
            TableFormat::Json => {
                let sessions: Vec<_> = list
                    .sessions
                    .iter()
                    .zip(&short)
                    .map(|(s, id)| session_json(s, id, usage.get(&s.id)))
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &json!({ "sessions": sessions }))?;
                writeln!(out)?;
            }
            TableFormat::Table => {
                print_table(out, &list.sessions, &short, &usage, ctx.out.color, width)?
            }
        }
        Ok(())
    })?;
    if !list.bad_lines.is_empty() {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!(
                "{} bad line(s), reported above; the sessions were listed from the rest",
                list.bad_lines.len()
            ),
        )
        .into());
    }
    Ok(EXIT_OK)
}

/// Tokens and cost of each session (its subagents' included), counted as `transcript stats
/// --by session` counts them. Bad lines are left to the listing, which reports them once.
fn session_usage(projects: &std::path::Path) -> anyhow::Result<HashMap<String, Totals>> {
    let files = super::stats::input_files(&[projects.to_path_buf()])?;
    let report = usage::count(
        &files,
        Grouping::Session,
        &PriceTable::builtin(),
        &TimeZone::UTC,
        &ScanOptions::default(),
    )
    .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    Ok(report
        .groups
        .into_iter()
        .map(|g| (g.key, g.totals))
        .collect())
}

/// Each session's id cut to the shortest prefix, of at least [`SHORT_ID_CHARS`], that no other
/// listed session shares.
fn short_ids(sessions: &[SessionInfo]) -> Vec<String> {
    let mut sorted: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    sorted.sort_unstable();
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    sessions
        .iter()
        .map(|s| {
            let i = sorted.binary_search(&s.id.as_str()).unwrap_or(0);
            let before = i.checked_sub(1).map_or(0, |j| common(sorted[j], &s.id));
            let after = sorted.get(i + 1).map_or(0, |n| common(n, &s.id));
            let keep = SHORT_ID_CHARS.max(before.max(after) + 1);
            s.id.chars().take(keep).collect()
        })
        .collect()
}

fn duration(s: &SessionInfo) -> Option<jiff::SignedDuration> {
    Some(s.last_activity?.duration_since(s.started?))
}

fn session_json(s: &SessionInfo, short_id: &str, usage: Option<&Totals>) -> serde_json::Value {
    let t = usage.map(|u| u.tokens).unwrap_or_default();
    json!({
        "id": s.id,
        "short_id": short_id,
        "project_dir": s.project_dir,
        "title": s.title,
        "first_prompt": s.first_prompt,
        "started": s.started.map(|t| t.to_string()),
        "last_activity": s.last_activity.map(|t| t.to_string()),
        "duration_s": duration(s).map(|d| d.as_secs()),
        "messages": s.messages,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_creation_tokens": t.cache_creation_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "total_tokens": t.total(),
        "cost_usd": usage.map_or(0.0, |u| (u.cost_usd * 1_000_000.0).round() / 1_000_000.0),
        "path": s.path.display().to_string(),
    })
}

/// A time as the reader's wall clock shows it, to the minute.
fn local(t: Option<Timestamp>, tz: &TimeZone) -> String {
    match t {
        Some(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        None => "-".to_string(),
    }
}

/// `950`, `12.3k`, `4.5M`: a column of token counts read at a glance.
fn short_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

fn print_table(
    out: &mut impl Write,
    sessions: &[SessionInfo],
    short: &[String],
    usage: &HashMap<String, Totals>,
    color: bool,
    width: Option<usize>,
) -> anyhow::Result<()> {
    if sessions.is_empty() {
        writeln!(out, "No Claude Code sessions.")?;
        return Ok(());
    }
    let tz = TimeZone::system();
    // The full table where it fits (or for a pipe), else the compact one.
    let wide = list_table(sessions, short, usage, &tz, true);
    let (table, flex) = match width {
        Some(w) if w < WIDE_TABLE_COLUMNS || wide.min_width(WIDE_FLEX) > w => {
            (list_table(sessions, short, usage, &tz, false), COMPACT_FLEX)
        }
        _ => (wide, WIDE_FLEX),
    };
    table.write(out, color, width, Some(flex))?;
    Ok(())
}

/// The column of each layout that gives way to fit the width: the first prompt, or the title.
const WIDE_FLEX: usize = 8;
const COMPACT_FLEX: usize = 5;

/// A transcript's path to copy: whole, with the home folder as `~`.
fn home_relative(path: &std::path::Path) -> String {
    match dirs::home_dir().and_then(|h| path.strip_prefix(h).ok().map(|r| r.to_path_buf())) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

fn list_table(
    sessions: &[SessionInfo],
    short: &[String],
    usage: &HashMap<String, Totals>,
    tz: &TimeZone,
    wide: bool,
) -> Table {
    let mut table = if wide {
        Table::new(
            &[
                "Started",
                "Duration",
                "Messages",
                "Tokens",
                "Cost",
                "Session",
                "Project",
                "Title",
                "First prompt",
                "File",
            ],
            &[
                false, true, true, true, true, false, false, false, false, false,
            ],
        )
    } else {
        Table::new(
            &[
                "Started",
                "Duration",
                "Tokens",
                "Cost",
                "Session",
                "Title / first prompt",
            ],
            &[false, true, true, true, false, false],
        )
    };
    for (s, id) in sessions.iter().zip(short) {
        let u = usage.get(&s.id);
        let started = local(s.started, tz);
        let took = duration(s).map_or_else(|| "-".to_string(), short_duration);
        let tokens = u.map_or_else(|| "-".to_string(), |u| short_count(u.tokens.total()));
        let cost = u.map_or_else(|| "-".to_string(), |u| format!("${:.2}", u.cost_usd));
        let prompt = s.first_prompt.as_deref().unwrap_or("-");
        if wide {
            let title = s.title.as_deref().unwrap_or("-");
            table.row(vec![
                started,
                took,
                s.messages.to_string(),
                tokens,
                cost,
                id.clone(),
                s.project_dir.clone(),
                cut_to(title, TABLE_PROMPT_CHARS),
                cut_to(prompt, TABLE_PROMPT_CHARS),
                home_relative(&s.path),
            ]);
        } else {
            let what = s.title.as_deref().unwrap_or(prompt);
            table.row(vec![
                started,
                took,
                tokens,
                cost,
                id.clone(),
                what.to_string(),
            ]);
        }
    }
    table
}
