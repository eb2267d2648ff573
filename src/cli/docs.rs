//! `aisys docs`: the docs and context viewer, served on loopback with a token in its address.
//!
//! Resolves the folders and the token, then serves [`crate::docs::app`]. Holds no viewer logic.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::config::{Env, ProcessEnv};
use crate::docs::{Viewer, default_docs_dir, project_root};
use crate::server::auth::{ENV_TOKEN, Token};
use crate::server::gate::Gate;

/// The viewer's port when none is given: next to the agent server's 7777.
pub const DEFAULT_DOCS_PORT: u16 = 7780;

/// Browse a project's docs, and what Claude Code loads there, in the browser.
///
/// Serves a web app with four tabs: Docs (the Markdown pages of DIR, Mermaid diagrams drawn,
/// searchable, updated live as files change), Context (the skills, commands, agents, hooks and
/// MCP servers Claude Code loads in this project, from which scope, and what hides what),
/// Plugins (marketplaces, plugins and MCP servers: add, install, remove) and Transcripts (Claude
/// Code's sessions on this machine). It listens on loopback and needs the token printed in its
/// address; the token lasts as long as the command runs.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys docs
  aisys docs ./handbook --port 8080
  aisys docs --no-open")]
pub struct DocsArgs {
    /// The folder of Markdown pages (default: the project's docs/ if it has one, else the
    /// project's root).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Port to listen on (0: any free port).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DOCS_PORT)]
    pub port: u16,
    /// Address to listen on. A non-loopback address makes the token the only protection.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The project whose .claude/ the Context tab shows (default: the current folder's project).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Open the viewer in the browser (the default on a terminal).
    #[arg(long, overrides_with = "no_open")]
    pub open: bool,
    /// Do not open a browser.
    #[arg(long)]
    pub no_open: bool,
}

pub fn run(ctx: &Context, args: DocsArgs) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(ctx, args))
}

async fn run_async(ctx: &Context, args: DocsArgs) -> anyhow::Result<Exit> {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::new(EXIT_USAGE, format!("the current folder: {e}")))?;
    let dir = args.dir.clone().unwrap_or_else(|| default_docs_dir(&cwd));
    let project = match &args.project {
        Some(p) => p.clone(),
        None => project_root(&cwd),
    };
    let claude_home = crate::config::claude_home(&ProcessEnv)
        .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let viewer = Viewer::new(
        &dir,
        &project,
        claude_home,
        crate::entities::layout::claude_json(
            ProcessEnv
                .var(crate::config::ENV_CLAUDE_CONFIG_DIR)
                .map(PathBuf::from)
                .as_deref(),
        ),
    )
    .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let token = match ProcessEnv.var(ENV_TOKEN) {
        Some(t) if !t.trim().is_empty() => Token::new(t.trim()),
        _ => Token::random().map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?,
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CommandError::new(
            EXIT_USAGE,
            format!(
                "cannot listen on {addr}: {e}{}",
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    "\n  fix: give another port with --port N (0 picks a free one)"
                } else {
                    ""
                }
            ),
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
    if !local.ip().is_loopback() {
        eprintln!(
            "warning: listening on {local}, reachable from other machines: the token is the only protection"
        );
    }
    let url = format!("http://{local}/docs/?token={}", token.as_str());
    // A reader that closed stdout (`| true`) ends the viewer here, quietly, before it serves.
    let mut out = super::output::stdout();
    writeln!(
        out,
        "aisys docs: {} on http://{local}/docs/",
        viewer.docs_root.display()
    )?;
    writeln!(out, "open: {url}")?;
    out.flush()?;
    drop(out);
    let open = !args.no_open && (args.open || std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if open {
        open_browser(&url, ctx.out.quiet);
    }
    let app = crate::docs::app(
        Arc::new(viewer),
        Gate {
            token,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
        },
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(super::serve::shutdown_signal())
        .await
        .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
    if !ctx.out.quiet {
        eprintln!("aisys docs: stopped");
    }
    Ok(EXIT_OK)
}

/// Opens `url` with the desktop's opener; a machine without one only gets a note.
fn open_browser(url: &str, quiet: bool) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned
        && !quiet
    {
        eprintln!("aisys docs: cannot start {opener} ({e}); open the address above by hand");
    }
}
