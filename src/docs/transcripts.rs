//! The Transcripts tab's API: Claude Code's sessions on disk, each rendered by the converters.
//!
//! Must not parse transcripts itself: `converters` does.

use std::sync::Arc;

use axum::Router;

use super::Viewer;

pub fn routes() -> Router<Arc<Viewer>> {
    Router::new()
}
