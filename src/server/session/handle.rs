//! What everything outside a session's task holds of it: the [`SessionHandle`] (commands in,
//! events and notices out, the latest info), the [`HandleParts`] the serving task takes, and the
//! [`SessionContext`] a session needs from its server.
//!
//! Must not run turns: that is the task's, in the parent module.

use super::*;

/// What everything outside the task holds of a session.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    pub(super) commands: mpsc::Sender<SessionCommand>,
    pub events: broadcast::Sender<SeqEvent>,
    /// Live notices of the session's workspace (`file_changed`), not stored.
    pub notices: Notices,
    pub(super) info: Arc<std::sync::RwLock<SessionInfo>>,
    /// Connections attached to this session.
    pub attached: Arc<AtomicUsize>,
    /// Set once this server no longer serves the session through this handle (it lost the
    /// session's lease): whoever follows its events takes the manager's handle instead.
    forgotten: tokio::sync::watch::Sender<bool>,
}

impl SessionHandle {
    pub fn info(&self) -> SessionInfo {
        self.info.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Marks the handle as no longer the session's on this server (see [`Self::forgotten`]).
    pub fn forget(&self) {
        self.forgotten.send_replace(true);
    }

    /// Ends once the handle is forgotten: its events stop here, and the manager's handle for
    /// the session has them from then on.
    pub fn forgotten(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut marked = self.forgotten.subscribe();
        async move {
            // The handle holds the sender, so this only returns once it is marked.
            let _ = marked.wait_for(|f| *f).await;
        }
    }

    /// Sends a command and waits for its answer.
    pub async fn request(
        &self,
        make: impl FnOnce(Reply) -> SessionCommand,
    ) -> Result<(), SessionError> {
        self.send(make).await?.await
    }

    /// Queues a command (commands run in the order they are queued) and returns its answer
    /// to come, for a caller that must not wait for it.
    pub async fn send(
        &self,
        make: impl FnOnce(Reply) -> SessionCommand,
    ) -> Result<impl Future<Output = Result<(), SessionError>> + Send + 'static, SessionError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| gone(&self.id))?;
        let id = self.id.clone();
        Ok(async move { rx.await.map_err(|_| gone(&id))? })
    }

    pub async fn unload(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(SessionCommand::Unload { reply: tx })
            .await
            .is_err()
        {
            return true;
        }
        rx.await.unwrap_or(true)
    }

    /// The sandbox the session runs in now, if this server runs it and it has one.
    pub async fn live_sandbox(&self) -> Option<Arc<dyn Sandbox>> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(SessionCommand::LiveSandbox { reply: tx })
            .await
            .ok()?;
        rx.await.ok().flatten()
    }
}

pub(super) fn gone(id: &str) -> SessionError {
    SessionError::new(
        ErrorCode::Internal,
        format!("session {id} stopped running; try again"),
    )
}

/// What a session needs from its server.
#[derive(Clone)]
pub struct SessionContext {
    pub store: Arc<dyn Store>,
    pub environment: Arc<dyn ExecutionEnvironment>,
    /// Variables the sandbox gets (the allowlist, read when the server started).
    pub sandbox_env: std::collections::BTreeMap<String, String>,
    /// What network the session's sandbox gets.
    pub network: Network,
    /// The agent binary for this session's agent.
    pub agent_binary: Result<PathBuf, String>,
    /// Where this session's agent home lives.
    pub home: PathBuf,
    /// A sandbox with no turn for this long is released.
    pub idle_timeout: Option<Duration>,
    pub metrics: Arc<Metrics>,
    /// The most its sandbox may use.
    pub limits: Limits,
    /// The agent profiles, to resolve the session's when its sandbox is made.
    pub profiles: Arc<crate::profile::Catalog>,
}

/// Starts a session task and returns its handle.
pub fn spawn(info: SessionInfo, ctx: SessionContext) -> SessionHandle {
    let (handle, parts) = handle_and_parts(&info);
    tokio::spawn(run(info, ctx, parts, None));
    handle
}

/// What the task behind a [`SessionHandle`] holds: the other ends of the handle's channels.
/// Whatever serves a session (its own turns here, or another server's through the cluster)
/// takes these, so that the handle clients hold stays the same when that changes.
pub struct HandleParts {
    pub commands: mpsc::Receiver<SessionCommand>,
    pub events: broadcast::Sender<SeqEvent>,
    pub notices: Notices,
    pub shared: Arc<std::sync::RwLock<SessionInfo>>,
    pub attached: Arc<AtomicUsize>,
}

/// A handle for a session, and the parts for the task that will serve it.
pub fn handle_and_parts(info: &SessionInfo) -> (SessionHandle, HandleParts) {
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
    let (notices, _) = broadcast::channel(NOTICE_CAPACITY);
    let shared = Arc::new(std::sync::RwLock::new(info.clone()));
    let attached = Arc::new(AtomicUsize::new(0));
    let handle = SessionHandle {
        id: info.id.clone(),
        commands: tx,
        events: events.clone(),
        notices: notices.clone(),
        info: shared.clone(),
        attached: attached.clone(),
        forgotten: tokio::sync::watch::Sender::new(false),
    };
    let parts = HandleParts {
        commands: rx,
        events,
        notices,
        shared,
        attached,
    };
    (handle, parts)
}
