//! Argument values shared by several commands, mapped onto the core's types.
//!
//! Kept apart from `types` so that the shared types never depend on clap.

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
