//! The `local` backend: bubblewrap sandboxes on this machine.
//!
//! Each `exec` is one `bwrap` invocation with the same view of the file system: the workspace is
//! the only writable host folder; the agent's home is a per-session folder mounted at
//! [`SANDBOX_HOME`]; `/usr` and a few `/etc` essentials are read-only; `/tmp`, `/proc` and `/dev`
//! are fresh. Processes run in new user, pid, ipc, uts and network namespaces as an unprivileged
//! user with no capabilities, in a new session, and die with aisys; what network they reach is
//! the spec's [`Network`] (see [`super::netrelay`]). The workspace's git control surface
//! (`.git`, and the hooks folder) is read-only, and a `.git` the agent creates is moved aside
//! when its process ends, so the agent cannot plant code that runs on the host's next `git`
//! (see [`super::gitguard`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::process::Command;

use super::gitguard::{self, Guarded, Notices};
use super::limits::SandboxLimits;
use super::netrelay::{self, HostRelay};
use super::process::{ExitInfo, HostPath, ProcessGroups, read_host_file, spawn, write_host_file};
use super::{
    EnvError, ExecSpec, ExecutionEnvironment, HomeTree, LimitHit, Network, Process, Sandbox,
    SandboxSpec,
};
use crate::types::SandboxKind;

/// Where the agent's home is mounted inside the sandbox.
pub const SANDBOX_HOME: &str = "/home/agent";
/// The unprivileged uid/gid the agent runs as inside (so it is never root, even when aisys is).
const SANDBOX_UID: &str = "1000";

/// Host paths made visible read-only when they exist: enough for dynamically linked programs,
/// TLS, DNS and user lookups, and nothing that holds secrets.
const READ_ONLY_SYSTEM: &[&str] = &[
    "/usr",
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/ssl",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/os-release",
    "/etc/gitconfig",
    "/etc/bash.bashrc",
    "/etc/profile",
    "/etc/inputrc",
    "/etc/terminfo",
    "/opt",
];

/// Top-level names that are symlinks into /usr on merged-/usr systems.
const USR_SYMLINKS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The bubblewrap backend.
#[derive(Debug, Clone)]
pub struct BwrapEnvironment {
    bwrap: PathBuf,
    /// The aisys binary that relays the network inside, when not found by
    /// [`netrelay::aisys_binary`].
    aisys: Option<PathBuf>,
}

impl BwrapEnvironment {
    /// Finds `bwrap` and checks that it can create namespaces here. `data_dir` is aisys's own
    /// data folder, where the result of the check is remembered.
    pub async fn detect(data_dir: &Path) -> Result<BwrapEnvironment, EnvError> {
        let bwrap = find_in_path("bwrap").ok_or(EnvError::BwrapMissing)?;
        // The check costs a sandbox start (a few ms of every `aisys run`); once it passed, a
        // marker for this boot and this bwrap skips it until the next boot. It lives in aisys's
        // own folder: in a shared one (/tmp), another user could plant it.
        let marker = check_marker(data_dir, &bwrap);
        if !marker.as_ref().is_some_and(|m| m.exists()) {
            check_bwrap(&bwrap).await?;
            if let Some(m) = marker {
                remember_check(&m);
            }
        }
        Ok(BwrapEnvironment { bwrap, aisys: None })
    }

    /// Uses this aisys binary for the network relay inside the sandbox (a program that uses the
    /// library, and is not aisys itself, names it here or in `$AISYS_BIN`).
    pub fn with_aisys_binary(mut self, path: PathBuf) -> BwrapEnvironment {
        self.aisys = Some(path);
        self
    }

    /// The `bwrap` binary in use.
    pub fn bwrap(&self) -> &Path {
        &self.bwrap
    }
}

/// Runs a trivial sandbox to prove that bubblewrap works on this machine.
pub async fn check_bwrap(bwrap: &Path) -> Result<(), EnvError> {
    let out = Command::new(bwrap)
        .args([
            "--unshare-user",
            "--unshare-pid",
            "--ro-bind",
            "/",
            "/",
            "--",
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|_| EnvError::BwrapMissing)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(EnvError::NamespacesUnavailable {
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The folder of the check's marker, under the data folder.
const MARKER_DIR: &str = "sandbox";
/// The marker's name before its boot id and bwrap's mtime.
const MARKER_PREFIX: &str = "bwrap-ok-";

/// `<data>/sandbox/bwrap-ok-<boot id>-<bwrap mtime>`: valid while nothing it names changes.
fn check_marker(data_dir: &Path, bwrap: &Path) -> Option<PathBuf> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let mtime = bwrap
        .metadata()
        .ok()?
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(
        data_dir
            .join(MARKER_DIR)
            .join(format!("{MARKER_PREFIX}{}-{mtime}", boot.trim())),
    )
}

/// Writes the marker and removes those of earlier boots. Failing to is harmless: the check
/// runs again next time.
fn remember_check(marker: &Path) {
    let Some(dir) = marker.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() || std::fs::write(marker, b"").is_err() {
        return;
    }
    for old in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = old.file_name();
        if name.to_string_lossy().starts_with(MARKER_PREFIX) && old.path() != marker {
            let _ = std::fs::remove_file(old.path());
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

#[async_trait]
impl ExecutionEnvironment for BwrapEnvironment {
    fn kind(&self) -> SandboxKind {
        SandboxKind::Local
    }

    async fn create(&self, spec: SandboxSpec) -> Result<Box<dyn Sandbox>, EnvError> {
        let workspace = prepare_dir(&spec.workspace)?;
        let home = prepare_dir(&spec.home)?;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = format!(
            "local-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let workdir = workspace.to_string_lossy().into_owned();
        let mut args = bwrap_args(&spec, &workspace, &home);
        let relay = match &spec.network {
            Network::Egress(egress) if !egress.is_empty() => {
                let bin = match &self.aisys {
                    Some(p) => p.clone(),
                    None => netrelay::aisys_binary()?,
                };
                let relay = HostRelay::start(egress).await?;
                let dir = relay.host_dir().to_string_lossy().into_owned();
                let bin = bin.to_string_lossy().into_owned();
                for (host, inside) in [
                    (dir.as_str(), netrelay::INSIDE_DIR),
                    (bin.as_str(), netrelay::INSIDE_BIN),
                ] {
                    args.extend(["--ro-bind", host, inside].map(String::from));
                }
                Some(relay)
            }
            _ => None,
        };
        Ok(Box::new(BwrapSandbox {
            id,
            bwrap: self.bwrap.clone(),
            base_args: args,
            env: spec.env,
            workspace,
            home,
            workdir,
            limits: SandboxLimits::create(spec.limits),
            groups: ProcessGroups::default(),
            terminated: AtomicBool::new(false),
            notices: Notices::default(),
            relay,
            profile: std::sync::Mutex::new(None),
        }))
    }
}

/// Creates a folder if needed and returns its canonical path (symlinks resolved, so the mount
/// is exactly the folder the user meant).
fn prepare_dir(path: &Path) -> Result<PathBuf, EnvError> {
    std::fs::create_dir_all(path)
        .and_then(|_| path.canonicalize())
        .map_err(|source| EnvError::Workspace {
            path: path.to_path_buf(),
            source,
        })
}

/// The bubblewrap arguments that build the sandbox's view, up to the workspace; the git surface
/// and the command follow per `exec`.
fn bwrap_args(spec: &SandboxSpec, workspace: &Path, home: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--uid",
        SANDBOX_UID,
        "--gid",
        SANDBOX_UID,
        "--cap-drop",
        "ALL",
        "--hostname",
        "aisys-sandbox",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Its own network namespace (bwrap brings up `lo` in it) unless the host's was asked for;
    // allowed destinations are relayed in by `netrelay`.
    if spec.network != Network::Host {
        a.push("--unshare-net".into());
    }
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    for p in READ_ONLY_SYSTEM {
        push(&["--ro-bind-try", p, p]);
    }
    for name in USR_SYMLINKS {
        let host = Path::new("/").join(name);
        match std::fs::read_link(&host) {
            Ok(target) => push(&[
                "--symlink",
                &target.to_string_lossy(),
                &host.to_string_lossy(),
            ]),
            Err(_) if host.is_dir() => push(&[
                "--ro-bind",
                &host.to_string_lossy(),
                &host.to_string_lossy(),
            ]),
            Err(_) => {}
        }
    }
    push(&["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    for p in &spec.read_only {
        let p = p.to_string_lossy();
        push(&["--ro-bind", &p, &p]);
    }
    let ws = workspace.to_string_lossy();
    let home_s = home.to_string_lossy();
    push(&["--bind", &home_s, SANDBOX_HOME]);
    push(&["--bind", &ws, &ws]);
    a
}

struct BwrapSandbox {
    id: String,
    bwrap: PathBuf,
    base_args: Vec<String>,
    env: BTreeMap<String, String>,
    workspace: PathBuf,
    home: PathBuf,
    workdir: String,
    limits: SandboxLimits,
    groups: ProcessGroups,
    terminated: AtomicBool,
    notices: Notices,
    /// The host side of the sandbox's network, when it may reach anything.
    relay: Option<HostRelay>,
    /// The agent's profile, staged outside the home and mounted read-only into it.
    profile: std::sync::Mutex<Option<StagedProfile>>,
}

/// Profile files staged in a private host folder (beside the home, so the agent can neither see
/// nor change the folder itself) and the mounts that show them inside.
struct StagedProfile {
    /// Removed with the sandbox.
    _stage: tempfile::TempDir,
    /// (host path, path inside the sandbox), mounted read-only in this order.
    binds: Vec<(PathBuf, String)>,
}

/// Writes `trees` into a fresh folder next to `home` and returns the mounts that place them.
fn stage_profile(home: &Path, trees: &[HomeTree]) -> std::io::Result<StagedProfile> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let parent = home.parent().unwrap_or(home);
    let stage = tempfile::Builder::new()
        .prefix(".profile-")
        .tempdir_in(parent)?;
    let mut binds = Vec::new();
    for tree in trees {
        let rel = checked_rel(&tree.root)?;
        for file in &tree.files {
            let path = stage.path().join(checked_rel(&file.path)?);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Read-only from the start (a umask only clears bits, and these have none to clear).
            let mode = if file.executable { 0o555 } else { 0o444 };
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)?;
            f.write_all(&file.data)?;
        }
        let host = stage.path().join(rel);
        // An empty tree is an empty folder: it still hides what the home had there.
        if !host.exists() {
            std::fs::create_dir_all(&host)?;
        }
        binds.push((host, format!("{SANDBOX_HOME}/{}", tree.root)));
    }
    Ok(StagedProfile {
        _stage: stage,
        binds,
    })
}

/// A relative path with no `..`, absolute or empty part: it stays inside the folder it joins.
fn checked_rel(path: &str) -> std::io::Result<&Path> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(p)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("profile path `{path}` is not a plain relative path"),
        ))
    }
}

impl BwrapSandbox {
    /// Maps a sandbox path to the host path behind it, refusing anything outside the workspace
    /// and the home.
    fn host_path(&self, path: &str) -> Result<HostPath, EnvError> {
        let p = Path::new(path);
        let outside = || EnvError::OutsideSandbox {
            path: path.to_string(),
        };
        if p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(outside());
        }
        let beneath = |root: &Path, rel: &Path| HostPath::Beneath {
            root: root.to_path_buf(),
            rel: rel.to_path_buf(),
        };
        if let Ok(rest) = p.strip_prefix(SANDBOX_HOME) {
            return Ok(beneath(&self.home, rest));
        }
        if let Ok(rest) = p.strip_prefix(&self.workspace) {
            return Ok(beneath(&self.workspace, rest));
        }
        if p.is_relative() {
            return Ok(beneath(&self.workspace, p));
        }
        Err(outside())
    }
}

#[async_trait]
impl Sandbox for BwrapSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn workdir(&self) -> &str {
        &self.workdir
    }

    fn home(&self) -> &str {
        SANDBOX_HOME
    }

    async fn exec(&self, spec: ExecSpec) -> Result<Process, EnvError> {
        if self.terminated.load(Ordering::SeqCst) {
            return Err(EnvError::Terminated);
        }
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(&self.base_args);
        // Surveyed now, not at create: the user may have run `git init` since.
        let surface = gitguard::survey(&self.workspace).await;
        for p in &surface.binds {
            cmd.arg("--ro-bind").arg(p).arg(p);
        }
        if let Some(profile) = &*self.profile.lock().unwrap_or_else(|e| e.into_inner()) {
            for (host, inside) in &profile.binds {
                cmd.arg("--ro-bind").arg(host).arg(inside);
            }
        }
        // Everything not mounted above is bwrap's own root tmpfs: make it read-only too.
        cmd.args(["--remount-ro", "/", "--chdir", &self.workdir, "--clearenv"]);
        let mut env = self.env.clone();
        env.extend(spec.env.clone());
        env.entry("HOME".into())
            .or_insert_with(|| SANDBOX_HOME.into());
        env.entry("PATH".into())
            .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
        env.entry("USER".into()).or_insert_with(|| "agent".into());
        if let Some(relay) = &self.relay {
            env.extend(relay.env());
        }
        for (k, v) in &env {
            cmd.arg("--setenv").arg(k).arg(v);
        }
        if let Some(cwd) = &spec.cwd {
            cmd.arg("--chdir").arg(cwd);
        }
        cmd.arg("--");
        if let Some(relay) = &self.relay {
            cmd.arg(netrelay::INSIDE_BIN)
                .arg(netrelay::INIT_SUBCOMMAND)
                .args(relay.init_args())
                .arg("--");
        }
        cmd.arg(&spec.program).args(&spec.args);
        // bwrap itself gets an empty environment: nothing of the host's leaks through it.
        cmd.env_clear();
        self.limits.prepare(&mut cmd, &spec.program)?;
        let mut process = spawn(cmd, &spec.program, &self.groups, spec.gathered_stdout)?;
        process.control = Box::new(Guarded {
            inner: Some(process.control),
            surface: Some(surface),
            notices: self.notices.clone(),
        });
        Ok(process)
    }

    async fn write_file(&self, path: &str, data: &[u8]) -> Result<(), EnvError> {
        write_host_file(&self.host_path(path)?, path, data).await
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, EnvError> {
        read_host_file(&self.host_path(path)?, path).await
    }

    async fn place_home(&self, trees: &[HomeTree]) -> Result<(), EnvError> {
        let (home, trees) = (self.home.clone(), trees.to_vec());
        let staged = tokio::task::spawn_blocking(move || stage_profile(&home, &trees))
            .await
            .map_err(|e| EnvError::Backend(format!("staging the profile: {e}")))?
            .map_err(|source| EnvError::File {
                path: "the agent's profile".into(),
                source,
            })?;
        *self.profile.lock().unwrap_or_else(|e| e.into_inner()) = Some(staged);
        Ok(())
    }

    async fn watch_workspace(&self) -> Result<Option<super::WorkspaceWatch>, EnvError> {
        super::watch::watch_host_folder(self.workspace.clone()).await
    }

    async fn terminate(&self) -> Result<(), EnvError> {
        self.terminated.store(true, Ordering::SeqCst);
        self.groups.kill_all();
        self.limits.release().await;
        Ok(())
    }

    async fn limits_hit(&self, last_exit: Option<&ExitInfo>) -> Vec<LimitHit> {
        self.limits.hits(last_exit.and_then(|e| e.signal))
    }

    fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for BwrapSandbox {
    fn drop(&mut self) {
        self.groups.kill_all();
    }
}
