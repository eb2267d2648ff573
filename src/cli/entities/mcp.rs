//! `aisys entities mcp list|add|edit|remove`: MCP servers in the files `claude mcp` uses.
//!
//! Arguments to [`crate::entities::mcp`] calls, results to lines and exit codes; must not change
//! files itself.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use unicode_width::UnicodeWidthStr;

use crate::cli::output::{plain, plain_line};
use crate::cli::transcript::TableFormat;
use crate::cli::{CommandError, Context, EXIT_OK, EXIT_USAGE, Exit};
use crate::config::{Env, ProcessEnv, claude_home};
use crate::entities::mcp::{McpFiles, McpScope, McpSpec, Transport};

/// Add, list, change and remove MCP servers, in the same files as `claude mcp`.
#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// List the MCP servers of every scope (local, project, user).
    #[command(
        after_help = "JSON (--format json): [{\"name\", \"scope\": \"local\"|\"project\"|\"user\",
\"file\", \"config\": {\"type\", \"command\", \"args\", \"env\", \"url\", \"headers\"}}]

Examples:
  aisys entities mcp list
  aisys entities mcp list --format json"
    )]
    List {
        /// The project folder (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
        format: TableFormat,
    },
    /// Add a server: a command to run (stdio) or a URL (http, sse).
    #[command(after_help = "Examples:
  aisys entities mcp add files -- npx -y @modelcontextprotocol/server-filesystem .
  aisys entities mcp add db --scope user -e DB_URL=postgres://localhost/app -- node db.js
  aisys entities mcp add docs --transport http https://example.com/mcp -H \"Authorization: Bearer TOKEN\"
  aisys entities mcp add team --scope project --transport sse https://example.com/sse")]
    Add {
        /// The server's name (letters, digits, - and _).
        #[arg(value_name = "NAME")]
        name: String,
        #[command(flatten)]
        spec: SpecArgs,
        /// Where to keep it: local (~/.claude.json, this project only, for you), project
        /// (.mcp.json, shared through the repository) or user (~/.claude.json, every project).
        #[arg(short, long, value_enum, default_value_t = McpScopeArg::Local, value_name = "SCOPE")]
        scope: McpScopeArg,
        /// The project folder (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// Change an existing server: give it again as `add` would; it keeps its place in the
    /// file, and keys of its entry that `add` does not write.
    #[command(after_help = "Examples:
  aisys entities mcp edit files -- npx -y @modelcontextprotocol/server-filesystem src
  aisys entities mcp edit db --scope user -e DB_URL=postgres://db.internal/app -- node db.js
  aisys entities mcp edit docs --transport http https://example.com/mcp/v2 -H \"Authorization: Bearer NEW\"

A name no scope has is refused (exit 2), as is a name that several scopes have without --scope.")]
    Edit {
        /// The server's name.
        #[arg(value_name = "NAME")]
        name: String,
        #[command(flatten)]
        spec: SpecArgs,
        /// The scope that has it (needed when several have it).
        #[arg(short, long, value_enum, value_name = "SCOPE")]
        scope: Option<McpScopeArg>,
        /// The project folder (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// Remove a server.
    #[command(after_help = "Examples:
  aisys entities mcp remove files
  aisys entities mcp remove db --scope user")]
    Remove {
        /// The server's name.
        #[arg(value_name = "NAME")]
        name: String,
        /// The scope to remove it from (needed when several have it).
        #[arg(short, long, value_enum, value_name = "SCOPE")]
        scope: Option<McpScopeArg>,
        /// The project folder (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
}

/// What a server is, as `add` and `edit` take it.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The command (stdio) or the URL (http, sse).
    #[arg(value_name = "COMMAND_OR_URL")]
    target: String,
    /// The command's arguments (after `--` when they start with `-`).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
    /// How Claude Code talks to it.
    #[arg(short, long, value_enum, default_value_t = TransportArg::Stdio, value_name = "TRANSPORT")]
    transport: TransportArg,
    /// An environment variable for a stdio server, KEY=value (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// An HTTP header for an http or sse server, "Name: value" (repeatable).
    #[arg(short = 'H', long, value_name = "HEADER")]
    header: Vec<String>,
}

impl SpecArgs {
    fn spec(self) -> anyhow::Result<McpSpec> {
        Ok(McpSpec {
            transport: self.transport.into(),
            target: self.target,
            args: self.args,
            env: pairs(&self.env, '=', "-e", "KEY=value")?,
            headers: pairs(&self.header, ':', "-H", "\"Name: value\"")?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum McpScopeArg {
    /// ~/.claude.json, under this project: for you, in this project only.
    Local,
    /// The project's .mcp.json, shared through the repository.
    Project,
    /// ~/.claude.json: for you, in every project.
    User,
}

impl From<McpScopeArg> for McpScope {
    fn from(s: McpScopeArg) -> McpScope {
        match s {
            McpScopeArg::Local => McpScope::Local,
            McpScopeArg::Project => McpScope::Project,
            McpScopeArg::User => McpScope::User,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    Stdio,
    Http,
    Sse,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Transport {
        match t {
            TransportArg::Stdio => Transport::Stdio,
            TransportArg::Http => Transport::Http,
            TransportArg::Sse => Transport::Sse,
        }
    }
}

fn files(project: Option<PathBuf>) -> anyhow::Result<McpFiles> {
    let dir = match project {
        Some(p) if p.is_dir() => p,
        Some(p) => {
            return Err(CommandError::new(
                EXIT_USAGE,
                format!("--project {}: no such folder", p.display()),
            )
            .into());
        }
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let home =
        claude_home(&ProcessEnv).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let claude_json = crate::entities::layout::claude_json(
        ProcessEnv
            .var(crate::config::ENV_CLAUDE_CONFIG_DIR)
            .map(PathBuf::from)
            .as_deref(),
    )
    .ok_or_else(|| {
        CommandError::new(
            EXIT_USAGE,
            "cannot find the home folder for ~/.claude.json; set HOME or CLAUDE_CONFIG_DIR",
        )
    })?;
    Ok(McpFiles {
        claude_home: home,
        claude_json,
        dir,
    })
}

/// Splits `KEY=value` / `Name: value` pairs, naming the flag in the error.
fn pairs(
    items: &[String],
    sep: char,
    flag: &str,
    example: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| match s.split_once(sep) {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim_start().to_string())),
            None => {
                Err(CommandError::new(EXIT_USAGE, format!("{flag} {s:?}: give {example}")).into())
            }
        })
        .collect()
}

pub fn run(ctx: &Context, cmd: McpCommand) -> anyhow::Result<Exit> {
    match cmd {
        McpCommand::List { project, format } => {
            let servers = files(project)?.list().map_err(super::plugins::fail)?;
            let mut out = crate::cli::output::stdout();
            match format {
                TableFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &servers)?;
                    writeln!(out)?;
                }
                TableFormat::Table if servers.is_empty() => {
                    if !ctx.out.quiet {
                        writeln!(
                            out,
                            "No MCP servers. Add one with `aisys entities mcp add NAME -- COMMAND`."
                        )?;
                    }
                }
                TableFormat::Table => {
                    // Names, types and commands are the files' text: made plain for the table.
                    let names: Vec<String> = servers.iter().map(|s| plain_line(&s.name)).collect();
                    let w = names
                        .iter()
                        .map(|n| UnicodeWidthStr::width(n.as_str()))
                        .max()
                        .unwrap_or(4)
                        .max(4);
                    writeln!(out, "{:w$}  {:7}  {:5}  TARGET", "NAME", "SCOPE", "TYPE")?;
                    for (s, name) in servers.iter().zip(&names) {
                        let c = &s.config;
                        let kind = plain_line(c["type"].as_str().unwrap_or("stdio"));
                        let target = match c["url"].as_str() {
                            Some(u) => u.to_string(),
                            None => std::iter::once(c["command"].as_str().unwrap_or(""))
                                .chain(
                                    c["args"]
                                        .as_array()
                                        .into_iter()
                                        .flatten()
                                        .filter_map(|a| a.as_str()),
                                )
                                .collect::<Vec<_>>()
                                .join(" "),
                        };
                        let pad = " ".repeat(w - UnicodeWidthStr::width(name.as_str()));
                        writeln!(
                            out,
                            "{name}{pad}  {:7}  {kind:5}  {}",
                            s.scope.as_str(),
                            plain_line(&target)
                        )?;
                    }
                }
            }
        }
        McpCommand::Add {
            name,
            spec,
            scope,
            project,
        } => {
            let spec = spec.spec()?;
            let scope: McpScope = scope.into();
            let file = files(project)?
                .add(&name, scope, &spec)
                .map_err(super::plugins::fail)?;
            if !ctx.out.quiet {
                writeln!(
                    crate::cli::output::stdout(),
                    "Added {} MCP server {name} to {} config ({})",
                    spec.transport.as_str(),
                    scope.as_str(),
                    file.display()
                )?;
            }
        }
        McpCommand::Edit {
            name,
            spec,
            scope,
            project,
        } => {
            let spec = spec.spec()?;
            let (scope, file) = files(project)?
                .edit(&name, scope.map(Into::into), &spec)
                .map_err(super::plugins::fail)?;
            if !ctx.out.quiet {
                writeln!(
                    crate::cli::output::stdout(),
                    "Changed MCP server {name} in {} config ({}): now {} {}",
                    scope.as_str(),
                    file.display(),
                    spec.transport.as_str(),
                    plain(&spec.target)
                )?;
            }
        }
        McpCommand::Remove {
            name,
            scope,
            project,
        } => {
            let removed = files(project)?
                .remove(&name, scope.map(Into::into))
                .map_err(super::plugins::fail)?;
            if !ctx.out.quiet {
                writeln!(
                    crate::cli::output::stdout(),
                    "Removed MCP server {name} from {} config",
                    removed.as_str()
                )?;
            }
        }
    }
    Ok(EXIT_OK)
}
