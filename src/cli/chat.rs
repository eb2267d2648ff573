//! `aisys chat`: the terminal client of the server.

use clap::Args;

use super::values::{AgentArg, SandboxArg};
use std::io::IsTerminal;

use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::client::{Client, ClientConfig, ClientError};
use crate::config::{DEFAULT_BIND, ProcessEnv};
use crate::server::SWEEP_INTERVAL;
use crate::server::auth;
use crate::server::manager::DEFAULT_MAX_SESSIONS;
use crate::server::startup::{self, ServeOptions};
use crate::tui::State;
use crate::types::SessionSpec;

/// Chat with coding agents in a terminal UI.
///
/// Connects to an aisys server (starting one in-process if nothing listens at the configured
/// address; never when a server is given with --server or rejects the token), lists your sessions
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
        env = crate::server::auth::ENV_TOKEN,
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
    /// The agent profile new sessions get: `user`, `none`, or a `[profiles.NAME]` of the
    /// server's config file (default: the server's default).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

pub fn run(ctx: &Context, args: ChatArgs) -> anyhow::Result<Exit> {
    let url = server_url(ctx, &args)?;
    if !std::io::stdout().is_terminal() {
        return Err(CommandError::new(EXIT_USAGE, "aisys chat needs a terminal").into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(ctx, args, url))
}

/// The server's WebSocket URL: --server, else the config file's, else the default address's.
/// A malformed one is a usage error that shows the form, not a server to start.
fn server_url(ctx: &Context, args: &ChatArgs) -> anyhow::Result<String> {
    let (url, from) = match (&args.server, &ctx.config.file.server.url) {
        (Some(u), _) => (u.clone(), "--server".to_string()),
        (None, Some(u)) => (
            u.clone(),
            format!("`url` of [server] in {}:", ctx.config.config_file.display()),
        ),
        (None, None) => return Ok(format!("ws://{DEFAULT_BIND}/ws")),
    };
    let why = if !url.contains("://") {
        "it does not start with ws:// or wss://".to_string()
    } else {
        match reqwest::Url::parse(&url) {
            Err(e) => e.to_string(),
            Ok(u) if !matches!(u.scheme(), "ws" | "wss") => {
                format!("its scheme is {}, where ws or wss is needed", u.scheme())
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => "it names no host".to_string(),
            Ok(_) => return Ok(url),
        }
    };
    Err(CommandError::new(
        EXIT_USAGE,
        format!(
            "{from} {url}: not a WebSocket URL ({why})\n  fix: give it as ws://HOST:PORT/ws, e.g. ws://{DEFAULT_BIND}/ws"
        ),
    )
    .into())
}

async fn run_async(ctx: &Context, args: ChatArgs, url: String) -> anyhow::Result<Exit> {
    let data_dir = ctx.config.data_dir(None);
    let token_file = ctx
        .config
        .file
        .server
        .token_file
        .clone()
        .unwrap_or_else(|| data_dir.join(auth::TOKEN_FILE));
    let from_flag = args.token.is_some();
    let token = args.token.clone().or_else(|| {
        std::fs::read_to_string(&token_file)
            .ok()
            .map(|t| t.trim().to_string())
    });
    let client_name = format!("aisys-chat/{}", env!("CARGO_PKG_VERSION"));

    // With no token at all, still knock: a server that listens says so by rejecting the empty
    // token, and only a refused connection means there is none to talk to.
    let connected = Client::connect(ClientConfig {
        url: url.clone(),
        token: token.clone().unwrap_or_default(),
        client_name: client_name.clone(),
    })
    .await;
    let (client, notes, _embedded) = match connected {
        Ok((c, n)) => (c, n, None),
        Err(ClientError::Rejected { url }) => {
            let fix = match (&token, from_flag) {
                (None, _) => format!(
                    "no token was given and {} cannot be read: pass --token or set AISYS_TOKEN to the token `aisys serve` wrote",
                    token_file.display()
                ),
                (Some(_), true) => format!(
                    "the token comes from --token or AISYS_TOKEN: use the one in the server's data folder (`<data>/{}`, here {})",
                    auth::TOKEN_FILE,
                    token_file.display()
                ),
                (Some(_), false) => format!(
                    "the token in {} is not this server's: pass --token (or AISYS_TOKEN) with the one in the data folder of the server at {url} (`<data>/{}`)",
                    token_file.display(),
                    auth::TOKEN_FILE
                ),
            };
            return Err(CommandError::new(
                EXIT_BAD_INPUT,
                format!("the server rejected the token ({url})\n  fix: {fix}"),
            )
            .into());
        }
        Err(ClientError::Refused { .. }) if args.server.is_none() => {
            // Nothing listens at the configured address: run a server in this process.
            tracing::info!("no server at {url}; starting one in this process");
            let opts = ServeOptions {
                store: super::serve::store_choice(None, ctx)?,
                token_file: token_file.clone(),
                token: None,
                data_dir: data_dir.clone(),
                bind: "127.0.0.1:0".parse().expect("a valid address"),
                default_agent: ctx.config.agent(args.agent.map(Into::into)),
                default_sandbox: ctx.config.sandbox(args.sandbox.map(Into::into)),
                max_sessions: ctx
                    .config
                    .file
                    .server
                    .max_sessions
                    .unwrap_or(DEFAULT_MAX_SESSIONS),
                idle_timeout: None,
                allow_origins: vec![],
                allow_hosts: vec![],
                // A server of its own lets sessions work in the folder chat was started in.
                workspace_roots: std::env::current_dir().into_iter().collect(),
                sweep_interval: SWEEP_INTERVAL,
                limits: ctx.config.limits(Default::default()),
                host_network: ctx.config.host_network(None),
                allow_net: ctx.config.file.allow_net.clone(),
                profiles: crate::profile::Catalog::new(&ctx.config.file, &ctx.config.config_file),
            };
            let ready = startup::prepare(opts, &ProcessEnv)
                .await
                .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
            let url = format!("ws://{}/ws", ready.local_addr);
            let token = ready.token.as_str().to_string();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(crate::server::serve(ready.listener, ready.state, async {
                let _ = stop_rx.await;
            }));
            let (c, n) = Client::connect(ClientConfig {
                url,
                token,
                client_name,
            })
            .await
            .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
            (c, n, Some((stop_tx, server)))
        }
        Err(why) => {
            // The error already names the URL.
            return Err(CommandError::new(
                EXIT_BAD_INPUT,
                format!("{why}\n  fix: start `aisys serve`, or check --server"),
            )
            .into());
        }
    };
    let mut state = State::new();
    state.new_session = SessionSpec {
        agent: args.agent.map(Into::into),
        sandbox: args.sandbox.map(Into::into),
        profile: args.profile.clone(),
        ..Default::default()
    };
    let here = std::env::current_dir()
        .ok()
        .map(|d| d.to_string_lossy().into_owned());
    // A server of its own allows the current folder; another server decides for itself, so
    // the folder is only offered in the new-session dialog.
    if _embedded.is_some() {
        state.new_session.workspace = here.clone();
    }
    // The server decides which profiles exist; an older server does not say, and this
    // machine's config file is the best guess then.
    let profiles = match client.server_profiles() {
        [] => crate::profile::names(&ctx.config.file),
        named => named.to_vec(),
    };
    state.form_defaults = crate::tui::new_session::FormDefaults {
        workspace: here,
        profiles,
    };
    let open = if args.new { None } else { args.session.clone() };
    crate::tui::app::run(client, notes, state, open).await?;
    if let Some((stop, server)) = _embedded {
        let _ = stop.send(());
        let _ = server.await;
    }
    Ok(EXIT_OK)
}
