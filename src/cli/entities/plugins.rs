//! `aisys entities install|uninstall|enable|disable` and `marketplace add|list|update|remove`:
//! arguments to `entities::install::Manager` calls, results to lines and exit codes.
//!
//! Must not change files itself; the core does, under its lock.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use unicode_width::UnicodeWidthStr;

use super::{InstallScope as ScopeArg, MarketplaceCommand, PluginArgs};
use crate::cli::output::{plain, plain_line};
use crate::cli::transcript::TableFormat;
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Exit};
use crate::config::{ProcessEnv, claude_home};
use crate::entities::EntityError;
use crate::entities::git::Progress;
use crate::entities::install::{InstallScope, Manager};

/// The exit status for an error of the core: a malformed argument or a missing thing is a usage
/// error (2), bad or unsafe data in a file is 3, git and I/O failures are 1. The message may
/// quote a plugin's or a file's text, so it is made plain.
pub(super) fn fail(e: EntityError) -> anyhow::Error {
    let code = match &e {
        EntityError::NotFound(_) | EntityError::Usage(_) => EXIT_USAGE,
        EntityError::BadName(_)
        | EntityError::BadJson { .. }
        | EntityError::Invalid(_)
        | EntityError::Unsafe(_) => EXIT_BAD_INPUT,
        EntityError::Read { source, .. } if source.is_bad_content() => EXIT_BAD_INPUT,
        EntityError::Git(_)
        | EntityError::Fetch(_)
        | EntityError::Io { .. }
        | EntityError::Read { .. } => EXIT_FAILURE,
    };
    CommandError::new(code, plain(&e.to_string())).into()
}

fn manager(ctx: &Context) -> anyhow::Result<Manager> {
    let home =
        claude_home(&ProcessEnv).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    Ok(Manager::new(
        home,
        Progress {
            visible: ctx.out.stderr_is_tty && !ctx.out.quiet,
        },
    ))
}

fn scope(s: ScopeArg, project: Option<&Path>) -> anyhow::Result<InstallScope> {
    Ok(match s {
        ScopeArg::User => InstallScope::User,
        ScopeArg::Project | ScopeArg::Local => {
            let dir = match project {
                Some(p) => p.to_path_buf(),
                None => std::env::current_dir().context("cannot read the current folder")?,
            };
            if !dir.is_dir() {
                return Err(CommandError::new(
                    EXIT_USAGE,
                    format!("--project {}: no such folder", dir.display()),
                )
                .into());
            }
            if s == ScopeArg::Local {
                InstallScope::Local(dir)
            } else {
                InstallScope::Project(dir)
            }
        }
    })
}

/// Prints a result line, plain: it can quote a plugin's version or a marketplace's name.
fn say(ctx: &Context, line: String) -> std::io::Result<()> {
    if !ctx.out.quiet {
        writeln!(crate::cli::output::stdout(), "{}", plain(&line))?;
    }
    Ok(())
}

pub fn install(ctx: &Context, args: PluginArgs) -> anyhow::Result<Exit> {
    let scope = scope(args.scope, args.project.as_deref())?;
    let path = manager(ctx)?.install(&args.plugin, &scope).map_err(fail)?;
    say(
        ctx,
        format!(
            "Installed {} ({} scope) in {}",
            args.plugin,
            scope_name(&scope),
            path.display()
        ),
    )?;
    Ok(EXIT_OK)
}

fn scope_name(s: &InstallScope) -> &'static str {
    s.as_str()
}

pub fn uninstall(ctx: &Context, args: PluginArgs) -> anyhow::Result<Exit> {
    let scope = scope(args.scope, args.project.as_deref())?;
    manager(ctx)?
        .uninstall(&args.plugin, &scope)
        .map_err(fail)?;
    say(
        ctx,
        format!("Uninstalled {} ({} scope)", args.plugin, scope_name(&scope)),
    )?;
    Ok(EXIT_OK)
}

pub fn set_enabled(ctx: &Context, args: PluginArgs, on: bool) -> anyhow::Result<Exit> {
    let scope = scope(args.scope, args.project.as_deref())?;
    manager(ctx)?
        .set_enabled(&args.plugin, &scope, on)
        .map_err(fail)?;
    let what = if on { "Enabled" } else { "Disabled" };
    say(
        ctx,
        format!("{what} {} ({} scope)", args.plugin, scope_name(&scope)),
    )?;
    Ok(EXIT_OK)
}

pub fn marketplace(ctx: &Context, cmd: MarketplaceCommand) -> anyhow::Result<Exit> {
    let m = manager(ctx)?;
    match cmd {
        MarketplaceCommand::Add {
            source,
            scope: s,
            project,
        } => {
            let cwd = std::env::current_dir().context("cannot read the current folder")?;
            let scope = scope(s, project.as_deref())?;
            let name = m.marketplace_add(&source, &cwd, &scope).map_err(fail)?;
            say(ctx, format!("Added marketplace {name}"))?;
        }
        MarketplaceCommand::List { format } => {
            let list = m.marketplace_list().map_err(fail)?;
            let mut stdout = crate::cli::output::stdout();
            match format {
                TableFormat::Json => {
                    serde_json::to_writer_pretty(&mut stdout, &list)?;
                    writeln!(stdout)?;
                }
                TableFormat::Table if list.is_empty() => {
                    if !ctx.out.quiet {
                        writeln!(
                            stdout,
                            "No marketplaces. Add one with `aisys entities marketplace add SOURCE`."
                        )?;
                    }
                }
                TableFormat::Table => {
                    // The records are files anyone could have written: made plain.
                    let rows: Vec<(String, String)> = list
                        .iter()
                        .map(|mk| (plain_line(&mk.name), plain_line(&mk.source.to_string())))
                        .collect();
                    let w = rows.iter().map(|r| r.0.width()).max().unwrap_or(4).max(4);
                    writeln!(stdout, "{:w$}  SOURCE", "NAME")?;
                    for (name, source) in &rows {
                        let pad = " ".repeat(w - name.width());
                        writeln!(stdout, "{name}{pad}  {source}")?;
                    }
                }
            }
        }
        MarketplaceCommand::Update { name } => {
            let names = m.marketplace_update(name.as_deref()).map_err(fail)?;
            if names.is_empty() {
                say(ctx, "No marketplaces to update.".into())?;
            }
            for n in names {
                say(ctx, format!("Updated marketplace {n}"))?;
            }
        }
        MarketplaceCommand::Remove { name } => {
            let cwd = std::env::current_dir().context("cannot read the current folder")?;
            m.marketplace_remove(&name, &cwd).map_err(fail)?;
            say(ctx, format!("Removed marketplace {name}"))?;
        }
    }
    Ok(EXIT_OK)
}
