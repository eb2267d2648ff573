//! A session's workspace changes as its clients hear them: the reports of its sandbox's watch
//! ([`Sandbox::watch_workspace`], whatever the backend) turned into `file_changed` and
//! `files_resync` notices, broadcast to the connections attached to the session.
//!
//! Notices are live only: they are not events, have no seq and are not stored, since the
//! workspace itself is the record of its files (`session.files` lists it, with what changed since
//! the session began). A client that falls behind the broadcast gets one `files_resync`.
//!
//! Must not read the workspace itself: the sandbox's watch does.

use std::sync::Arc;

use tokio::sync::{Notify, broadcast};

use super::connection::send_frame;
use super::outbox::Outbox;
use crate::runtime::env::{Sandbox, WatchReport};
use crate::types::{ServerMessage, SessionId};

/// Notices a session's broadcast keeps for slow connections: two windows of changes at the cap
/// of `runtime::env::watch`; a connection further behind is told to list the files again.
pub const NOTICE_CAPACITY: usize = 256;

/// A session's notices, shared by the session and its connections.
pub type Notices = broadcast::Sender<Arc<ServerMessage>>;

/// A running watch of a session's workspace; dropping it stops the watch.
pub struct Watching {
    task: tokio::task::JoinHandle<()>,
    look: Option<Arc<Notify>>,
}

impl Watching {
    /// Starts watching `sandbox`'s workspace for session `session_id`; `None` (logged) when the
    /// backend cannot watch.
    pub async fn start(sandbox: &dyn Sandbox, session_id: &str, notices: Notices) -> Option<Self> {
        let mut watch = match sandbox.watch_workspace().await {
            Ok(Some(w)) => w,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("session {session_id}: its workspace is not watched: {e}");
                return None;
            }
        };
        let look = watch.looker();
        let id = SessionId::from(session_id);
        let task = tokio::spawn(async move {
            while let Some(report) = watch.next().await {
                match report {
                    WatchReport::Changed(changes) => {
                        for change in changes {
                            let _ = notices.send(Arc::new(ServerMessage::FileChanged {
                                session_id: id.clone(),
                                change,
                            }));
                        }
                    }
                    WatchReport::Overflow { changes } => resync(&notices, &id, changes as u64),
                }
            }
        });
        Some(Watching { task, look })
    }

    /// Tells a watch that compares listings to look now (a tool may have changed files); a
    /// watch that hears every change needs no telling.
    pub fn look(&self) {
        if let Some(l) = &self.look {
            l.notify_one();
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Tells the session's connections to list its files again: `changes` happened that no
/// `file_changed` reports (too many at once, or written while nothing watched).
pub fn resync(notices: &Notices, session_id: &SessionId, changes: u64) {
    let _ = notices.send(Arc::new(ServerMessage::FilesResync {
        session_id: session_id.clone(),
        changes,
    }));
}

/// Sends a session's notices to one connection until the session goes away.
pub async fn forward(
    mut rx: broadcast::Receiver<Arc<ServerMessage>>,
    session_id: SessionId,
    out: Outbox,
) {
    loop {
        let message = match rx.recv().await {
            Ok(m) => (*m).clone(),
            Err(broadcast::error::RecvError::Lagged(n)) => ServerMessage::FilesResync {
                session_id: session_id.clone(),
                changes: n,
            },
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if send_frame(&out, None, message).await.is_err() {
            return;
        }
    }
}
