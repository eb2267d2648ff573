//! `aisys serve`: the agent server.

use std::path::PathBuf;

use clap::Args;

use super::values::{AgentArg, SandboxArg};
use super::{Context, Exit, not_implemented};

/// Start the agent server that `aisys chat` and other WebSocket clients talk to.
///
/// The server keeps sessions and their events in a SQLite file under the data folder, and runs
/// each session's agent in its own sandbox. It binds loopback by default and always requires a
/// token, created on first start in `<data-dir>/token` (mode 0600).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys serve
  aisys serve --bind 127.0.0.1:8080 --max-sessions 50
  aisys serve --workspace-root ~/src --sandbox local")]
pub struct ServeArgs {
    /// Address and port to listen on. A non-loopback address makes the token the only protection.
    #[arg(long, value_name = "ADDR", env = "AISYS_BIND")]
    pub bind: Option<String>,
    /// Folder for the session store, workspaces and the token (default: aisys's data folder).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Sandbox backend for new sessions.
    #[arg(long, value_enum, value_name = "KIND")]
    pub sandbox: Option<SandboxArg>,
    /// Agent for new sessions that do not name one.
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Most sessions the server keeps at once; `session.create` beyond it gets error `limit`.
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<usize>,
    /// Release a session's sandbox after this long without a turn, e.g. `10m` (the session stays).
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Read the token from this file instead of `<data-dir>/token` (or set AISYS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Also accept WebSocket upgrades whose Origin is this one (repeatable).
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Let clients name workspaces under this folder (repeatable; none by default).
    #[arg(long, value_name = "DIR")]
    pub workspace_root: Vec<PathBuf>,
}

pub fn run(_ctx: &Context, _args: ServeArgs) -> anyhow::Result<Exit> {
    Err(not_implemented("serve"))
}
