//! `aisys chat`: the terminal client of the server.

use clap::Args;

use super::values::{AgentArg, SandboxArg};
use super::{Context, Exit, not_implemented};

/// Chat with coding agents in a terminal UI.
///
/// Connects to an aisys server (starting one in-process if none answers), lists your sessions
/// and streams the conversation: text, thinking, tool calls and permission requests.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys chat
  aisys chat --new --agent opencode
  aisys chat --server ws://127.0.0.1:7777/ws --session s_01J9Z8")]
pub struct ChatArgs {
    /// WebSocket URL of the server (default: the configured one, ws://127.0.0.1:7777/ws).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Token for the server (default: read from the server's data folder, or AISYS_TOKEN).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AISYS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Open this session.
    #[arg(long, value_name = "ID", conflicts_with = "new")]
    pub session: Option<String>,
    /// Start with a new session.
    #[arg(long)]
    pub new: bool,
    /// Agent for new sessions.
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Sandbox backend for new sessions.
    #[arg(long, value_enum, value_name = "KIND")]
    pub sandbox: Option<SandboxArg>,
}

pub fn run(_ctx: &Context, _args: ChatArgs) -> anyhow::Result<Exit> {
    Err(not_implemented("chat"))
}
