//! `aisys entities install|uninstall|enable|disable` and `marketplace add|list|update|remove`:
//! arguments to `entities::install::Manager` calls, results to lines and exit codes.
//!
//! Must not change files itself; the core does, under its lock.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use super::{InstallScope as ScopeArg, MarketplaceCommand, PluginArgs};
use crate::cli::transcript::TableFormat;
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Exit};
use crate::config::{ProcessEnv, claude_home};
use crate::entities::EntityError;
use crate::entities::git::Progress;
use crate::entities::install::{InstallScope, Manager};

/// The exit status for an error of the core: missing things are usage errors (2), bad or unsafe
/// input is 3, git and I/O failures are 1.
pub(super) fn fail(e: EntityError) -> anyhow::Error {
    let code = match &e {
        EntityError::NotFound(_) => EXIT_USAGE,
        EntityError::BadName(_)
        | EntityError::BadJson { .. }
        | EntityError::Invalid(_)
        | EntityError::Unsafe(_) => EXIT_BAD_INPUT,
        EntityError::Read { source, .. } if source.is_skipped() => EXIT_BAD_INPUT,
        EntityError::Git(_)
        | EntityError::Fetch(_)
        | EntityError::Io { .. }
        | EntityError::Read { .. } => EXIT_FAILURE,
    };
    CommandError::new(code, e.to_string()).into()
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

fn say(ctx: &Context, line: String) -> std::io::Result<()> {
    if !ctx.out.quiet {
        writeln!(crate::cli::output::stdout(), "{line}")?;
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
                    let w = list.iter().map(|m| m.name.len()).max().unwrap_or(4).max(4);
                    writeln!(stdout, "{:w$}  SOURCE", "NAME")?;
                    for mk in &list {
                        writeln!(stdout, "{:w$}  {}", mk.name, mk.source)?;
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
