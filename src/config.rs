//! Configuration and paths: where aisys keeps its files and what the user set.
//!
//! Responsible for `config.toml` (parsed strictly, so a typo is an error that names file, line and
//! key), for aisys's own config and data folders, and for the one function that says where Claude
//! Code's home is. Precedence everywhere: command-line flag > environment > config file > default;
//! callers pass the flag, this module does the rest.
//!
//! Must not read anything but the config file: no agent files, no sessions.

use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::runtime::env::{Limits, parse_pids, parse_size};
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
    /// The local sandbox's network: `limited` (the model endpoint and `allow_net` only) or
    /// `host` (the host's, unrestricted).
    pub network: Option<NetworkMode>,
    /// `HOST:PORT`s the local sandbox may reach besides the model endpoint.
    #[serde(default)]
    pub allow_net: Vec<String>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The agent profile sessions get unless told otherwise: `user` (the default), `none`, or
    /// one of `[profiles.<name>]`.
    pub profile: Option<String>,
    /// Named agent profiles: what a sandboxed agent gets.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, ProfileConfig>,
}

/// A `[profiles.<name>]` table: exactly what a sandboxed agent gets. Paths may start with `~/`;
/// relative ones are relative to the config file's folder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Start from what the user's own Claude Code loads (the `user` profile), then add the rest.
    #[serde(default)]
    pub user: bool,
    /// Installed plugins, as `plugin@marketplace`.
    #[serde(default)]
    pub plugins: Vec<String>,
    /// Skill folders (each holding a `SKILL.md`).
    #[serde(default)]
    pub skills: Vec<PathBuf>,
    /// Slash command files (`.md`), or folders of them.
    #[serde(default)]
    pub commands: Vec<PathBuf>,
    /// Subagent files (`.md`), or folders of them.
    #[serde(default)]
    pub agents: Vec<PathBuf>,
    /// The user's own MCP servers, by name (their `env` and `headers` values are not copied).
    #[serde(default)]
    pub mcp: Vec<String>,
    /// MCP servers defined here, in `.mcp.json`'s shape (`command`, `args`, `env`, or `type`,
    /// `url`, `headers`): copied as written, values included.
    #[serde(default)]
    pub mcp_servers: std::collections::BTreeMap<String, toml::Table>,
    /// The rules file the agent reads (Claude Code's `CLAUDE.md`, OpenCode's `AGENTS.md`).
    pub claude_md: Option<PathBuf>,
    /// More rules: `.md` files, or folders of them (Claude Code's `~/.claude/rules/`; OpenCode
    /// reads them as `instructions`).
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Claude Code hooks, in the shape of its settings' `hooks`: each event (`PreToolUse`,
    /// `UserPromptSubmit`, ...) a list of matchers, each with its `hooks` (`type = "command"`,
    /// `command`). Added to the user's hooks when `user = true`. OpenCode has no such hooks.
    pub hooks: Option<toml::Table>,
    /// The model the agent uses.
    pub model: Option<String>,
    /// Claude Code's permission mode (`default`, `acceptEdits`, `plan`, `bypassPermissions`).
    pub permission_mode: Option<crate::types::PermissionMode>,
    /// Tools allowed without asking, e.g. `Bash(git *)`.
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    /// Tools denied.
    #[serde(default)]
    pub denied_tools: Vec<String>,
}

/// The `[limits]` table: what each sandbox's processes may use. Each key is unset (the default
/// applies), a value, or `"unlimited"`; also the shape of the `--max-*` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most processes and threads at once, e.g. `1024`.
    #[serde(default, deserialize_with = "de_pids")]
    pub max_pids: Option<Option<u64>>,
    /// Most memory of all processes together, e.g. `"4G"`.
    #[serde(default, deserialize_with = "de_size")]
    pub max_memory: Option<Option<u64>>,
    /// Most CPU time of each process, e.g. `"1h"`.
    #[serde(default, deserialize_with = "de_cpu_time")]
    pub max_cpu_time: Option<Option<Duration>>,
}

impl LimitsConfig {
    /// These settings over `base`'s: each one set here wins.
    pub fn over(self, base: LimitsConfig) -> LimitsConfig {
        LimitsConfig {
            max_pids: self.max_pids.or(base.max_pids),
            max_memory: self.max_memory.or(base.max_memory),
            max_cpu_time: self.max_cpu_time.or(base.max_cpu_time),
        }
    }

    /// The limits these settings make, with the defaults for those unset.
    pub fn resolve(self) -> Limits {
        let d = Limits::default();
        Limits {
            pids: self.max_pids.unwrap_or(d.pids),
            memory: self.max_memory.unwrap_or(d.memory),
            cpu_time: self.max_cpu_time.unwrap_or(d.cpu_time),
        }
    }
}

/// A `[limits]` value: a number, or a string with a unit or `unlimited`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawLimit {
    Number(u64),
    Text(String),
}

fn de_limit<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl Fn(&str) -> Result<Option<T>, String>,
) -> Result<Option<Option<T>>, D::Error> {
    let text = match RawLimit::deserialize(d)? {
        RawLimit::Number(n) => n.to_string(),
        RawLimit::Text(t) => t,
    };
    parse(&text).map(Some).map_err(serde::de::Error::custom)
}

fn de_pids<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    de_limit(d, parse_pids)
}

fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    de_limit(d, parse_size)
}

fn de_cpu_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Duration>>, D::Error> {
    de_limit(d, parse_cpu_time)
}

/// Parses a CPU time limit: a duration such as `90s` or `2h`, or `unlimited`.
pub fn parse_cpu_time(text: &str) -> Result<Option<Duration>, String> {
    if text.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match crate::cli::values::parse_duration(text)? {
        d if d.as_secs() == 0 => Err(format!(
            "`{text}`: a CPU time limit under one second would stop everything; write `unlimited` for no limit"
        )),
        d => Ok(Some(d)),
    }
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
    /// Where `aisys serve` keeps sessions and events: `sqlite` (the default, a file in the
    /// data folder) or a `postgres://USER:PASSWORD@HOST:PORT/DATABASE` URL.
    pub store: Option<String>,
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

    /// The sandbox limits: each `--max-*` flag set in `flags`, then the `[limits]` table, then the
    /// defaults.
    pub fn limits(&self, flags: LimitsConfig) -> Limits {
        flags.over(self.file.limits).resolve()
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
pub fn expand_home(p: &Path) -> Result<PathBuf, ConfigError> {
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
allow_net = ["github.com:443"]

[server]
bind = "127.0.0.1:9000"
url = "ws://127.0.0.1:9000/ws"
token_file = "/srv/aisys/token"
max_sessions = 10
store = "postgres://aisys@db:5432/aisys"

[limits]
max_pids = 2048
max_memory = "8G"
max_cpu_time = "unlimited"
"#;
        let c = ConfigFile::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.agent, Some(AgentKind::Opencode));
        assert_eq!(c.sandbox, Some(SandboxKind::Host));
        assert_eq!(c.network, Some(NetworkMode::Host));
        assert_eq!(c.allow_net, ["github.com:443"]);
        assert_eq!(c.server.max_sessions, Some(10));
        assert_eq!(
            c.server.store.as_deref(),
            Some("postgres://aisys@db:5432/aisys")
        );
        assert_eq!(c.server.bind.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(c.limits.max_pids, Some(Some(2048)));
        assert_eq!(c.limits.max_memory, Some(Some(8 << 30)));
        assert_eq!(c.limits.max_cpu_time, Some(None));
    }

    #[test]
    fn limits_flag_beats_file_beats_default() {
        let file =
            ConfigFile::parse("[limits]\nmax_memory = \"1G\"\n", Path::new("c.toml")).unwrap();
        let flags = LimitsConfig {
            max_pids: Some(Some(64)),
            ..Default::default()
        };
        let l = flags.over(file.limits).resolve();
        assert_eq!(l.pids, Some(64));
        assert_eq!(l.memory, Some(1 << 30));
        assert_eq!(l.cpu_time, None);
        assert_eq!(LimitsConfig::default().resolve(), Limits::default());
    }

    #[test]
    fn bad_limit_names_the_key_and_the_fix() {
        let msg = ConfigFile::parse("[limits]\nmax_memory = \"4X\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("c.toml:2:"), "{msg}");
        assert!(msg.contains("key `max_memory`"), "{msg}");
        assert!(msg.contains("512M"), "says how to write it: {msg}");
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
