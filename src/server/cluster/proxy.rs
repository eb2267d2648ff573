//! A session as a server that does not own it serves it: behind the same `SessionHandle` as an
//! owned session, it follows the owner's events (read from the store when announced, broadcast
//! to this server's clients in order, each once) and sends its clients' requests to the owner.
//! When a request finds no live owner, the proxy takes the lease and runs the session's own
//! task in its place, on the same handle; when that task ends, the lease is let go.
//!
//! Must not append events while following: only the owner writes a session's record.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Cluster;
use super::lease::Take;
use super::route;
use crate::server::session::{
    self, HandleParts, SessionCommand, SessionContext, SessionError, SessionHandle,
};
use crate::types::{ErrorCode, SessionInfo};

/// Stored events read per query while following.
const FOLLOW_PAGE: usize = 500;
/// How long to wait before asking again when this server is taking the session over for
/// something else (tidying after a vanished server): that takes a few queries.
const BUSY_PAUSE: Duration = Duration::from_millis(20);

type Routing = Pin<Box<dyn Future<Output = Option<SessionCommand>> + Send>>;

/// Starts following a session on this server and returns its handle.
pub fn spawn(info: SessionInfo, ctx: SessionContext, cluster: Arc<Cluster>) -> SessionHandle {
    let (handle, parts) = session::handle_and_parts(&info);
    let proxy = Proxy {
        last: info.last_seq,
        info,
        ctx,
        cluster,
        parts,
    };
    tokio::spawn(proxy.run());
    handle
}

struct Proxy {
    info: SessionInfo,
    ctx: SessionContext,
    cluster: Arc<Cluster>,
    parts: HandleParts,
    /// The newest seq broadcast to this server's clients.
    last: u64,
}

/// What to do with a command.
enum Decision {
    Done,
    Unload,
    Route(Routing),
    Own(SessionCommand),
}

impl Proxy {
    async fn run(mut self) {
        let wake = self.cluster.follow(&self.info.id, self.last);
        // Events stored between loading the session and following it.
        self.catch_up().await;
        let mut routing: Option<Routing> = None;
        let mut again: Option<SessionCommand> = None;
        loop {
            let decision = if let Some(cmd) = again.take() {
                self.decide(cmd).await
            } else {
                tokio::select! {
                    cmd = self.parts.commands.recv(), if routing.is_none() => match cmd {
                        Some(cmd) => self.decide(cmd).await,
                        None => Decision::Unload,
                    },
                    back = async { routing.as_mut().expect("routing").await }, if routing.is_some() => {
                        routing = None;
                        again = back;
                        Decision::Done
                    }
                    _ = wake.notified() => {
                        self.take_followed().await;
                        Decision::Done
                    }
                }
            };
            match decision {
                Decision::Done => {}
                Decision::Unload => break,
                Decision::Route(r) => routing = Some(r),
                Decision::Own(cmd) => return self.own(cmd).await,
            }
        }
        self.cluster.unfollow(&self.info.id);
    }

    async fn decide(&mut self, cmd: SessionCommand) -> Decision {
        // A server shutting down ends the turns it runs; this one runs on another server.
        if let SessionCommand::ServerStopping { reply } = cmd {
            let _ = reply.send(Ok(()));
            return Decision::Done;
        }
        // Another server runs the session: its sandbox is not here.
        if let SessionCommand::LiveSandbox { reply } = cmd {
            let _ = reply.send(None);
            return Decision::Done;
        }
        // Nothing of the session runs here to give up.
        if let SessionCommand::Relinquish { reply } = cmd {
            let _ = reply.send(Ok(()));
            return Decision::Unload;
        }
        if let SessionCommand::Unload { reply } = cmd {
            let idle = self.parts.attached.load(Ordering::SeqCst) == 0;
            let _ = reply.send(idle);
            return if idle {
                Decision::Unload
            } else {
                Decision::Done
            };
        }
        loop {
            match self.cluster.take(&self.info.id).await {
                Ok(Take::Taken { .. }) => return Decision::Own(cmd),
                Ok(Take::Owned(owner)) => {
                    return Decision::Route(Box::pin(route::send(
                        self.cluster.clone(),
                        self.info.id.to_string(),
                        owner,
                        cmd,
                    )));
                }
                Ok(Take::Busy) => tokio::time::sleep(BUSY_PAUSE).await,
                Err(e) => {
                    answer(cmd, Err(e));
                    return Decision::Done;
                }
            }
        }
    }

    /// This server took the lease: after the last events (the end of a turn the last owner
    /// left under way among them), the session's own task runs on the same handle.
    async fn own(mut self, first: SessionCommand) {
        self.catch_up().await;
        self.cluster.unfollow(&self.info.id);
        let id = self.info.id.clone();
        let store = self.ctx.store.clone();
        let loaded = async {
            let mut info = store.get_session(&id).await?;
            if let Some(i) = info.as_mut() {
                i.last_seq = store.last_seq(&id).await?;
            }
            Ok::<_, crate::server::store::StoreError>(info)
        };
        match loaded.await {
            Ok(Some(info)) => {
                session::run(info, self.ctx, self.parts, Some(first)).await;
            }
            Ok(None) => answer(
                first,
                Err(SessionError::new(
                    ErrorCode::NotFound,
                    format!("no session {id}"),
                )),
            ),
            Err(e) => answer(
                first,
                Err(SessionError::new(ErrorCode::Internal, e.to_string())),
            ),
        }
        self.cluster.release(&id).await;
    }

    /// Broadcasts the rows the cluster read for this session; reads the table itself when they
    /// do not follow on from the last one broadcast.
    async fn take_followed(&mut self) {
        let taken = self.cluster.take_followed(&self.info.id);
        let mut changed = false;
        let mut whole = !taken.lost;
        for (seq, event) in taken.rows {
            if seq <= self.last {
                continue;
            }
            if seq != self.last + 1 {
                whole = false;
                break;
            }
            changed |= self.broadcast(seq, event);
        }
        if whole {
            self.settle(changed).await;
        } else {
            self.catch_up_from(changed).await;
        }
    }

    /// Reads and broadcasts every stored event after the last one broadcast.
    async fn catch_up(&mut self) {
        self.catch_up_from(false).await;
    }

    /// [`Proxy::catch_up`], when `changed` says a broadcast changed the session's state.
    async fn catch_up_from(&mut self, mut changed: bool) {
        loop {
            let page = match self
                .ctx
                .store
                .events_after(&self.info.id, self.last, FOLLOW_PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("session {}: following its events: {e}", self.info.id);
                    break;
                }
            };
            let n = page.len();
            for (seq, event) in page {
                changed |= self.broadcast(seq, event);
            }
            if n < FOLLOW_PAGE {
                break;
            }
        }
        self.cluster.followed_to(&self.info.id, self.last);
        self.settle(changed).await;
    }

    /// Sends one event to this server's clients; returns whether it changed the state.
    fn broadcast(&mut self, seq: u64, event: crate::server::store::EncodedEvent) -> bool {
        let mut changed = false;
        if let Some((to, reason)) = event.state_change() {
            self.info.state = to;
            self.info.reason = reason.cloned();
            changed = true;
        }
        self.last = seq;
        // What a client asks after it saw an event already knows of it (`settle` then adds
        // what else the owner saved with a change of state).
        {
            let mut shared = self.parts.shared.write().unwrap_or_else(|e| e.into_inner());
            shared.last_seq = seq;
            if changed {
                shared.state = self.info.state;
                shared.reason.clone_from(&self.info.reason);
            }
        }
        // No subscriber is fine: the store has it.
        let _ = self.parts.events.send((seq, Arc::new(event)));
        changed
    }

    /// Shows the session as it is after the last broadcast.
    async fn settle(&mut self, changed: bool) {
        self.info.last_seq = self.last;
        if changed {
            // What else the owner saved with the change (its agent's session id, ...).
            if let Ok(Some(mut stored)) = self.ctx.store.get_session(&self.info.id).await {
                stored.last_seq = self.last;
                stored.state = self.info.state;
                stored.reason = self.info.reason.clone();
                self.info = stored;
            }
        }
        *self.parts.shared.write().unwrap_or_else(|e| e.into_inner()) = self.info.clone();
    }
}

/// Answers a command that will not run.
fn answer(cmd: SessionCommand, result: Result<(), SessionError>) {
    match cmd {
        SessionCommand::Message { reply, .. }
        | SessionCommand::Interrupt { reply }
        | SessionCommand::ServerStopping { reply }
        | SessionCommand::Relinquish { reply }
        | SessionCommand::Permission { reply, .. }
        | SessionCommand::Stop { reply, .. } => {
            let _ = reply.send(result);
        }
        SessionCommand::Unload { reply } => {
            let _ = reply.send(true);
        }
        SessionCommand::LiveSandbox { reply } => {
            let _ = reply.send(None);
        }
    }
}
