//! Configuration and paths: where aisys keeps its files and what the user set.
//!
//! Responsible for `config.toml` (parsed strictly, so a typo is an error that names file, line and
//! key), for aisys's own config and data folders, and for the one function that says where Claude
//! Code's home is. Precedence everywhere: command-line flag > environment > config file > default;
//! callers pass the flag, this module does the rest.
//!
//! Must not read anything but the config file: no agent files, no sessions.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::types::{AgentKind, SandboxKind};

/// Overrides the folder holding `config.toml`.
pub const ENV_CONFIG_DIR: &str = "AISYS_CONFIG_DIR";
/// Overrides the data folder (sessions, workspaces, installed agents, the server token).
pub const ENV_DATA_DIR: &str = "AISYS_DATA_DIR";
/// Claude Code's own override of its home folder (`~/.claude`).
pub const ENV_CLAUDE_CONFIG_DIR: &str = "CLAUDE_CONFIG_DIR";
/// The config file's name inside the config folder.
pub const CONFIG_FILE_NAME: &str = "config.toml";
/// The address `aisys serve` binds and `aisys chat` connects to by default: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:7777";

/// Something that can look up environment variables; the process environment in production,
/// a map in tests (so tests never mutate the real environment).
pub trait Env {
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment. Empty values count as unset.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, key: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}

/// Errors about configuration and paths.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: {what}\n  fix: edit the file, or point --config at another one (the keys are listed in `aisys --help`)"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        /// The key at fault and what is wrong with it.
        what: String,
    },
    #[error(
        "cannot tell where your home folder is: set HOME, or set {ENV_CONFIG_DIR} and {ENV_DATA_DIR}"
    )]
    NoHome,
}

/// The contents of `config.toml`. Every key is optional; unknown keys are errors, so that a typo
/// never silently does nothing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Default agent for `run`, `serve` and `chat`.
    pub agent: Option<AgentKind>,
    /// Default sandbox backend.
    pub sandbox: Option<SandboxKind>,
    /// Default model passed to the agent.
    pub model: Option<String>,
    /// Where aisys keeps its data.
    pub data_dir: Option<PathBuf>,
    /// The local sandbox's network: `limited` (the model endpoint and `allow_hosts` only) or
    /// `host` (the host's, unrestricted).
    pub network: Option<NetworkMode>,
    /// `HOST:PORT`s the local sandbox may reach besides the model endpoint.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default)]
    pub server: ServerConfig,
}

/// What network the local sandbox has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    /// Its own network namespace, reaching only the model endpoint and the allowed hosts.
    Limited,
    /// The host's network, unrestricted.
    Host,
}

/// The `[server]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address `aisys serve` binds.
    pub bind: Option<String>,
    /// WebSocket URL `aisys chat` connects to.
    pub url: Option<String>,
    /// File holding the server token.
    pub token_file: Option<PathBuf>,
    /// Most sessions one server keeps.
    pub max_sessions: Option<usize>,
}

impl ConfigFile {
    /// Parses config text; `path` is only used to name the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            let line_text = text.lines().nth(line - 1).unwrap_or("");
            let message = e.message().trim().to_string();
            let what = match key_on_line(line_text) {
                Some(key) => format!("key `{key}`: {message}"),
                None => message,
            };
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                what,
            }
        })
    }

    /// Reads a config file. A missing file is an empty config unless `required` (a file named
    /// with `--config` must exist).
    pub fn load(path: &Path, required: bool) -> Result<ConfigFile, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(ConfigFile::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// The key a TOML line sets, if it is a `key = value` line.
fn key_on_line(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

/// aisys's resolved configuration: the file's contents and the folders, after precedence.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file that was read (it may not exist).
    pub config_file: PathBuf,
    pub file: ConfigFile,
    /// aisys's data folder.
    pub data_dir: PathBuf,
}

impl Config {
    /// Loads the configuration: `config_flag` is `--config FILE`.
    pub fn load(config_flag: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigError> {
        let (config_file, required) = match config_flag {
            Some(p) => (p.to_path_buf(), true),
            None => (config_dir(env)?.join(CONFIG_FILE_NAME), false),
        };
        let file = ConfigFile::load(&config_file, required)?;
        let data_dir = match env.var(ENV_DATA_DIR) {
            Some(d) => PathBuf::from(d),
            None => match &file.data_dir {
                Some(d) => expand_home(d)?,
                None => dirs::data_dir().ok_or(ConfigError::NoHome)?.join("aisys"),
            },
        };
        Ok(Config {
            config_file,
            file,
            data_dir,
        })
    }

    /// The agent to use: flag, then config file, then Claude Code.
    pub fn agent(&self, flag: Option<AgentKind>) -> AgentKind {
        flag.or(self.file.agent).unwrap_or(AgentKind::ClaudeCode)
    }

    /// The sandbox backend to use: flag, then config file, then the local bubblewrap sandbox.
    pub fn sandbox(&self, flag: Option<SandboxKind>) -> SandboxKind {
        flag.or(self.file.sandbox).unwrap_or(SandboxKind::Local)
    }

    /// Whether the local sandbox gets the host's network: flag, then config file, then not.
    pub fn host_network(&self, flag: Option<NetworkMode>) -> bool {
        flag.or(self.file.network) == Some(NetworkMode::Host)
    }

    /// The model to use, if any was chosen.
    pub fn model(&self, flag: Option<String>) -> Option<String> {
        flag.or_else(|| self.file.model.clone())
    }

    /// The data folder, unless a command's own `--data-dir` flag overrides it.
    pub fn data_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .unwrap_or_else(|| self.data_dir.clone())
    }
}

/// aisys's config folder: `$AISYS_CONFIG_DIR`, else `~/.config/aisys`.
pub fn config_dir(env: &dyn Env) -> Result<PathBuf, ConfigError> {
    match env.var(ENV_CONFIG_DIR) {
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(dirs::config_dir().ok_or(ConfigError::NoHome)?.join("aisys")),
    }
}

/// Claude Code's home folder: `$CLAUDE_CONFIG_DIR`, else `~/.claude`. The one place the whole
/// crate asks.
pub fn claude_home(env: &dyn Env) -> Result<PathBuf, ConfigError> {
    match env.var(ENV_CLAUDE_CONFIG_DIR) {
        Some(d) => Ok(PathBuf::from(d)),
        None => Ok(dirs::home_dir().ok_or(ConfigError::NoHome)?.join(".claude")),
    }
}

/// Expands a leading `~/` in a path from the config file.
fn expand_home(p: &Path) -> Result<PathBuf, ConfigError> {
    match p.strip_prefix("~") {
        Ok(rest) => Ok(dirs::home_dir().ok_or(ConfigError::NoHome)?.join(rest)),
        Err(_) => Ok(p.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let text = r#"
agent = "opencode"
sandbox = "host"
model = "claude-sonnet-4-5"
data_dir = "/srv/aisys"
network = "host"
allow_hosts = ["github.com:443"]

[server]
bind = "127.0.0.1:9000"
url = "ws://127.0.0.1:9000/ws"
token_file = "/srv/aisys/token"
max_sessions = 10
"#;
        let c = ConfigFile::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.agent, Some(AgentKind::Opencode));
        assert_eq!(c.sandbox, Some(SandboxKind::Host));
        assert_eq!(c.network, Some(NetworkMode::Host));
        assert_eq!(c.allow_hosts, ["github.com:443"]);
        assert_eq!(c.server.max_sessions, Some(10));
        assert_eq!(c.server.bind.as_deref(), Some("127.0.0.1:9000"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "agent = \"claude-code\"\n\n[server]\nbnid = \"x\"\n";
        let err = ConfigFile::parse(text, Path::new("/etc/aisys.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/aisys.toml:4:1: key `bnid`"), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
    }

    #[test]
    fn wrong_value_names_the_key() {
        let text = "model = \"m\"\nagent = \"gpt\"\n";
        let msg = ConfigFile::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("c.toml:2:"), "{msg}");
        assert!(msg.contains("key `agent`"), "{msg}");
        assert!(
            msg.contains("claude-code"),
            "names the accepted values: {msg}"
        );
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "agent = \"opencode\"\ndata_dir = \"/from/file\"\n").unwrap();
        let cfg_dir = dir.path().to_str().unwrap();

        // File beats default.
        let env = [(ENV_CONFIG_DIR, cfg_dir)];
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.agent(None), AgentKind::Opencode);
        assert_eq!(c.data_dir(None), PathBuf::from("/from/file"));
        // Flag beats file.
        assert_eq!(c.agent(Some(AgentKind::ClaudeCode)), AgentKind::ClaudeCode);
        assert_eq!(c.data_dir(Some(Path::new("/flag"))), PathBuf::from("/flag"));
        // Env beats file.
        let env = [(ENV_CONFIG_DIR, cfg_dir), (ENV_DATA_DIR, "/from/env")];
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.data_dir(None), PathBuf::from("/from/env"));
        // No file: defaults.
        let empty = tempfile::tempdir().unwrap();
        let env = [(ENV_CONFIG_DIR, empty.path().to_str().unwrap())];
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.agent(None), AgentKind::ClaudeCode);
        assert_eq!(c.sandbox(None), SandboxKind::Local);
    }

    #[test]
    fn config_flag_must_exist() {
        let err =
            Config::load(Some(Path::new("/nonexistent/aisys.toml")), &[("X", "y")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/aisys.toml"));
    }

    #[test]
    fn claude_home_honours_env() {
        assert_eq!(
            claude_home(&[(ENV_CLAUDE_CONFIG_DIR, "/c")]).unwrap(),
            PathBuf::from("/c")
        );
        let default = claude_home(&[("X", "y")]).unwrap();
        assert!(default.ends_with(".claude"));
    }
}
