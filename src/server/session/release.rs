//! Letting a session's sandbox go: when (idle past the server's `--idle-timeout`, before the
//! backend's own idle limit or lifetime would end it, or because the session stops) and how
//! (the workspace brought home first, then the sandbox ended, then a `sandbox_released` notice
//! that says why, so a client sees where its sandbox went).
//!
//! Must not decide anything about turns: the session's loop asks when to release, and releases.

use super::*;

/// What the backend's idle limit leaves for bringing the workspace home: the sandbox is
/// released this long before the limit (at most a quarter of it), since a large workspace's
/// tar takes a while to come back and a sandbox ended by its backend takes its files along.
pub const IDLE_LIMIT_MARGIN: Duration = Duration::from_secs(60);
/// A turn does not start in a sandbox whose lifetime ends sooner than this: the backend would
/// kill the agent mid-turn. The session releases it and starts the turn in a new one.
pub const TURN_HEADROOM: Duration = Duration::from_secs(10 * 60);

/// Why a sandbox is released, as the `sandbox_released` notice says it.
#[derive(Debug, Clone)]
pub(super) enum Release {
    /// Idle past the server's `--idle-timeout`.
    Idle(Duration),
    /// Idle close to the backend's own idle limit.
    BackendIdle(Duration),
    /// Its lifetime ends before a turn could.
    Lifetime,
    /// The session stops (a client, deletion, the server's shutdown).
    Stopped(StateReason),
    /// The agent could not start in it.
    AgentFailed,
    /// It ended on its own (`why`, as its backend says); `moves` when the turn that found out
    /// runs in a new one.
    Ended { why: String, moves: bool },
    /// The session's record cannot be written.
    RecordFailed,
    /// The session leaves the server's memory.
    Unloaded,
}

impl Release {
    fn text(&self) -> String {
        match self {
            Release::Idle(t) => format!("idle for {} (the server's --idle-timeout)", human(*t)),
            Release::BackendIdle(limit) => format!(
                "idle for almost {}, after which its backend would end it and its files",
                human(*limit)
            ),
            Release::Lifetime => format!(
                "its lifetime ends within {}: the next turn runs in a new sandbox",
                human(TURN_HEADROOM)
            ),
            Release::Stopped(reason) => format!("the session stopped ({reason})"),
            Release::AgentFailed => "the agent could not start in it".into(),
            Release::Ended { why, moves: true } => {
                format!("it had ended on its own ({why}); the message runs in a new sandbox")
            }
            Release::Ended { why, moves: false } => {
                format!("it had ended on its own ({why}); the next message runs in a new sandbox")
            }
            Release::RecordFailed => "the session's record cannot be written".into(),
            Release::Unloaded => "the session left the server's memory".into(),
        }
    }
}

/// A duration as people write it: `90s`, `15m`, `1h`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// When an idle sandbox is released, and why: after the server's idle timeout, or before the
/// backend's own idle limit (less [`IDLE_LIMIT_MARGIN`]), whichever comes first.
pub(super) fn idle_release(
    server: Option<Duration>,
    sandbox: &dyn Sandbox,
) -> Option<(Duration, Release)> {
    let own = sandbox.idle_limit().map(|limit| {
        let margin = IDLE_LIMIT_MARGIN.min(limit / 4);
        (limit - margin, Release::BackendIdle(limit))
    });
    let server = server.map(|t| (t, Release::Idle(t)));
    match (server, own) {
        (Some(s), Some(o)) => Some(if s.0 <= o.0 { s } else { o }),
        (s, o) => s.or(o),
    }
}

/// Whether the sandbox's lifetime ends before a turn started now could end.
pub(super) fn near_its_end(sandbox: &dyn Sandbox) -> bool {
    sandbox
        .ends_at()
        .is_some_and(|end| end <= Instant::now() + TURN_HEADROOM)
}

impl AgentSession {
    /// Brings the workspace home, ends the sandbox (the one held, or the one held before a
    /// restart, found by its id) and says why in a `sandbox_released` notice.
    pub(super) async fn release_sandbox(&mut self, why: Release) {
        self.watching = None;
        let held = match (self.sandbox.take(), &self.info.sandbox_id) {
            (Some(sb), _) => Some(sb),
            // Held before a restart and not reattached since: find it to end it.
            (None, Some(id)) => self
                .ctx
                .environment
                .attach(id)
                .await
                .ok()
                .flatten()
                .map(Arc::from),
            (None, None) => None,
        };
        if let Some(sb) = held.as_deref() {
            self.bring_home(sb).await;
            let _ = sb.terminate().await;
        }
        // The record forgets the sandbox before the notice goes out, so a
        // client reading the session after the notice never sees it held.
        if self.info.sandbox_id.take().is_some() {
            self.save_info().await;
        }
        if let Some(sb) = held {
            self.emit(vec![StreamEvent::Notice {
                kind: SANDBOX_RELEASED.into(),
                text: format!("sandbox {} released: {}", sb.id(), why.text()),
                timestamp: Some(rfc3339(now())),
            }])
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_secs(15 * 60)), "15m");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(90)), "90s");
        assert_eq!(human(Duration::from_millis(500)), "500ms");
    }
}
