//! Local processes shared by the `local` and `host` backends: spawn in a new process group so
//! that a kill reaches everything the process started, and track them for `terminate`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::process::{Child, Command};

use super::beneath;
use super::gather::{GATHER_WINDOW, GatheredPipe};
use super::{EnvError, KILL_GRACE, Process, ProcessControl};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, when it exited on its own.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// The process groups a sandbox started, so that `terminate` can kill them all.
#[derive(Debug, Default, Clone)]
pub struct ProcessGroups {
    inner: Arc<Mutex<HashMap<u32, ()>>>,
}

impl ProcessGroups {
    fn add(&self, pgid: u32) {
        self.lock().insert(pgid, ());
    }

    fn remove(&self, pgid: u32) {
        self.lock().remove(&pgid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, ()>> {
        // A poisoned map is still a valid map of pids.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// SIGKILLs every tracked process group.
    pub fn kill_all(&self) {
        let groups: Vec<u32> = self.lock().keys().copied().collect();
        for pgid in groups {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    unsafe {
        libc::kill(-(pgid as i32), sig);
    }
}

/// Spawns `cmd` with piped stdio in its own process group, tracked in `groups`.
/// With `gathered`, stdout is a [`GatheredPipe`].
pub fn spawn(
    mut cmd: Command,
    program: &str,
    groups: &ProcessGroups,
    gathered: bool,
) -> Result<Process, EnvError> {
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| EnvError::Spawn {
        program: program.to_string(),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    groups.add(pid);
    let stdin = child.stdin.take().map(|s| Box::new(s) as _);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdout: Box<dyn tokio::io::AsyncRead + Send + Unpin> = if gathered {
        let pipe = stdout
            .into_owned_fd()
            .and_then(|fd| GatheredPipe::new(fd, GATHER_WINDOW))
            .map_err(|source| {
                // The caller gets no handle to it: it must not run on unseen.
                let _ = child.start_kill();
                EnvError::Spawn {
                    program: program.to_string(),
                    source,
                }
            })?;
        Box::new(pipe)
    } else {
        Box::new(stdout)
    };
    let stderr = Box::new(child.stderr.take().expect("stderr is piped"));
    Ok(Process {
        stdin,
        stdout,
        stderr,
        control: Box::new(LocalControl {
            child,
            pgid: pid,
            groups: groups.clone(),
        }),
    })
}

struct LocalControl {
    child: Child,
    pgid: u32,
    groups: ProcessGroups,
}

#[async_trait]
impl ProcessControl for LocalControl {
    async fn wait(&mut self) -> Result<ExitInfo, EnvError> {
        use std::os::unix::process::ExitStatusExt;
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| EnvError::Backend(e.to_string()))?;
        // The group may still hold children that outlived the leader: they go with it.
        signal_group(self.pgid, libc::SIGKILL);
        self.groups.remove(self.pgid);
        Ok(ExitInfo {
            code: status.code(),
            signal: status.signal(),
        })
    }

    fn kill(&mut self) {
        let pgid = self.pgid;
        signal_group(pgid, libc::SIGTERM);
        tokio::spawn(async move {
            tokio::time::sleep(KILL_GRACE).await;
            signal_group(pgid, libc::SIGKILL);
        });
    }
}

/// The host path behind a sandbox path.
#[derive(Debug, Clone)]
pub enum HostPath {
    /// Beneath a folder the agent can change (workspace, home): no link is followed.
    Beneath { root: PathBuf, rel: PathBuf },
    /// A path of the `host` backend, where the agent has the user's own permissions: there is
    /// no boundary for a link to cross, and the user's own links (dotfiles) are followed.
    Trusted(PathBuf),
}

/// Writes a file of a local sandbox, creating its folders (see [`HostPath`] for links).
pub async fn write_host_file(host: &HostPath, shown: &str, data: &[u8]) -> Result<(), EnvError> {
    let err = |source| EnvError::File {
        path: shown.to_string(),
        source,
    };
    match host {
        HostPath::Beneath { root, rel } => {
            let (root, rel, data) = (root.clone(), rel.clone(), data.to_vec());
            tokio::task::spawn_blocking(move || beneath::write(&root, &rel, &data, None))
                .await
                .map_err(|e| err(std::io::Error::other(e)))?
                .map_err(err)
        }
        HostPath::Trusted(path) => {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(err)?;
            }
            tokio::fs::write(path, data).await.map_err(err)
        }
    }
}

/// Reads a file of a local sandbox (see [`HostPath`] for links).
pub async fn read_host_file(host: &HostPath, shown: &str) -> Result<Vec<u8>, EnvError> {
    let err = |source| EnvError::File {
        path: shown.to_string(),
        source,
    };
    match host {
        HostPath::Beneath { root, rel } => {
            let (root, rel) = (root.clone(), rel.clone());
            tokio::task::spawn_blocking(move || beneath::read(&root, &rel))
                .await
                .map_err(|e| err(std::io::Error::other(e)))?
                .map_err(err)
        }
        HostPath::Trusted(path) => tokio::fs::read(path).await.map_err(err),
    }
}
