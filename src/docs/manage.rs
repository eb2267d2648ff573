//! The Plugins tab's API: the `entities` operations on marketplaces, plugins and MCP servers.
//!
//! Must not change Claude Code's files itself: `entities::install` and `entities::mcp` do.

use std::sync::Arc;

use axum::Router;

use super::Viewer;

pub fn routes() -> Router<Arc<Viewer>> {
    Router::new()
}
