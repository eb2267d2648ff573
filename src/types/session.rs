//! Session metadata and the session state machine's rules.
//!
//! The rules live here, as pure functions, so that the server enforces them and clients can
//! predict them; the server owns the transitions themselves.

use std::fmt;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::events::{TokenUsage, TurnStatus};
use super::id::SessionId;

/// Which agent CLI a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AgentKind {
    /// Anthropic's Claude Code (`claude`).
    ClaudeCode,
    /// OpenCode (`opencode`).
    Opencode,
}

impl AgentKind {
    pub const ALL: [AgentKind; 2] = [AgentKind::ClaudeCode, AgentKind::Opencode];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::ClaudeCode => "claude-code",
            AgentKind::Opencode => "opencode",
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a session's agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxKind {
    /// A bubblewrap sandbox on this machine (the default).
    Local,
    /// Directly on this machine, without isolation: an explicit choice.
    Host,
    /// A Modal Sandbox in Modal's cloud.
    Modal,
}

impl SandboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxKind::Local => "local",
            SandboxKind::Host => "host",
            SandboxKind::Modal => "modal",
        }
    }
}

impl fmt::Display for SandboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claude Code's permission modes, which decide which tool requests reach a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PermissionMode {
    /// Ask for anything not allowed by a rule.
    #[serde(rename = "default")]
    Default,
    /// Allow file edits without asking.
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    /// Plan only; no edits or commands.
    #[serde(rename = "plan")]
    Plan,
    /// Allow everything (the sandbox is the boundary).
    #[serde(rename = "bypassPermissions")]
    BypassPermissions,
}

impl PermissionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }
}

/// The state of an agent session.
///
/// `provisioning -> idle <-> running (-> awaiting_permission -> running) -> idle`, with
/// `interrupting` on the way from a turn back to idle, and `stopped` / `failed` as ends that a new
/// message can leave again (the agent's own session id resumes the conversation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Provisioning,
    Idle,
    Running,
    AwaitingPermission,
    Interrupting,
    Stopped,
    Failed,
}

impl SessionState {
    pub const ALL: [SessionState; 7] = [
        SessionState::Provisioning,
        SessionState::Idle,
        SessionState::Running,
        SessionState::AwaitingPermission,
        SessionState::Interrupting,
        SessionState::Stopped,
        SessionState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Provisioning => "provisioning",
            SessionState::Idle => "idle",
            SessionState::Running => "running",
            SessionState::AwaitingPermission => "awaiting_permission",
            SessionState::Interrupting => "interrupting",
            SessionState::Stopped => "stopped",
            SessionState::Failed => "failed",
        }
    }

    /// Whether a turn is under way (a message sent now waits in the queue).
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            SessionState::Running | SessionState::AwaitingPermission | SessionState::Interrupting
        )
    }

    /// Whether the state machine allows going from `self` to `to`.
    pub fn can_transition_to(self, to: SessionState) -> bool {
        use SessionState::*;
        match (self, to) {
            // Anything can stop or fail; stopping twice is not a transition.
            (Stopped, Stopped) | (Failed, Failed) => false,
            (_, Stopped) | (_, Failed) => true,
            (Provisioning, Idle) => true,
            (Idle, Running) | (Idle, Provisioning) => true,
            (Running, Idle) | (Running, AwaitingPermission) | (Running, Interrupting) => true,
            (AwaitingPermission, Running) | (AwaitingPermission, Interrupting) => true,
            (Interrupting, Idle) => true,
            // A stopped or failed session comes back through provisioning on its next message.
            (Stopped, Provisioning) | (Failed, Provisioning) => true,
            _ => false,
        }
    }

    /// Checks a transition, naming both ends when it is illegal.
    pub fn transition(self, to: SessionState) -> Result<SessionState, TransitionError> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session is in its state: the `reason` of `state_changed`, `session.state` and a
/// session's metadata. On the wire, a string: one of the names below, a turn's status, or the
/// words of a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateReason {
    /// A new session (its first state).
    Created,
    /// The session is being deleted (it stops first).
    Deleted,
    /// A stopped or failed session starts again, on a new message.
    Resuming,
    /// A client asked the session to stop.
    #[serde(rename = "stopped by a client")]
    StoppedByClient,
    /// The server shut down while a turn ran, and ended it.
    ServerShutdown,
    /// The server stopped while a turn ran (a crash, a kill): it found the turn cut short when
    /// it started again.
    ServerRestart,
    /// The server running the turn, among several sharing a store, stopped answering and its
    /// lease expired; another server took the session over.
    ServerLost,
    /// A turn ended other than in success, back to `idle`: how it ended.
    #[serde(untagged)]
    Turn(TurnStatus),
    /// Why the session failed, in words (`store_failed: ...`, the agent's start error, ...).
    #[serde(untagged)]
    Failed(String),
}

impl StateReason {
    /// The serde name (or the turn's status, or the failure's words), as shown to people.
    pub fn as_str(&self) -> &str {
        match self {
            StateReason::Created => "created",
            StateReason::Deleted => "deleted",
            StateReason::Resuming => "resuming",
            StateReason::StoppedByClient => "stopped by a client",
            StateReason::ServerShutdown => "server_shutdown",
            StateReason::ServerRestart => "server_restart",
            StateReason::ServerLost => "server_lost",
            StateReason::Turn(status) => status.as_str(),
            StateReason::Failed(words) => words,
        }
    }
}

impl fmt::Display for StateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An illegal state transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: SessionState,
    pub to: SessionState,
}

/// What a client asks for when it creates a session. Every field is optional: the server fills
/// in its own defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxKind>,
    /// A folder under one of the server's allowed workspace roots; default: a new folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<PermissionMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Lower resource limits for this session's sandbox than the server's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<SessionLimits>,
    /// The agent profile: what the agent gets of skills, plugins, subagents, commands and MCP
    /// servers: `user` (what the server's user's Claude Code loads), `none`, or one the server's
    /// config file names. Default: the server's default profile. An unknown profile, or one
    /// naming an entity that is missing, is `bad_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Resource limits a client asks for a session's sandbox (see docs/security.md). Each one set
/// only lowers the server's limit, never raises it; each one left out is the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionLimits {
    /// Most processes and threads at once (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pids: Option<u64>,
    /// Most memory of all its processes together, in bytes (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<u64>,
    /// Most CPU time of each process, in seconds (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cpu_time_secs: Option<u64>,
}

/// What a session's turns used, summed by the server as each turn ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionUsage {
    /// Turns that ended (each `result` event).
    #[serde(default)]
    pub turns: u64,
    /// Every token of those turns: input, output and cache.
    #[serde(default)]
    pub tokens: TokenUsage,
    /// Dollars, as the agent reported them (turns that reported none count 0).
    #[serde(default)]
    pub cost_usd: f64,
}

impl SessionUsage {
    /// Counts one ended turn.
    pub fn add_turn(&mut self, usage: Option<&TokenUsage>, cost_usd: Option<f64>) {
        self.turns += 1;
        if let Some(u) = usage {
            self.tokens.add(u);
        }
        self.cost_usd += cost_usd.unwrap_or(0.0);
    }
}

/// A session as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    pub id: SessionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub agent: AgentKind,
    pub sandbox: SandboxKind,
    pub state: SessionState,
    /// Why the session is in its state, for `stopped` and `failed` (e.g. `server_restart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StateReason>,
    pub workspace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub permission_mode: PermissionMode,
    /// The agent's own conversation id, passed back to resume it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_session_id: Option<String>,
    /// The sandbox the session holds now, if any: a server restarted after a crash reattaches
    /// to it (Modal), and deleting the session terminates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_id: Option<String>,
    /// RFC 3339.
    #[serde(with = "super::time::serde_rfc3339")]
    #[schemars(with = "String")]
    pub created_at: Timestamp,
    /// RFC 3339.
    #[serde(with = "super::time::serde_rfc3339")]
    #[schemars(with = "String")]
    pub last_activity: Timestamp,
    /// The seq of the newest stored event (0 when there is none).
    pub last_seq: u64,
    /// The limits the client asked for at creation (the server's own apply too, whichever is
    /// lower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<SessionLimits>,
    /// The agent profile the session's sandboxes get (`user`, `none` or a configured name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// When the profile was last resolved against the files on the server (RFC 3339): at
    /// creation, then each time a sandbox is made.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::time::serde_rfc3339::option"
    )]
    #[schemars(with = "Option<String>")]
    pub profile_resolved_at: Option<Timestamp>,
    /// Tokens and cost of the session's turns so far; absent for a session recorded before
    /// the server counted them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<SessionUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_travels_as_the_string_it_always_was() {
        let named = [
            (StateReason::Created, "created"),
            (StateReason::Deleted, "deleted"),
            (StateReason::Resuming, "resuming"),
            (StateReason::StoppedByClient, "stopped by a client"),
            (StateReason::ServerShutdown, "server_shutdown"),
            (StateReason::ServerRestart, "server_restart"),
            (StateReason::ServerLost, "server_lost"),
            (StateReason::Turn(TurnStatus::Interrupted), "interrupted"),
            (StateReason::Turn(TurnStatus::MaxTurns), "max_turns"),
            (
                StateReason::Failed("store_failed: disk full".into()),
                "store_failed: disk full",
            ),
        ];
        for (reason, wire) in named {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, serde_json::to_string(wire).unwrap());
            assert_eq!(reason.as_str(), wire);
            assert_eq!(serde_json::from_str::<StateReason>(&json).unwrap(), reason);
        }
    }
}
