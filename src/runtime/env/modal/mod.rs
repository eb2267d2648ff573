//! The `modal` backend: each sandbox is a Modal Sandbox, driven through Modal's own Python SDK by
//! the bridge program aisys ships (`bridge.py`, see [`bridge`]).
//!
//! `create` starts a sandbox tagged for cleanup (`aisys.managed`, plus the spec's labels such as
//! `aisys.session`), passes the spec's environment as a Modal Secret (never baked into an image),
//! mounts a per-session Modal Volume as the agent's home (so `--resume` survives the sandbox) and
//! uploads the workspace with tar. `exec` streams stdio through the bridge. Its workspace watch
//! compares listings made inside the sandbox ([`watch`]); a reader of the workspace lists and
//! reads it there too ([`files`]). Before the sandbox goes (and after a turn of `aisys run
//! --sync-back`), [`ModalSandbox::sync_back`] brings changed files home, refusing any path
//! that escapes the workspace or reaches git's control surface. Sandboxes this process created
//! are terminated when it goes away, even on Ctrl-C, unless [`ModalConfig::keep_on_exit`] says a
//! server will reattach to them.
//!
//! Must not know about agents, and must not write outside the folder it syncs back to.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use super::gather::{GATHER_WINDOW, Pause};
use super::{
    EnvError, ExecSpec, ExecutionEnvironment, ExitInfo, KILL_GRACE, Process, ProcessControl,
    Sandbox, SandboxSpec,
};
use crate::types::SandboxKind;

mod bridge;
mod files;
mod protocol;
mod sync;
mod watch;

use bridge::Bridge;
pub use bridge::{AUTH_HINT, ENV_PYTHON, INSTALL_HINT};
use protocol::{
    AttachReply, BridgeRequest, CreateReply, Done, ImageSpec, KillSignal, ListReply, ReadFileReply,
};
pub use sync::SyncReport;

/// The Modal app sandboxes belong to, unless `--modal-app` says otherwise.
pub const DEFAULT_APP: &str = "aisys";
/// The tag on every sandbox aisys creates, so `aisys sandboxes list|prune` finds them all.
pub const MANAGED_TAG: &str = "aisys.managed";
/// The label that names a sandbox's session (and its home volume).
pub const SESSION_TAG: &str = "aisys.session";
/// Where the workspace lives inside a Modal sandbox.
pub const DEFAULT_WORKDIR: &str = "/workspace";
/// The agent's home inside a Modal sandbox (a Volume mount point when there is a session).
pub const DEFAULT_HOME: &str = "/aisys/home";
/// Overrides [`DEFAULT_WORKDIR`], for an image laid out differently.
pub const ENV_WORKDIR: &str = "AISYS_MODAL_WORKDIR";
/// Overrides [`DEFAULT_HOME`], for an image laid out differently.
pub const ENV_HOME: &str = "AISYS_MODAL_HOME";
/// Modal's own default (5 minutes) is shorter than one agent turn can be.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// A forgotten sandbox stops costing money after this long without any exec.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often a session asks whether the Modal sandbox it holds between turns still runs: a
/// sandbox Modal ended (an outage, a limit) is said and let go within half a minute, for one
/// bridge request per session and half minute.
pub const HEALTH_CHECK: Duration = Duration::from_secs(30);
/// The largest workspace uploaded; beyond it, the user should pick a smaller folder or an image.
pub const MAX_UPLOAD_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest workspace synced back in one go (it is held in memory as a tar).
pub const MAX_SYNC_BYTES: u64 = 1024 * 1024 * 1024;
/// Each stdin request carries at most this much: large enough for throughput, small enough
/// that one line stays cheap to encode.
const STDIN_CHUNK: usize = 1024 * 1024;
/// Buffer between the caller's stdin writes and the bridge requests carrying them.
const STDIN_PIPE_BUFFER: usize = 256 * 1024;
/// Volume names: Modal allows at most 64 characters.
const MAX_VOLUME_NAME: usize = 64;

/// How to reach Modal and what sandboxes look like.
#[derive(Debug, Clone)]
pub struct ModalConfig {
    /// The Modal app (created if missing).
    pub app: String,
    /// A registry image (`--modal-image REF`); `None` builds the default Node.js image.
    pub image: Option<String>,
    /// The Python interpreter; `None` means `$AISYS_MODAL_PYTHON`, then `python3`.
    pub python: Option<PathBuf>,
    /// Where the bridge program is written (aisys's data dir).
    pub data_dir: PathBuf,
    pub workdir: String,
    pub home: String,
    /// CPU cores to reserve; `None` is Modal's default.
    pub cpu: Option<f64>,
    pub idle_timeout: Option<Duration>,
    /// Leave sandboxes running when this process ends (a server that will reattach by id).
    pub keep_on_exit: bool,
    /// Stream the bridge's stderr (Modal's image build log) to ours.
    pub verbose: bool,
    /// Extra environment for the bridge process (e.g. `MODAL_PROFILE`, or a test's fake SDK).
    pub bridge_env: BTreeMap<String, String>,
    /// The npm packages (`name@version`) the default image installs: the agents, as the launch
    /// names them. This backend does not know which agents exist.
    pub npm_packages: Vec<String>,
}

impl ModalConfig {
    pub fn new(data_dir: impl Into<PathBuf>, npm_packages: Vec<String>) -> ModalConfig {
        ModalConfig {
            app: DEFAULT_APP.into(),
            image: None,
            python: None,
            data_dir: data_dir.into(),
            workdir: std::env::var(ENV_WORKDIR).unwrap_or_else(|_| DEFAULT_WORKDIR.into()),
            home: std::env::var(ENV_HOME).unwrap_or_else(|_| DEFAULT_HOME.into()),
            cpu: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            keep_on_exit: false,
            verbose: false,
            bridge_env: BTreeMap::new(),
            npm_packages,
        }
    }

    fn python(&self) -> PathBuf {
        self.python.clone().unwrap_or_else(|| {
            std::env::var_os(ENV_PYTHON)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("python3"))
        })
    }

    /// The image request: a registry ref as is, else Debian slim with Node.js and the packages.
    fn image_spec(&self) -> ImageSpec {
        match &self.image {
            Some(r) => ImageSpec::Registry {
                registry: r.clone(),
            },
            None => ImageSpec::Built {
                apt: vec!["ca-certificates", "curl", "git", "nodejs", "npm", "ripgrep"],
                commands: vec![format!(
                    "npm install -g --no-audit --no-fund {}",
                    self.npm_packages.join(" ")
                )],
            },
        }
    }
}

/// A live aisys sandbox found by tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxEntry {
    pub id: String,
    pub tags: BTreeMap<String, String>,
}

/// The Modal backend. Cheap to share: clones use the same bridge process.
#[derive(Clone)]
pub struct ModalEnvironment {
    config: Arc<ModalConfig>,
    bridge: Arc<Bridge>,
}

impl ModalEnvironment {
    /// Starts the bridge, failing with a fix when Python, the SDK or the credentials are missing.
    pub async fn start(config: ModalConfig) -> Result<ModalEnvironment, EnvError> {
        let bridge = Bridge::start(
            &config.python(),
            &config.data_dir,
            &config.bridge_env,
            config.verbose,
        )
        .await?;
        Ok(ModalEnvironment {
            config: Arc::new(config),
            bridge: Arc::new(bridge),
        })
    }

    /// The installed Modal SDK's version.
    pub fn modal_version(&self) -> &str {
        &self.bridge.modal_version
    }

    /// Creates a sandbox and returns it as its concrete type (for `sync_back`).
    pub async fn create_modal(&self, spec: SandboxSpec) -> Result<ModalSandbox, EnvError> {
        let mut tags = spec.labels.clone();
        tags.insert(MANAGED_TAG.into(), "true".into());
        let mut volumes = BTreeMap::new();
        if let Some(session) = spec.labels.get(SESSION_TAG) {
            volumes.insert(self.config.home.as_str(), home_volume(session));
        }
        let secs = |d: Duration| d.as_secs().max(1);
        let lifetime = spec.lifetime.unwrap_or(DEFAULT_TIMEOUT);
        // Asked before the sandbox exists: Modal's count starts later, never earlier.
        let ends_at = std::time::Instant::now() + lifetime;
        let reply: CreateReply = self
            .bridge
            .request(BridgeRequest::Create {
                app: &self.config.app,
                image: self.config.image_spec(),
                timeout: secs(lifetime),
                idle_timeout: self.config.idle_timeout.map(secs),
                cpu: self.config.cpu,
                memory_limit: spec.limits.memory.map(|b| (b / (1024 * 1024)).max(1)),
                workdir: &self.config.workdir,
                tags: &tags,
                env: BTreeMap::from([("HOME", self.config.home.as_str())]),
                secret_env: &spec.env,
                volumes,
                terminate_on_disconnect: !self.config.keep_on_exit,
                verbose: self.config.verbose,
            })
            .await?;
        let sb = ModalSandbox {
            ends_at: Some(ends_at),
            ..self.handle(&reply.sandbox_id)
        };
        if let Err(e) = sb.prepare(&spec.workspace).await {
            let _ = sb.terminate().await;
            return Err(e);
        }
        Ok(sb)
    }

    /// Reattaches to a live sandbox by id (after a server restart).
    pub async fn attach(&self, id: &str) -> Result<ModalSandbox, EnvError> {
        let reply: AttachReply = self
            .bridge
            .request(BridgeRequest::Attach { sandbox_id: id })
            .await?;
        if !reply.running {
            return Err(EnvError::Terminated);
        }
        Ok(self.handle(id))
    }

    fn handle(&self, id: &str) -> ModalSandbox {
        ModalSandbox {
            id: id.to_string(),
            config: self.config.clone(),
            bridge: self.bridge.clone(),
            terminated: AtomicBool::new(false),
            ends_at: None,
        }
    }

    /// Live aisys sandboxes of the app carrying all of `tags` (and the managed tag).
    pub async fn list(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<SandboxEntry>, EnvError> {
        let mut tags = tags.clone();
        tags.insert(MANAGED_TAG.into(), "true".into());
        let reply: ListReply = self
            .bridge
            .request(BridgeRequest::List {
                app: &self.config.app,
                tags: &tags,
            })
            .await?;
        Ok(reply
            .sandboxes
            .into_iter()
            .map(|it| SandboxEntry {
                id: it.sandbox_id,
                tags: it.tags,
            })
            .collect())
    }

    /// Terminates every live aisys sandbox carrying `tags`; returns their ids.
    pub async fn prune(&self, tags: &BTreeMap<String, String>) -> Result<Vec<String>, EnvError> {
        let mut done = Vec::new();
        for entry in self.list(tags).await? {
            self.terminate_id(&entry.id).await?;
            done.push(entry.id);
        }
        Ok(done)
    }

    /// Terminates a sandbox by id (a deleted session's, a leftover).
    pub async fn terminate_id(&self, id: &str) -> Result<(), EnvError> {
        self.bridge
            .request(BridgeRequest::Terminate { sandbox_id: id })
            .await
            .map(|Done {}| ())
    }
}

#[async_trait]
impl ExecutionEnvironment for ModalEnvironment {
    fn kind(&self) -> SandboxKind {
        SandboxKind::Modal
    }

    fn sandboxes_outlive_server(&self) -> bool {
        true
    }

    async fn create(&self, spec: SandboxSpec) -> Result<Box<dyn Sandbox>, EnvError> {
        Ok(Box::new(self.create_modal(spec).await?))
    }

    async fn attach(&self, id: &str) -> Result<Option<Box<dyn Sandbox>>, EnvError> {
        match ModalEnvironment::attach(self, id).await {
            Ok(sb) => Ok(Some(Box::new(sb))),
            Err(EnvError::Terminated) => Ok(None),
            Err(EnvError::Modal { class, .. }) if class == "NotFoundError" => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The volume holding a session's agent home: `aisys-home-<session>`, within Modal's name rules.
pub fn home_volume(session: &str) -> String {
    let clean: String = session
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("aisys-home-{clean}");
    name.truncate(MAX_VOLUME_NAME);
    name
}

/// One Modal Sandbox.
pub struct ModalSandbox {
    id: String,
    config: Arc<ModalConfig>,
    bridge: Arc<Bridge>,
    terminated: AtomicBool,
    /// When its lifetime ends, for one this server made (one reattached by id: not known).
    ends_at: Option<std::time::Instant>,
}

/// Unique exec ids across bridge processes: they name pid files inside the sandbox.
fn next_exec_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:x}-{}",
        std::process::id(),
        start,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl ModalSandbox {
    /// Creates the workspace and home folders and uploads `workspace` (if it exists).
    async fn prepare(&self, workspace: &Path) -> Result<(), EnvError> {
        let tar = if workspace.as_os_str().is_empty() || !workspace.is_dir() {
            None
        } else {
            Some(sync::pack(workspace.to_path_buf(), MAX_UPLOAD_BYTES).await?)
        };
        let script = r#"mkdir -p "$0" "$1" && if [ "$2" = 1 ]; then tar -x -f - -C "$0"; fi"#;
        let upload = if tar.is_some() { "1" } else { "0" };
        let (code, _, err) = self
            .run(
                &[
                    "sh",
                    "-c",
                    script,
                    &self.config.workdir,
                    &self.config.home,
                    upload,
                ],
                tar.as_deref(),
                0,
            )
            .await?;
        if code != Some(0) {
            return Err(EnvError::Backend(format!(
                "uploading the workspace to Modal sandbox {} failed: {}",
                self.id,
                String::from_utf8_lossy(&err).trim()
            )));
        }
        Ok(())
    }

    /// Runs a command to its end with `stdin`, returning (code, stdout, stderr); stdout is
    /// capped at `max_out` bytes (0 = no output expected).
    async fn run(
        &self,
        argv: &[&str],
        stdin: Option<&[u8]>,
        max_out: u64,
    ) -> Result<(Option<i32>, Vec<u8>, Vec<u8>), EnvError> {
        let mut p = self
            .exec(ExecSpec {
                program: argv[0].into(),
                args: argv[1..].iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
            .await?;
        let mut input = p.stdin.take();
        let feed = async move {
            if let (Some(w), Some(data)) = (input.as_mut(), stdin) {
                w.write_all(data).await?;
            }
            if let Some(mut w) = input {
                w.shutdown().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut limited = (&mut p.stdout).take(max_out + 1);
        let read_out = limited.read_to_end(&mut out);
        let read_err = p.stderr.read_to_end(&mut err);
        let (fed, o, e) = tokio::join!(feed, read_out, read_err);
        let io = |e: std::io::Error| EnvError::Backend(format!("Modal sandbox {}: {e}", self.id));
        o.map_err(io)?;
        e.map_err(io)?;
        let exit = p.control.wait().await?;
        // A process that exits without reading all its input is reported by its exit code.
        if exit.success() {
            fed.map_err(io)?;
        }
        if out.len() as u64 > max_out {
            p.control.kill();
            return Err(EnvError::Backend(format!(
                "Modal sandbox {}: output of `{}` exceeds {max_out} bytes",
                self.id, argv[0]
            )));
        }
        Ok((exit.code, out, err))
    }

    /// A path inside the sandbox, checked to be within the workspace or the home.
    fn resolve(&self, path: &str) -> Result<String, EnvError> {
        let joined = if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            Path::new(&self.config.workdir).join(path)
        };
        let mut clean = PathBuf::from("/");
        for c in joined.components() {
            match c {
                Component::Normal(p) => clean.push(p),
                Component::ParentDir => {
                    clean.pop();
                }
                _ => {}
            }
        }
        let inside = |root: &str| clean.starts_with(root) && clean != Path::new(root);
        if inside(&self.config.workdir) || inside(&self.config.home) {
            Ok(clean.to_string_lossy().into_owned())
        } else {
            Err(EnvError::OutsideSandbox { path: path.into() })
        }
    }

    /// Downloads the workspace and writes the files that differ into `dest`. Paths that would
    /// escape `dest` (absolute, `..`, symlinks pointing out, links, devices) are refused and
    /// listed in the report, never written.
    pub async fn sync_back(&self, dest: &Path) -> Result<SyncReport, EnvError> {
        let (code, tar, err) = self
            .run(
                &["tar", "-c", "-f", "-", "-C", &self.config.workdir, "."],
                None,
                MAX_SYNC_BYTES,
            )
            .await?;
        if code != Some(0) {
            return Err(EnvError::Backend(format!(
                "downloading the workspace of Modal sandbox {} failed: {}",
                self.id,
                String::from_utf8_lossy(&err).trim()
            )));
        }
        sync::unpack_changed(tar, dest.to_path_buf()).await
    }
}

#[async_trait]
impl Sandbox for ModalSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    async fn bring_home(&self, dest: &Path) -> Result<Option<SyncReport>, EnvError> {
        self.sync_back(dest).await.map(Some)
    }

    fn idle_limit(&self) -> Option<Duration> {
        self.config.idle_timeout
    }

    fn ends_at(&self) -> Option<std::time::Instant> {
        self.ends_at
    }

    fn health_check(&self) -> Option<Duration> {
        Some(HEALTH_CHECK)
    }

    async fn alive(&self) -> Result<bool, EnvError> {
        // The bridge's `attach` looks the sandbox up and polls it.
        let reply: Result<AttachReply, _> = self
            .bridge
            .request(BridgeRequest::Attach {
                sandbox_id: &self.id,
            })
            .await;
        match reply {
            Ok(r) => Ok(r.running),
            Err(EnvError::Modal { class, .. }) if class == "NotFoundError" => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn workdir(&self) -> &str {
        &self.config.workdir
    }

    fn home(&self) -> &str {
        &self.config.home
    }

    async fn exec(&self, spec: ExecSpec) -> Result<Process, EnvError> {
        let exec_id = next_exec_id();
        let (out_rx, err_rx, exit_rx) = self.bridge.route_exec(&exec_id);
        let mut argv = vec![spec.program.as_str()];
        argv.extend(spec.args.iter().map(String::as_str));
        let started: Result<Done, _> = self
            .bridge
            .request(BridgeRequest::Exec {
                sandbox_id: &self.id,
                exec_id: &exec_id,
                argv,
                workdir: spec.cwd.as_deref().unwrap_or(&self.config.workdir),
                env: &spec.env,
            })
            .await;
        if let Err(e) = started {
            self.bridge.unroute_exec(&exec_id);
            return Err(e);
        }
        let (stdin_w, stdin_r) = tokio::io::duplex(STDIN_PIPE_BUFFER);
        tokio::spawn(pump_stdin(self.bridge.clone(), exec_id.clone(), stdin_r));
        Ok(Process {
            stdin: Some(Box::new(stdin_w)),
            stdout: Box::new(ChunkReader::new(out_rx, spec.gathered_stdout)),
            stderr: Box::new(ChunkReader::new(err_rx, false)),
            control: Box::new(ModalControl {
                bridge: self.bridge.clone(),
                exec_id,
                exit: Some(exit_rx),
                done: None,
            }),
        })
    }

    async fn write_file(&self, path: &str, data: &[u8]) -> Result<(), EnvError> {
        let full = self.resolve(path)?;
        self.bridge
            .request(BridgeRequest::WriteFile {
                sandbox_id: &self.id,
                path: &full,
                data: protocol::encode(data),
            })
            .await
            .map(|Done {}| ())
            .map_err(|e| file_error(path, e))
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, EnvError> {
        let full = self.resolve(path)?;
        let reply: ReadFileReply = self
            .bridge
            .request(BridgeRequest::ReadFile {
                sandbox_id: &self.id,
                path: &full,
            })
            .await
            .map_err(|e| file_error(path, e))?;
        reply.bytes()
    }

    async fn list_workspace(
        &self,
    ) -> Result<Option<BTreeMap<String, super::watch::Entry>>, EnvError> {
        self.listing().await.map(Some)
    }

    async fn read_workspace_file(
        &self,
        rel: &str,
        max: u64,
    ) -> Result<Option<(Vec<u8>, u64)>, EnvError> {
        self.read_in_workspace(rel, max).await.map(Some)
    }

    async fn watch_workspace(&self) -> Result<Option<super::WorkspaceWatch>, EnvError> {
        // A handle of its own: the watch lists through the same bridge and sandbox.
        let handle = ModalSandbox {
            id: self.id.clone(),
            config: self.config.clone(),
            bridge: self.bridge.clone(),
            terminated: AtomicBool::new(false),
            ends_at: self.ends_at,
        };
        Ok(Some(watch::start(handle)))
    }

    async fn terminate(&self) -> Result<(), EnvError> {
        if self.terminated.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        match self
            .bridge
            .request(BridgeRequest::Terminate {
                sandbox_id: &self.id,
            })
            .await
        {
            Ok(Done {}) => Ok(()),
            // Already gone is what terminate wants.
            Err(EnvError::Modal { class, .. }) if class == "NotFoundError" => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn file_error(path: &str, e: EnvError) -> EnvError {
    match e {
        EnvError::Modal { class, message } if class.contains("NotFound") || class == "OSError" => {
            EnvError::File {
                path: path.into(),
                source: std::io::Error::other(message),
            }
        }
        e => e,
    }
}

/// Carries what the caller writes to the process's stdin to the bridge, one awaited request per
/// chunk (so a fast writer is slowed to the sandbox's pace), then closes it.
async fn pump_stdin(bridge: Arc<Bridge>, exec_id: String, mut r: tokio::io::DuplexStream) {
    let mut buf = vec![0u8; STDIN_CHUNK];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let req = BridgeRequest::Stdin {
                    exec_id: &exec_id,
                    data: protocol::encode(&buf[..n]),
                };
                if bridge.request::<Done>(req).await.is_err() {
                    // The process ended or the bridge is gone: the exit status tells which.
                    return;
                }
            }
        }
    }
    let _ = bridge
        .request::<Done>(BridgeRequest::CloseStdin { exec_id: &exec_id })
        .await;
}

/// stdout or stderr of a remote process, as the chunks the bridge delivered; with a [`Pause`],
/// a read takes every chunk that came and the next waits out the window.
struct ChunkReader {
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    pause: Option<Pause>,
}

impl ChunkReader {
    fn new(rx: mpsc::UnboundedReceiver<Vec<u8>>, gathered: bool) -> ChunkReader {
        ChunkReader {
            rx,
            buf: Vec::new(),
            pos: 0,
            pause: gathered.then(|| Pause::new(GATHER_WINDOW)),
        }
    }

    /// Copies what the current chunk has left into `out`; `true` when it is used up.
    fn drain_into(&mut self, out: &mut ReadBuf<'_>) -> bool {
        let n = (self.buf.len() - self.pos).min(out.remaining());
        out.put_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.pos >= self.buf.len()
    }
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(pause) = this.pause.as_mut() {
            ready!(pause.poll_end(cx));
        }
        while this.pos >= this.buf.len() {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => {
                    this.buf = chunk;
                    this.pos = 0;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let room = out.remaining();
        let before = out.filled().len();
        // Gathering: every chunk already here goes in this read.
        while this.drain_into(out) && this.pause.is_some() && out.remaining() > 0 {
            match this.rx.try_recv() {
                Ok(chunk) => {
                    this.buf = chunk;
                    this.pos = 0;
                }
                Err(_) => break,
            }
        }
        let n = out.filled().len() - before;
        if let Some(pause) = this.pause.as_mut() {
            pause.after_read(n, room);
        }
        Poll::Ready(Ok(()))
    }
}

struct ModalControl {
    bridge: Arc<Bridge>,
    exec_id: String,
    exit: Option<oneshot::Receiver<Result<ExitInfo, EnvError>>>,
    done: Option<ExitInfo>,
}

#[async_trait]
impl ProcessControl for ModalControl {
    async fn wait(&mut self) -> Result<ExitInfo, EnvError> {
        if let Some(done) = self.done {
            return Ok(done);
        }
        let rx = self.exit.take().ok_or(EnvError::Terminated)?;
        let info = rx
            .await
            .map_err(|_| EnvError::Backend("the Modal bridge has stopped".into()))??;
        self.done = Some(info);
        Ok(info)
    }

    fn kill(&mut self) {
        if self.done.is_some() {
            return;
        }
        let _ = self.bridge.request_start(&BridgeRequest::Kill {
            exec_id: &self.exec_id,
            signal: KillSignal::Term,
        });
        let bridge = self.bridge.clone();
        let exec_id = self.exec_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(KILL_GRACE).await;
            // The bridge ignores this when the process has already ended.
            let _ = bridge.request_start(&BridgeRequest::Kill {
                exec_id: &exec_id,
                signal: KillSignal::Kill,
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gathered_read_takes_every_chunk_that_came_and_a_busy_writer_waits_the_window() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut out = ChunkReader::new(rx, true);
        let mut buf = [0u8; 64];
        tx.send(b"one\n".to_vec()).unwrap();
        tx.send(b"two\n".to_vec()).unwrap();
        let n = out.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one\ntwo\n", "both chunks in one read");
        // A second read right after: the writer is busy, and the read after it waits.
        tx.send(b"six\n".to_vec()).unwrap();
        let n = out.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"six\n");
        let sent = std::time::Instant::now();
        tx.send(b"ten\n".to_vec()).unwrap();
        let n = out.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ten\n");
        assert!(
            sent.elapsed() >= GATHER_WINDOW - Duration::from_millis(2),
            "read {:?} after it came, inside the window",
            sent.elapsed()
        );
        drop(tx);
        assert_eq!(
            out.read(&mut buf).await.unwrap(),
            0,
            "the end of the output"
        );
    }

    #[tokio::test]
    async fn an_ungathered_read_takes_one_chunk_and_the_next_at_once() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut out = ChunkReader::new(rx, false);
        let mut buf = [0u8; 64];
        tx.send(b"one\n".to_vec()).unwrap();
        tx.send(b"two\n".to_vec()).unwrap();
        let n = out.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one\n");
        let n = tokio::time::timeout(Duration::from_secs(1), out.read(&mut buf))
            .await
            .expect("no wait without gathering")
            .unwrap();
        assert_eq!(&buf[..n], b"two\n");
    }
}
