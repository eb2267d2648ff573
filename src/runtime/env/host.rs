//! The `host` backend: no isolation at all, chosen explicitly. The agent runs as the user, in the
//! workspace, with the real home folder; only the environment is still an allowlist. It warns once
//! per process on stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::process::Command;

use super::limits::SandboxLimits;
use super::process::{ExitInfo, HostPath, ProcessGroups, read_host_file, spawn, write_host_file};
use super::{EnvError, ExecSpec, ExecutionEnvironment, LimitHit, Process, Sandbox, SandboxSpec};
use crate::types::SandboxKind;

/// The warning printed once when the host backend is used.
pub const HOST_WARNING: &str = "warning: --sandbox host: the agent runs on this machine without isolation, with your files and permissions";

static WARNED: AtomicBool = AtomicBool::new(false);

/// The no-isolation backend.
#[derive(Debug, Clone, Default)]
pub struct HostEnvironment;

#[async_trait]
impl ExecutionEnvironment for HostEnvironment {
    fn kind(&self) -> SandboxKind {
        SandboxKind::Host
    }

    async fn create(&self, spec: SandboxSpec) -> Result<Box<dyn Sandbox>, EnvError> {
        if !WARNED.swap(true, Ordering::SeqCst) {
            eprintln!("{HOST_WARNING}");
        }
        std::fs::create_dir_all(&spec.workspace).map_err(|source| EnvError::Workspace {
            path: spec.workspace.clone(),
            source,
        })?;
        let workspace = spec
            .workspace
            .canonicalize()
            .map_err(|source| EnvError::Workspace {
                path: spec.workspace.clone(),
                source,
            })?;
        let home = dirs::home_dir().unwrap_or_else(|| spec.home.clone());
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Ok(Box::new(HostSandbox {
            id: format!(
                "host-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
            workdir: workspace.to_string_lossy().into_owned(),
            home_str: home.to_string_lossy().into_owned(),
            workspace,
            env: spec.env,
            limits: SandboxLimits::create(spec.limits),
            groups: ProcessGroups::default(),
        }))
    }
}

struct HostSandbox {
    id: String,
    workspace: PathBuf,
    workdir: String,
    home_str: String,
    env: BTreeMap<String, String>,
    limits: SandboxLimits,
    groups: ProcessGroups,
}

impl HostSandbox {
    fn host_path(&self, path: &str) -> HostPath {
        let p = Path::new(path);
        HostPath::Trusted(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.workspace.join(p)
        })
    }
}

#[async_trait]
impl Sandbox for HostSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn workdir(&self) -> &str {
        &self.workdir
    }

    fn home(&self) -> &str {
        &self.home_str
    }

    async fn exec(&self, spec: ExecSpec) -> Result<Process, EnvError> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args).env_clear();
        let mut env = self.env.clone();
        env.extend(spec.env.clone());
        env.entry("HOME".into())
            .or_insert_with(|| self.home_str.clone());
        if let Some(path) = std::env::var_os("PATH") {
            env.entry("PATH".into())
                .or_insert_with(|| path.to_string_lossy().into_owned());
        }
        cmd.envs(&env);
        cmd.current_dir(spec.cwd.as_deref().unwrap_or(&self.workdir));
        self.limits.prepare(&mut cmd, &spec.program)?;
        spawn(cmd, &spec.program, &self.groups, spec.gathered_stdout)
    }

    async fn write_file(&self, path: &str, data: &[u8]) -> Result<(), EnvError> {
        write_host_file(&self.host_path(path), path, data).await
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, EnvError> {
        read_host_file(&self.host_path(path), path).await
    }

    async fn watch_workspace(&self) -> Result<Option<super::WorkspaceWatch>, EnvError> {
        super::watch::watch_host_folder(self.workspace.clone()).await
    }

    async fn terminate(&self) -> Result<(), EnvError> {
        self.groups.kill_all();
        self.limits.release().await;
        Ok(())
    }

    async fn limits_hit(&self, last_exit: Option<&ExitInfo>) -> Vec<LimitHit> {
        self.limits.hits(last_exit.and_then(|e| e.signal))
    }
}

impl Drop for HostSandbox {
    fn drop(&mut self) {
        self.groups.kill_all();
    }
}
