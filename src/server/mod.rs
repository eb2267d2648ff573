//! Server: `aisys serve`, the axum app, connections, the `SessionManager`, the `AgentSession`
//! state machine, the store (SQLite, or PostgreSQL) and, on PostgreSQL, the servers sharing it
//! ([`cluster`]).
//!
//! Routes: `GET /ws` (the protocol of `docs/protocol.md`), `GET /healthz`, `GET /metrics`
//! (Prometheus text), `GET /api/sessions` (JSON), the browser client's pages and API ([`web`]),
//! and the docs and context viewer's API ([`crate::docs`]). Every request but the client's static
//! files needs the token, and one that changes something must come from the server's own pages
//! ([`gate`]).
//!
//! Must not run agent code on the host: agents run only through `runtime` environments.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub mod auth;
pub mod blocks_view;
pub mod cluster;
pub mod connection;
pub mod door;
pub mod gate;
pub mod live;
pub mod manager;
pub mod metrics;
pub mod outbox;
pub mod session;
pub mod startup;
pub mod store;
pub mod usage_totals;
pub mod web;
pub mod workspace_files;
pub mod workspace_watch;

use auth::Token;
use manager::SessionManager;
use metrics::Metrics;

/// Default largest WebSocket frame (and message) a client may send.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;
/// Largest user message text; it must fit in a frame with its envelope.
pub const MAX_MESSAGE_BYTES: usize = DEFAULT_MAX_FRAME - 1024;
/// Bytes a connection reads at a time: clients send small requests, and ten thousand idle
/// connections must not each hold tungstenite's default 128 KiB.
pub const WS_READ_BUFFER: usize = 4 * 1024;
/// Bytes of frames a connection gathers before it writes them even without a flush: the writer
/// flushes each burst anyway, so this only splits a long one; small enough that ten thousand
/// connections' buffers stay small.
pub const WS_WRITE_BUFFER: usize = 16 * 1024;
/// How often sessions that nobody watches and nothing runs in are unloaded from memory.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// What every request handler shares.
pub struct AppState {
    pub manager: Arc<SessionManager>,
    pub token: Token,
    pub allowed_origins: Vec<String>,
    /// Host names clients may use besides loopback names and IP addresses (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Most connections open at once (see `door`), set from the open-files limit at start.
    pub max_connections: usize,
    pub max_frame: usize,
    pub max_message: usize,
    pub metrics: Arc<Metrics>,
    /// How often idle, unwatched sessions are unloaded.
    pub sweep_interval: Duration,
    /// The docs and context viewer's data (`aisys docs` serves the same routes on its own).
    pub viewer: Arc<crate::docs::Viewer>,
}

/// The axum app.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ws", get(ws))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_text))
        .route("/api/sessions", get(sessions_json))
        .merge(web::api_routes())
        .merge(web::auth_route(state.token.clone()))
        .merge(crate::docs::api_routes(state.viewer.clone()))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .merge(web::public_routes(web::Screens::SessionsAndViewer))
        .with_state(state)
}

async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Err(refused) = gate::check(
        &state.token,
        &state.allowed_hosts,
        &state.allowed_origins,
        req.method(),
        req.headers(),
    ) {
        return refused.into_response();
    }
    if let Some(slot) = req.extensions().get::<Arc<door::Slot>>() {
        slot.authenticated();
    }
    next.run(req).await
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn ws(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !auth::origin_allowed(
        header_str(&headers, header::ORIGIN),
        header_str(&headers, header::HOST),
        &state.allowed_origins,
    ) {
        return (
            StatusCode::FORBIDDEN,
            "this Origin may not connect (the server allows its own, and --allow-origin ones)\n",
        )
            .into_response();
    }
    let mut upgrade = upgrade
        .max_frame_size(state.max_frame)
        .max_message_size(state.max_frame)
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER);
    // A browser that sent the token as a subprotocol needs it echoed back to accept the socket.
    if let Some(p) = header_str(&headers, header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|ps| {
            ps.split(',')
                .map(str::trim)
                .find(|p| p.starts_with(auth::TOKEN_PROTOCOL_PREFIX))
        })
        .map(str::to_string)
    {
        upgrade = upgrade.protocols([p]);
    }
    upgrade.on_upgrade(move |socket| connection::handle(socket, state))
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let sessions = state.manager.list().await.unwrap_or_default();
    let by_state: Vec<_> = crate::types::SessionState::ALL
        .iter()
        .map(|s| (*s, sessions.iter().filter(|i| i.state == *s).count()))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render(&by_state, state.manager.store().queues()),
    )
        .into_response()
}

async fn sessions_json(State(state): State<Arc<AppState>>) -> Response {
    match state.manager.list().await {
        Ok(list) => axum::Json(list).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.message).into_response(),
    }
}

/// Runs the server on `listener` until `shutdown` resolves, then ends turns cleanly.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let manager = state.manager.clone();
    let sweep_interval = state.sweep_interval;
    let sweeper = tokio::spawn({
        let manager = manager.clone();
        async move {
            let mut tick = tokio::time::interval(sweep_interval);
            loop {
                tick.tick().await;
                manager.sweep().await;
            }
        }
    });
    let door = door::Door::new(state.max_connections);
    let app = router(state);
    // Connection tasks hold a receiver; shutdown waits until all of them are gone.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, _addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait, go on.
                    tracing::warn!("accept error: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Small frames, request and reply: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
        let _ = tcp.set_nodelay(true);
        let Some(slot) = door.admit() else {
            tokio::spawn(door::reject(tcp, door.max_connections()));
            continue;
        };
        tokio::spawn(serve_connection(tcp, slot, app.clone(), stop_rx.clone()));
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    sweeper.abort();
    manager.shutdown().await;
    Ok(())
}

/// Pause after a failed `accept`, so that running out of descriptors does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves one HTTP/1 connection (and hands a WebSocket upgrade over with its slot).
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    slot: Arc<door::Slot>,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let io = TokioIo::new(door::SlotStream::new(tcp, slot.clone()));
    let conn_slot = slot.clone();
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(conn_slot.clone());
        let mut app = app.clone();
        async move { tower_service::Service::call(&mut app, req.map(axum::body::Body::new)).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(door::HEADER_TIMEOUT);
    let conn = builder.serve_connection(io, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = slot.evicted() => break,
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
