//! `aisys transcript stats`: tokens and cost of agent transcripts, as a table, JSON or CSV.
//!
//! Resolves the inputs (default: Claude Code's projects folder), the price table and the time
//! window, calls [`crate::converters::usage::count`] and prints. Holds no accounting itself.

use std::io::Write;
use std::path::PathBuf;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::table::Table;
use super::transcript::{GroupBy, StatsArgs, StatsFormat};
use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::converters::input_files::find_inputs;
use crate::converters::usage::{self, Grouping, PriceTable, Report, ScanOptions};

pub fn run(ctx: &Context, args: StatsArgs) -> anyhow::Result<Exit> {
    let roots = if args.inputs.is_empty() {
        let projects = super::transcript::claude_projects(
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
        since: args
            .since
            .as_deref()
            .map(|s| parse_time("--since", s, &tz))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time("--until", s, &tz))
            .transpose()?,
        threads: 0,
    };
    let mut prices = PriceTable::builtin();
    if let Some(p) = &args.pricing {
        prices = prices
            .with_file(p)
            .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    }
    let grouping = match args.by {
        GroupBy::Session => Grouping::Session,
        GroupBy::Day => Grouping::Day,
        GroupBy::Week => Grouping::Week,
        GroupBy::Month => Grouping::Month,
        GroupBy::Model => Grouping::Model,
        GroupBy::Project => Grouping::Project,
    };
    let report = usage::count(&files, grouping, &prices, &tz, &opts).map_err(|e| {
        let code = match e {
            usage::UsageError::Export { .. } => EXIT_BAD_INPUT,
            _ => EXIT_USAGE,
        };
        CommandError::new(code, e.to_string())
    })?;
    let mut report = report;
    if args.by == GroupBy::Session && args.format != StatsFormat::Csv {
        add_titles(&mut report);
    }
    tracing::info!(
        files = report.files,
        groups = report.groups.len(),
        "transcript stats counted"
    );
    {
        let mut err = std::io::stderr().lock();
        for b in &report.bad_lines {
            writeln!(err, "{b}")?;
        }
        if !ctx.out.quiet {
            for (model, tokens) in &report.unpriced {
                writeln!(
                    err,
                    "warning: no price for model {model:?} ({tokens} tokens counted at no cost)\n  fix: add it with --pricing FILE"
                )?;
            }
        }
    }
    if args.strict && !report.bad_lines.is_empty() {
        // A strict run promises all or nothing: no partial counts.
        return Err(
            CommandError::new(EXIT_BAD_INPUT, "stopped at the first bad line (--strict)").into(),
        );
    }
    let printed = (|| {
        let mut out = std::io::stdout().lock();
        match args.format {
            StatsFormat::Json => print_json(&mut out, &report)?,
            StatsFormat::Csv => print_csv(&mut out, &report)?,
            StatsFormat::Table => print_table(
                &mut out,
                &report,
                args.by,
                &clock,
                ctx.out.color,
                super::output::text_width(ctx.out.stdout_is_tty),
            )?,
        }
        out.flush()?;
        anyhow::Ok(())
    })();
    match printed {
        Err(e) if reader_gone(&e) => {}
        r => r?,
    }
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

/// Whether writing failed because the reader closed the pipe (`| head`): it has all it
/// wanted, which is no error.
pub(crate) fn reader_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

/// Every transcript to read (see [`crate::converters::input_files`]): `stats` counts
/// subagents' files too, each with its session.
pub(super) fn input_files(roots: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let files = find_inputs(roots).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    Ok(files.into_iter().map(|f| f.path).collect())
}

/// `--since`/`--until`: an RFC 3339 time, or a date meaning its midnight in the `--tz` zone.
fn parse_time(flag: &str, text: &str, tz: &TimeZone) -> anyhow::Result<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    match text.parse::<jiff::civil::Date>() {
        Ok(d) => Ok(d
            .to_zoned(tz.clone())
            .map_err(|e| CommandError::new(EXIT_USAGE, format!("{flag} {text}: {e}")))?
            .timestamp()),
        Err(_) => Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "{flag} {text:?}: not a time\n  fix: give a date like 2026-11-27, or a time like 2026-11-27T09:00:00Z"
            ),
        )
        .into()),
    }
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

/// A CSV field, quoted when it has to be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn print_csv(out: &mut impl Write, report: &Report) -> anyhow::Result<()> {
    writeln!(
        out,
        "key,input_tokens,output_tokens,cache_creation_tokens,cache_read_tokens,cost_usd,models"
    )?;
    for g in &report.groups {
        let t = &g.totals.tokens;
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            csv_field(&g.key),
            t.input_tokens,
            t.output_tokens,
            t.cache_creation_tokens,
            t.cache_read_tokens,
            round_cost(g.totals.cost_usd),
            csv_field(&g.models.join(";"))
        )?;
    }
    Ok(())
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    by: GroupBy,
    clock: &crate::converters::Clock,
    color: bool,
    width: Option<usize>,
) -> anyhow::Result<()> {
    let zone = clock.label();
    // Days, weeks and months are cut in a time zone: the header names it.
    let first = match by {
        GroupBy::Session => "Session".to_string(),
        GroupBy::Day => format!("Day ({zone})"),
        GroupBy::Week => format!("Week ({zone})"),
        GroupBy::Month => format!("Month ({zone})"),
        GroupBy::Model => "Model".to_string(),
        GroupBy::Project => "Project".to_string(),
    };
    let sessions = by == GroupBy::Session;
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
        if by != GroupBy::Model {
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
            if by != GroupBy::Model {
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
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
    }
}
