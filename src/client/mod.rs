//! Client: the WebSocket client of `aisys serve`, with reconnect and resume from the last seq.
//!
//! A background task owns the connection. Requests get replies matched by id; events of
//! attached sessions arrive on one channel, each exactly once and in order: the client remembers
//! the last seq it delivered per session, re-attaches with it after a reconnect (with backoff),
//! and drops anything it already delivered.
//!
//! Must not know about the terminal: the TUI and the tests both use it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, http};

use crate::types::{
    AttachView, ClientFrame, ClientMessage, ErrorCode, MIN_PROTOCOL_VERSION, ServerFrame,
    ServerMessage, SessionInfo, SessionSpec, StreamEvent,
};

/// First wait before reconnecting; doubled after each failure.
pub const RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Longest wait between reconnect attempts.
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// How long a request waits for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Notifications buffered for the application before the connection task waits.
const NOTIFY_QUEUE: usize = 4096;
/// Requests buffered for the connection task.
const REQUEST_QUEUE: usize = 64;
/// The socket's read buffer. tungstenite zeroes as much of it as one read may fill before every
/// read, so its default (128 KiB) cost a client a 128 KiB `memset` per frame it received; frames
/// here are a few hundred bytes, and a replay's burst still fills 16 KiB per read.
const WS_READ_BUFFER: usize = 16 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("not connected to the server")]
    Disconnected,
    #[error("the server did not answer in time")]
    Timeout,
    #[error("{code:?}: {message}")]
    Server { code: ErrorCode, message: String },
    #[error("unexpected reply: {0}")]
    Unexpected(String),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    /// Nothing listens at the address (the connection was refused).
    #[error("nothing listens at {url} (connection refused)")]
    Refused { url: String },
    /// The server answered but refused the token (HTTP 401).
    #[error("the server at {url} rejected the token")]
    Rejected { url: String },
}

/// What the application hears from the connection.
#[derive(Debug, Clone)]
pub enum Notification {
    /// Connected (again) and re-attached to every attached session.
    Connected,
    /// The connection dropped; the client keeps trying.
    Disconnected { reason: String },
    /// One event of an attached session, never seen before.
    Event {
        session_id: String,
        seq: u64,
        event: StreamEvent,
    },
    /// Any other frame the server sent on its own (state changes, resync notices).
    Server(ServerMessage),
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://host:port/ws`.
    pub url: String,
    pub token: String,
    pub client_name: String,
}

struct Outgoing {
    message: ClientMessage,
    reply: oneshot::Sender<Result<ServerMessage, ClientError>>,
}

/// A connected client. Cloning shares the connection.
#[derive(Clone)]
pub struct Client {
    requests: mpsc::Sender<Outgoing>,
    attached: Arc<Mutex<HashMap<String, u64>>>,
    /// The agent profiles the server's first `welcome` named (none from an older server).
    profiles: Vec<String>,
}

impl Client {
    /// Connects (failing if the first attempt fails) and starts the background task, which
    /// reconnects on its own afterwards. Notifications arrive on the returned receiver.
    pub async fn connect(
        config: ClientConfig,
    ) -> Result<(Client, mpsc::Receiver<Notification>), ClientError> {
        let (ws, profiles) = open(&config).await?;
        let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
        let (note_tx, note_rx) = mpsc::channel(NOTIFY_QUEUE);
        let attached = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(connection_loop(
            config,
            ws,
            req_rx,
            note_tx,
            attached.clone(),
        ));
        Ok((
            Client {
                requests: req_tx,
                attached,
                profiles,
            },
            note_rx,
        ))
    }

    /// The agent profiles `session.create` may name on this server, as its `welcome` said
    /// when the client connected; empty from a server too old to say.
    pub fn server_profiles(&self) -> &[String] {
        &self.profiles
    }

    /// Sends a request and waits for its reply; a server `error` becomes `ClientError::Server`.
    pub async fn request(&self, message: ClientMessage) -> Result<ServerMessage, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Outgoing { message, reply: tx })
            .await
            .map_err(|_| ClientError::Disconnected)?;
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(Err(_)) => Err(ClientError::Disconnected),
            Ok(Ok(r)) => r,
        }
    }

    pub async fn create(&self, spec: SessionSpec) -> Result<SessionInfo, ClientError> {
        match self.request(ClientMessage::Create { spec }).await? {
            ServerMessage::Created { session } => Ok(session),
            other => Err(unexpected(other)),
        }
    }

    pub async fn list(&self) -> Result<Vec<SessionInfo>, ClientError> {
        match self.request(ClientMessage::List).await? {
            ServerMessage::Sessions { sessions } => Ok(sessions),
            other => Err(unexpected(other)),
        }
    }

    /// Attaches to a session: events after `after_seq` arrive as notifications, also across
    /// reconnects.
    pub async fn attach(
        &self,
        session_id: &str,
        after_seq: u64,
    ) -> Result<SessionInfo, ClientError> {
        self.attached
            .lock()
            .await
            .insert(session_id.to_string(), after_seq);
        match self
            .request(ClientMessage::Attach {
                session_id: session_id.into(),
                after_seq,
                view: AttachView::Events,
            })
            .await
        {
            Ok(ServerMessage::Attached { session, .. }) => Ok(session),
            Ok(other) => Err(unexpected(other)),
            Err(e) => {
                self.attached.lock().await.remove(session_id);
                Err(e)
            }
        }
    }

    pub async fn detach(&self, session_id: &str) -> Result<(), ClientError> {
        self.attached.lock().await.remove(session_id);
        self.ack(ClientMessage::Detach {
            session_id: session_id.into(),
        })
        .await
    }

    /// Sends a request whose answer is `ack`.
    pub async fn ack(&self, message: ClientMessage) -> Result<(), ClientError> {
        match self.request(message).await? {
            ServerMessage::Ack => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The last seq delivered for a session.
    pub async fn last_seq(&self, session_id: &str) -> Option<u64> {
        self.attached.lock().await.get(session_id).copied()
    }
}

fn unexpected(m: ServerMessage) -> ClientError {
    ClientError::Unexpected(serde_json::to_string(&m).unwrap_or_default())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the socket and does the hello / welcome exchange; with the profiles the welcome names.
async fn open(config: &ClientConfig) -> Result<(Ws, Vec<String>), ClientError> {
    let err = |m: String| ClientError::Connect {
        url: config.url.clone(),
        message: m,
    };
    let mut req = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| err(e.to_string()))?;
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", config.token)
            .parse()
            .map_err(|_| err("the token has characters a header cannot carry".into()))?,
    );
    let socket = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER);
    // Requests and replies are small frames: send them at once (TCP_NODELAY).
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(socket), true)
        .await
        .map_err(|e| match e {
            WsError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                ClientError::Refused {
                    url: config.url.clone(),
                }
            }
            WsError::Http(r) if r.status() == http::StatusCode::UNAUTHORIZED => {
                ClientError::Rejected {
                    url: config.url.clone(),
                }
            }
            e => err(e.to_string()),
        })?;
    let hello = ClientFrame {
        id: Some("hello".into()),
        message: ClientMessage::Hello {
            // Only the events view is used here, which every version has: the oldest one keeps
            // this client working with servers older than the newest version.
            protocol_version: MIN_PROTOCOL_VERSION,
            client: Some(config.client_name.clone()),
        },
    };
    ws.send(Message::Text(
        serde_json::to_string(&hello).unwrap_or_default().into(),
    ))
    .await
    .map_err(|e| err(e.to_string()))?;
    loop {
        match tokio::time::timeout(REQUEST_TIMEOUT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => match ServerFrame::from_json(&t) {
                Ok(ServerFrame {
                    message: ServerMessage::Welcome { profiles, .. },
                    ..
                }) => return Ok((ws, profiles)),
                Ok(ServerFrame {
                    message: ServerMessage::Error { message, .. },
                    ..
                }) => return Err(err(message)),
                _ => continue,
            },
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(err(e.to_string())),
            Ok(None) => return Err(err("the server closed the connection".into())),
            Err(_) => return Err(err("no welcome from the server".into())),
        }
    }
}

async fn connection_loop(
    config: ClientConfig,
    first: Ws,
    mut requests: mpsc::Receiver<Outgoing>,
    notes: mpsc::Sender<Notification>,
    attached: Arc<Mutex<HashMap<String, u64>>>,
) {
    let next_id = AtomicU64::new(1);
    let mut ws = Some(first);
    let mut backoff = RECONNECT_MIN;
    loop {
        let mut socket = match ws.take() {
            Some(s) => s,
            None => match open(&config).await {
                Ok((s, _)) => {
                    backoff = RECONNECT_MIN;
                    s
                }
                Err(e) => {
                    tracing::debug!("reconnect failed: {e}");
                    // Fail requests made while disconnected instead of letting them hang.
                    while let Ok(o) = requests.try_recv() {
                        let _ = o.reply.send(Err(ClientError::Disconnected));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RECONNECT_MAX);
                    if notes.is_closed() {
                        return;
                    }
                    continue;
                }
            },
        };
        let mut pending: HashMap<String, oneshot::Sender<Result<ServerMessage, ClientError>>> =
            HashMap::new();
        // Re-attach every session from the last seq delivered.
        let resume: Vec<(String, u64)> = attached
            .lock()
            .await
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for (session_id, after_seq) in resume {
            let frame = ClientFrame {
                id: Some(format!("reattach-{session_id}")),
                message: ClientMessage::Attach {
                    session_id: session_id.into(),
                    after_seq,
                    view: AttachView::Events,
                },
            };
            let _ = socket
                .send(Message::Text(
                    serde_json::to_string(&frame).unwrap_or_default().into(),
                ))
                .await;
        }
        let _ = notes.send(Notification::Connected).await;
        let reason = loop {
            tokio::select! {
                out = requests.recv() => {
                    let Some(out) = out else { return };
                    let id = format!("r{}", next_id.fetch_add(1, Ordering::Relaxed));
                    let frame = ClientFrame { id: Some(id.clone()), message: out.message };
                    let text = serde_json::to_string(&frame).unwrap_or_default();
                    if let Err(e) = socket.send(Message::Text(text.into())).await {
                        let _ = out.reply.send(Err(ClientError::Disconnected));
                        break e.to_string();
                    }
                    pending.insert(id, out.reply);
                }
                msg = socket.next() => {
                    match msg {
                        Some(Ok(Message::Text(t))) => {
                            let Ok(frame) = ServerFrame::from_json(&t) else {
                                tracing::warn!("unreadable frame from the server: {t}");
                                continue;
                            };
                            deliver(frame, &mut pending, &notes, &attached).await;
                        }
                        Some(Ok(Message::Close(c))) => {
                            break c.map(|c| c.reason.to_string()).unwrap_or_else(|| "closed".into());
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break e.to_string(),
                        None => break "the server closed the connection".into(),
                    }
                }
            }
        };
        for (_, reply) in pending.drain() {
            let _ = reply.send(Err(ClientError::Disconnected));
        }
        if notes
            .send(Notification::Disconnected { reason })
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn deliver(
    frame: ServerFrame,
    pending: &mut HashMap<String, oneshot::Sender<Result<ServerMessage, ClientError>>>,
    notes: &mpsc::Sender<Notification>,
    attached: &Mutex<HashMap<String, u64>>,
) {
    if let ServerMessage::Event {
        session_id,
        seq,
        event,
    } = frame.message
    {
        let mut map = attached.lock().await;
        let Some(last) = map.get_mut(session_id.as_str()) else {
            return;
        };
        if seq <= *last {
            return; // Already delivered before a reconnect or resync.
        }
        *last = seq;
        drop(map);
        let _ = notes
            .send(Notification::Event {
                session_id: session_id.into_string(),
                seq,
                event,
            })
            .await;
        return;
    }
    let reply = frame.id.as_ref().and_then(|id| pending.remove(id));
    match (reply, frame.message) {
        (Some(r), ServerMessage::Error { code, message }) => {
            let _ = r.send(Err(ClientError::Server { code, message }));
        }
        (Some(r), m) => {
            let _ = r.send(Ok(m));
        }
        (None, m) => {
            let _ = notes.send(Notification::Server(m)).await;
        }
    }
}
