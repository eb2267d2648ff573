//! Server: `aisys serve`, the axum app, connections, the `SessionManager`, the `AgentSession`
//! state machine and the SQLite store.
//!
//! Routes: `GET /ws` (the protocol of `docs/protocol.md`), `GET /healthz`, `GET /metrics`
//! (Prometheus text), `GET /api/sessions` (JSON), and the browser client's pages and API
//! ([`web`]). Every request but the client's static files needs the token.
//!
//! Must not run agent code on the host: agents run only through `runtime` environments.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;

pub mod auth;
pub mod blocks_view;
pub mod connection;
pub mod manager;
pub mod metrics;
pub mod session;
pub mod startup;
pub mod store;
pub mod web;

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
/// How often sessions that nobody watches and nothing runs in are unloaded from memory.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// What every request handler shares.
pub struct AppState {
    pub manager: Arc<SessionManager>,
    pub token: Token,
    pub allowed_origins: Vec<String>,
    pub max_frame: usize,
    pub max_message: usize,
    pub metrics: Arc<Metrics>,
    /// How often idle, unwatched sessions are unloaded.
    pub sweep_interval: Duration,
}

/// The axum app.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ws", get(ws))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_text))
        .route("/api/sessions", get(sessions_json))
        .merge(web::api_routes())
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .merge(web::public_routes())
        .with_state(state)
}

async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let presented = auth::presented_token(
        header_str(headers, header::AUTHORIZATION),
        header_str(headers, header::SEC_WEBSOCKET_PROTOCOL),
    )
    .or_else(|| auth::cookie_token(header_str(headers, header::COOKIE)));
    match presented {
        Some(t) if state.token.matches(t) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send `Authorization: Bearer <token>` (the token is in the server's data folder)\n",
        )
            .into_response(),
    }
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
        .write_buffer_size(0);
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
        state.metrics.render(&by_state),
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
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    // Small frames, request and reply: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    sweeper.abort();
    manager.shutdown().await;
    Ok(())
}
