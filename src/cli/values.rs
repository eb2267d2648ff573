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

/// A `--max-*` value: a limit, or `None` for `unlimited`. A newtype, because clap would read
/// `Option<Option<_>>` as a flag whose value may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxArg<T>(pub Option<T>);

/// Parses `--max-pids`.
pub fn parse_max_pids(text: &str) -> Result<MaxArg<u64>, String> {
    crate::runtime::env::parse_pids(text).map(MaxArg)
}

/// Parses `--max-memory`.
pub fn parse_max_memory(text: &str) -> Result<MaxArg<u64>, String> {
    crate::runtime::env::parse_size(text).map(MaxArg)
}

/// Parses `--max-cpu-time`.
pub fn parse_max_cpu_time(text: &str) -> Result<MaxArg<std::time::Duration>, String> {
    crate::config::parse_cpu_time(text).map(MaxArg)
}

/// The `--max-*` flags, shared by `run` and `serve`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct LimitArgs {
    /// Most processes and threads in the sandbox at once, or `unlimited` [default: 1024].
    #[arg(long, value_name = "N", value_parser = parse_max_pids)]
    pub max_pids: Option<MaxArg<u64>>,
    /// Most memory of the sandbox's processes together, e.g. 512M or 8G, or `unlimited`
    /// [default: 4G].
    #[arg(long, value_name = "SIZE", value_parser = parse_max_memory)]
    pub max_memory: Option<MaxArg<u64>>,
    /// Most CPU time of each process in the sandbox, e.g. 30m, or `unlimited` [default: unlimited].
    #[arg(long, value_name = "DURATION", value_parser = parse_max_cpu_time)]
    pub max_cpu_time: Option<MaxArg<std::time::Duration>>,
}

impl LimitArgs {
    /// The flags as `[limits]` settings, to put over the config file's.
    pub fn settings(&self) -> crate::config::LimitsConfig {
        crate::config::LimitsConfig {
            max_pids: self.max_pids.map(|m| m.0),
            max_memory: self.max_memory.map(|m| m.0),
            max_cpu_time: self.max_cpu_time.map(|m| m.0),
        }
    }
}

/// The longest duration a flag takes: a year. Longer is a typo, and far larger values would
/// overflow when added to the clock.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// Parses a duration such as `90s`, `10m`, `2h`, `500ms` or a bare number of seconds, up to
/// [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let too_long = || {
        format!(
            "`{text}` is too long a duration: at most {}h (a year)",
            MAX_DURATION.as_secs() / 3600
        )
    };
    let n: u64 = match num.parse() {
        Ok(n) => n,
        // All digits and still no number: it overflowed.
        Err(_) if !num.is_empty() => return Err(too_long()),
        Err(_) => {
            return Err(format!(
                "`{text}` is not a duration: use e.g. 90s, 10m or 2h"
            ));
        }
    };
    let millis_per = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`: use ms, s, m or h"
            ));
        }
    };
    let d = n
        .checked_mul(millis_per)
        .map(std::time::Duration::from_millis)
        .ok_or_else(too_long)?;
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
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
        assert_eq!(parse_duration("8760h"), Ok(MAX_DURATION));
    }

    #[test]
    fn huge_durations_are_refused_naming_the_value() {
        for text in [
            "8761h",
            "307445734561825861m",
            "18446744073709551615s",
            "99999999999999999999999",
        ] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains(text) && e.contains("too long"), "{text}: {e}");
        }
    }
}
