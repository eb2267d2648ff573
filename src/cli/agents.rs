//! `aisys agents`: find and install the agent CLIs.

use clap::{Args, Subcommand};

use super::transcript::TableFormat;
use super::values::AgentArg;
use super::{Context, Exit, not_implemented};

/// Show and install the coding agents aisys can run.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    List(AgentsListArgs),
    Install(AgentsInstallArgs),
}

/// Show each agent, the binary aisys would run and its version, or why it is missing.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys agents list
  aisys agents list --format json")]
pub struct AgentsListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
}

/// Install an agent's npm package into aisys's data folder.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys agents install claude-code
  aisys agents install opencode --version 1.18.33")]
pub struct AgentsInstallArgs {
    /// The agent to install.
    #[arg(value_enum, value_name = "AGENT")]
    pub agent: AgentArg,
    /// The version to install (default: the version aisys is tested with).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
}

pub fn run(_ctx: &Context, cmd: AgentsCommand) -> anyhow::Result<Exit> {
    match cmd {
        AgentsCommand::List(_) => Err(not_implemented("agents list")),
        AgentsCommand::Install(_) => Err(not_implemented("agents install")),
    }
}
