//! `aisys transcript stats`: tokens and cost of agent transcripts, as a table, JSON or CSV.
//!
//! Resolves the inputs (default: Claude Code's projects folder), the price table and the time
//! window, calls [`crate::converters::usage::count`] and prints. Holds no accounting itself.

use std::io::Write;
use std::path::PathBuf;

use jiff::tz::TimeZone;

use super::{claude_projects, time_flag, to_stdout};
use crate::cli::output::to_stderr;
use crate::cli::table::Table;
use clap::{Args, ValueEnum};

use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::converters::input_files::find_inputs;
use crate::converters::render::thousands;
use crate::converters::usage::{self, Grouping, PriceTable, Report, ScanOptions};

/// Count tokens and cost in transcripts.
///
/// Reads Claude Code transcripts and stream-json output, OpenCode `run --format json` lines and
/// OpenCode exports (`.json`). Each model response is counted once, even where the transcript
/// repeats its usage on several lines; a stream's turns are counted from their `result` lines.
/// Prices come from a built-in table, or from --pricing (OpenCode run lines name no model: the
/// cost OpenCode recorded is counted).
///
/// Grouped by session, each row also has the date of the session's first response and its
/// title (`/rename`'s, else Claude Code's summary, else the first prompt). Below 100 columns
/// (the terminal's width, or COLUMNS) the table keeps the key, [date,] total tokens, cost
/// [and title], so that a row stays on one line.
///
/// --format json prints {"groups": [{"key", "input_tokens", "output_tokens",
/// "cache_creation_tokens", "cache_read_tokens", "cost_usd", "models": [...], and by session
/// "started" (RFC 3339) and "title" when known}], "total": {the same counters}}; --format csv
/// prints the columns key, input_tokens, output_tokens, cache_creation_tokens,
/// cache_read_tokens, cost_usd, models (joined with `;`). Both are stable, and keep the text as
/// written; the table drops terminal control sequences from it (a title, a model).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys transcript stats
  aisys transcript stats --by day --format csv
  aisys transcript stats --by week --tz UTC
  aisys transcript stats ~/.claude/projects/-home-me-app --by model --format json")]
pub struct StatsArgs {
    /// Files, folders (every *.jsonl below) or `-` for stdin, read as Claude Code lines (default: Claude Code's projects folder).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// How to group the counts.
    #[arg(long, value_enum, default_value_t = Grouping::Session, value_name = "GROUP")]
    pub by: Grouping,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table, value_name = "FORMAT")]
    pub format: StatsFormat,
    /// Time zone days, weeks and months are cut in (and dates given to --since/--until are
    /// read in): an IANA name (Europe/Paris), UTC, or local. The table's header names it.
    #[arg(long, value_name = "ZONE", default_value = "local")]
    pub tz: String,
    /// A TOML or JSON file of per-model prices (USD per million tokens) that replaces the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub pricing: Option<PathBuf>,
    /// Only usage at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight
    /// in the --tz zone.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only usage before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its midnight in the
    /// --tz zone.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Stop at the first bad line instead of reporting it and going on.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Table,
    Json,
    Csv,
}

pub fn run(ctx: &Context, args: StatsArgs) -> anyhow::Result<Exit> {
    let roots = if args.inputs.is_empty() {
        let projects = claude_projects(
            "give transcript files or folders, or set CLAUDE_CONFIG_DIR to Claude Code's home",
        )?;
        vec![projects]
    } else {
        args.inputs.clone()
    };
    let files = input_files(&roots)?;
    let clock = crate::converters::Clock::named(&args.tz)
        .map_err(|e| CommandError::new(EXIT_USAGE, format!("--tz: {e}")))?;
    let tz: TimeZone = clock.zone().clone();
    let opts = ScanOptions {
        strict: args.strict,
        since: time_flag("--since", args.since.as_deref(), &tz)?,
        until: time_flag("--until", args.until.as_deref(), &tz)?,
        threads: 0,
    };
    let mut prices = PriceTable::builtin();
    if let Some(p) = &args.pricing {
        prices = prices
            .with_file(p)
            .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    }
    let report = usage::count(&files, args.by, &prices, &tz, &opts).map_err(|e| {
        let code = match e {
            usage::UsageError::Export { .. } => EXIT_BAD_INPUT,
            _ => EXIT_USAGE,
        };
        CommandError::new(code, e.to_string())
    })?;
    let mut report = report;
    if args.by == Grouping::Session && args.format != StatsFormat::Csv {
        add_titles(&mut report);
    }
    tracing::info!(
        files = report.files,
        groups = report.groups.len(),
        "transcript stats counted"
    );
    for b in &report.bad_lines {
        to_stderr(b);
    }
    if !ctx.out.quiet {
        for (model, tokens) in &report.unpriced {
            to_stderr(format!(
                "warning: no price for model {model:?} ({tokens} tokens counted at no cost)\n  fix: add it with --pricing FILE"
            ));
        }
    }
    if args.strict && !report.bad_lines.is_empty() {
        // A strict run promises all or nothing: no partial counts.
        return Err(
            CommandError::new(EXIT_BAD_INPUT, "stopped at the first bad line (--strict)").into(),
        );
    }
    to_stdout(|out| {
        match args.format {
            StatsFormat::Json => print_json(out, &report)?,
            StatsFormat::Csv => print_csv(out, &report)?,
            StatsFormat::Table => print_table(
                out,
                &report,
                args.by,
                &clock,
                ctx.out.color,
                crate::cli::output::text_width(ctx.out.stdout_is_tty),
            )?,
        }
        Ok(())
    })?;
    if !report.bad_lines.is_empty() {
        let n = report.bad_lines.len();
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!("{n} bad line(s), reported above; the rest was counted"),
        )
        .into());
    }
    Ok(EXIT_OK)
}

/// Every transcript to read (see [`crate::converters::input_files`]): `stats` counts
/// subagents' files too, each with its session.
pub(super) fn input_files(roots: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let files = find_inputs(roots).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    Ok(files.into_iter().map(|f| f.path).collect())
}

/// Costs are printed to the micro-dollar: finer digits are float noise, not money.
fn round_cost(c: f64) -> f64 {
    (c * 1_000_000.0).round() / 1_000_000.0
}

fn print_json(out: &mut impl Write, report: &Report) -> anyhow::Result<()> {
    let mut r = report.clone();
    for g in &mut r.groups {
        g.totals.cost_usd = round_cost(g.totals.cost_usd);
    }
    r.total.cost_usd = round_cost(r.total.cost_usd);
    serde_json::to_writer_pretty(&mut *out, &r)?;
    writeln!(out)?;
    Ok(())
}

/// The groups as CSV (RFC 4180 quoting, `\n` line ends).
fn print_csv(out: &mut impl Write, report: &Report) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "key",
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
        "cost_usd",
        "models",
    ])
    .map_err(csv_error)?;
    for g in &report.groups {
        let t = &g.totals.tokens;
        csv.write_record([
            g.key.clone(),
            t.input_tokens.to_string(),
            t.output_tokens.to_string(),
            t.cache_creation_tokens.to_string(),
            t.cache_read_tokens.to_string(),
            round_cost(g.totals.cost_usd).to_string(),
            g.models.join(";"),
        ])
        .map_err(csv_error)?;
    }
    csv.flush()?;
    Ok(())
}

/// A CSV writer's error as the I/O error it is (so a closed pipe stays one).
fn csv_error(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// Below this many columns the table keeps the key, the total tokens and the cost (and, by
/// session, the date and title), so that each row stays on one line at 80 columns.
const WIDE_TABLE_COLUMNS: usize = 100;

/// Session ids in the compact table: as many characters as `transcript list` shows.
const SHORT_SESSION_CHARS: usize = 8;

/// Each session's title (see [`crate::converters::sessions::session_title`]), read from its
/// own transcript.
fn add_titles(report: &mut Report) {
    for g in &mut report.groups {
        if let Some(path) = &g.file {
            g.title = crate::converters::sessions::session_title(path);
        }
    }
}

fn print_table(
    out: &mut impl Write,
    report: &Report,
    by: Grouping,
    clock: &crate::converters::Clock,
    color: bool,
    width: Option<usize>,
) -> anyhow::Result<()> {
    let zone = clock.label();
    // Days, weeks and months are cut in a time zone: the header names it.
    let first = match by {
        Grouping::Session => "Session".to_string(),
        Grouping::Day => format!("Day ({zone})"),
        Grouping::Week => format!("Week ({zone})"),
        Grouping::Month => format!("Month ({zone})"),
        Grouping::Model => "Model".to_string(),
        Grouping::Project => "Project".to_string(),
    };
    let sessions = by == Grouping::Session;
    let date = |g: &usage::Group| {
        g.started.map_or_else(String::new, |t| {
            t.to_zoned(clock.zone().clone())
                .strftime("%Y-%m-%d")
                .to_string()
        })
    };
    let title = |g: &usage::Group| g.title.clone().unwrap_or_default();
    let compact = width.is_some_and(|w| w < WIDE_TABLE_COLUMNS);
    let (table, flex) = if compact {
        // Key, [date,] total, cost[, title].
        let date_header = format!("Date ({zone})");
        let mut header = vec![first.as_str()];
        let mut right = vec![false];
        if sessions {
            header.push(&date_header);
            right.push(false);
        }
        header.extend(["Tokens", "Cost (USD)"]);
        right.extend([true, true]);
        if sessions {
            header.push("Title");
            right.push(false);
        }
        let mut t = Table::new(&header, &right).with_total();
        for g in &report.groups {
            let mut row = if sessions {
                vec![g.key.chars().take(SHORT_SESSION_CHARS).collect(), date(g)]
            } else {
                vec![g.key.clone()]
            };
            row.extend([
                thousands(g.totals.tokens.total()),
                format!("{:.2}", g.totals.cost_usd),
            ]);
            if sessions {
                row.push(title(g));
            }
            t.row(row);
        }
        let mut total = vec!["Total".to_string()];
        if sessions {
            total.push(String::new());
        }
        total.extend([
            thousands(report.total.tokens.total()),
            format!("{:.2}", report.total.cost_usd),
        ]);
        t.row(total);
        (t, sessions.then_some(4))
    } else {
        let mut header = vec![first.as_str()];
        let mut right = vec![false];
        if sessions {
            header.push("Date");
            right.push(false);
        }
        header.extend([
            "Input",
            "Output",
            "Cache write",
            "Cache read",
            "Total tokens",
            "Cost (USD)",
        ]);
        right.extend([true; 6]);
        // Grouped by model, the models column would repeat the key.
        if by != Grouping::Model {
            header.push("Models");
            right.push(false);
        }
        if sessions {
            header.push("Title");
            right.push(false);
        }
        let row = |key: &str, t: &usage::Totals| -> Vec<String> {
            vec![
                key.to_string(),
                thousands(t.tokens.input_tokens),
                thousands(t.tokens.output_tokens),
                thousands(t.tokens.cache_creation_tokens),
                thousands(t.tokens.cache_read_tokens),
                thousands(t.tokens.total()),
                format!("{:.2}", t.cost_usd),
            ]
        };
        let mut t = Table::new(&header, &right).with_total();
        for g in &report.groups {
            let mut r = row(&g.key, &g.totals);
            if sessions {
                r.insert(1, date(g));
            }
            if by != Grouping::Model {
                r.push(g.models.join(", "));
            }
            if sessions {
                r.push(title(g));
            }
            t.row(r);
        }
        let mut total = row("Total", &report.total);
        if sessions {
            total.insert(1, String::new());
        }
        t.row(total);
        let last = header.len() - 1;
        (t, sessions.then_some(last))
    };
    table.write(out, color, width, flex)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let group = |key: &str| usage::Group {
            key: key.to_string(),
            totals: usage::Totals::default(),
            models: vec![],
            started: None,
            title: None,
            file: None,
        };
        let report = Report {
            groups: vec![group("a"), group("a,b"), group("a\"b")],
            ..Default::default()
        };
        let mut out = Vec::new();
        print_csv(&mut out, &report).unwrap();
        let text = String::from_utf8(out).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split_once(",0,").unwrap().0)
            .collect();
        assert_eq!(keys, ["a", "\"a,b\"", "\"a\"\"b\""]);
    }
}
