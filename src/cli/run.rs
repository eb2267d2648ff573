//! `aisys run`: one query, one sandbox, no server.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::values::{AgentArg, PermissionModeArg, SandboxArg};
use super::{Context, Exit, not_implemented};

/// Run one query with a coding agent in a sandbox, and stream what it does.
///
/// The agent works in the workspace folder, which is the only host folder it can write. Its tool
/// requests inside the sandbox are allowed unless --permission-mode, --allow-tool or --deny-tool
/// narrow that, or --ask prompts for each one.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys run \"add a unit test for parse_date\" --workspace .
  echo \"explain this repo\" | aisys run - --workspace . --format jsonl
  aisys run \"continue\" --resume 8d9fe6d2-189f-4ca8-a400-4ce669939d52 --workspace .")]
pub struct RunArgs {
    /// The prompt; `-` reads it from stdin.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Which agent to run.
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Where to run it: local (bubblewrap), host (no isolation) or modal.
    #[arg(long, value_enum, value_name = "KIND")]
    pub sandbox: Option<SandboxArg>,
    /// The folder the agent works in (default: a new folder under aisys's data folder).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The model to ask, e.g. claude-sonnet-4-5.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Which tool requests need a decision (Claude Code's permission modes).
    #[arg(long, value_enum, value_name = "MODE")]
    pub permission_mode: Option<PermissionModeArg>,
    /// Allow this tool without asking (repeatable), e.g. `Bash(git *)`.
    #[arg(long, value_name = "TOOL")]
    pub allow_tool: Vec<String>,
    /// Deny this tool (repeatable).
    #[arg(long, value_name = "TOOL")]
    pub deny_tool: Vec<String>,
    /// Ask on the terminal for each tool request.
    #[arg(long)]
    pub ask: bool,
    /// Stop after this many agent turns.
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Give up after this long, e.g. `90s` or `10m` (exit 124).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Pass this environment variable into the sandbox too (repeatable).
    #[arg(long = "env", value_name = "KEY")]
    pub env: Vec<String>,
    /// Continue the agent's earlier conversation with this id.
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    /// Use this agent binary instead of the installed one.
    #[arg(long, value_name = "PATH")]
    pub agent_bin: Option<PathBuf>,
    /// Output: pretty (default on a terminal), jsonl (StreamEvents, default otherwise), json, markdown.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<RunFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// Streamed text, one line per tool call, and a summary line.
    Pretty,
    /// One StreamEvent per line.
    Jsonl,
    /// The conversation's blocks as one JSON document at the end.
    Json,
    /// The conversation as Markdown at the end.
    Markdown,
}

pub fn run(_ctx: &Context, _args: RunArgs) -> anyhow::Result<Exit> {
    Err(not_implemented("run"))
}
