//! Where an agent's binary is, and installing it from npm into aisys's data folder.
//!
//! Order: `--agent-bin`, then `AISYS_CLAUDE_BIN` / `AISYS_OPENCODE_BIN`, then the folder that
//! `aisys agents install` fills, then `PATH`.

use std::path::{Path, PathBuf};

use crate::config::Env;
use crate::types::AgentKind;

/// The Claude Code version aisys is tested with.
pub const PINNED_CLAUDE_CODE: &str = "2.1.197";
/// The OpenCode version aisys is tested with.
pub const PINNED_OPENCODE: &str = "1.18.33";

/// A resolved agent binary and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentBinary {
    pub path: PathBuf,
    /// `flag`, `env`, `installed` or `path`.
    pub found_by: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("{path} (from {found_by}) is not an executable file")]
    NotExecutable {
        path: PathBuf,
        found_by: &'static str,
    },
    #[error(
        "{agent} is not installed: no `{cmd}` in {env_var}, in {installed}, or on PATH.\n  fix: aisys agents install {agent}   (or pass --agent-bin PATH)"
    )]
    Missing {
        agent: AgentKind,
        cmd: &'static str,
        env_var: &'static str,
        installed: String,
    },
}

/// The npm package and the executable's path inside `node_modules` for this machine.
pub fn npm_package(kind: AgentKind) -> (&'static str, String) {
    let platform = match std::env::consts::ARCH {
        "aarch64" => "linux-arm64",
        _ => "linux-x64",
    };
    match kind {
        AgentKind::ClaudeCode => (
            "@anthropic-ai/claude-code",
            format!("@anthropic-ai/claude-code-{platform}/claude"),
        ),
        AgentKind::Opencode => ("opencode-ai", format!("opencode-{platform}/bin/opencode")),
    }
}

/// The folder `aisys agents install` installs into.
pub fn agents_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("agents")
}

/// Where `aisys agents install` puts this agent's binary.
pub fn installed_binary(kind: AgentKind, data_dir: &Path) -> PathBuf {
    let (_, rel) = npm_package(kind);
    agents_dir(data_dir).join("node_modules").join(rel)
}

fn env_var(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::ClaudeCode => "AISYS_CLAUDE_BIN",
        AgentKind::Opencode => "AISYS_OPENCODE_BIN",
    }
}

fn command_name(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::ClaudeCode => "claude",
        AgentKind::Opencode => "opencode",
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Finds the agent's binary.
pub fn resolve_binary(
    kind: AgentKind,
    flag: Option<&Path>,
    env: &dyn Env,
    data_dir: &Path,
) -> Result<AgentBinary, BinaryError> {
    let checked = |path: PathBuf, found_by: &'static str| {
        if is_executable(&path) {
            // The real path: a sandbox mounts the binary's folder, and a symlink's target may
            // lie elsewhere.
            let path = path.canonicalize().unwrap_or(path);
            Ok(AgentBinary { path, found_by })
        } else {
            Err(BinaryError::NotExecutable { path, found_by })
        }
    };
    if let Some(p) = flag {
        return checked(p.to_path_buf(), "--agent-bin");
    }
    if let Some(p) = env.var(env_var(kind)) {
        return checked(PathBuf::from(p), env_var(kind));
    }
    let installed = installed_binary(kind, data_dir);
    if is_executable(&installed) {
        return Ok(AgentBinary {
            path: installed.canonicalize().unwrap_or(installed),
            found_by: "aisys agents install",
        });
    }
    if let Some(paths) = env.var("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(command_name(kind));
            if is_executable(&p) {
                return Ok(AgentBinary {
                    path: p.canonicalize().unwrap_or(p),
                    found_by: "PATH",
                });
            }
        }
    }
    Err(BinaryError::Missing {
        agent: kind,
        cmd: command_name(kind),
        env_var: env_var(kind),
        installed: agents_dir(data_dir).display().to_string(),
    })
}
