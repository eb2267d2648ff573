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
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_embed::RustEmbed;
use serde::Serialize;

use super::AppState;
use super::auth::TOKEN_COOKIE;
use crate::converters::Assembler;
use crate::types::ConversationBlock;

/// The built app, `web/dist`, compiled into the binary.
#[derive(RustEmbed)]
#[folder = "web/dist"]
struct Assets;

/// No script, style or connection but this server's own; no plugins, no framing. Images may be
/// data URLs (agents return screenshots that way).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Events read from the store per query while a session's blocks are assembled: large enough
/// that a long session needs few queries, small enough to bound what one holds in memory.
const BLOCKS_READ_BATCH: usize = 5_000;

/// Routes anyone may load: the app's pages and files. They reveal no data.
pub fn public_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/sessions/{*rest}", get(index))
        .route("/assets/{*path}", get(asset))
}

/// Routes behind the token.
pub fn api_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/auth", post(auth_cookie))
        .route("/api/sessions/{id}/blocks", get(session_blocks))
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
async fn auth_cookie(State(state): State<Arc<AppState>>) -> Response {
    let cookie = format!(
        "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        state.token.as_str()
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// A session's conversation as blocks, and the seq of the last event they reflect.
#[derive(Debug, Serialize)]
struct SessionBlocks {
    last_seq: u64,
    blocks: Vec<ConversationBlock>,
}

async fn session_blocks(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let store = state.manager.store();
    match store.get_session(&id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, format!("no session {id}\n")).into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
    let mut assembler = Assembler::new();
    let mut last_seq = 0;
    loop {
        let batch = match store.events_after(&id, last_seq, BLOCKS_READ_BATCH).await {
            Ok(b) => b,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
        let Some((seq, _)) = batch.last() else { break };
        last_seq = *seq;
        for (_, encoded) in batch {
            assembler.push(encoded.event);
        }
    }
    axum::Json(SessionBlocks {
        last_seq,
        blocks: assembler.finish(),
    })
    .into_response()
}
