//! Argument values shared by several commands, mapped onto the core's types.
//!
//! Kept apart from `types` so that the shared types never depend on clap.

use crate::config::NetworkMode;
use crate::types::{AgentKind, PermissionMode, SandboxKind};

/// `--agent` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentArg {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenCode.
    Opencode,
}

impl From<AgentArg> for AgentKind {
    fn from(a: AgentArg) -> AgentKind {
        match a {
            AgentArg::ClaudeCode => AgentKind::ClaudeCode,
            AgentArg::Opencode => AgentKind::Opencode,
        }
    }
}

/// `--sandbox` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxArg {
    /// A bubblewrap sandbox on this machine: only the workspace is writable (default).
    Local,
    /// No isolation at all: the agent runs as you, on this machine.
    Host,
    /// A Modal Sandbox in Modal's cloud.
    Modal,
}

impl From<SandboxArg> for SandboxKind {
    fn from(s: SandboxArg) -> SandboxKind {
        match s {
            SandboxArg::Local => SandboxKind::Local,
            SandboxArg::Host => SandboxKind::Host,
            SandboxArg::Modal => SandboxKind::Modal,
        }
    }
}

/// `--network` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkArg {
    /// Only the model endpoint and the allowed hosts (default).
    Limited,
    /// The host's network, unrestricted: the agent can reach anything this machine can.
    Host,
}

impl From<NetworkArg> for NetworkMode {
    fn from(n: NetworkArg) -> NetworkMode {
        match n {
            NetworkArg::Limited => NetworkMode::Limited,
            NetworkArg::Host => NetworkMode::Host,
        }
    }
}

/// `--permission-mode` values: Claude Code's permission modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PermissionModeArg {
    /// Ask for anything no rule allows.
    #[value(name = "default")]
    Default,
    /// Allow file edits without asking.
    #[value(name = "acceptEdits")]
    AcceptEdits,
    /// Plan only: no edits, no commands.
    #[value(name = "plan")]
    Plan,
    /// Allow everything (the sandbox is the boundary).
    #[value(name = "bypassPermissions")]
    BypassPermissions,
}

impl From<PermissionModeArg> for PermissionMode {
    fn from(m: PermissionModeArg) -> PermissionMode {
        match m {
            PermissionModeArg::Default => PermissionMode::Default,
            PermissionModeArg::AcceptEdits => PermissionMode::AcceptEdits,
            PermissionModeArg::Plan => PermissionMode::Plan,
            PermissionModeArg::BypassPermissions => PermissionMode::BypassPermissions,
        }
    }
}

/// Parses a duration such as `90s`, `10m`, `2h`, `500ms` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 90s, 10m or 2h"))?;
    let secs = |s: u64| std::time::Duration::from_secs(s);
    match unit {
        "" | "s" => Ok(secs(n)),
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "m" => Ok(secs(n * 60)),
        "h" => Ok(secs(n * 3600)),
        _ => Err(format!(
            "`{text}`: unknown unit `{unit}`: use ms, s, m or h"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("m").is_err());
    }
}
