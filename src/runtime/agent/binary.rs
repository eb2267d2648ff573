//! Where an agent's binary is, how each agent is published on npm (its main package and the
//! native package per platform), and asking a binary its version.
//!
//! Order: `--agent-bin`, then `AISYS_CLAUDE_BIN` / `AISYS_OPENCODE_BIN`, then the folder that
//! `aisys agents install` fills (`<data>/agents/<agent>/current/`, or the `node_modules` an older
//! aisys filled with npm), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::config::Env;
use crate::types::AgentKind;

/// The Claude Code version aisys is tested with.
pub const PINNED_CLAUDE_CODE: &str = "2.1.197";
/// The OpenCode version aisys is tested with.
pub const PINNED_OPENCODE: &str = "1.18.33";

/// How long `--version` of an agent binary may take before it counts as broken.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// The version aisys installs of `kind` when none is asked for.
pub fn pinned_version(kind: AgentKind) -> &'static str {
    match kind {
        AgentKind::ClaudeCode => PINNED_CLAUDE_CODE,
        AgentKind::Opencode => PINNED_OPENCODE,
    }
}

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

/// The machine an agent is installed for, in npm's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux` or `darwin` (Node's `process.platform`).
    pub os: &'static str,
    /// `x64` or `arm64` (Node's `process.arch`).
    pub cpu: &'static str,
    /// Linux with musl instead of glibc (Alpine and the like).
    pub musl: bool,
    /// An x86-64 CPU with AVX2; OpenCode ships a `baseline` build for those without.
    pub avx2: bool,
}

impl Platform {
    /// This machine.
    pub fn current() -> Platform {
        let cpu = match std::env::consts::ARCH {
            "aarch64" => "arm64",
            "x86_64" => "x64",
            other => other,
        };
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        Platform {
            os: std::env::consts::OS,
            cpu,
            musl: std::env::consts::OS == "linux" && is_musl(),
            avx2,
        }
    }

    /// `libc` as npm's package metadata names it.
    pub fn libc(&self) -> &'static str {
        if self.musl { "musl" } else { "glibc" }
    }

    /// `linux-x64`, `linux-arm64-musl`, ...
    pub fn key(&self) -> String {
        format!(
            "{}-{}{}",
            self.os,
            self.cpu,
            if self.musl { "-musl" } else { "" }
        )
    }
}

/// musl when the machine has musl's dynamic loader and not glibc's (what `ldd --version` would
/// tell, without running anything).
fn is_musl() -> bool {
    let glibc = [
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/ld-linux-aarch64.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
    ];
    if glibc.iter().any(|p| Path::new(p).exists()) {
        return false;
    }
    std::fs::read_dir("/lib")
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("ld-musl-"))
        })
        .unwrap_or(false)
}

/// How an agent is published on npm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPackage {
    /// The package users install; its `optionalDependencies` name the native packages.
    pub main: &'static str,
    /// The native packages that run on the platform, best first (as the package's own
    /// postinstall script orders them).
    pub candidates: Vec<String>,
    /// The executable's path inside a native package.
    pub binary: &'static str,
}

/// The npm packages of an agent for `platform`.
pub fn agent_package(kind: AgentKind, platform: &Platform) -> AgentPackage {
    match kind {
        AgentKind::ClaudeCode => AgentPackage {
            main: "@anthropic-ai/claude-code",
            candidates: vec![format!("@anthropic-ai/claude-code-{}", platform.key())],
            binary: "claude",
        },
        AgentKind::Opencode => {
            let os = if platform.os == "win32" {
                "windows"
            } else {
                platform.os
            };
            let base = format!("opencode-{os}-{}", platform.cpu);
            let musl = |s: &str| format!("{s}-musl");
            let baseline = format!("{base}-baseline");
            let mut names = if platform.cpu == "x64" {
                if platform.avx2 {
                    vec![base.clone(), baseline.clone()]
                } else {
                    vec![baseline.clone(), base.clone()]
                }
            } else {
                vec![base.clone()]
            };
            if platform.os == "linux" {
                let m: Vec<String> = names.iter().map(|n| musl(n)).collect();
                names = if platform.musl {
                    m.into_iter().chain(names).collect()
                } else {
                    names.into_iter().chain(m).collect()
                };
            }
            AgentPackage {
                main: "opencode-ai",
                candidates: names,
                binary: "bin/opencode",
            }
        }
    }
}

/// The main npm package and the executable's path inside a `node_modules` folder that npm filled
/// on this machine (the test dependencies, or an install by an older aisys).
pub fn npm_package(kind: AgentKind) -> (&'static str, String) {
    let p = agent_package(kind, &Platform::current());
    (
        p.main,
        format!(
            "{}/{}",
            p.candidates.first().map(String::as_str).unwrap_or(p.main),
            p.binary
        ),
    )
}

/// The folder `aisys agents install` installs into.
pub fn agents_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("agents")
}

/// The folder of one agent's installs: a folder per installed version and `current`, a symlink
/// to the one in use.
pub fn agent_dir(kind: AgentKind, data_dir: &Path) -> PathBuf {
    agents_dir(data_dir).join(kind.as_str())
}

/// Where `aisys agents install` puts this agent's binary.
pub fn installed_binary(kind: AgentKind, data_dir: &Path) -> PathBuf {
    agent_dir(kind, data_dir)
        .join(CURRENT_LINK)
        .join(agent_package(kind, &Platform::current()).binary)
}

/// The symlink in an agent's folder that names the installed version in use.
pub const CURRENT_LINK: &str = "current";

/// Where an older aisys, which installed with npm, put the binary.
fn npm_installed_binary(kind: AgentKind, data_dir: &Path) -> PathBuf {
    agents_dir(data_dir)
        .join("node_modules")
        .join(npm_package(kind).1)
}

/// Runs `<binary> --version` and returns its first word that looks like a version.
pub fn binary_version(path: &Path) -> Result<String, String> {
    let mut child = std::process::Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut out = String::new();
            if let Some(mut s) = child.stdout.take() {
                std::io::Read::read_to_string(&mut s, &mut out).map_err(|e| e.to_string())?;
            }
            if !status.success() {
                return Err(format!("{} --version failed ({status})", path.display()));
            }
            return out
                .split_whitespace()
                .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                .map(str::to_string)
                .ok_or_else(|| format!("{} --version printed no version", path.display()));
        }
        if start.elapsed() > VERSION_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} --version did not answer", path.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The variable that names an agent's binary.
pub fn env_var(kind: AgentKind) -> &'static str {
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
    for installed in [
        installed_binary(kind, data_dir),
        npm_installed_binary(kind, data_dir),
    ] {
        if is_executable(&installed) {
            return Ok(AgentBinary {
                path: installed.canonicalize().unwrap_or(installed),
                found_by: "aisys agents install",
            });
        }
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
