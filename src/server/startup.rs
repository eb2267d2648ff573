//! Getting a server ready: data folder, token, sandbox backends, agent binaries, store, recovery,
//! and the listening socket. `aisys serve` and the embedded server of `aisys chat` share it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::auth::{self, Token};
use super::cluster::{self, Cluster, Timings};
use super::door;
use super::manager::{ManagerConfig, SessionManager};
use super::metrics::Metrics;
use super::store::{PostgresStore, Store, StoreChoice};
use super::{AppState, DEFAULT_MAX_FRAME, MAX_MESSAGE_BYTES};
use crate::config::Env;
use crate::runtime::agent::resolve_binary;
use crate::runtime::env::{ExecutionEnvironment, Limits, Network};
use crate::runtime::launch;
use crate::types::{AgentKind, SandboxKind};

/// The store's file name in the data folder.
pub const STORE_FILE: &str = "aisys.db";

/// Everything a server is started with, already resolved from flags, environment and config.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    /// Where sessions and events are kept (the SQLite file in `data_dir` by default).
    pub store: StoreChoice,
    pub bind: SocketAddr,
    /// Where the token is read from (created there if missing).
    pub token_file: PathBuf,
    /// A token given directly (`AISYS_TOKEN`), which wins over the file.
    pub token: Option<String>,
    pub default_agent: AgentKind,
    pub default_sandbox: SandboxKind,
    pub max_sessions: usize,
    pub idle_timeout: Option<Duration>,
    pub allow_origins: Vec<String>,
    /// Host names (besides loopback names and IP addresses) clients may reach the server by.
    pub allow_hosts: Vec<String>,
    pub workspace_roots: Vec<PathBuf>,
    pub sweep_interval: Duration,
    /// The most each session's sandbox may use.
    pub limits: Limits,
    /// Whether local sandboxes share the host's network (`--network host`).
    pub host_network: bool,
    /// `HOST:PORT`s local sandboxes may reach besides the model endpoint (`--allow-net`).
    pub allow_net: Vec<String>,
    /// The agent profiles sessions may name (the config file's).
    pub profiles: crate::profile::Catalog,
}

/// A server ready to run.
pub struct Prepared {
    pub listener: tokio::net::TcpListener,
    pub state: Arc<AppState>,
    pub local_addr: SocketAddr,
    pub token: Token,
    /// Where the token came from, to tell the operator.
    pub token_source: String,
    /// Sessions that were mid-turn when the server last stopped, now `stopped`.
    pub recovered: usize,
    /// Things the operator should know (missing credentials, ...).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "data folder {path}: {why}\n  fix: name a folder with --data-dir DIR (or AISYS_DATA_DIR), or move the file away"
    )]
    DataDirNotFolder { path: PathBuf, why: String },
    #[error("data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error(transparent)]
    Launch(#[from] launch::LaunchError),
    #[error("--workspace-root {path}: {source}")]
    WorkspaceRoot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    #[error("recovering sessions: {0}")]
    Recover(String),
    #[error("the docs viewer: {0}")]
    Viewer(#[from] crate::docs::ViewerError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Mode of the data folder: the store holds every conversation, so only the user may read it.
const DATA_DIR_MODE: u32 = 0o700;

/// Checks that the data folder can be one (a file in its place is said so, with the fix).
pub fn check_data_dir(dir: &std::path::Path) -> Result<(), StartError> {
    match launch::not_a_folder(dir) {
        Some(why) => Err(StartError::DataDirNotFolder {
            path: dir.to_path_buf(),
            why,
        }),
        None => Ok(()),
    }
}

/// Creates the data folder readable by the user alone, and tightens an existing one that others
/// can read; returns what was tightened, for the operator.
fn private_data_dir(dir: &std::path::Path) -> Result<Option<String>, StartError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    check_data_dir(dir)?;
    let err = |source| StartError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DATA_DIR_MODE)
        .create(dir)
        .map_err(err)?;
    let mode = std::fs::metadata(dir).map_err(err)?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DATA_DIR_MODE)).map_err(err)?;
    Ok(Some(format!(
        "data folder {} could be read by other users (mode {mode:o}): it is now {DATA_DIR_MODE:o}",
        dir.display()
    )))
}

/// Prepares a server: everything that can fail, fails here, before anything is served.
pub async fn prepare(opts: ServeOptions, env: &dyn Env) -> Result<Prepared, StartError> {
    let mut warnings = Vec::new();
    if let Some(note) = private_data_dir(&opts.data_dir)? {
        warnings.push(note);
    }
    // The store first: a store that cannot be opened (a damaged file, one in use) fails the
    // start before the token and the sandboxes' folders are made.
    // On PostgreSQL the server shares its sessions with the other servers on the database.
    let (store, cluster) = match &opts.store {
        StoreChoice::Postgres(url) => {
            let pg = Arc::new(PostgresStore::open(url).await?);
            let timings = Timings::from_env(env.var(cluster::ENV_LEASE_EXPIRY_MS).as_deref())?;
            let cluster = Cluster::new(pg.clone(), &opts.data_dir, timings)?;
            (pg as Arc<dyn Store>, Some(cluster))
        }
        StoreChoice::Sqlite => (
            opts.store.open(&opts.data_dir.join(STORE_FILE)).await?,
            None,
        ),
    };
    let (token, token_source) = match &opts.token {
        Some(t) => (Token::new(t.clone()), format!("${}", auth::ENV_TOKEN)),
        None => (
            auth::load_or_create(&opts.token_file)?.0,
            opts.token_file.display().to_string(),
        ),
    };
    let mut environments: HashMap<SandboxKind, Arc<dyn ExecutionEnvironment>> = HashMap::new();
    let mut modal = crate::runtime::launch::modal_config(&opts.data_dir);
    // The server reattaches to its sandboxes after a restart: they outlive the process.
    modal.keep_on_exit = true;
    let kinds: &[SandboxKind] = if opts.default_sandbox == SandboxKind::Modal {
        &[SandboxKind::Local, SandboxKind::Host, SandboxKind::Modal]
    } else {
        &[SandboxKind::Local, SandboxKind::Host]
    };
    for &kind in kinds {
        match launch::environment(kind, &modal).await {
            Ok(e) => {
                environments.insert(kind, Arc::from(e));
            }
            Err(e) if kind == opts.default_sandbox => return Err(e.into()),
            Err(e) => tracing::info!("{kind} sandboxes are not available: {e}"),
        }
    }
    if !environments.contains_key(&opts.default_sandbox) {
        return Err(launch::LaunchError::Unsupported(opts.default_sandbox).into());
    }
    let sandbox_env = launch::sandbox_env(env, &[])?;
    if launch::check_credentials(&sandbox_env).is_err() {
        warnings.push("no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL in the environment: turns will fail until the server is started with one".into());
    }
    // Only local sandboxes enforce a network; without them a bad endpoint is not this check's.
    let network = match launch::network(&sandbox_env, opts.host_network, &opts.allow_net) {
        Ok(n) => n,
        Err(e) if environments.contains_key(&SandboxKind::Local) => return Err(e.into()),
        Err(_) => Network::Host,
    };
    if opts.host_network {
        warnings.push("--network host: local sandboxes share this machine's network, so agents can reach anything it can (this server included)".into());
    }
    let agent_binaries = AgentKind::ALL
        .iter()
        .map(|&a| {
            let bin = resolve_binary(a, None, env, &opts.data_dir)
                .map(|b| b.path)
                .map_err(|e| e.to_string());
            (a, bin)
        })
        .collect();
    let mut workspace_roots = Vec::new();
    for root in &opts.workspace_roots {
        workspace_roots.push(
            root.canonicalize()
                .map_err(|source| StartError::WorkspaceRoot {
                    path: root.clone(),
                    source,
                })?,
        );
    }
    let metrics = Arc::new(Metrics::default());
    let manager = SessionManager::new(
        store,
        ManagerConfig {
            data_dir: opts.data_dir.clone(),
            default_agent: opts.default_agent,
            default_sandbox: opts.default_sandbox,
            max_sessions: opts.max_sessions,
            workspace_roots,
            idle_timeout: opts.idle_timeout,
            environments,
            sandbox_env,
            network,
            agent_binaries,
            limits: opts.limits,
            profiles: Arc::new(opts.profiles),
        },
        metrics.clone(),
    );
    let manager = Arc::new(match &cluster {
        Some(c) => manager.with_cluster(c.clone()),
        None => manager,
    });
    if let Some(c) = &cluster {
        c.start(&manager);
    }
    let recovered = manager
        .recover()
        .await
        .map_err(|e| StartError::Recover(e.message))?;
    // Raised before listening, so that every client is served under the higher limit.
    let max_connections = door::connection_cap(door::raise_fd_limit());
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|source| StartError::Listen {
            addr: opts.bind,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: opts.bind,
        source,
    })?;
    if !local_addr.ip().is_loopback() {
        warnings.push(format!(
            "listening on {local_addr}, reachable from other machines: the token is the only protection (clients that name the server by a host name, not an IP address, need --allow-host NAME)"
        ));
    }
    // The viewer's tabs show the folder the server was started in, as `aisys docs` would.
    let cwd = std::env::current_dir().unwrap_or_else(|_| opts.data_dir.clone());
    let claude_home = crate::config::claude_home(env)
        .unwrap_or_else(|_| opts.data_dir.join("claude-home-unknown"));
    let viewer = Arc::new(crate::docs::Viewer::new(
        &crate::docs::default_docs_dir(&cwd),
        &crate::docs::project_root(&cwd),
        claude_home,
        crate::entities::layout::claude_json(
            env.var(crate::config::ENV_CLAUDE_CONFIG_DIR)
                .map(PathBuf::from)
                .as_deref(),
        ),
    )?);
    let state = Arc::new(AppState {
        manager,
        token: token.clone(),
        allowed_origins: opts.allow_origins,
        allowed_hosts: opts.allow_hosts,
        max_connections,
        max_frame: DEFAULT_MAX_FRAME,
        max_message: MAX_MESSAGE_BYTES,
        metrics,
        sweep_interval: opts.sweep_interval,
        viewer,
    });
    Ok(Prepared {
        listener,
        state,
        local_addr,
        token,
        token_source,
        recovered,
        warnings,
    })
}
