//! One WebSocket connection: decodes frames, answers requests through the `SessionManager`,
//! and forwards the events of every session it is attached to.
//!
//! Each attached session gets a forwarder task: it subscribes to the session's broadcast, replays
//! stored events after the client's `after_seq`, then sends live ones, skipping what the replay
//! already sent, so every event arrives exactly once and in order. A forwarder takes every event
//! waiting for it at once and hands their frames over together, so that a burst costs one wakeup
//! and one write. Frames to the client go through one bounded queue ([`outbox`]); a forwarder
//! that cannot keep up lags behind the broadcast, tells the client `resync`, and catches up from
//! the store. The session never waits for a client.
//! An `after_seq` beyond the session's last event is refused rather than silently skipping what
//! comes next, and a connection that sends no `hello` within [`HELLO_TIMEOUT`] is closed.
//!
//! Must not know how sessions run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::live::{Live, Next};
use super::outbox::{self, Outbox};
use super::session::{SeqEvent, SessionCommand, SessionError, SessionHandle};
use super::store::EncodedEvent;
use super::{AppState, workspace_files, workspace_watch};
use crate::types::{
    AttachView, ClientFrame, ClientMessage, EVENT_FRAME_START, ErrorCode, MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION, ServerFrame, ServerMessage, SessionId, StateReason,
};

/// Most live events a forwarder takes at once: their frames go out with one flush, and the
/// client's queue holds [`outbox::OUTBOUND_QUEUE`] such batches.
pub const FORWARD_BATCH: usize = 64;
/// Stored events read per query while replaying.
const REPLAY_PAGE: usize = 500;
/// WebSocket close code for a message over the size limit (RFC 6455).
const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code for a text frame that is not UTF-8 (RFC 6455).
const CLOSE_BAD_DATA: u16 = 1007;
/// WebSocket close code for a client that broke the protocol's rules (RFC 6455).
const CLOSE_POLICY: u16 = 1008;
/// How long a new connection may take to send `hello`: a client sends it at once, and a socket
/// that never does only holds a descriptor.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn handle(socket: WebSocket, state: Arc<AppState>) {
    state.metrics.connection_opened();
    let (sink, mut stream) = socket.split();
    let (out, writer) = outbox::start(sink, state.metrics.clone());

    let mut conn = Connection {
        state: state.clone(),
        out: out.clone(),
        hello: false,
        protocol: PROTOCOL_VERSION,
        forwarders: HashMap::new(),
    };
    let hello_deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    loop {
        let next = if conn.hello {
            stream.next().await
        } else {
            match tokio::time::timeout_at(hello_deadline, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    let reason = format!("no `hello` within {}s", HELLO_TIMEOUT.as_secs());
                    let _ = out.send(close(CLOSE_POLICY, reason)).await;
                    break;
                }
            }
        };
        let Some(msg) = next else { break };
        match msg {
            Ok(Message::Text(text)) => conn.frame(text.as_str()).await,
            Ok(Message::Binary(_)) => {
                conn.error(
                    None,
                    ErrorCode::BadRequest,
                    "frames must be JSON text, not binary",
                )
                .await
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(e) => {
                if let Some((code, reason)) = close_for(e, state.max_frame) {
                    let _ = out.send(close(code, reason)).await;
                }
                break;
            }
        }
    }
    for (_, (handle, task)) in conn.forwarders.drain() {
        task.abort();
        handle.attached.fetch_sub(1, Ordering::SeqCst);
    }
    drop(conn);
    drop(out);
    let _ = writer.await;
    state.metrics.connection_closed();
}

/// The close frame owed to a client whose frame could not be read: too large or not UTF-8. Other
/// errors (a reset connection) end it without one.
fn close_for(err: axum::Error, max_frame: usize) -> Option<(u16, String)> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let inner = err.into_inner();
    match inner.downcast_ref::<WsError>()? {
        WsError::Capacity(_) => Some((
            CLOSE_TOO_BIG,
            format!("frame over the limit of {max_frame} bytes"),
        )),
        WsError::Utf8(_) => Some((
            CLOSE_BAD_DATA,
            "a text frame must be valid UTF-8".to_string(),
        )),
        _ => None,
    }
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

struct Connection {
    state: Arc<AppState>,
    out: Outbox,
    hello: bool,
    /// The version this connection speaks: the client's, from its `hello`.
    protocol: u32,
    forwarders: HashMap<SessionId, (SessionHandle, tokio::task::JoinHandle<()>)>,
}

impl Connection {
    async fn send(&self, id: Option<String>, message: ServerMessage) {
        let _ = send_frame(&self.out, id, message).await;
    }

    async fn error(&self, id: Option<String>, code: ErrorCode, message: impl Into<String>) {
        self.send(
            id,
            ServerMessage::Error {
                code,
                message: message.into(),
            },
        )
        .await;
    }

    async fn frame(&mut self, text: &str) {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                // Echo the id when the frame has one, even if the rest is wrong.
                let id = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
                self.error(id, ErrorCode::BadRequest, format!("bad frame: {e}"))
                    .await;
                return;
            }
        };
        let id = frame.id;
        if !self.hello && !matches!(frame.message, ClientMessage::Hello { .. }) {
            self.error(id, ErrorCode::BadRequest, "send `hello` first")
                .await;
            return;
        }
        let result = self.request(id.clone(), frame.message).await;
        if let Err(e) = result {
            self.error(id, e.code, e.message).await;
        }
    }

    /// Answers a session's request (`ack` or `error`) when the session has: this connection
    /// goes on reading meanwhile, so one slow session does not hold up the client's others.
    fn ack_later(
        &self,
        id: Option<String>,
        answer: impl Future<Output = Result<(), SessionError>> + Send + 'static,
    ) {
        self.answer_later(id, async move { answer.await.map(|()| ServerMessage::Ack) });
    }

    /// Sends `answer`'s reply when it is ready, while the connection goes on with other frames
    /// (a reply that waits on a remote sandbox must not hold up the rest).
    fn answer_later(
        &self,
        id: Option<String>,
        answer: impl Future<Output = Result<ServerMessage, SessionError>> + Send + 'static,
    ) {
        let out = self.out.clone();
        tokio::spawn(async move {
            let message = match answer.await {
                Ok(m) => m,
                Err(e) => ServerMessage::Error {
                    code: e.code,
                    message: e.message,
                },
            };
            let _ = send_frame(&out, id, message).await;
        });
    }

    async fn request(
        &mut self,
        id: Option<String>,
        msg: ClientMessage,
    ) -> Result<(), SessionError> {
        let manager = &self.state.manager;
        match msg {
            ClientMessage::Hello {
                protocol_version, ..
            } => {
                if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&protocol_version) {
                    return Err(SessionError::new(
                        ErrorCode::UnsupportedVersion,
                        format!(
                            "this server speaks protocol {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}, not {protocol_version}"
                        ),
                    ));
                }
                self.hello = true;
                self.protocol = protocol_version;
                self.send(
                    id,
                    ServerMessage::Welcome {
                        protocol_version,
                        server_version: env!("CARGO_PKG_VERSION").into(),
                        profiles: manager.profile_names(),
                    },
                )
                .await;
            }
            ClientMessage::Create { spec } => {
                let session = manager.create(spec).await?;
                self.send(id, ServerMessage::Created { session }).await;
            }
            ClientMessage::List => {
                let sessions = manager.list().await?;
                self.send(id, ServerMessage::Sessions { sessions }).await;
            }
            ClientMessage::Attach {
                session_id,
                after_seq,
                view,
            } => {
                let handle = manager.get(&session_id).await?;
                let mut last_seq = handle.info().last_seq;
                if after_seq > last_seq {
                    // Events are stored before the session's info says so: ask the store.
                    last_seq = manager.store().last_seq(&session_id).await.map_err(|e| {
                        SessionError::new(ErrorCode::Internal, format!("reading the store: {e}"))
                    })?;
                }
                if after_seq > last_seq {
                    // Replaying "after" an event that does not exist yet would skip the next
                    // ones silently.
                    return Err(SessionError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "after_seq {after_seq} is beyond session {session_id}'s last event {last_seq}: attach with an after_seq of at most {last_seq} (0 replays from the start)"
                        ),
                    ));
                }
                if let Some((old, task)) = self.forwarders.remove(&session_id) {
                    task.abort();
                    old.attached.fetch_sub(1, Ordering::SeqCst);
                }
                handle.attached.fetch_add(1, Ordering::SeqCst);
                let (out, state) = (self.out.clone(), self.state.clone());
                // Subscribed before `attached` is sent: no notice falls in between.
                let notices = workspace_watch::forward(
                    handle.notices.subscribe(),
                    session_id.clone(),
                    out.clone(),
                );
                let task = match view {
                    AttachView::Events => tokio::spawn(with_notices(
                        forward(handle.clone(), after_seq, id, out, state),
                        notices,
                    )),
                    AttachView::Blocks => tokio::spawn(with_notices(
                        super::blocks_view::forward(
                            handle.clone(),
                            id,
                            out,
                            state,
                            self.protocol >= 2,
                        ),
                        notices,
                    )),
                };
                self.forwarders.insert(session_id, (handle, task));
            }
            ClientMessage::Detach { session_id } => {
                let (handle, task) = self.forwarders.remove(&session_id).ok_or_else(|| {
                    SessionError::new(
                        ErrorCode::InvalidState,
                        format!("not attached to session {session_id}"),
                    )
                })?;
                task.abort();
                handle.attached.fetch_sub(1, Ordering::SeqCst);
                self.send(id, ServerMessage::Ack).await;
            }
            ClientMessage::Message { session_id, text } => {
                if text.len() > self.state.max_message {
                    return Err(SessionError::new(
                        ErrorCode::Limit,
                        format!(
                            "a message may have at most {} bytes",
                            self.state.max_message
                        ),
                    ));
                }
                let h = manager.get(&session_id).await?;
                let answer = h
                    .send(|reply| SessionCommand::Message { text, reply })
                    .await?;
                self.ack_later(id, answer);
            }
            ClientMessage::Interrupt { session_id } => {
                let h = manager.get(&session_id).await?;
                let answer = h.send(|reply| SessionCommand::Interrupt { reply }).await?;
                self.ack_later(id, answer);
            }
            ClientMessage::Permission {
                session_id,
                request_id,
                decision,
                message,
            } => {
                let h = manager.get(&session_id).await?;
                let answer = h
                    .send(|reply| SessionCommand::Permission {
                        request_id,
                        decision,
                        message,
                        reply,
                    })
                    .await?;
                self.ack_later(id, answer);
            }
            ClientMessage::Stop { session_id } => {
                let h = manager.get(&session_id).await?;
                let answer = h
                    .send(|reply| SessionCommand::Stop {
                        reason: StateReason::StoppedByClient,
                        reply,
                    })
                    .await?;
                self.ack_later(id, answer);
            }
            ClientMessage::Files { session_id } => {
                let handle = manager.get(&session_id).await?;
                let manager = manager.clone();
                self.answer_later(id, async move {
                    let sandbox = manager.workspace_sandbox(&handle).await;
                    let info = handle.info();
                    let since = Some(info.created_at);
                    let workspace = std::path::PathBuf::from(&info.workspace);
                    let (files, truncated) =
                        workspace_files::list(sandbox, workspace, since).await?;
                    Ok(ServerMessage::Files {
                        session_id,
                        files,
                        truncated,
                    })
                });
            }
            ClientMessage::ReadFile { session_id, path } => {
                let handle = manager.get(&session_id).await?;
                let manager = manager.clone();
                self.answer_later(id, async move {
                    let sandbox = manager.workspace_sandbox(&handle).await;
                    let workspace = std::path::PathBuf::from(&handle.info().workspace);
                    let f = workspace_files::read(sandbox, workspace, &path).await?;
                    Ok(ServerMessage::File {
                        session_id,
                        path,
                        size: f.size,
                        text: f.text,
                        binary: f.binary,
                        truncated: f.truncated,
                    })
                });
            }
            ClientMessage::Delete { session_id } => {
                if let Some((handle, task)) = self.forwarders.remove(&session_id) {
                    task.abort();
                    handle.attached.fetch_sub(1, Ordering::SeqCst);
                }
                manager.delete(&session_id).await?;
                self.send(id, ServerMessage::Ack).await;
            }
        }
        Ok(())
    }
}

/// Runs a session's forwarder and its notices together, until the forwarder ends.
async fn with_notices(forwarder: impl Future<Output = ()>, notices: impl Future<Output = ()>) {
    tokio::select! {
        _ = forwarder => {}
        _ = async { notices.await; std::future::pending::<()>().await } => {}
    }
}

pub(super) async fn send_frame(
    out: &Outbox,
    id: Option<String>,
    message: ServerMessage,
) -> Result<(), ()> {
    out.send(frame(id, message)?).await
}

fn frame(id: Option<String>, message: ServerMessage) -> Result<Message, ()> {
    let text = serde_json::to_string(&ServerFrame { id, message }).map_err(|_| ())?;
    Ok(Message::Text(text.into()))
}

/// Subscribes to a session's live events, then answers the attach with `attached`: subscribing
/// first means nothing falls between what the store holds and what comes live.
pub(super) async fn subscribe_and_answer(
    handle: SessionHandle,
    request_id: Option<String>,
    out: &Outbox,
) -> Result<Live, ()> {
    let live = handle.events.subscribe();
    let info = handle.info();
    let last_seq = info.last_seq;
    let attached = ServerMessage::Attached {
        session: info,
        last_seq,
    };
    send_frame(out, request_id, attached).await?;
    Ok(Live::new(handle, live))
}

/// Sends one session's events to one client: `attached`, the stored events after `after_seq`,
/// then the live ones (on the new owner's, from the last one sent, if this server loses the
/// session's lease).
async fn forward(
    handle: SessionHandle,
    after_seq: u64,
    request_id: Option<String>,
    out: Outbox,
    state: Arc<AppState>,
) {
    let Ok(mut live) = subscribe_and_answer(handle, request_id, &out).await else {
        return;
    };
    let head = FrameHead::new(&live.handle.id);
    let Ok(mut last) = replay(&head, after_seq, &out, &state).await else {
        return;
    };
    let mut waiting: Vec<SeqEvent> = Vec::new();
    loop {
        // One event, then whatever else is already there: one wakeup and one flush for a burst.
        let mut lagged = false;
        match live.next(&state).await {
            Some(Next::Event(Ok(e))) => waiting.push(e),
            Some(Next::Event(Err(broadcast::error::RecvError::Lagged(_)))) => lagged = true,
            Some(Next::Event(Err(broadcast::error::RecvError::Closed))) | None => return,
            Some(Next::Moved) => {
                match replay(&head, last, &out, &state).await {
                    Ok(l) => last = l,
                    Err(()) => return,
                }
                continue;
            }
        }
        let mut closed = false;
        while !lagged && waiting.len() < FORWARD_BATCH {
            match live.events.try_recv() {
                Ok(e) => waiting.push(e),
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                Err(broadcast::error::TryRecvError::Closed) => closed = true,
            }
            if closed {
                break;
            }
        }
        let mut frames = Vec::with_capacity(waiting.len());
        let mut n = 0;
        for (seq, event) in waiting.drain(..) {
            if seq <= last {
                continue;
            }
            if seq > last + 1 {
                // Should not happen; if it does, the store has what is missing.
                if out.send_all(std::mem::take(&mut frames)).await.is_err() {
                    return;
                }
                match replay(&head, last, &out, &state).await {
                    Ok(l) => last = l,
                    Err(()) => return,
                }
                if seq <= last {
                    continue;
                }
            }
            event_frames(&head, seq, &event, &mut frames);
            n += 1;
            last = seq;
        }
        if out.send_all(frames).await.is_err() {
            return;
        }
        state.metrics.events_sent(n);
        if lagged {
            state.metrics.resync();
            let resync = ServerMessage::Resync {
                session_id: head.session_id.clone(),
                after_seq: last,
            };
            if send_frame(&out, None, resync).await.is_err() {
                return;
            }
            match replay(&head, last, &out, &state).await {
                Ok(l) => last = l,
                Err(()) => return,
            }
        }
        if closed {
            return;
        }
    }
}

/// Sends every stored event after `after`, a page at a time; returns the last seq sent.
async fn replay(
    head: &FrameHead,
    mut after: u64,
    out: &Outbox,
    state: &AppState,
) -> Result<u64, ()> {
    let session_id = head.session_id.as_str();
    loop {
        let page = state
            .manager
            .store()
            .events_after(session_id, after, REPLAY_PAGE)
            .await
            .map_err(|e| tracing::error!("replay of {session_id}: {e}"))?;
        let n = page.len();
        let mut frames = Vec::with_capacity(n);
        for (seq, event) in page {
            event_frames(head, seq, &event, &mut frames);
            after = seq;
        }
        out.send_all(frames).await?;
        state.metrics.events_sent(n as u64);
        if n < REPLAY_PAGE {
            return Ok(after);
        }
    }
}

/// The frames of one event: the `event` itself, and a `state` frame after a state change.
fn event_frames(head: &FrameHead, seq: u64, event: &EncodedEvent, frames: &mut Vec<Message>) {
    frames.push(Message::Text(head.frame(seq, &event.json).into()));
    if let Some((state, reason)) = event.state_change() {
        let m = ServerMessage::State {
            session_id: head.session_id.clone(),
            state,
            reason: reason.cloned(),
        };
        if let Ok(f) = frame(None, m) {
            frames.push(f);
        }
    }
}

/// What every `event` frame of one session starts with, made once per forwarder.
struct FrameHead {
    session_id: SessionId,
    /// `{"type":"event","session_id":"<id>","seq":`
    text: String,
}

impl FrameHead {
    fn new(session_id: &SessionId) -> FrameHead {
        let id = serde_json::to_string(session_id.as_str()).unwrap_or_else(|_| "\"\"".into());
        FrameHead {
            session_id: session_id.clone(),
            text: format!("{EVENT_FRAME_START}\"session_id\":{id},\"seq\":"),
        }
    }

    /// The `event` frame of an already encoded event: the same JSON as serializing
    /// `ServerMessage::Event`, built around the event's text instead of encoding it again.
    ///
    /// The string is made at its exact size: a WebSocket message takes it over without another
    /// allocation only when it has no spare room.
    fn frame(&self, seq: u64, event_json: &str) -> String {
        use std::fmt::Write;
        const EVENT_KEY: &str = ",\"event\":";
        let digits = seq.checked_ilog10().unwrap_or(0) as usize + 1;
        let mut f = String::with_capacity(
            self.text.len() + digits + EVENT_KEY.len() + event_json.len() + 1,
        );
        f.push_str(&self.text);
        let _ = write!(f, "{seq}");
        f.push_str(EVENT_KEY);
        f.push_str(event_json);
        f.push('}');
        debug_assert_eq!(f.len(), f.capacity(), "the frame's size was reckoned wrong");
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StreamEvent;

    #[test]
    fn an_event_frame_is_what_serializing_the_message_gives() {
        let event = StreamEvent::Text {
            message_id: Some("m\"1".into()),
            text: "hi \u{1f600} \"quoted\"".into(),
            parent_tool_use_id: None,
            timestamp: None,
        };
        let encoded = EncodedEvent::new(event.clone()).unwrap();
        let built: serde_json::Value =
            serde_json::from_str(&FrameHead::new(&"s\"1".into()).frame(42, &encoded.json)).unwrap();
        let serialized = serde_json::to_value(ServerFrame {
            id: None,
            message: ServerMessage::Event {
                session_id: "s\"1".into(),
                seq: 42,
                event,
            },
        })
        .unwrap();
        assert_eq!(built, serialized);
    }

    #[test]
    fn an_event_frame_is_made_at_its_exact_size_whatever_its_seq() {
        let encoded = EncodedEvent::new(StreamEvent::Text {
            message_id: None,
            text: "x".into(),
            parent_tool_use_id: None,
            timestamp: None,
        })
        .unwrap();
        let head = FrameHead::new(&"s1".into());
        for seq in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX] {
            let f = head.frame(seq, &encoded.json);
            assert_eq!(f.len(), f.capacity(), "seq {seq}: {f}");
            let v: serde_json::Value = serde_json::from_str(&f).unwrap();
            assert_eq!(v["seq"], seq, "{f}");
        }
    }
}
