//! Agent adapters: for each agent CLI, where its binary is, its command line, what goes to its
//! stdin, and what its stdout lines mean (through the converters' readers).
//!
//! Must not know which sandbox it runs in: an adapter produces an [`ExecSpec`] and files to place
//! in the agent's home, and reads lines; the runner and the environment do the rest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::runtime::env::{ExecSpec, ExitInfo};
use crate::types::{AgentKind, PermissionDecision, PermissionMode, StreamEvent};

mod binary;
mod claude;
pub mod install;
mod opencode;

pub use binary::{
    AgentBinary, AgentPackage, BinaryError, CURRENT_LINK, PINNED_CLAUDE_CODE, PINNED_OPENCODE,
    Platform, agent_dir, agent_package, agents_dir, binary_version, env_var, installed_binary,
    npm_package, pinned_version, resolve_binary,
};
pub use claude::ClaudeCode;
pub use opencode::OpenCode;

/// Environment variables that pass from the host into a sandbox when set: the model API's
/// credentials and endpoint, and the agents' own switches. Everything else needs `--env KEY`.
pub const ENV_ALLOWLIST: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "CLAUDE_CODE_MAX_RETRIES",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "API_TIMEOUT_MS",
    "OPENCODE_DISABLE_AUTOUPDATE",
    "OPENCODE_DISABLE_MODELS_FETCH",
    "LANG",
    "LC_ALL",
    "TZ",
    "TERM",
];

/// Settings of one agent run that the user chose.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    pub model: Option<String>,
    pub permission_mode: Option<PermissionMode>,
    pub allowed_tools: Vec<String>,
    pub disallowed_tools: Vec<String>,
    pub max_turns: Option<u32>,
    pub append_system_prompt: Option<String>,
    /// The agent's own session id to continue.
    pub resume: Option<String>,
    /// The model API's base URL, when not the default (OpenCode needs it in its config file).
    pub base_url: Option<String>,
    /// Stream text and thinking as they are written (Claude Code's
    /// `--include-partial-messages`), for a client that watches; off where only the complete
    /// blocks are wanted (JSON output), since every delta is an event.
    pub partial_messages: bool,
    /// MCP servers the agent gets, by name, in Claude Code's own shape (an entry of
    /// `.mcp.json`): `{"type": "stdio", "command", "args", "env"}` or `{"type": "http" | "sse",
    /// "url", "headers"}`. Each adapter writes them where its agent reads them.
    pub mcp_servers: BTreeMap<String, serde_json::Value>,
    /// Rules files for the agent to read beside its own, as paths inside the sandbox (OpenCode's
    /// `instructions`; Claude Code finds its rules in its home).
    pub instructions: Vec<String>,
}

/// One agent CLI: how to start it for a turn and how to talk to it.
pub trait AgentAdapter: Send {
    fn kind(&self) -> AgentKind;
    /// The binary on the host (made visible read-only inside a local sandbox).
    fn binary(&self) -> &Path;
    /// Files to write into the agent's home before the first turn, as (path relative to the
    /// home, contents).
    fn home_files(&self, opts: &AgentOptions) -> Vec<(String, Vec<u8>)>;
    /// Top-level keys to set in JSON files of the home before each turn, as (path relative to the
    /// home, keys), keeping every other key of the file: for files the agent itself writes too.
    fn home_json(
        &self,
        _opts: &AgentOptions,
    ) -> Vec<(String, serde_json::Map<String, serde_json::Value>)> {
        Vec::new()
    }
    /// Environment the agent needs on top of the allowlisted one.
    fn env(&self, opts: &AgentOptions, home: &str) -> BTreeMap<String, String>;
    /// The process that runs one turn with this prompt.
    fn command(&self, prompt: &str, opts: &AgentOptions, home: &str) -> ExecSpec;
    /// Lines to write to stdin right after the start (empty: stdin is closed at once).
    fn stdin_lines(&self, prompt: &str) -> Vec<String>;
    /// Whether stdin stays open during the turn (for control messages).
    fn keeps_stdin_open(&self) -> bool;
    /// Turns one stdout line into events.
    fn read_line(&mut self, line: &str) -> Vec<StreamEvent>;
    /// The stdin line that answers a permission request, if the agent takes answers.
    fn permission_reply(
        &self,
        request_id: &str,
        decision: PermissionDecision,
        input: &serde_json::Value,
        message: Option<&str>,
    ) -> Option<String>;
    /// The stdin line that interrupts the turn, if the agent has one (else it is killed).
    fn interrupt_line(&mut self) -> Option<String>;
    /// The `result` event for an agent that reports none itself, from how its process ended.
    fn result_on_exit(
        &mut self,
        _exit: Option<&ExitInfo>,
        _duration_ms: u64,
    ) -> Option<StreamEvent> {
        None
    }
}

/// Builds the adapter for `kind` with its binary.
pub fn adapter(kind: AgentKind, binary: PathBuf) -> Box<dyn AgentAdapter> {
    match kind {
        AgentKind::ClaudeCode => Box::new(ClaudeCode::new(binary)),
        AgentKind::Opencode => Box::new(OpenCode::new(binary)),
    }
}

/// Whether `event` says the agent has no conversation by the id it was asked to resume (the
/// server stopped before the agent saved it): resuming it again can never work.
pub fn resume_not_found(kind: AgentKind, event: &StreamEvent) -> bool {
    match kind {
        AgentKind::ClaudeCode => claude::resume_not_found(event),
        AgentKind::Opencode => false,
    }
}

/// `--flag=value`: a value can never be read as another flag.
pub(crate) fn flag(name: &str, value: &str) -> String {
    format!("--{name}={value}")
}
