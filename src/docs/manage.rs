//! The Plugins tab's API: the `entities` operations on marketplaces, plugins and MCP servers,
//! answered with what `entities` reports.
//!
//! `GET /api/plugins` lists marketplaces (with the plugins each offers), installed plugins and
//! MCP servers. Every change is a `POST` (so the gate checks it comes from the app's own page):
//! `/api/plugins/{marketplace-add, marketplace-update, marketplace-remove, install, uninstall,
//! enable, disable}` and `/api/mcp/{add, edit, remove}`. Errors come back as `{"error"}` with the
//! message `entities` gave, and a status from its kind.
//!
//! Must not change Claude Code's files itself: `entities::install` and `entities::mcp` do.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Viewer, blocking, failure};
use crate::entities::git::Progress;
use crate::entities::install::{InstallScope, Manager, read_marketplace};
use crate::entities::mcp::{McpFiles, McpScope, McpSpec, Transport};
use crate::entities::{self, EntityError, EntityKind, layout};

pub fn routes() -> Router<Arc<Viewer>> {
    Router::new()
        .route("/api/plugins", get(overview))
        .route("/api/plugins/{op}", post(plugin_op))
        .route("/api/mcp/add", post(mcp_add))
        .route("/api/mcp/edit", post(mcp_edit))
        .route("/api/mcp/remove", post(mcp_remove))
}

fn manager(v: &Viewer) -> Manager {
    // Nobody watches a terminal here: the page shows its own progress.
    Manager::new(v.claude_home.clone(), Progress { visible: false })
}

fn mcp_files(v: &Viewer) -> Result<McpFiles, EntityError> {
    Ok(McpFiles {
        claude_home: v.claude_home.clone(),
        claude_json: v.claude_json.clone().ok_or_else(|| {
            EntityError::NotFound(
                "no home folder for ~/.claude.json; set HOME or CLAUDE_CONFIG_DIR".into(),
            )
        })?,
        dir: v.project.clone(),
    })
}

/// The status for an error of `entities`: what the request named is missing (404), the request
/// or a file is wrong (400 or 422), git, a download or the disk failed (502 or 500).
fn entity_failure(e: EntityError) -> Response {
    let status = match &e {
        EntityError::NotFound(_) => StatusCode::NOT_FOUND,
        EntityError::BadName(_)
        | EntityError::Usage(_)
        | EntityError::Invalid(_)
        | EntityError::Unsafe(_) => StatusCode::BAD_REQUEST,
        EntityError::BadJson { .. } | EntityError::Read { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        EntityError::Git(_) | EntityError::Fetch(_) => StatusCode::BAD_GATEWAY,
        EntityError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    failure(status, e)
}

fn answer(r: Result<Result<Value, EntityError>, Response>) -> Response {
    match r {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => entity_failure(e),
        Err(r) => r,
    }
}

/// A marketplace as the tab lists it.
#[derive(Debug, Serialize)]
struct Marketplace {
    name: String,
    source: String,
    install_location: String,
    last_updated: Option<String>,
    /// The plugins it offers: `name`, `description`, `version` as its manifest says.
    plugins: Vec<Value>,
    /// Why its manifest could not be read, if it could not.
    error: Option<String>,
}

fn overview_now(v: &Viewer) -> Result<Value, EntityError> {
    let mut marketplaces = Vec::new();
    for m in manager(v).marketplace_list()? {
        let (plugins, error) = match read_marketplace(Path::new(&m.install_location)) {
            Ok((_, doc)) => (
                doc.get("plugins")
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                json!({
                                    "name": p.get("name"),
                                    "description": p.get("description"),
                                    "version": p.get("version"),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        marketplaces.push(Marketplace {
            name: m.name,
            source: m.source.to_string(),
            install_location: m.install_location,
            last_updated: m.last_updated,
            plugins,
            error,
        });
    }
    // Where each plugin is installed for this project, so the tab can undo it in that scope.
    let home = layout::ClaudeHome::new(&v.claude_home);
    let doc = layout::read_json(
        &home.installed_plugins(),
        crate::entities::file::MAX_STATE_FILE,
    )
    .ok()
    .flatten()
    .unwrap_or(Value::Null);
    let (records, _) = layout::installed_records(&doc, &home.installed_plugins());
    let installs: Vec<Value> = records
        .into_iter()
        .flat_map(|(id, recs)| {
            recs.into_iter()
                .filter(|r| {
                    r.scope == "user"
                        || r.project_path.as_ref().is_some_and(|p| {
                            p.canonicalize().unwrap_or_else(|_| p.clone()) == v.project
                        })
                })
                .map(move |r| json!({"plugin": id, "scope": r.scope, "version": r.version}))
        })
        .collect();
    let inv = entities::discover(&super::context::roots(v));
    let installed: Vec<_> = inv
        .entities
        .into_iter()
        .filter(|e| e.kind == EntityKind::Plugin)
        .collect();
    let mcp = match mcp_files(v) {
        Ok(f) => f.list()?,
        Err(_) => Vec::new(),
    };
    Ok(json!({
        "project": v.project.display().to_string(),
        "marketplaces": marketplaces,
        "installed": installed,
        "installs": installs,
        "mcp": mcp,
    }))
}

async fn overview(State(v): State<Arc<Viewer>>) -> Response {
    answer(blocking(move || overview_now(&v)).await)
}

/// The body of a plugin or marketplace operation.
#[derive(Debug, Deserialize)]
struct PluginOp {
    /// `plugin@marketplace` (install, uninstall, enable, disable).
    plugin: Option<String>,
    /// A marketplace's name (update, remove).
    name: Option<String>,
    /// A marketplace's source (add).
    source: Option<String>,
    /// user, project or local (default user).
    scope: Option<String>,
}

fn install_scope(v: &Viewer, s: Option<&str>) -> Result<InstallScope, EntityError> {
    match s.unwrap_or("user") {
        "user" => Ok(InstallScope::User),
        "project" => Ok(InstallScope::Project(v.project.clone())),
        "local" => Ok(InstallScope::Local(v.project.clone())),
        other => Err(EntityError::Invalid(format!(
            "scope {other:?}: give user, project or local"
        ))),
    }
}

fn need<'a>(field: &'a Option<String>, what: &str) -> Result<&'a str, EntityError> {
    field
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| EntityError::Invalid(format!("give `{what}`")))
}

fn plugin_op_now(v: &Viewer, op: &str, body: &PluginOp) -> Result<Value, EntityError> {
    let m = manager(v);
    let scope = install_scope(v, body.scope.as_deref())?;
    match op {
        "marketplace-add" => {
            let name = m.marketplace_add(need(&body.source, "source")?, &v.project, &scope)?;
            Ok(json!({ "done": format!("Added marketplace {name}"), "name": name }))
        }
        "marketplace-update" => {
            let names = m.marketplace_update(body.name.as_deref())?;
            Ok(json!({ "done": format!("Updated {}", names.join(", ")), "names": names }))
        }
        "marketplace-remove" => {
            let name = need(&body.name, "name")?;
            m.marketplace_remove(name, &v.project)?;
            Ok(json!({ "done": format!("Removed marketplace {name}") }))
        }
        "install" => {
            let id = need(&body.plugin, "plugin")?;
            let path = m.install(id, &scope)?;
            Ok(json!({
                "done": format!("Installed {id} ({} scope)", scope.as_str()),
                "path": path.display().to_string(),
            }))
        }
        "uninstall" => {
            let id = need(&body.plugin, "plugin")?;
            m.uninstall(id, &scope)?;
            Ok(json!({ "done": format!("Uninstalled {id} ({} scope)", scope.as_str()) }))
        }
        "enable" | "disable" => {
            let id = need(&body.plugin, "plugin")?;
            m.set_enabled(id, &scope, op == "enable")?;
            Ok(json!({ "done": format!("{op}d {id} ({} scope)", scope.as_str()) }))
        }
        other => Err(EntityError::NotFound(format!(
            "no operation {other:?}: marketplace-add, marketplace-update, marketplace-remove, install, uninstall, enable or disable"
        ))),
    }
}

async fn plugin_op(
    State(v): State<Arc<Viewer>>,
    axum::extract::Path(op): axum::extract::Path<String>,
    axum::Json(body): axum::Json<PluginOp>,
) -> Response {
    answer(blocking(move || plugin_op_now(&v, &op, &body)).await)
}

/// The body of `POST /api/mcp/add`.
#[derive(Debug, Deserialize)]
struct McpAdd {
    name: String,
    /// local, project or user (default local, as `claude mcp add`).
    scope: Option<String>,
    /// stdio, http or sse (default stdio).
    transport: Option<String>,
    /// The command (stdio) or the URL (http, sse).
    target: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<(String, String)>,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

fn mcp_scope(s: Option<&str>, default: McpScope) -> Result<McpScope, EntityError> {
    match s {
        None => Ok(default),
        Some(s) => McpScope::parse(s).ok_or_else(|| {
            EntityError::Invalid(format!("scope {s:?}: give local, project or user"))
        }),
    }
}

impl McpAdd {
    fn spec(&self) -> Result<McpSpec, EntityError> {
        let t = self.transport.as_deref().unwrap_or("stdio");
        let transport = Transport::parse(t).ok_or_else(|| {
            EntityError::Invalid(format!("transport {t:?}: give stdio, http or sse"))
        })?;
        Ok(McpSpec {
            transport,
            target: self.target.trim().to_string(),
            args: self.args.clone(),
            env: self.env.clone(),
            headers: self.headers.clone(),
        })
    }
}

async fn mcp_add(State(v): State<Arc<Viewer>>, axum::Json(body): axum::Json<McpAdd>) -> Response {
    answer(
        blocking(move || {
            let scope = mcp_scope(body.scope.as_deref(), McpScope::Local)?;
            let spec = body.spec()?;
            let file = mcp_files(&v)?.add(&body.name, scope, &spec)?;
            Ok(json!({
                "done": format!("Added {} MCP server {} to {} config", spec.transport.as_str(), body.name, scope.as_str()),
                "file": file.display().to_string(),
            }))
        })
        .await,
    )
}

/// `POST /api/mcp/edit`: the body of `add`, naming a server that exists (in `scope`, or in the
/// one scope that has it).
async fn mcp_edit(State(v): State<Arc<Viewer>>, axum::Json(body): axum::Json<McpAdd>) -> Response {
    answer(
        blocking(move || {
            let scope = match body.scope.as_deref() {
                Some(s) => Some(mcp_scope(Some(s), McpScope::Local)?),
                None => None,
            };
            let spec = body.spec()?;
            let (scope, file) = mcp_files(&v)?.edit(&body.name, scope, &spec)?;
            Ok(json!({
                "done": format!("Changed MCP server {} in {} config", body.name, scope.as_str()),
                "file": file.display().to_string(),
            }))
        })
        .await,
    )
}

/// The body of `POST /api/mcp/remove`.
#[derive(Debug, Deserialize)]
struct McpRemove {
    name: String,
    scope: Option<String>,
}

async fn mcp_remove(
    State(v): State<Arc<Viewer>>,
    axum::Json(body): axum::Json<McpRemove>,
) -> Response {
    answer(
        blocking(move || {
            let scope = match body.scope.as_deref() {
                Some(s) => Some(mcp_scope(Some(s), McpScope::Local)?),
                None => None,
            };
            let removed = mcp_files(&v)?.remove(&body.name, scope)?;
            Ok(json!({
                "done": format!("Removed MCP server {} from {} config", body.name, removed.as_str()),
            }))
        })
        .await,
    )
}
