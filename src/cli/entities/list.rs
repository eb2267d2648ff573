//! `aisys entities list` and `show`: discovery results as a table, JSON, or one entity in full.
//!
//! Resolves the roots from the environment and flags and prints; must not hold discovery logic.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{ListArgs, ShowArgs, ValidateArgs};
use crate::cli::output::{plain, plain_line};
use crate::cli::transcript::TableFormat;
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit, Output};
use crate::config::{ENV_CLAUDE_CONFIG_DIR, Env, ProcessEnv, claude_home};
use crate::entities::{self, Entity, EntityKind, Inventory, Roots, Warning, frontmatter};

/// Bytes buffered before a write to stdout: the JSON of 5,000 entities is about 2 MB.
const OUTPUT_BUFFER: usize = 256 * 1024;
/// Longest description shown in the table (the JSON has it whole).
const TABLE_DESCRIPTION_CHARS: usize = 60;

/// The roots for a command: the Claude home from the environment, the project from `--project`
/// or the current folder.
pub fn roots(project: Option<&Path>) -> anyhow::Result<Roots> {
    let home =
        claude_home(&ProcessEnv).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    // Claude Code keeps `.claude.json` inside $CLAUDE_CONFIG_DIR when it is set, else in $HOME.
    let claude_json = entities::layout::claude_json(
        ProcessEnv
            .var(ENV_CLAUDE_CONFIG_DIR)
            .map(PathBuf::from)
            .as_deref(),
    );
    let dir = match project {
        Some(p) => {
            if !p.is_dir() {
                return Err(CommandError::new(
                    EXIT_USAGE,
                    format!(
                        "--project {}: no such folder; give the folder that holds the project's .claude/",
                        p.display()
                    ),
                )
                .into());
            }
            p.to_path_buf()
        }
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    Ok(Roots {
        claude_home: home,
        claude_json,
        projects: Roots::project_dirs(&dir),
    })
}

/// Prints warnings on stderr (plain: they quote files); with `strict`, any warning is a failure
/// (exit 3).
pub fn report_warnings(out: &Output, warnings: &[Warning], strict: bool) -> anyhow::Result<()> {
    for w in warnings {
        if !out.quiet || strict {
            crate::cli::output::to_stderr(format!("warning: {w}"));
        }
    }
    if strict && !warnings.is_empty() {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!(
                "{} warning(s), and --strict treats them as a failure; fix the files named above",
                warnings.len()
            ),
        )
        .into());
    }
    Ok(())
}

pub fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<Exit> {
    let roots = roots(args.project.as_deref())?;
    let Inventory { entities, warnings } = entities::discover(&roots);
    let shown: Vec<&Entity> = entities
        .iter()
        .filter(|e| args.kind.is_none_or(|k| k == e.kind))
        .filter(|e| args.scope.is_none_or(|s| s == e.scope))
        .collect();
    // Buffered: stdout is line-buffered, and thousands of JSON lines would be as many writes.
    let mut stdout = std::io::BufWriter::with_capacity(OUTPUT_BUFFER, crate::cli::output::stdout());
    match args.format {
        TableFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &shown)?;
            writeln!(stdout)?;
        }
        TableFormat::Table => write_table(&mut stdout, &ctx.out, &shown)?,
    }
    stdout.flush()?;
    drop(stdout);
    report_warnings(&ctx.out, &warnings, args.strict)?;
    Ok(EXIT_OK)
}

fn write_table(w: &mut impl Write, out: &Output, shown: &[&Entity]) -> std::io::Result<()> {
    if shown.is_empty() {
        if !out.quiet {
            writeln!(w, "No entities found.")?;
        }
        return Ok(());
    }
    let rows: Vec<[String; 6]> = shown
        .iter()
        .map(|e| {
            let state = match (&e.hidden_by, e.enabled) {
                // The reason is in the warning below the table and in the JSON.
                _ if e.skipped.is_some() => "skipped".into(),
                // The table names the winner; the path is in the JSON and in `show`.
                (Some(by), _) => format!(
                    "hidden by {}",
                    plain_line(by.split(" (").next().unwrap_or(by))
                ),
                (None, true) => "active".into(),
                (None, false) => "disabled".into(),
            };
            // A skipped entry has no description: its reason takes the place.
            let mut desc = plain_line(
                e.skipped
                    .as_deref()
                    .or(e.description.as_deref())
                    .unwrap_or_default(),
            );
            if desc.chars().count() > TABLE_DESCRIPTION_CHARS {
                desc = desc
                    .chars()
                    .take(TABLE_DESCRIPTION_CHARS - 1)
                    .collect::<String>()
                    + "…";
            }
            // Names and sources come from files too: a folder's name can hold an escape.
            [
                e.kind.to_string(),
                plain_line(&e.name),
                e.scope.to_string(),
                state,
                plain_line(&e.source),
                desc,
            ]
        })
        .collect();
    let header = ["KIND", "NAME", "SCOPE", "STATE", "SOURCE", "DESCRIPTION"];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| unicode_width::UnicodeWidthStr::width(r[i].as_str()))
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i < 5 {
                let pad = widths[i].saturating_sub(unicode_width::UnicodeWidthStr::width(*c)) + 2;
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let head = line(header);
    if out.color {
        writeln!(w, "\x1b[1m{head}\x1b[0m")?;
    } else {
        writeln!(w, "{head}")?;
    }
    for r in &rows {
        let text = line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
        if out.color && r[3] != "active" {
            writeln!(w, "\x1b[2m{text}\x1b[0m")?;
        } else {
            writeln!(w, "{text}")?;
        }
    }
    Ok(())
}

pub fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<Exit> {
    let Some((kind, name)) = args.entity.split_once('/') else {
        return Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "`{}`: expected KIND/NAME, e.g. skill/pdf or agent/demo:tester",
                args.entity
            ),
        )
        .into());
    };
    let Some(kind) = EntityKind::parse(kind) else {
        return Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "`{kind}` is not a kind; use one of: {}",
                EntityKind::ALL.map(|k| k.as_str()).join(", ")
            ),
        )
        .into());
    };
    let roots = roots(args.project.as_deref())?;
    let inv = entities::discover(&roots);
    let mut found: Vec<&Entity> = inv
        .entities
        .iter()
        .filter(|e| e.kind == kind && e.name == name)
        .collect();
    // The active one first, then the ones it hides.
    found.sort_by_key(|e| e.hidden_by.is_some());
    let Some(e) = found.first() else {
        return Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "no {kind} named `{name}`; `aisys entities list --kind {kind}` shows what there is"
            ),
        )
        .into());
    };
    // Everything shown but the JSON fields is text from files: made plain.
    let mut stdout = crate::cli::output::stdout();
    writeln!(stdout, "{} {}", e.kind, plain(&e.name))?;
    writeln!(stdout, "path: {}", plain(&e.path.display().to_string()))?;
    writeln!(stdout, "scope: {}", e.scope)?;
    writeln!(stdout, "source: {}", plain(&e.source))?;
    let state = match (&e.hidden_by, e.enabled) {
        _ if e.skipped.is_some() => format!("skipped: {}", e.skipped.as_deref().unwrap_or("")),
        (Some(by), _) => format!("hidden by {by}"),
        (None, true) => "active".into(),
        (None, false) => "disabled".into(),
    };
    writeln!(stdout, "state: {}", plain(&state))?;
    for other in found.iter().skip(1) {
        writeln!(
            stdout,
            "also: {} (hidden)",
            plain(&other.path.display().to_string())
        )?;
    }
    let is_markdown = matches!(
        kind,
        EntityKind::Skill | EntityKind::Command | EntityKind::Agent
    );
    if is_markdown {
        let text = entities::file::read_text(&e.path, entities::file::MAX_ENTITY_FILE)
            .with_context(|| format!("cannot read {}", e.path.display()))?;
        let doc = frontmatter::parse(&text).map_err(|err| {
            CommandError::new(
                EXIT_BAD_INPUT,
                plain(&format!(
                    "{}:{}: {}",
                    e.path.display(),
                    err.line,
                    err.message
                )),
            )
        })?;
        writeln!(stdout, "\n--- frontmatter")?;
        if doc.has_frontmatter {
            write!(stdout, "{}", plain(doc.yaml))?;
        }
        writeln!(stdout, "---\n")?;
        write!(stdout, "{}", plain(doc.body))?;
    } else if !e.fields.is_empty() {
        writeln!(stdout)?;
        serde_json::to_writer_pretty(&mut stdout, &e.fields)?;
        writeln!(stdout)?;
    }
    drop(stdout);
    report_warnings(&ctx.out, &inv.warnings, false)?;
    Ok(EXIT_OK)
}

pub fn validate(ctx: &Context, args: ValidateArgs) -> anyhow::Result<Exit> {
    let path = match args.path {
        Some(p) => p,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let report =
        entities::validate::validate(&path).map_err(|e| CommandError::new(EXIT_USAGE, e))?;
    let mut stdout = crate::cli::output::stdout();
    let errors = report.errors();
    let warnings = report.findings.len() - errors;
    if args.format == TableFormat::Json {
        let checked: Vec<serde_json::Value> = report
            .checked
            .iter()
            .map(|(k, p)| serde_json::json!({"kind": k, "path": p}))
            .collect();
        let doc = serde_json::json!({
            "errors": errors,
            "warnings": warnings,
            "checked": checked,
            "findings": report.findings,
        });
        serde_json::to_writer_pretty(&mut stdout, &doc)?;
        writeln!(stdout)?;
    } else {
        for f in &report.findings {
            writeln!(stdout, "{}", plain(&f.to_string()))?;
        }
    }
    if args.format == TableFormat::Table && (!ctx.out.quiet || errors > 0) {
        let what: Vec<String> = report
            .checked
            .iter()
            .map(|(k, p)| format!("{k} {}", plain(&p.display().to_string())))
            .collect();
        writeln!(
            stdout,
            "checked {} item(s): {} error(s), {} warning(s){}",
            what.len(),
            errors,
            warnings,
            if ctx.out.verbose > 0 {
                format!("\n  {}", what.join("\n  "))
            } else {
                String::new()
            }
        )?;
    }
    drop(stdout);
    if errors > 0 {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!("{}: {errors} error(s); fix the lines above", path.display()),
        )
        .into());
    }
    Ok(EXIT_OK)
}
