//! Asking, between turns, whether the sandbox a session holds still runs, for backends whose
//! sandboxes can end on their own (Modal: an outage, its limits). One that ended is let go at
//! once with a `sandbox_released` notice, so clients see it gone rather than a sandbox that
//! fails the next turn; the next message makes a new one.
//!
//! The question runs as a task of its own (a bridge round trip): the session answers its
//! clients meanwhile. Must not check during a turn: the agent's process ending says it then.

use super::*;

/// A question in flight: which sandbox it asks about, and the answer to come.
pub(super) struct HealthCheck {
    sandbox: String,
    task: tokio::task::JoinHandle<Result<bool, crate::runtime::env::EnvError>>,
}

impl AgentSession {
    /// When the held sandbox is next asked about: `interval` after the later of the last
    /// answer and the session going idle; `None` while a turn runs or a sandbox is being made,
    /// when a question is in flight, or for a backend that needs none.
    pub(super) fn health_due(
        &self,
        turn_running: bool,
        idle_since: tokio::time::Instant,
        checked_at: tokio::time::Instant,
    ) -> Option<tokio::time::Instant> {
        if turn_running || self.provisioning.is_some() || self.health.is_some() {
            return None;
        }
        let interval = self.sandbox.as_ref()?.health_check()?;
        Some(idle_since.max(checked_at) + interval)
    }

    /// Starts asking whether the held sandbox still runs.
    pub(super) fn start_health_check(&mut self) {
        let Some(sb) = self.sandbox.clone() else {
            return;
        };
        self.health = Some(HealthCheck {
            sandbox: sb.id().to_string(),
            task: tokio::spawn(async move { sb.alive().await }),
        });
    }

    /// Acts on the answer: a sandbox that no longer runs, and is still the one held between
    /// turns, is released with a notice.
    pub(super) async fn health_answered(
        &mut self,
        sandbox: String,
        answer: Result<bool, String>,
        turn_running: bool,
    ) {
        let still_held = self.sandbox.as_ref().is_some_and(|sb| sb.id() == sandbox);
        if turn_running || !still_held {
            return;
        }
        match answer {
            Ok(true) => {}
            Ok(false) => {
                let why = "its backend reports it is no longer running".to_string();
                self.release_sandbox(Release::Ended { why, moves: false })
                    .await;
            }
            // Not knowing is not a reason to let it go: the next turn finds out.
            Err(e) => tracing::warn!(
                "session {}: asking after sandbox {sandbox}: {e}",
                self.info.id
            ),
        }
    }
}

/// The answer of the question in flight, once there is one.
pub(super) async fn answered(check: &mut Option<HealthCheck>) -> (String, Result<bool, String>) {
    let Some(c) = check.as_mut() else {
        return std::future::pending().await;
    };
    let answer = match (&mut c.task).await {
        Ok(Ok(alive)) => Ok(alive),
        Ok(Err(e)) if e.sandbox_gone() => Ok(false),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the check crashed: {e}")),
    };
    let sandbox = check.take().map(|c| c.sandbox).unwrap_or_default();
    (sandbox, answer)
}
