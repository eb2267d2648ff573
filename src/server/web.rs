//! The browser client's routes: the built app from `web/dist` (embedded in the binary, so nothing
//! else is needed at run time), the trade of a `?token=` for a cookie, and the JSON a page reads.
//!
//! Static files need no token and hold no data; everything under `/api/` does. Every page is sent
//! with a strict Content-Security-Policy (scripts only from this server, none inline), since it
//! shows agent output, which is untrusted.
//!
//! Must not assemble conversations itself: blocks come from the converters' one assembler.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_embed::RustEmbed;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{TOKEN_COOKIE, Token};
use super::store::Store;
use crate::converters::Assembler;
use crate::types::ConversationBlock;

/// The built app, `web/dist`, compiled into the binary.
#[derive(RustEmbed)]
#[folder = "web/dist"]
struct Assets;

/// No script or connection but this server's own; no plugins, no framing. Images may be data
/// URLs (agents return screenshots that way). Inline styles are allowed because the diagrams the
/// docs viewer draws (Mermaid) are SVGs that carry their own `<style>` and `style=`; a style
/// cannot run script, and no HTML from a document or an agent reaches the page (Markdown is
/// rendered without raw HTML), so nobody else can put one there.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Most events one `GET /api/sessions/{id}/events` answers with; a client pages with `after`.
const MAX_EVENTS_PAGE: usize = 5_000;

/// Events read from the store per query while a session's blocks are assembled: large enough
/// that a long session needs few queries, small enough to bound what one holds in memory.
const BLOCKS_READ_BATCH: usize = 5_000;

/// Which screens an app serves: the agent server has sessions; `aisys docs` has only the viewer,
/// whose Docs tab is then its front page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screens {
    SessionsAndViewer,
    ViewerOnly,
}

/// Routes anyone may load: the app's pages and files. They reveal no data. Every screen of the
/// app is a path of its own, so that a deep link loads the app.
pub fn public_routes<S: Clone + Send + Sync + 'static>(screens: Screens) -> Router<S> {
    let front = match screens {
        Screens::SessionsAndViewer => Router::new()
            .route("/", get(index))
            .route("/sessions/{*rest}", get(index)),
        Screens::ViewerOnly => Router::new().route("/", get(to_docs)),
    };
    front
        .route("/docs", get(index))
        .route("/docs/", get(index))
        .route("/docs/{*rest}", get(index))
        .route("/context", get(index))
        .route("/plugins", get(index))
        .route("/transcripts", get(index))
        .route("/transcripts/{*rest}", get(index))
        .route("/assets/{*path}", get(asset))
}

/// The session routes, behind the token.
pub fn api_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/sessions/{id}/blocks", get(session_blocks))
        .route("/api/sessions/{id}/events", get(session_events))
}

/// `POST /api/auth`, behind the token: trades the token for a cookie. Any app that serves this
/// client (`aisys serve`, `aisys docs`) mounts it with its own token.
pub fn auth_route<S: Clone + Send + Sync + 'static>(token: Token) -> Router<S> {
    Router::new().route(
        "/api/auth",
        post(move || {
            let token = token.clone();
            async move { auth_cookie(&token) }
        }),
    )
}

fn with_page_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The first URL carries `?token=`: no page may learn it from a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// `/` of `aisys docs`: the Docs tab, keeping the query (the first address carries the token).
async fn to_docs(axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let to = match query {
        Some(q) => format!("/docs/?{q}"),
        None => "/docs/".to_string(),
    };
    with_page_headers(axum::response::Redirect::to(&to).into_response())
}

async fn index() -> Response {
    let Some(file) = Assets::get("index.html") else {
        return (
            StatusCode::NOT_FOUND,
            "this build of aisys has no browser client (web/dist was empty)\n",
        )
            .into_response();
    };
    with_page_headers(
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            file.data.into_owned(),
        )
            .into_response(),
    )
}

async fn asset(Path(path): Path<String>) -> Response {
    let Some(file) = Assets::get(&format!("assets/{path}")) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let mime = content_type(&path).to_string();
    with_page_headers(
        (
            [
                (header::CONTENT_TYPE, mime),
                // Built file names carry a content hash: a changed file is a new name.
                (
                    header::CACHE_CONTROL,
                    "public, max-age=31536000, immutable".to_string(),
                ),
            ],
            file.data.into_owned(),
        )
            .into_response(),
    )
}

/// The content type of a built file, by its extension: the bundle holds only these kinds.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// `POST /api/auth` with the token as a bearer: answers with the token as an `HttpOnly`,
/// `SameSite=Strict` cookie, so the page can drop it from the address bar and no script can
/// read it afterwards.
fn auth_cookie(token: &Token) -> Response {
    let cookie = format!(
        "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        token.as_str()
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// A session's conversation as blocks, and the seq of the last event they reflect.
#[derive(Debug, Serialize)]
struct SessionBlocks {
    last_seq: u64,
    blocks: Vec<ConversationBlock>,
}

/// A 404 for a session the store does not have.
async fn known_session(store: &dyn Store, id: &str) -> Result<(), Response> {
    match store.get_session(id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err((StatusCode::NOT_FOUND, format!("no session {id}\n")).into_response()),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
    }
}

/// `?upto=N`: the blocks as they stood after event N (the events inspector steps with it).
#[derive(Debug, Deserialize)]
struct BlocksQuery {
    upto: Option<u64>,
}

async fn session_blocks(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<BlocksQuery>,
) -> Response {
    let store = state.manager.store();
    if let Err(resp) = known_session(store.as_ref(), &id).await {
        return resp;
    }
    let upto = q.upto.unwrap_or(u64::MAX);
    let mut assembler = Assembler::new();
    let mut last_seq = 0;
    'read: loop {
        let batch = match store.events_after(&id, last_seq, BLOCKS_READ_BATCH).await {
            Ok(b) => b,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
        if batch.is_empty() {
            break;
        }
        for (seq, encoded) in batch {
            if seq > upto {
                break 'read;
            }
            last_seq = seq;
            assembler.push(encoded.into_event());
        }
    }
    axum::Json(SessionBlocks {
        last_seq,
        blocks: assembler.finish(),
    })
    .into_response()
}

/// `?after=N&limit=M`: a page of a session's raw events.
#[derive(Debug, Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

/// One stored event with its number, as the events inspector lists it.
#[derive(Debug, Serialize)]
struct NumberedEvent {
    seq: u64,
    event: crate::types::StreamEvent,
}

async fn session_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Response {
    let store = state.manager.store();
    if let Err(resp) = known_session(store.as_ref(), &id).await {
        return resp;
    }
    let limit = q.limit.unwrap_or(MAX_EVENTS_PAGE).clamp(1, MAX_EVENTS_PAGE);
    match store.events_after(&id, q.after, limit).await {
        Ok(events) => axum::Json(
            events
                .into_iter()
                .map(|(seq, e)| NumberedEvent {
                    seq,
                    event: e.into_event(),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
