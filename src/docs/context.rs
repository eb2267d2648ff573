//! The Context tab's API: what Claude Code loads in the project, as `aisys entities list`
//! resolves it (`GET /api/context`), and one entity's file (`GET /api/context/file`).
//!
//! The inventory is also the list of what may be read: a file is served only when discovery
//! names it as a skill's, command's or agent's file. Settings and state files (hooks, MCP
//! servers) are shown as the entity's own configuration, not as the whole file, since
//! `~/.claude.json` holds much else.
//!
//! Must not read Claude Code's layout itself: `entities::discover` does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{Viewer, blocking, failure};
use crate::entities::{self, EntityKind, Inventory, Roots, file};

pub fn routes() -> Router<Arc<Viewer>> {
    Router::new()
        .route("/api/context", get(context))
        .route("/api/context/file", get(entity_file))
}

/// The roots discovery reads for the viewer's project.
pub fn roots(v: &Viewer) -> Roots {
    Roots {
        claude_home: v.claude_home.clone(),
        claude_json: v.claude_json.clone(),
        projects: Roots::project_dirs(&v.project),
    }
}

async fn context(State(v): State<Arc<Viewer>>) -> Response {
    let roots = roots(&v);
    let project = v.project.display().to_string();
    match blocking(move || entities::discover(&roots)).await {
        Ok(Inventory { entities, warnings }) => axum::Json(serde_json::json!({
            "project": project,
            "entities": entities,
            "warnings": warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct FileQuery {
    kind: String,
    name: String,
    /// The entity's path as listed: tells apart a hidden entity from the one hiding it.
    path: String,
}

/// What the tab shows for an entity: its file's text, or its configuration.
#[derive(Debug, Serialize)]
struct EntityFile {
    path: String,
    /// The file's text, for skills, commands and agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// The entity's configuration (manifest, server or hook entry), for the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<serde_json::Value>,
}

async fn entity_file(State(v): State<Arc<Viewer>>, Query(q): Query<FileQuery>) -> Response {
    let roots = roots(&v);
    let found = blocking(move || {
        let Some(kind) = EntityKind::parse(&q.kind) else {
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "kind {:?}: not one of skill, command, agent, hook, mcp, plugin, marketplace",
                    q.kind
                ),
            ));
        };
        let inv = entities::discover(&roots);
        let Some(e) = inv
            .entities
            .into_iter()
            .find(|e| e.kind == kind && e.name == q.name && e.path.display().to_string() == q.path)
        else {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "no {kind} {:?} at {} (it may have been removed; reload the list)",
                    q.name, q.path
                ),
            ));
        };
        let path = e.path.display().to_string();
        if matches!(
            kind,
            EntityKind::Skill | EntityKind::Command | EntityKind::Agent
        ) {
            return match file::read_text(&e.path, file::MAX_ENTITY_FILE) {
                Ok(text) => Ok(EntityFile {
                    path,
                    text: Some(text),
                    config: None,
                }),
                Err(err) => Err((StatusCode::FORBIDDEN, format!("{path}: {err}"))),
            };
        }
        Ok(EntityFile {
            path,
            text: None,
            config: Some(serde_json::Value::Object(e.fields)),
        })
    })
    .await;
    match found {
        Ok(Ok(f)) => axum::Json(f).into_response(),
        Ok(Err((status, message))) => failure(status, message),
        Err(r) => r,
    }
}
