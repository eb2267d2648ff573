//! `AgentSession`: one session's state machine, as a task that owns its sandbox, its agent
//! adapter, its queue of user messages and the broadcast of its events.
//!
//! Every event (the agent's, and every state change) is appended to the store first and only
//! then broadcast, with the seq the store gave it. One turn runs at a time; messages sent during
//! a turn wait in a FIFO. Permission requests are held until a client answers or
//! [`PERMISSION_TIMEOUT`] denies them. A broadcast never waits for a client: a slow one lags and is
//! served from the store by its connection. The sandbox is made beside the session ([`provision`]),
//! which answers its requests meanwhile. A write the store does not take stops the turn: the
//! record must not have a hole that clients never hear of.
//!
//! Must not run agent code on the host: turns run through the runtime's environments.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use super::manager::RESTART_ERROR;
use super::metrics::Metrics;
use super::store::{EncodedEvent, Store};
use super::workspace_watch::{NOTICE_CAPACITY, Notices, Watching};
use crate::runtime::agent::{AgentAdapter, AgentOptions, adapter, resume_not_found};
use crate::runtime::env::{ExecutionEnvironment, Limits, Network, Sandbox};
use crate::runtime::runner::{RunnerError, Turn, TurnControl, TurnOutcome, run_turn};
use crate::runtime::turn_events::{self, EventReceiver};
use crate::types::{
    DecidedBy, ErrorCode, PermissionDecision, SessionId, SessionInfo, SessionState, StateReason,
    StreamEvent, TurnStatus, now, rfc3339,
};

/// How long a permission request waits for a client before it is denied.
pub const PERMISSION_TIMEOUT: Duration = Duration::from_secs(300);
/// Events a session's broadcast keeps for slow subscribers before they lag (and resync).
pub const BROADCAST_CAPACITY: usize = 1024;
/// Commands (messages, interrupts, ...) queued for a session task before senders wait.
const COMMAND_QUEUE: usize = 64;
/// Most user messages waiting behind a running turn; more get error `limit`.
pub const MAX_QUEUED_MESSAGES: usize = 100;
/// The `kind` of the notice that says the agent's conversation started afresh.
pub const CONVERSATION_RESTARTED: &str = "conversation_restarted";
/// The `code` of the `error` event (and the reason of the `failed` state) when the store does
/// not take a session's events.
pub const STORE_FAILED: &str = "store_failed";
/// The `kind` of the notice that says the server's shutdown interrupted a turn.
pub const SERVER_STOPPED: &str = "server_restart";
/// The `kind` of the notice that says what of a sandbox's own copy of the workspace (Modal's)
/// was written into the session's host folder before the sandbox ended.
pub const WORKSPACE_HOME: &str = "workspace_home";
/// The `notice` kind that says a session's sandbox was released, and why (idle, its backend's
/// limits, the session stopping).
pub const SANDBOX_RELEASED: &str = "sandbox_released";
/// Batches of events (each at most [`turn_events::EVENT_BATCH`]) the runner may hand over
/// before it waits for the session to store them. Past saturation the runner then stops
/// reading, the agent's pipe fills and the agent waits: the backlog stays with the agent
/// instead of growing into seconds of queue here. One batch waiting while the session stores
/// the one before keeps the agent's reads going, and holds at most 64 events, a few dozen lines
/// of a fast agent.
const TURN_EVENT_QUEUE: usize = 1;

/// A stored event as subscribers get it.
pub type SeqEvent = (u64, Arc<EncodedEvent>);

/// An error a request to a session gets, with its protocol code.
#[derive(Debug, Clone)]
pub struct SessionError {
    pub code: ErrorCode,
    pub message: String,
}

impl SessionError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> SessionError {
        SessionError {
            code,
            message: message.into(),
        }
    }
}

/// Where a command's answer goes.
pub type Reply = oneshot::Sender<Result<(), SessionError>>;

/// What a session can be asked.
pub enum SessionCommand {
    Message {
        text: String,
        reply: Reply,
    },
    Interrupt {
        reply: Reply,
    },
    /// The server is shutting down: interrupt the turn, and say that this is why (not the
    /// user, as the agent's own marker would have it).
    ServerStopping {
        reply: Reply,
    },
    Permission {
        request_id: String,
        decision: PermissionDecision,
        message: Option<String>,
        reply: Reply,
    },
    Stop {
        reason: StateReason,
        reply: Reply,
    },
    /// Leave memory if nothing needs the session; answered with whether it did.
    Unload {
        reply: oneshot::Sender<bool>,
    },
    /// The session's sandbox, if it has one now: a reader of its workspace asks it there.
    LiveSandbox {
        reply: oneshot::Sender<Option<Arc<dyn Sandbox>>>,
    },
    /// This server lost the session's lease: another server runs it now (and has recorded a
    /// turn cut short here as stopped). End what runs here, write nothing, and leave memory.
    Relinquish {
        reply: Reply,
    },
}

/// Runs the session's own turns behind `parts` until it is unloaded; `first` is a command to
/// handle before any other (the one that made this server the session's owner).
pub async fn run(
    info: SessionInfo,
    ctx: SessionContext,
    parts: HandleParts,
    first: Option<SessionCommand>,
) {
    *parts.shared.write().unwrap_or_else(|e| e.into_inner()) = info.clone();
    let session = AgentSession {
        info,
        shared: parts.shared,
        ctx,
        events: parts.events,
        notices: parts.notices,
        queue: VecDeque::new(),
        sandbox: None,
        watching: None,
        adapter: None,
        attached: parts.attached,
        record_failure: None,
        provisioning: None,
        profile: Default::default(),
        reran_in_new_sandbox: false,
        health: None,
    };
    session.run(parts.commands, first).await
}

struct AgentSession {
    info: SessionInfo,
    shared: Arc<std::sync::RwLock<SessionInfo>>,
    ctx: SessionContext,
    events: broadcast::Sender<SeqEvent>,
    notices: Notices,
    queue: VecDeque<String>,
    sandbox: Option<Arc<dyn Sandbox>>,
    /// The watch of the sandbox's workspace, while there is a sandbox.
    watching: Option<Watching>,
    adapter: Option<Box<dyn AgentAdapter>>,
    attached: Arc<AtomicUsize>,
    /// Why the store did not take the session's last write, until the session has acted on it.
    record_failure: Option<String>,
    /// The sandbox being made, while it is (seconds on Modal): the session answers meanwhile.
    provisioning: Option<Provisioning>,
    /// What the agent's options take of the profile placed in the sandbox.
    profile: crate::profile::Materialized,
    /// The message now running was moved to a new sandbox because its first had ended: it is
    /// not moved again.
    reran_in_new_sandbox: bool,
    /// The question whether the sandbox held between turns still runs, while it is asked.
    health: Option<health::HealthCheck>,
}

/// A sandbox being made for a turn.
struct Provisioning {
    task: tokio::task::JoinHandle<Result<provision::Made, String>>,
    /// The message whose turn waits for it; `None` once that turn was interrupted.
    prompt: Option<String>,
}

/// A turn in flight.
struct RunningTurn {
    events: EventReceiver,
    control: mpsc::UnboundedSender<TurnControl>,
    /// The runner, polled by the session task itself rather than spawned: an agent's output
    /// wakes this one task, which reads it and stores it, instead of a runner task that then
    /// wakes the session. While the session awaits its store, the agent's lines gather in the
    /// pipe and the next read takes them together.
    done: TurnFuture,
    started: Instant,
    /// Permission requests waiting for a client, with when they were asked.
    pending: Vec<(String, tokio::time::Instant)>,
    /// The user's message, to run again if the agent's conversation must start afresh.
    prompt: String,
    /// The agent's conversation this turn resumes.
    resumed: Option<String>,
    /// The agent said it has no conversation `resumed`: its failed result is held back.
    resume_not_found: bool,
    /// The turn's `result` is recorded (the agent's process may still be ending).
    has_result: bool,
    /// The server's shutdown interrupted the turn: its end is labelled as a restart's.
    stopped_by_server: bool,
    /// How many of its events wait to be stored, as the `agent_events` queue counts them.
    queued: QueuedEvents,
}

impl RunningTurn {
    /// Kills the agent and waits for the turn to end, dropping whatever it still says.
    async fn kill(&mut self) -> TurnResult {
        let _ = self.control.send(TurnControl::Kill);
        loop {
            tokio::select! {
                biased;
                Some(_) = self.events.recv() => {}
                done = &mut self.done => return done,
            }
        }
    }
}

/// A turn's share of the `agent_events` queue depth, given back when the turn ends.
struct QueuedEvents {
    metrics: Arc<Metrics>,
    counted: i64,
}

impl QueuedEvents {
    fn new(metrics: Arc<Metrics>) -> QueuedEvents {
        QueuedEvents {
            metrics,
            counted: 0,
        }
    }

    fn set(&mut self, n: usize) {
        let n = n as i64;
        self.metrics.agent_events.add(n - self.counted);
        self.counted = n;
    }
}

impl Drop for QueuedEvents {
    fn drop(&mut self) {
        self.metrics.agent_events.add(-self.counted);
    }
}

impl AgentSession {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<SessionCommand>,
        first: Option<SessionCommand>,
    ) {
        let mut turn: Option<RunningTurn> = None;
        let mut idle_since = tokio::time::Instant::now();
        let mut checked_at = idle_since;
        if let Some(cmd) = first
            && self.command(cmd, &mut turn).await
        {
            self.release_sandbox(Release::Unloaded).await;
            return;
        }
        loop {
            if turn.is_none()
                && self.provisioning.is_none()
                && let Some(text) = self.queue.pop_front()
            {
                turn = self.start_turn(text).await;
                if turn.is_none() {
                    idle_since = tokio::time::Instant::now();
                }
                self.act_on_record_failure(&mut turn).await;
                continue;
            }
            let permission_deadline = turn.as_ref().and_then(|t| {
                t.pending
                    .iter()
                    .map(|(_, at)| *at + PERMISSION_TIMEOUT)
                    .min()
            });
            let idle = match (&turn, &self.sandbox) {
                (None, Some(sb)) => release::idle_release(self.ctx.idle_timeout, &**sb),
                _ => None,
            };
            let idle_deadline = idle.as_ref().map(|(after, _)| idle_since + *after);
            let health_due = self.health_due(turn.is_some(), idle_since, checked_at);
            tokio::select! {
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { break };
                    if self.command(cmd, &mut turn).await {
                        break;
                    }
                }
                step = turn_step(&mut turn) => match step {
                    TurnStep::Events(batch) => {
                        if let Some(t) = turn.as_mut() {
                            t.queued.set(batch.len() + t.events.waiting());
                        }
                        self.turn_events(batch, &mut turn).await;
                        if let Some(t) = turn.as_mut() {
                            t.queued.set(t.events.waiting());
                        }
                    }
                    TurnStep::Done(done) => {
                        // The runner has returned, so every event it sent is in the channel.
                        let rest = turn.as_mut().map(|t| t.events.take_waiting()).unwrap_or_default();
                        if !rest.is_empty() {
                            self.turn_events(rest, &mut turn).await;
                        }
                        match turn.take() {
                            Some(t) if t.resume_not_found => {
                                self.restart_conversation(done, t.prompt, t.resumed).await;
                            }
                            Some(t) if !self.reran_in_new_sandbox && sandbox_gone(&done) => {
                                self.rerun_in_new_sandbox(done, t.prompt).await;
                            }
                            t => {
                                self.reran_in_new_sandbox = false;
                                self.finish_turn(done, t.map(|t| t.started)).await;
                                idle_since = tokio::time::Instant::now();
                            }
                        }
                    }
                },
                _ = sleep_until(permission_deadline), if permission_deadline.is_some() => {
                    self.expire_permissions(&mut turn).await;
                }
                _ = sleep_until(idle_deadline), if idle_deadline.is_some() => {
                    if let Some((_, why)) = idle {
                        self.release_sandbox(why).await;
                    }
                }
                _ = sleep_until(health_due), if health_due.is_some() => {
                    self.start_health_check();
                }
                (sandbox, answer) = health::answered(&mut self.health), if self.health.is_some() => {
                    checked_at = tokio::time::Instant::now();
                    self.health_answered(sandbox, answer, turn.is_some()).await;
                }
                made = provisioned(&mut self.provisioning), if self.provisioning.is_some() => {
                    let prompt = self.provisioning.take().and_then(|p| p.prompt);
                    turn = self.sandbox_ready(made, prompt).await;
                    idle_since = tokio::time::Instant::now();
                }
            }
            self.act_on_record_failure(&mut turn).await;
        }
        self.abandon_provisioning().await;
        self.release_sandbox(Release::Unloaded).await;
    }

    /// Handles one command; returns true when the task should end.
    async fn command(&mut self, cmd: SessionCommand, turn: &mut Option<RunningTurn>) -> bool {
        match cmd {
            SessionCommand::Message { text, reply } => {
                let res = if self.queue.len() >= MAX_QUEUED_MESSAGES {
                    Err(SessionError::new(
                        ErrorCode::Limit,
                        format!(
                            "{MAX_QUEUED_MESSAGES} messages are already waiting in this session"
                        ),
                    ))
                } else {
                    let event = StreamEvent::UserMessage {
                        id: None,
                        text: text.clone(),
                        images: vec![],
                        compact_summary: false,
                        parent_tool_use_id: None,
                        timestamp: Some(rfc3339(now())),
                    };
                    self.emit(vec![event]).await;
                    match self.record_failure.take() {
                        // Not recorded, so not taken: the client knows to send it again.
                        Some(e) => Err(SessionError::new(
                            ErrorCode::Internal,
                            format!(
                                "session {} cannot record this message, so it does not run: {e}",
                                self.info.id
                            ),
                        )),
                        None => {
                            self.queue.push_back(text);
                            Ok(())
                        }
                    }
                };
                let _ = reply.send(res);
            }
            SessionCommand::Interrupt { reply } => {
                let res = self.interrupt(turn, false).await;
                let _ = reply.send(res);
            }
            SessionCommand::ServerStopping { reply } => {
                let res = self.interrupt(turn, true).await;
                let _ = reply.send(res);
            }
            SessionCommand::Permission {
                request_id,
                decision,
                message,
                reply,
            } => {
                let res = match turn.as_mut() {
                    Some(t) if t.pending.iter().any(|(id, _)| *id == request_id) => {
                        t.pending.retain(|(id, _)| *id != request_id);
                        let _ = t.control.send(TurnControl::Permission {
                            request_id,
                            decision,
                            message,
                            decided_by: DecidedBy::Client,
                        });
                        if t.pending.is_empty()
                            && self.info.state == SessionState::AwaitingPermission
                        {
                            self.set_state(SessionState::Running, None).await;
                        }
                        Ok(())
                    }
                    _ => Err(SessionError::new(
                        ErrorCode::NotFound,
                        format!(
                            "no pending permission request {request_id} in session {}",
                            self.info.id
                        ),
                    )),
                };
                let _ = reply.send(res);
            }
            SessionCommand::Stop { reason, reply } => {
                if let Some(mut t) = turn.take() {
                    let _ = t.control.send(TurnControl::Kill);
                    // What the agent said last, its `result` included, is part of the record;
                    // reading it meanwhile keeps a full queue from holding the runner up.
                    let mut rest = Vec::new();
                    let done = loop {
                        tokio::select! {
                            biased;
                            Some(batch) = t.events.recv() => rest.extend(batch),
                            d = &mut t.done => break d,
                        }
                    };
                    rest.extend(t.events.take_waiting());
                    let has_result = t.has_result
                        || rest.iter().any(|e| matches!(e, StreamEvent::Result { .. }));
                    if !has_result {
                        rest.push(StreamEvent::turn_ended(TurnStatus::Interrupted, None));
                    }
                    if t.stopped_by_server {
                        rest.iter_mut().for_each(label_server_stop);
                    }
                    let mut none = None;
                    self.turn_events(rest, &mut none).await;
                    if let Ok((adapter, _)) = done {
                        self.adapter = Some(adapter);
                    }
                }
                if self
                    .provisioning
                    .as_ref()
                    .is_some_and(|p| p.prompt.is_some())
                {
                    self.emit(vec![StreamEvent::turn_ended(TurnStatus::Interrupted, None)])
                        .await;
                }
                self.abandon_provisioning().await;
                self.queue.clear();
                self.release_sandbox(Release::Stopped(reason.clone())).await;
                if self.info.state != SessionState::Stopped {
                    self.set_state(SessionState::Stopped, Some(reason)).await;
                }
                let _ = reply.send(Ok(()));
            }
            SessionCommand::Unload { reply } => {
                let idle = turn.is_none()
                    && self.provisioning.is_none()
                    && self.queue.is_empty()
                    && self.attached.load(Ordering::SeqCst) == 0;
                let _ = reply.send(idle);
                return idle;
            }
            SessionCommand::LiveSandbox { reply } => {
                let _ = reply.send(self.sandbox.clone());
            }
            SessionCommand::Relinquish { reply } => {
                self.relinquish(turn).await;
                let _ = reply.send(Ok(()));
                return true;
            }
        }
        false
    }

    /// Ends what runs here of a session another server now owns: the turn's agent is killed
    /// and what it still said is dropped (the new owner recorded the turn as stopped, and the
    /// store takes no more of this server's writes for the session). A sandbox that only lives
    /// with this server ends; one the new owner may reattach by its id (Modal) is left to it.
    async fn relinquish(&mut self, turn: &mut Option<RunningTurn>) {
        if let Some(mut t) = turn.take() {
            let _ = t.kill().await;
        }
        self.abandon_provisioning().await;
        self.queue.clear();
        self.watching = None;
        if let Some(sb) = self.sandbox.take()
            && !self.ctx.environment.sandboxes_outlive_server()
        {
            let _ = sb.terminate().await;
        }
        // In memory only: the new owner keeps the record.
        self.info.sandbox_id = None;
    }

    /// Interrupts the running turn, or ends the one waiting for its sandbox; `by_server` when
    /// the server's shutdown is why.
    async fn interrupt(
        &mut self,
        turn: &mut Option<RunningTurn>,
        by_server: bool,
    ) -> Result<(), SessionError> {
        match turn {
            Some(t) => {
                t.stopped_by_server |= by_server;
                if self.info.state != SessionState::Interrupting {
                    self.set_state(SessionState::Interrupting, None).await;
                }
                let _ = t.control.send(TurnControl::Interrupt);
                Ok(())
            }
            // The turn has not started: it never will, and ends here.
            None if self
                .provisioning
                .as_ref()
                .is_some_and(|p| p.prompt.is_some()) =>
            {
                if let Some(p) = self.provisioning.as_mut() {
                    p.prompt = None;
                }
                let mut end = StreamEvent::turn_ended(TurnStatus::Interrupted, None);
                if by_server {
                    label_server_stop(&mut end);
                }
                self.emit(vec![end]).await;
                Ok(())
            }
            None => Err(SessionError::new(
                ErrorCode::InvalidState,
                format!(
                    "session {} is {}: there is no turn to interrupt",
                    self.info.id, self.info.state
                ),
            )),
        }
    }

    async fn turn_events(&mut self, mut batch: Vec<StreamEvent>, turn: &mut Option<RunningTurn>) {
        if turn.as_ref().is_some_and(|t| t.stopped_by_server) {
            batch.iter_mut().for_each(label_server_stop);
        }
        // The failed result of resuming a conversation the agent does not have is not the
        // turn's end: the turn runs again on a fresh conversation (`restart_conversation`).
        if let Some(t) = turn.as_mut().filter(|t| t.resumed.is_some()) {
            let kind = self.info.agent;
            let before = batch.len();
            batch.retain(|e| !resume_not_found(kind, e));
            t.resume_not_found |= batch.len() < before;
            if t.resume_not_found {
                batch.retain(|e| !matches!(e, StreamEvent::Result { .. }));
            }
        }
        if let Some(t) = turn.as_mut() {
            t.has_result |= batch
                .iter()
                .any(|e| matches!(e, StreamEvent::Result { .. }));
        }
        let mut awaiting = false;
        for ev in &batch {
            match ev {
                // A tool may have changed the workspace.
                StreamEvent::ToolResult { .. } => {
                    if let Some(w) = &self.watching {
                        w.look();
                    }
                }
                StreamEvent::PermissionRequest { request_id, .. } => {
                    if let Some(t) = turn.as_mut() {
                        t.pending
                            .push((request_id.clone(), tokio::time::Instant::now()));
                        awaiting = true;
                    }
                }
                StreamEvent::SessionStarted {
                    agent_session_id: Some(id),
                    ..
                }
                | StreamEvent::Result {
                    agent_session_id: Some(id),
                    ..
                } => {
                    self.info.agent_session_id = Some(id.clone());
                }
                _ => {}
            }
        }
        self.emit(batch).await;
        if awaiting && self.info.state == SessionState::Running {
            self.set_state(SessionState::AwaitingPermission, None).await;
        }
    }

    /// The turn could not start because its sandbox had ended on its own (Modal's idle timeout
    /// or lifetime, an outage): the sandbox is released with a notice that says so, and the same
    /// message runs in a new one. Once: a new sandbox that is gone at once fails the turn.
    async fn rerun_in_new_sandbox(&mut self, done: TurnResult, prompt: String) {
        let Ok((adapter, Err(e))) = done else {
            return self.finish_turn(done, None).await;
        };
        self.adapter = Some(adapter);
        self.reran_in_new_sandbox = true;
        // The error's first line; the rest is a hint for a person starting a sandbox by hand.
        let why = e.to_string().lines().next().unwrap_or_default().to_string();
        self.release_sandbox(Release::Ended { why, moves: true })
            .await;
        // The state stays `running`: the message goes on as soon as the new sandbox is there.
        self.queue.push_front(prompt);
    }

    /// The agent has no conversation `resumed` (the server stopped before the agent saved it):
    /// forget it, say so, and run the same message again on a new conversation.
    async fn restart_conversation(
        &mut self,
        done: TurnResult,
        prompt: String,
        resumed: Option<String>,
    ) {
        let Ok((adapter, _)) = done else {
            return self.finish_turn(done, None).await;
        };
        self.adapter = Some(adapter);
        self.info.agent_session_id = None;
        self.publish_info();
        let id = resumed.unwrap_or_default();
        self.emit(vec![StreamEvent::Notice {
            kind: CONVERSATION_RESTARTED.into(),
            text: format!(
                "the agent has no conversation {id} to resume (the server stopped before the agent saved it): this message starts a new conversation"
            ),
            timestamp: Some(rfc3339(now())),
        }])
        .await;
        self.queue.push_front(prompt);
    }

    async fn expire_permissions(&mut self, turn: &mut Option<RunningTurn>) {
        let Some(t) = turn.as_mut() else { return };
        let now = tokio::time::Instant::now();
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut t.pending)
            .into_iter()
            .partition(|(_, at)| *at + PERMISSION_TIMEOUT <= now);
        t.pending = kept;
        for (request_id, _) in expired {
            let _ = t.control.send(TurnControl::Permission {
                request_id,
                decision: PermissionDecision::Deny,
                message: Some("no client answered in time".into()),
                decided_by: DecidedBy::Timeout,
            });
        }
        if t.pending.is_empty() && self.info.state == SessionState::AwaitingPermission {
            self.set_state(SessionState::Running, None).await;
        }
    }

    async fn finish_turn(&mut self, done: TurnResult, started: Option<Instant>) {
        if let Some(s) = started {
            self.ctx.metrics.turn_finished(s.elapsed());
        }
        if let Some(w) = &self.watching {
            w.look();
        }
        match done {
            Ok((adapter, Ok(outcome))) => {
                self.adapter = Some(adapter);
                if let Some(id) = outcome.agent_session_id {
                    self.info.agent_session_id = Some(id);
                }
                let reason = (outcome.status != TurnStatus::Success)
                    .then_some(StateReason::Turn(outcome.status));
                self.set_state(SessionState::Idle, reason).await;
            }
            Ok((adapter, Err(e))) => {
                let message = e.to_string();
                self.adapter = Some(adapter);
                self.emit(vec![
                    StreamEvent::Error {
                        message: message.clone(),
                        code: Some("agent_start_failed".into()),
                        timestamp: Some(rfc3339(now())),
                    },
                    StreamEvent::turn_ended(TurnStatus::Error, Some(message.clone())),
                ])
                .await;
                self.release_sandbox(Release::AgentFailed).await;
                self.set_state(SessionState::Failed, Some(StateReason::Failed(message)))
                    .await;
            }
            Err(e) => {
                let message = format!("the turn crashed: {e}");
                self.emit(vec![StreamEvent::turn_ended(
                    TurnStatus::Error,
                    Some(message.clone()),
                )])
                .await;
                self.set_state(SessionState::Failed, Some(StateReason::Failed(message)))
                    .await;
            }
        }
    }

    /// The store did not take a write: a turn whose record has a hole must not go on as if it
    /// had none. Ends the turn and fails the session, telling clients with an `error` event and
    /// the turn's `result` (stored if the store takes writes again; the state is `failed` in
    /// memory, for lists and requests, either way).
    async fn act_on_record_failure(&mut self, turn: &mut Option<RunningTurn>) {
        let Some(cause) = self.record_failure.take() else {
            return;
        };
        let message =
            format!("the session's record cannot be written ({cause}): the turn is stopped");
        let mut events = vec![StreamEvent::Error {
            message: message.clone(),
            code: Some(STORE_FAILED.into()),
            timestamp: Some(rfc3339(now())),
        }];
        if let Some(mut t) = turn.take() {
            // The rest of what the agent said cannot be kept in order after the hole.
            if let Ok((adapter, _)) = t.kill().await {
                self.adapter = Some(adapter);
            }
            if !t.has_result {
                events.push(StreamEvent::turn_ended(
                    TurnStatus::Error,
                    Some(message.clone()),
                ));
            }
        }
        if self
            .provisioning
            .as_ref()
            .is_some_and(|p| p.prompt.is_some())
        {
            events.push(StreamEvent::turn_ended(
                TurnStatus::Error,
                Some(message.clone()),
            ));
        }
        self.abandon_provisioning().await;
        self.queue.clear();
        self.emit(events).await;
        self.release_sandbox(Release::RecordFailed).await;
        if self.info.state != SessionState::Failed {
            self.set_state(
                SessionState::Failed,
                Some(StateReason::Failed(format!("{STORE_FAILED}: {cause}"))),
            )
            .await;
        }
        // If these writes failed as well, the session has already done all it can.
        self.record_failure = None;
    }

    /// Saves the session's metadata (events save it too; this is for changes without one).
    async fn save_info(&mut self) {
        self.publish_info();
        if let Err(e) = self.ctx.store.put_session(&self.info).await {
            tracing::error!("session {}: saving its metadata: {e}", self.info.id);
            self.record_failure.get_or_insert(e.to_string());
        }
    }

    /// Shows the session's metadata as it is now to everything outside the task (an event that
    /// is not a state change only updates its seq and activity there).
    fn publish_info(&self) {
        *self.shared.write().unwrap_or_else(|e| e.into_inner()) = self.info.clone();
    }

    /// Moves to `to`, as an event; an illegal move is logged and skipped (it is a bug here, not
    /// a client's error: clients' requests are checked before they get this far).
    async fn set_state(&mut self, to: SessionState, reason: Option<StateReason>) {
        let from = self.info.state;
        if let Err(e) = from.transition(to) {
            tracing::error!("session {}: {e}", self.info.id);
            return;
        }
        self.info.state = to;
        self.info.reason = reason.clone();
        self.emit(vec![StreamEvent::StateChanged {
            from: Some(from),
            to,
            reason,
        }])
        .await;
    }

    /// Stores events, then broadcasts them with their seqs, then saves the session's metadata
    /// when it changed in a way a restart must know (state, the agent's session id, a message).
    async fn emit(&mut self, events: Vec<StreamEvent>) {
        let n = events.len() as u64;
        let persist = events.iter().any(|e| {
            matches!(
                e,
                StreamEvent::StateChanged { .. }
                    | StreamEvent::SessionStarted { .. }
                    | StreamEvent::Result { .. }
                    | StreamEvent::UserMessage { .. }
            )
        });
        self.info.last_activity = now();
        for e in &events {
            // Saved with the `result` (it persists): totals survive a restart. A session
            // recorded before totals were counted has none, rather than a wrong one.
            if let (
                StreamEvent::Result {
                    usage, cost_usd, ..
                },
                Some(totals),
            ) = (e, self.info.usage.as_mut())
            {
                totals.add_turn(usage.as_ref(), *cost_usd);
            }
        }
        // Each event is encoded once, here: the store keeps that text and every client gets it.
        let encoded = match EncodedEvent::batch(events) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("session {}: cannot encode events: {e}", self.info.id);
                self.record_failure.get_or_insert(e.to_string());
                return;
            }
        };
        // Metadata that a restart must see goes in the same transaction as the events.
        let stored = if persist {
            self.ctx
                .store
                .append_and_save(&self.info, encoded.clone())
                .await
        } else {
            self.ctx.store.append(&self.info.id, encoded.clone()).await
        };
        match stored {
            Ok(first) => {
                self.ctx.metrics.events_stored(n);
                self.info.last_seq = first + n - 1;
                // What a client asks after it saw an event already knows of it. Events that
                // change nothing else (most of them) update only what they change.
                let mut shared = self.shared.write().unwrap_or_else(|e| e.into_inner());
                if persist {
                    *shared = self.info.clone();
                } else {
                    shared.last_seq = self.info.last_seq;
                    shared.last_activity = self.info.last_activity;
                }
                drop(shared);
                for (i, ev) in encoded.into_iter().enumerate() {
                    // No subscriber is fine: the store has it.
                    let _ = self.events.send((first + i as u64, ev));
                }
            }
            Err(e) => {
                tracing::error!("session {}: cannot store events: {e}", self.info.id);
                self.record_failure.get_or_insert(e.to_string());
                *self.shared.write().unwrap_or_else(|e| e.into_inner()) = self.info.clone();
            }
        }
    }
}

/// How a turn ended: its adapter back and the runner's outcome, or the panic that ended it.
type TurnResult = Result<(Box<dyn AgentAdapter>, Result<TurnOutcome, RunnerError>), String>;
/// The turn did not start because its sandbox no longer exists.
fn sandbox_gone(done: &TurnResult) -> bool {
    matches!(done, Ok((_, Err(e))) if e.sandbox_gone())
}

/// A running turn's runner, polled by the session task.
type TurnFuture = std::pin::Pin<Box<dyn std::future::Future<Output = TurnResult> + Send>>;

enum TurnStep {
    Events(Vec<StreamEvent>),
    Done(TurnResult),
}

/// The next thing a running turn has: a batch of events (first, while any are waiting) or its
/// end. A busy agent's events come in batches, one per read of its output
/// ([`crate::runtime::env::GATHER_WINDOW`]).
async fn turn_step(turn: &mut Option<RunningTurn>) -> TurnStep {
    let Some(t) = turn else {
        return std::future::pending().await;
    };
    // The runner first: it reads what the agent wrote and hands it over in this same poll, so
    // the events it made are taken without waking the task again. Events it left behind when
    // it returned are drained by the `Done` step.
    tokio::select! {
        biased;
        done = &mut t.done => TurnStep::Done(done),
        Some(batch) = t.events.recv() => TurnStep::Events(batch),
    }
}

/// An event of a turn the server's shutdown interrupted, as a client should read it: the agent's
/// "Request interrupted by user" becomes a notice that the server did it, and the turn's
/// `result` ends it as a restart's does ([`RESTART_ERROR`]), so a client labels both alike.
fn label_server_stop(e: &mut StreamEvent) {
    match e {
        StreamEvent::Notice { kind, text, .. } if kind == "interrupted" => {
            *kind = SERVER_STOPPED.into();
            *text = "the server shut down during this turn and interrupted it".into();
        }
        StreamEvent::Result { status, error, .. } if *status != TurnStatus::Success => {
            *status = TurnStatus::Interrupted;
            *error = Some(RESTART_ERROR.into());
        }
        _ => {}
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

mod handle;
mod health;
mod home;
mod provision;
mod release;
pub use handle::{HandleParts, SessionContext, SessionHandle, handle_and_parts, spawn};
use provision::provisioned;
use release::Release;
#[cfg(test)]
mod tests;
