//! `ExecutionEnvironment`: the sandbox primitives every backend provides.
//!
//! Create a sandbox from a [`SandboxSpec`], `exec` processes in it with streamed stdio, move files
//! in and out, ask which resource [`Limits`] its processes hit, and terminate it with every process
//! inside. Paths given to a [`Sandbox`] are paths
//! *inside* the sandbox, so that a remote backend (Modal) fits the same trait.
//!
//! Must not know about agents: which program runs, and what its output means, is `runtime::agent`'s
//! business.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::types::SandboxKind;

pub mod beneath;
mod gather;
mod gitguard;
mod host;
mod limits;
mod local;
mod modal;
pub mod netrelay;
mod process;
pub mod watch;

pub use gather::GATHER_WINDOW;
pub use host::HostEnvironment;
pub use limits::{
    DEFAULT_MAX_CPU_TIME, DEFAULT_MAX_MEMORY, DEFAULT_MAX_PIDS, Enforcement, LimitHit, Limits,
    format_size, parse_pids, parse_size, sweep_stale_cgroups,
};
pub use local::{BwrapEnvironment, check_bwrap};
pub use modal::{
    AUTH_HINT as MODAL_AUTH_HINT, DEFAULT_APP as MODAL_DEFAULT_APP, ENV_HOME as MODAL_ENV_HOME,
    ENV_PYTHON as MODAL_ENV_PYTHON, ENV_WORKDIR as MODAL_ENV_WORKDIR,
    INSTALL_HINT as MODAL_INSTALL_HINT, ModalConfig, ModalEnvironment, ModalSandbox, SESSION_TAG,
    SandboxEntry, SyncReport,
};
pub use process::ExitInfo;
pub use watch::{WatchReport, WorkspaceWatch};

/// How long a terminated process gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// What a sandbox is made of.
#[derive(Debug, Clone, Default)]
pub struct SandboxSpec {
    /// The folder the agent works in: the only host folder it may write.
    pub workspace: PathBuf,
    /// The agent's own home folder, kept between runs so its transcripts survive.
    pub home: PathBuf,
    /// Environment variables the sandbox's processes get; nothing else passes.
    pub env: BTreeMap<String, String>,
    /// What network the processes have (the model API is reached over it). Enforced by the
    /// `local` backend; `host` has the host's, Modal its own.
    pub network: Network,
    /// Host files or folders made visible read-only at the same path (e.g. the agent binary).
    pub read_only: Vec<PathBuf>,
    /// Most time the sandbox may live; its processes are killed after.
    pub lifetime: Option<Duration>,
    /// Most tasks, memory and CPU time its processes may use (see [`Limits`]).
    pub limits: Limits,
    /// Free-form labels (`aisys.session` = id, ...), for listing and cleanup.
    pub labels: BTreeMap<String, String>,
}

/// What network a sandbox's processes have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Network {
    /// None: only the sandbox's own loopback.
    #[default]
    None,
    /// The host's network, unrestricted (no network isolation).
    Host,
    /// Only these destinations.
    Egress(Vec<Egress>),
}

/// One destination a sandbox may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    /// A TCP endpoint on the host's loopback, reached inside at the same address (a model
    /// endpoint such as `http://127.0.0.1:8080`).
    Loopback(SocketAddr),
    /// A remote `host:port`, reached through an HTTP proxy (`HTTPS_PROXY`) that allows only the
    /// listed ones.
    Remote { host: String, port: u16 },
}

/// One file of the agent's profile, placed in its home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeFile {
    /// Relative to the home, below its tree's root (e.g. `.claude/skills/greet/SKILL.md`).
    pub path: String,
    pub data: Vec<u8>,
    /// Whether it may be run (a hook's script).
    pub executable: bool,
}

/// A folder (or a single file) of the agent's home that is placed as a unit, read-only where the
/// backend can make it so: it replaces whatever the home had at `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeTree {
    /// Relative to the home, e.g. `.claude/skills` or `.claude/settings.json`.
    pub root: String,
    /// Every file of the tree (just one, whose `path` is `root`, for a file tree).
    pub files: Vec<HomeFile>,
}

impl HomeTree {
    /// The bytes of all its files, for size limits and reports.
    pub fn size(&self) -> usize {
        self.files.iter().map(|f| f.data.len()).sum()
    }
}

/// A process to start in a sandbox.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the sandbox's environment for this process.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the sandbox (default: the workspace).
    pub cwd: Option<String>,
    /// Read stdout in batches at most one per [`GATHER_WINDOW`] while it has data (an agent's
    /// stream of lines; see `gather.rs`).
    pub gathered_stdout: bool,
}

/// Errors of sandbox backends; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(
        "bubblewrap (bwrap) is not installed, and the local sandbox needs it.\n  fix: apt-get install bubblewrap (or choose --sandbox host to run without isolation)"
    )]
    BwrapMissing,
    #[error(
        "bubblewrap cannot create a sandbox here: {detail}\n  fix: allow unprivileged user namespaces (on Ubuntu 24.04+: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for bwrap; elsewhere: sysctl -w kernel.unprivileged_userns_clone=1), or choose --sandbox host"
    )]
    NamespacesUnavailable { detail: String },
    #[error("workspace {path}: {source}")]
    Workspace {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start `{program}` in the sandbox: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("path {path} is outside the sandbox's workspace and home")]
    OutsideSandbox { path: String },
    #[error("sandbox file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the sandbox was terminated")]
    Terminated,
    /// The sandbox's network relay cannot start.
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Backend(String),
    /// The Modal backend cannot start here (no python3, no `modal` package, no credentials).
    #[error("{0}")]
    ModalSetup(String),
    /// Modal raised an error: its class and message.
    #[error("Modal raised {class}: {message}")]
    Modal { class: String, message: String },
}

impl EnvError {
    /// The sandbox no longer exists (it was terminated, or its backend ended it: Modal's idle
    /// timeout, its lifetime, an outage): nothing more runs in it, and a new sandbox is the way
    /// on.
    pub fn sandbox_gone(&self) -> bool {
        match self {
            EnvError::Terminated => true,
            EnvError::Modal { class, .. } => {
                class == "SandboxTerminatedError" || class == "NotFoundError"
            }
            _ => false,
        }
    }
}

/// A sandbox backend: creates sandboxes.
#[async_trait]
pub trait ExecutionEnvironment: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> SandboxKind;
    /// Creates a sandbox. Fails early, with a fix, when the backend cannot work on this machine.
    async fn create(&self, spec: SandboxSpec) -> Result<Box<dyn Sandbox>, EnvError>;
    /// A sandbox created earlier, possibly by another process, if it still runs. Backends whose
    /// sandboxes end with the process that made them (local, host) have nothing to find.
    async fn attach(&self, _id: &str) -> Result<Option<Box<dyn Sandbox>>, EnvError> {
        Ok(None)
    }
    /// Whether a sandbox goes on without the process that made it, so that another server may
    /// [`attach`](Self::attach) it: a server that lost a session then leaves the sandbox alone.
    fn sandboxes_outlive_server(&self) -> bool {
        false
    }
}

/// One sandbox: a workspace, a home and the processes started in it.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// A unique id, for logs and cleanup.
    fn id(&self) -> &str;
    /// The workspace's path inside the sandbox.
    fn workdir(&self) -> &str;
    /// The agent home's path inside the sandbox.
    fn home(&self) -> &str;
    /// Starts a process with piped stdin, stdout and stderr.
    async fn exec(&self, spec: ExecSpec) -> Result<Process, EnvError>;
    /// Writes a file (inside the workspace or the home).
    async fn write_file(&self, path: &str, data: &[u8]) -> Result<(), EnvError>;
    /// Reads a file (inside the workspace or the home).
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, EnvError>;
    /// Places `trees` in the agent's home before its first process, replacing what an earlier
    /// call placed. The default writes each file into the home (so the agent could change it);
    /// the `local` backend mounts them read-only instead.
    async fn place_home(&self, trees: &[HomeTree]) -> Result<(), EnvError> {
        let home = self.home().to_string();
        let mut executable = Vec::new();
        for file in trees.iter().flat_map(|t| &t.files) {
            let path = format!("{home}/{}", file.path);
            self.write_file(&path, &file.data).await?;
            if file.executable {
                executable.push(path);
            }
        }
        if !executable.is_empty() {
            let mut args = vec!["+x".to_string()];
            args.extend(executable);
            let mut p = self
                .exec(ExecSpec {
                    program: "chmod".into(),
                    args,
                    ..Default::default()
                })
                .await?;
            p.control.wait().await?;
        }
        Ok(())
    }
    /// Kills every process of the sandbox and releases it. Idempotent.
    async fn terminate(&self) -> Result<(), EnvError>;
    /// The resource limits its processes ran into since the last call; `last_exit` is how the
    /// last process ended. Backends that cannot tell report none.
    async fn limits_hit(&self, _last_exit: Option<&ExitInfo>) -> Vec<LimitHit> {
        Vec::new()
    }

    /// Starts watching the workspace: what is created, modified or deleted in it, reported
    /// after [`watch::DEBOUNCE`] (not inside the folders [`watch::is_entered`] skips). Each call
    /// starts a watch of its own; dropping it stops it. `None` when the backend cannot watch.
    async fn watch_workspace(&self) -> Result<Option<WorkspaceWatch>, EnvError> {
        Ok(None)
    }

    /// The workspace's entries (path relative to the workspace, `/`-separated), listed inside
    /// the sandbox, folders [`watch::is_entered`] skips listed but not entered. `None` from a
    /// backend whose workspace is the host folder itself (local, host): a reader lists it there,
    /// where nothing depends on the sandbox still running.
    async fn list_workspace(&self) -> Result<Option<BTreeMap<String, watch::Entry>>, EnvError> {
        Ok(None)
    }

    /// Up to `max` bytes of the workspace file `rel` (relative, no `..`) and its whole size,
    /// read inside the sandbox; a link anywhere on the path is refused. `None` as for
    /// [`Sandbox::list_workspace`]. A missing file is an [`EnvError::File`] of kind `NotFound`.
    async fn read_workspace_file(
        &self,
        _rel: &str,
        _max: u64,
    ) -> Result<Option<(Vec<u8>, u64)>, EnvError> {
        Ok(None)
    }

    /// Writes what changed in the workspace into `dest`, the host folder it was made from, for
    /// a backend whose sandbox keeps a copy of its own (Modal): called before the sandbox is
    /// released, so that the agent's work outlives it. Paths that would escape `dest` (links,
    /// `..`, special files) are refused and listed, never written. `None` from a backend whose
    /// workspace is the host folder itself (local, host).
    async fn bring_home(&self, _dest: &Path) -> Result<Option<SyncReport>, EnvError> {
        Ok(None)
    }

    /// How long the backend itself lets the sandbox sit without a process before it ends it,
    /// and the sandbox's own copy of the workspace with it (Modal's idle timeout). `None`: it
    /// does not (local, host).
    fn idle_limit(&self) -> Option<Duration> {
        None
    }

    /// When the backend ends the sandbox whatever runs in it (Modal's lifetime), when known.
    fn ends_at(&self) -> Option<Instant> {
        None
    }

    /// How often a session holding the sandbox between turns asks [`Sandbox::alive`]: `None`
    /// for a backend whose sandboxes end only when told to (local, host).
    fn health_check(&self) -> Option<Duration> {
        None
    }

    /// Whether the sandbox still runs (its backend may have ended it: Modal's limits, an
    /// outage). An error is a failure to ask, not an answer.
    async fn alive(&self) -> Result<bool, EnvError> {
        Ok(true)
    }

    /// What the sandbox undid or refused since the last call (e.g. a `.git` the agent created
    /// in the workspace, moved aside), for the user to see once a process has ended.
    fn take_notices(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A running process: its stdio and a handle to wait for or kill it.
pub struct Process {
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
    pub control: Box<dyn ProcessControl>,
}

/// Waiting for and stopping a process.
#[async_trait]
pub trait ProcessControl: Send + Sync {
    /// Waits for the process to end.
    async fn wait(&mut self) -> Result<ExitInfo, EnvError>;
    /// Asks the process (and everything it started) to stop, then kills it after
    /// [`KILL_GRACE`]. Returns at once; `wait` tells when it is gone.
    fn kill(&mut self);
}
