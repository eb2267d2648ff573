//! The docs and context viewer: the JSON API behind the browser client's Docs, Context, Plugins
//! and Transcripts tabs, served by `aisys docs` on its own and by `aisys serve` beside sessions.
//!
//! - `pages`: a docs folder's Markdown pages, their titles, one page, search;
//! - `live`: changes to the watched folders, pushed to pages over a WebSocket;
//! - `context`: what `entities` discovers for the project, and an entity's file;
//! - `manage`: the `entities` operations on marketplaces, plugins and MCP servers;
//! - `transcripts`: Claude Code's sessions on disk, rendered by the converters;
//! - `follow`: an open session followed as its files grow, over a WebSocket.
//!
//! Every route here sits behind the token of the app that mounts it (see
//! [`crate::server::gate`]). Must not parse Claude Code's files itself (that is `entities` and
//! `converters`) nor render Markdown (the browser does).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

pub mod context;
pub mod follow;
pub mod live;
pub mod manage;
pub mod pages;
pub mod transcripts;

/// Where the viewer reads from.
pub struct Viewer {
    /// The docs folder (canonical), whose Markdown the Docs tab shows.
    pub docs_root: PathBuf,
    /// The project folder whose `.claude/` is the project scope (canonical).
    pub project: PathBuf,
    /// Claude Code's home (`~/.claude` or `$CLAUDE_CONFIG_DIR`).
    pub claude_home: PathBuf,
    /// Claude Code's global state file (user and local MCP servers).
    pub claude_json: Option<PathBuf>,
    live: OnceLock<Result<live::Live, String>>,
    /// Sessions followed now (see [`follow::MAX_FOLLOWED`]).
    followed: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("docs_root", &self.docs_root)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

/// Why a viewer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("{path}: {source}; give an existing folder")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a folder; give the folder that holds the Markdown pages")]
    NotAFolder(PathBuf),
}

fn canonical(p: &Path) -> Result<PathBuf, ViewerError> {
    let c = p.canonicalize().map_err(|source| ViewerError::Folder {
        path: p.to_path_buf(),
        source,
    })?;
    if !c.is_dir() {
        return Err(ViewerError::NotAFolder(p.to_path_buf()));
    }
    Ok(c)
}

/// The project folder of `dir`: its git root, else itself.
pub fn project_root(dir: &Path) -> PathBuf {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf()
}

/// The docs folder when none is named: the project's `docs/` if it has one, else the project
/// root (whose Markdown, README and all, is then the docs).
pub fn default_docs_dir(cwd: &Path) -> PathBuf {
    let root = project_root(cwd);
    let docs = root.join("docs");
    if docs.is_dir() { docs } else { root }
}

impl Viewer {
    pub fn new(
        docs_root: &Path,
        project: &Path,
        claude_home: PathBuf,
        claude_json: Option<PathBuf>,
    ) -> Result<Viewer, ViewerError> {
        Ok(Viewer {
            docs_root: canonical(docs_root)?,
            project: canonical(project)?,
            // The home may not exist yet (nothing installed): keep it as given.
            claude_home: claude_home.canonicalize().unwrap_or(claude_home),
            claude_json,
            live: OnceLock::new(),
            followed: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The watcher, started on first use.
    pub fn live(&self) -> Result<&live::Live, &str> {
        self.live
            .get_or_init(|| live::Live::start(self).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Claude Code's `projects/` folder, where its sessions are.
    pub fn claude_projects(&self) -> PathBuf {
        self.claude_home.join("projects")
    }
}

/// A JSON error answer: `{"error": message}`.
pub fn failure(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| failure(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// The viewer's API, to be mounted behind the token by the app that serves it.
pub fn api_routes<S: Clone + Send + Sync + 'static>(viewer: Arc<Viewer>) -> Router<S> {
    Router::new()
        .route("/api/docs/tree", get(docs_tree))
        .route("/api/docs/content", get(docs_content))
        .route("/api/docs/search", get(docs_search))
        .route("/api/docs/image", get(docs_image))
        .route("/api/live", get(live_socket))
        .merge(context::routes())
        .merge(manage::routes())
        .merge(transcripts::routes())
        .with_state(viewer)
}

async fn docs_tree(State(v): State<Arc<Viewer>>) -> Response {
    let root = v.docs_root.clone();
    match blocking(move || pages::walk(&root)).await {
        Ok(tree) => axum::Json(serde_json::json!({
            "root": v.docs_root.file_name().map(|n| n.to_string_lossy().into_owned()),
            "pages": tree.pages,
            "truncated": tree.truncated,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct PathQuery {
    path: String,
}

async fn docs_content(State(v): State<Arc<Viewer>>, Query(q): Query<PathQuery>) -> Response {
    let root = v.docs_root.clone();
    match blocking(move || pages::read(&root, &q.path)).await {
        Ok(Ok(page)) => axum::Json(page).into_response(),
        Ok(Err(e)) => page_failure(e),
        Err(r) => r,
    }
}

fn page_failure(e: pages::PageError) -> Response {
    let status = match e {
        pages::PageError::BadPath { .. } => StatusCode::BAD_REQUEST,
        pages::PageError::NotFound { .. } => StatusCode::NOT_FOUND,
        pages::PageError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        pages::PageError::Io { .. } => StatusCode::FORBIDDEN,
    };
    failure(status, e)
}

/// An image of the docs folder, for `<img>` in a page. An SVG opened on its own must not run
/// script in this origin: the answer forbids everything but its own styles.
async fn docs_image(State(v): State<Arc<Viewer>>, Query(q): Query<PathQuery>) -> Response {
    use axum::http::header;
    let root = v.docs_root.clone();
    match blocking(move || pages::read_image(&root, &q.path)).await {
        Ok(Ok((bytes, kind))) => (
            [
                (header::CONTENT_TYPE, kind),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => page_failure(e),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: String,
}

async fn docs_search(State(v): State<Arc<Viewer>>, Query(q): Query<SearchQuery>) -> Response {
    let root = v.docs_root.clone();
    match blocking(move || {
        let tree = pages::walk(&root);
        pages::search(&root, &tree, &q.q)
    })
    .await
    {
        Ok(hits) => axum::Json(hits).into_response(),
        Err(r) => r,
    }
}

async fn live_socket(State(v): State<Arc<Viewer>>, upgrade: WebSocketUpgrade) -> Response {
    let v2 = v.clone();
    let started = match blocking(move || v2.live().map(|_| ()).map_err(str::to_string)).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let rx = match started {
        Ok(()) => match v.live() {
            Ok(l) => l.subscribe(),
            Err(e) => return failure(StatusCode::INTERNAL_SERVER_ERROR, e),
        },
        Err(e) => {
            return failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot watch the folders for changes: {e}"),
            );
        }
    };
    upgrade.on_upgrade(move |socket| live::serve_socket(socket, rx))
}

/// The whole app `aisys docs` serves: the browser client's pages, the token trade and the
/// viewer's API, every `/api/` route behind `gate`.
pub fn app(viewer: Arc<Viewer>, gate: crate::server::gate::Gate) -> Router {
    use crate::server::web;
    let gate = Arc::new(gate);
    let token = gate.token.clone();
    Router::new()
        .merge(api_routes(viewer))
        .merge(web::auth_route(token))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let gate = gate.clone();
                async move {
                    match gate.check(req.method(), req.headers()) {
                        Ok(()) => next.run(req).await,
                        Err(refused) => refused.into_response(),
                    }
                }
            },
        ))
        .merge(web::public_routes(web::Screens::ViewerOnly))
}
