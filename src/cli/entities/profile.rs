//! `aisys entities profile list|show`: what each agent profile resolves to on this machine.
//!
//! Prints what `crate::profile` resolves; must not hold resolution logic.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use super::ProfileCommand;
use crate::cli::output::{plain, plain_line};
use crate::cli::transcript::TableFormat;
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::profile::{self, Catalog, EntryKind, ProfileError, Resolved};

pub fn run(ctx: &Context, cmd: ProfileCommand) -> anyhow::Result<Exit> {
    let catalog = Catalog::new(&ctx.config.file, &ctx.config.config_file);
    match cmd {
        ProfileCommand::List { project, format } => {
            let dir = project_dir(project.as_deref())?;
            list(&catalog, &dir, format)
        }
        ProfileCommand::Show {
            name,
            project,
            format,
        } => {
            let dir = project_dir(project.as_deref())?;
            // A name no profile has is a usage error, as a missing entity is for `show`; a
            // profile that does not resolve is bad data in the config or the files it names.
            let resolved = catalog.resolve(&name, &dir).map_err(|e| {
                let code = match e {
                    ProfileError::Unknown { .. } => EXIT_USAGE,
                    _ => EXIT_BAD_INPUT,
                };
                CommandError::new(code, plain(&e.to_string()))
            })?;
            show(&resolved, format, ctx.out.color)
        }
    }
}

fn project_dir(project: Option<&Path>) -> anyhow::Result<std::path::PathBuf> {
    match project {
        Some(p) if !p.is_dir() => Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "--project {}: no such folder; give the folder that holds the project's .claude/",
                p.display()
            ),
        )
        .into()),
        Some(p) => Ok(p.to_path_buf()),
        None => std::env::current_dir().context("cannot read the current folder"),
    }
}

/// The kinds counted in the list, in this order.
const COUNTED: [(EntryKind, &str); 6] = [
    (EntryKind::Skill, "skills"),
    (EntryKind::Command, "commands"),
    (EntryKind::Agent, "agents"),
    (EntryKind::Plugin, "plugins"),
    (EntryKind::Mcp, "mcp"),
    (EntryKind::Rules, "rules"),
];

fn list(catalog: &Catalog, dir: &Path, format: TableFormat) -> anyhow::Result<Exit> {
    let default = catalog.choose(None);
    let mut rows = Vec::new();
    for name in profile::names(&catalog.config) {
        let row = match catalog.resolve(&name, dir) {
            Ok(r) => {
                let counts: serde_json::Map<String, serde_json::Value> = COUNTED
                    .iter()
                    .map(|(k, label)| (label.to_string(), json!(r.count(*k))))
                    .collect();
                json!({"name": name, "default": name == default, "counts": counts})
            }
            Err(e) => json!({"name": name, "default": name == default, "error": e.to_string()}),
        };
        rows.push(row);
    }
    let mut out = crate::cli::output::stdout();
    if format == TableFormat::Json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
        return Ok(EXIT_OK);
    }
    writeln!(out, "{:<16} CONTENTS", "PROFILE")?;
    for row in rows {
        let mut name = row["name"].as_str().unwrap_or_default().to_string();
        if row["default"] == true {
            name.push_str(" *");
        }
        let contents = match row["error"].as_str() {
            Some(e) => format!("error: {}", plain_line(e)),
            None => COUNTED
                .iter()
                .map(|(_, label)| format!("{} {label}", row["counts"][label]))
                .collect::<Vec<_>>()
                .join(", "),
        };
        writeln!(out, "{name:<16} {contents}")?;
    }
    writeln!(out, "(* the default profile)")?;
    Ok(EXIT_OK)
}

fn show(r: &Resolved, format: TableFormat, color: bool) -> anyhow::Result<Exit> {
    let mut out = crate::cli::output::stdout();
    if format == TableFormat::Json {
        serde_json::to_writer_pretty(&mut out, r)?;
        writeln!(out)?;
        return Ok(EXIT_OK);
    }
    writeln!(
        out,
        "profile {} (resolved {})",
        r.name,
        crate::types::rfc3339(r.resolved_at)
    )?;
    if r.entries.is_empty() {
        writeln!(out, "nothing: the agent starts bare")?;
    }
    let mut entries: Vec<_> = r.entries.iter().collect();
    entries.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    let dim = |s: String| {
        if color {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s
        }
    };
    // Names, paths and notes come from plugins' and skills' files: made plain.
    for e in entries {
        let mut line = format!(
            "{:<8} {:<28} {:<20} {}",
            e.kind.as_str(),
            plain_line(&e.name),
            plain_line(&e.origin.to_string()),
            plain_line(&e.path.display().to_string())
        );
        if let Some(h) = &e.hidden_by {
            line.push_str(&dim(format!("  (hidden by {})", plain_line(h))));
        }
        if let Some(n) = &e.note {
            line.push_str(&dim(format!("  ({})", plain_line(n))));
        }
        writeln!(out, "{line}")?;
    }
    let s = &r.settings;
    if let Some(m) = &s.model {
        writeln!(out, "model: {m}")?;
    }
    if let Some(m) = s.permission_mode {
        writeln!(out, "permission mode: {}", m.as_str())?;
    }
    if !s.allowed_tools.is_empty() {
        writeln!(out, "allowed tools: {}", s.allowed_tools.join(", "))?;
    }
    if !s.denied_tools.is_empty() {
        writeln!(out, "denied tools: {}", s.denied_tools.join(", "))?;
    }
    Ok(EXIT_OK)
}
