//! `aisys serve`: the agent server.

use std::path::PathBuf;

use clap::Args;

use super::values::{AgentArg, LimitArgs, NetworkArg, SandboxArg, parse_duration};
use std::net::SocketAddr;

use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit, reference};
use crate::config::{DEFAULT_BIND, Env, ProcessEnv};
use crate::runtime::agent::{BinaryError, resolve_binary};
use crate::server::SWEEP_INTERVAL;
use crate::server::auth;
use crate::server::manager::DEFAULT_MAX_SESSIONS;
use crate::server::startup::{self, ServeOptions, StartError};
use crate::server::store::StoreChoice;
use crate::types::AgentKind;

/// Start the agent server that `aisys chat` and other WebSocket clients talk to.
///
/// The server keeps sessions and their events in a SQLite file under the data folder (or in a
/// PostgreSQL database: `--store postgres://...`), and runs each session's agent in its own
/// sandbox. It binds loopback by default and always requires a token, created on first start in
/// `<data-dir>/token` (mode 0600).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys serve
  aisys serve --bind 127.0.0.1:8080 --max-sessions 50
  aisys serve --workspace-root ~/src --sandbox local")]
pub struct ServeArgs {
    /// Address and port to listen on. A non-loopback address makes the token the only protection.
    #[arg(long, value_name = "ADDR", env = reference::ENV_BIND)]
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
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Read the token from this file instead of `<data-dir>/token` (or set AISYS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Also accept WebSocket upgrades whose Origin is this one (repeatable).
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Also answer requests that name the server by this host name (repeatable; loopback names
    /// and IP addresses are always answered). Guards against DNS rebinding.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Let clients name workspaces under this folder (repeatable; none by default).
    #[arg(long, value_name = "DIR")]
    pub workspace_root: Vec<PathBuf>,
    /// Do not install the default agent's pinned CLI when it is missing (turns then fail until
    /// `aisys agents install` has run).
    #[arg(long)]
    pub no_agent_install: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Local sandboxes' network: limited (default: only the model endpoint and the allowed hosts)
    /// or host (the host's network, unrestricted).
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<NetworkArg>,
    /// Let local sandboxes reach this HOST:PORT too (repeatable), e.g. `github.com:443`.
    #[arg(long, value_name = "HOST:PORT")]
    pub allow_net: Vec<String>,
    /// Where sessions and events are kept: `sqlite` (default: a file in the data folder) or a
    /// PostgreSQL database, `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. The environment
    /// variable keeps a password off the command line.
    #[arg(
        long,
        value_name = "STORE",
        env = reference::ENV_STORE,
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// How often unwatched idle sessions are unloaded from memory (tests shorten it).
    #[arg(long, hide = true, value_name = "DURATION", value_parser = parse_duration)]
    pub sweep_interval: Option<std::time::Duration>,
}

/// The store `--store` (or `AISYS_STORE`, or config.toml's `store`) names; SQLite when none does.
pub fn store_choice(flag: Option<&str>, ctx: &Context) -> Result<StoreChoice, CommandError> {
    match flag.or(ctx.config.file.server.store.as_deref()) {
        None => Ok(StoreChoice::Sqlite),
        Some(value) => StoreChoice::parse(value).map_err(|e| {
            let from = if flag.is_some() {
                String::new()
            } else {
                format!(" (from `store` in {})", ctx.config.config_file.display())
            };
            CommandError::new(EXIT_USAGE, format!("{e}{from}"))
        }),
    }
}

pub fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(ctx, args))
}

async fn run_async(ctx: &Context, args: ServeArgs) -> anyhow::Result<Exit> {
    let data_dir = ctx.config.data_dir(args.data_dir.as_deref());
    let bind = args
        .bind
        .clone()
        .or_else(|| ctx.config.file.server.bind.clone())
        .unwrap_or_else(|| DEFAULT_BIND.to_string());
    let bind: SocketAddr = bind.parse().map_err(|_| {
        CommandError::new(
            EXIT_USAGE,
            format!("--bind {bind}: not an address:port such as 127.0.0.1:7777"),
        )
    })?;
    // Before the agent is installed into it.
    startup::check_data_dir(&data_dir).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let default_agent = ctx.config.agent(args.agent.map(Into::into));
    if !args.no_agent_install {
        install_missing_agent(ctx, default_agent, &data_dir).await?;
    }
    let store = store_choice(args.store.as_deref(), ctx)?;
    let opts = ServeOptions {
        store,
        token_file: args
            .token_file
            .clone()
            .or_else(|| ctx.config.file.server.token_file.clone())
            .unwrap_or_else(|| data_dir.join(auth::TOKEN_FILE)),
        token: ProcessEnv.var(auth::ENV_TOKEN),
        data_dir,
        bind,
        default_agent,
        default_sandbox: ctx.config.sandbox(args.sandbox.map(Into::into)),
        max_sessions: args
            .max_sessions
            .or(ctx.config.file.server.max_sessions)
            .unwrap_or(DEFAULT_MAX_SESSIONS),
        idle_timeout: args.idle_timeout,
        allow_origins: args.allow_origin.clone(),
        allow_hosts: args.allow_host.clone(),
        workspace_roots: args.workspace_root.clone(),
        sweep_interval: args.sweep_interval.unwrap_or(SWEEP_INTERVAL),
        limits: ctx.config.limits(args.limits.settings()),
        host_network: ctx.config.host_network(args.network.map(Into::into)),
        allow_net: [ctx.config.file.allow_net.clone(), args.allow_net.clone()].concat(),
        profiles: crate::profile::Catalog::new(&ctx.config.file, &ctx.config.config_file),
    };
    let ready = startup::prepare(opts, &ProcessEnv).await.map_err(|e| {
        let code = match e {
            StartError::WorkspaceRoot { .. }
            | StartError::DataDirNotFolder { .. }
            | StartError::Listen { .. } => EXIT_USAGE,
            _ => EXIT_BAD_INPUT,
        };
        // As `aisys docs` says it: the port is the user's to change.
        let fix = match &e {
            StartError::Listen { source, .. }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                "\n  fix: give another address with --bind ADDR:PORT (port 0 picks a free one), or stop what listens there"
            }
            _ => "",
        };
        CommandError::new(code, format!("{e}{fix}"))
    })?;
    for w in &ready.warnings {
        eprintln!("warning: {w}");
    }
    use std::fmt::Write as _;
    let mut banner = format!(
        "aisys serve: listening on ws://{}/ws\ntoken: {}\n",
        ready.local_addr, ready.token_source
    );
    // As Jupyter does: on a terminal, the address to open carries the token, which the page
    // trades for a cookie and removes from the address bar. Piped output (logs) never holds it.
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let _ = writeln!(
            banner,
            "browser: http://{}/?token={}",
            ready.local_addr,
            ready.token.as_str()
        );
    } else {
        let _ = writeln!(
            banner,
            "browser: http://{}/ (add ?token=<token> the first time)",
            ready.local_addr
        );
    }
    if ready.recovered > 0 {
        let _ = writeln!(
            banner,
            "{} session(s) were running when the server stopped; they are stopped now and resume on their next message",
            ready.recovered
        );
    }
    // A reader that closed stdout (`| true`) ends the server here, quietly, before it serves.
    let mut out = super::output::stdout();
    std::io::Write::write_all(&mut out, banner.as_bytes())?;
    std::io::Write::flush(&mut out)?;
    drop(out);
    crate::server::serve(ready.listener, ready.state, shutdown_signal())
        .await
        .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
    if !ctx.out.quiet {
        eprintln!("aisys serve: stopped");
    }
    Ok(EXIT_OK)
}

/// On a fresh machine the default agent's CLI is not there yet: install the pinned version into
/// the data folder before listening, so the first turn does not fail on it. A binary that exists
/// but does not run is left for `aisys agents list` to explain.
async fn install_missing_agent(
    ctx: &Context,
    agent: AgentKind,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    match resolve_binary(agent, None, &ProcessEnv, data_dir) {
        Err(BinaryError::Missing { .. }) => {
            if !ctx.out.quiet {
                eprintln!(
                    "aisys serve: {agent} is not installed; installing the pinned version (skip with --no-agent-install)"
                );
            }
            let done = super::agents::install_agent(ctx, agent, None, data_dir).await?;
            if !ctx.out.quiet {
                eprintln!(
                    "aisys serve: {agent} {} installed: {}",
                    done.reported_version,
                    done.binary.display()
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(super) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
