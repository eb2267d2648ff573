//! Launching an agent: the pieces `aisys run` and the server share to get from settings to a
//! sandbox and an adapter — the backend, the allowlisted environment, the credentials check,
//! the workspace and the agent's home.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::agent::{ENV_ALLOWLIST, Platform, agent_package, pinned_version};
use super::env::netrelay::split_host_port;
use super::env::{
    BwrapEnvironment, Egress, EnvError, ExecutionEnvironment, HostEnvironment, Limits, ModalConfig,
    ModalEnvironment, Network, SandboxSpec, sweep_stale_cgroups,
};
use crate::config::Env;
use crate::types::{AgentKind, SandboxKind};

/// Errors before any sandbox starts.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "no model API credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN), or ANTHROPIC_BASE_URL for a compatible endpoint"
    )]
    NoCredentials,
    #[error("--env {0}: not set in this environment (export it first, or drop --env {0})")]
    MissingEnv(String),
    #[error("the {0} sandbox backend is not available here: choose --sandbox local or host")]
    Unsupported(SandboxKind),
    #[error(
        "ANTHROPIC_BASE_URL={url}: {why}; the sandbox may reach only the model endpoint, so it must be a URL like https://api.example.com or http://127.0.0.1:8080"
    )]
    BadEndpoint { url: String, why: String },
    #[error(
        "allowed host `{0}` (--allow-net or `allow_net` in the config file): expected HOST:PORT, e.g. github.com:443"
    )]
    BadAllowedHost(String),
    #[error(transparent)]
    Env(#[from] EnvError),
}

/// The model endpoint when `ANTHROPIC_BASE_URL` is not set: the agents' own default.
pub const DEFAULT_MODEL_ENDPOINT: &str = "https://api.anthropic.com";

/// What network a sandbox gets: the host's with `host_network`; else only the agent's model
/// endpoint (`ANTHROPIC_BASE_URL` in `env`, or [`DEFAULT_MODEL_ENDPOINT`]) and each allowed
/// `HOST:PORT`.
pub fn network(
    env: &BTreeMap<String, String>,
    host_network: bool,
    allow: &[String],
) -> Result<Network, LaunchError> {
    if host_network {
        return Ok(Network::Host);
    }
    let url = env
        .get("ANTHROPIC_BASE_URL")
        .filter(|u| !u.is_empty())
        .map(String::as_str)
        .unwrap_or(DEFAULT_MODEL_ENDPOINT);
    let bad = |why: &str| LaunchError::BadEndpoint {
        url: url.to_string(),
        why: why.to_string(),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad("the scheme is not http or https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority).ok_or_else(|| bad("no host and port"))?;
    let mut egress = destinations(&host, port.unwrap_or(default_port));
    for entry in allow {
        match split_host_port(entry) {
            Some((host, Some(port))) => egress.extend(destinations(&host, port)),
            _ => return Err(LaunchError::BadAllowedHost(entry.clone())),
        }
    }
    Ok(Network::Egress(egress))
}

/// How a sandbox reaches `host:port`: at the same loopback address when it is the host's
/// loopback, else through the proxy.
fn destinations(host: &str, port: u16) -> Vec<Egress> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    if host.eq_ignore_ascii_case("localhost") {
        return [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
        .map(|ip| Egress::Loopback(SocketAddr::new(ip, port)))
        .to_vec();
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => vec![Egress::Loopback(SocketAddr::new(ip, port))],
        _ => vec![Egress::Remote {
            host: host.to_ascii_lowercase(),
            port,
        }],
    }
}

/// The backend for `kind`, checked to work on this machine. `modal` configures the Modal
/// backend (its app, image and bridge, and aisys's data folder, where the local backend keeps
/// the result of its check).
pub async fn environment(
    kind: SandboxKind,
    modal: &ModalConfig,
) -> Result<Box<dyn ExecutionEnvironment>, LaunchError> {
    if kind != SandboxKind::Modal {
        sweep_stale_cgroups();
    }
    match kind {
        SandboxKind::Local => Ok(Box::new(BwrapEnvironment::detect(&modal.data_dir).await?)),
        SandboxKind::Host => Ok(Box::new(HostEnvironment)),
        SandboxKind::Modal => Ok(Box::new(ModalEnvironment::start(modal.clone()).await?)),
    }
}

/// What an image that aisys builds installs through npm: every agent it runs, at the version it
/// is tested with (`name@version`).
pub fn image_npm_packages() -> Vec<String> {
    AgentKind::ALL
        .iter()
        .map(|&k| {
            format!(
                "{}@{}",
                agent_package(k, &Platform::current()).main,
                pinned_version(k)
            )
        })
        .collect()
}

/// A Modal backend's settings, with the agents its default image installs.
pub fn modal_config(data_dir: &Path) -> ModalConfig {
    ModalConfig::new(data_dir, image_npm_packages())
}

/// The agent's command inside a Modal sandbox: the image has it on `PATH`.
pub fn modal_agent_binary(agent: AgentKind) -> PathBuf {
    PathBuf::from(match agent {
        AgentKind::ClaudeCode => "claude",
        AgentKind::Opencode => "opencode",
    })
}

/// A stable name for the agent home of runs on one workspace, so `--resume` finds it (it also
/// names the Modal Volume that holds that home).
pub fn workspace_key(workspace: &Path) -> String {
    let key = workspace
        .canonicalize()
        .unwrap_or_else(|_| workspace.to_path_buf());
    format!("{:016x}", fnv1a(key.to_string_lossy().as_bytes()))
}

/// The variables the sandbox gets: the allowlist's that are set, plus each `--env KEY`.
pub fn sandbox_env(
    host: &dyn Env,
    extra: &[String],
) -> Result<BTreeMap<String, String>, LaunchError> {
    let mut env = BTreeMap::new();
    for key in ENV_ALLOWLIST {
        if let Some(v) = host.var(key) {
            env.insert(key.to_string(), v);
        }
    }
    for key in extra {
        let v = host
            .var(key)
            .ok_or_else(|| LaunchError::MissingEnv(key.clone()))?;
        env.insert(key.clone(), v);
    }
    Ok(env)
}

/// Refuses to start when the agent could not reach a model anyway.
pub fn check_credentials(env: &BTreeMap<String, String>) -> Result<(), LaunchError> {
    let has = |k: &str| env.get(k).is_some_and(|v| !v.is_empty());
    if has("ANTHROPIC_API_KEY") || has("ANTHROPIC_AUTH_TOKEN") || has("ANTHROPIC_BASE_URL") {
        Ok(())
    } else {
        Err(LaunchError::NoCredentials)
    }
}

/// Why `path` cannot be a folder: it, or the first of its parents that exists, is a file (or
/// anything else but a folder). Checked before the folder is made, where making it would say
/// only "File exists".
pub fn not_a_folder(path: &Path) -> Option<String> {
    let (found, _) = path
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .find_map(|p| std::fs::metadata(p).ok().map(|m| (p, m)))
        .filter(|(_, m)| !m.is_dir())?;
    Some(if found == path {
        "it is a file, and a folder is needed".to_string()
    } else {
        format!("{} is a file, and a folder is needed", found.display())
    })
}

/// A new, empty workspace under the data folder, named by time and process so runs never share.
pub fn new_workspace(data_dir: &Path) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    data_dir
        .join("workspaces")
        .join(format!("run-{}-{}", now.as_millis(), std::process::id()))
}

/// The agent's home for a workspace: kept between runs on the same workspace, so that a later
/// `--resume` finds the agent's transcripts.
pub fn agent_home(data_dir: &Path, workspace: &Path, agent: AgentKind) -> PathBuf {
    data_dir
        .join("homes")
        .join(workspace_key(workspace))
        .join(agent.as_str())
}

/// What a sandbox for one agent is made of, as `aisys run` and the server both say it.
pub struct SpecParts<'a> {
    pub workspace: PathBuf,
    pub home: PathBuf,
    pub env: BTreeMap<String, String>,
    pub network: Network,
    /// The agent binary on the host, made visible read-only (None where the sandbox has its own,
    /// as on Modal).
    pub binary: Option<&'a Path>,
    /// The label that names what the sandbox is for (`aisys.session` = a session id or a
    /// workspace key), for listing and cleanup.
    pub label: (&'a str, String),
    pub limits: Limits,
}

/// The sandbox spec for one agent: its workspace, home, environment and network, its binary's
/// folder read-only, its label and limits.
pub fn sandbox_spec(parts: SpecParts<'_>) -> SandboxSpec {
    SandboxSpec {
        workspace: parts.workspace,
        home: parts.home,
        env: parts.env,
        network: parts.network,
        read_only: parts
            .binary
            .map(|b| vec![binary_root(b)])
            .unwrap_or_default(),
        labels: [(parts.label.0.to_string(), parts.label.1)].into(),
        limits: parts.limits,
        ..Default::default()
    }
}

/// The folder to make visible read-only for an agent binary: its npm package folder, so that
/// files beside the binary are there too.
fn binary_root(binary: &Path) -> PathBuf {
    let real = binary
        .canonicalize()
        .unwrap_or_else(|_| binary.to_path_buf());
    real.parent().map(Path::to_path_buf).unwrap_or(real)
}

/// A small stable hash (FNV-1a): folder names must not change between aisys versions, which
/// rules out std's randomized hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_and_named_variables_pass() {
        let host = [
            ("ANTHROPIC_API_KEY", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("MY_TOKEN", "t"),
        ];
        let env = sandbox_env(&host, &[]).unwrap();
        assert_eq!(env.get("ANTHROPIC_API_KEY").map(String::as_str), Some("k"));
        assert!(!env.contains_key("AWS_SECRET_ACCESS_KEY"));
        let env = sandbox_env(&host, &["MY_TOKEN".into()]).unwrap();
        assert_eq!(env.get("MY_TOKEN").map(String::as_str), Some("t"));
        let err = sandbox_env(&host, &["NOPE".into()]).unwrap_err();
        assert!(err.to_string().contains("--env NOPE"));
    }

    #[test]
    fn the_sandbox_reaches_its_model_endpoint_and_the_allowed_hosts_only() {
        let env = |url: &str| BTreeMap::from([("ANTHROPIC_BASE_URL".to_string(), url.to_string())]);
        assert_eq!(
            network(&env("http://127.0.0.1:8080/v1"), false, &[]).unwrap(),
            Network::Egress(vec![Egress::Loopback("127.0.0.1:8080".parse().unwrap())])
        );
        assert_eq!(
            network(&BTreeMap::new(), false, &["GitHub.com:443".into()]).unwrap(),
            Network::Egress(vec![
                Egress::Remote {
                    host: "api.anthropic.com".into(),
                    port: 443
                },
                Egress::Remote {
                    host: "github.com".into(),
                    port: 443
                }
            ])
        );
        assert_eq!(network(&BTreeMap::new(), true, &[]).unwrap(), Network::Host);
        let err = network(&env("ftp://x"), false, &[]).unwrap_err();
        assert!(
            err.to_string().contains("ANTHROPIC_BASE_URL=ftp://x"),
            "{err}"
        );
        let err = network(&BTreeMap::new(), false, &["github.com".into()]).unwrap_err();
        assert!(err.to_string().contains("`github.com`"), "{err}");
    }

    #[test]
    fn credentials_are_required() {
        assert!(check_credentials(&BTreeMap::new()).is_err());
        let env = BTreeMap::from([("ANTHROPIC_BASE_URL".to_string(), "http://x".to_string())]);
        assert!(check_credentials(&env).is_ok());
    }

    #[test]
    fn homes_are_stable_per_workspace_and_agent() {
        let d = Path::new("/data");
        let a = agent_home(d, Path::new("/nonexistent/ws1"), AgentKind::ClaudeCode);
        assert_eq!(
            a,
            agent_home(d, Path::new("/nonexistent/ws1"), AgentKind::ClaudeCode)
        );
        assert_ne!(
            a,
            agent_home(d, Path::new("/nonexistent/ws2"), AgentKind::ClaudeCode)
        );
        assert_ne!(
            a,
            agent_home(d, Path::new("/nonexistent/ws1"), AgentKind::Opencode)
        );
    }
}
