//! The Transcripts tab's API: Claude Code's sessions on disk (`GET /api/transcripts`, the data of
//! `aisys transcript list`, with `?q=` keeping those whose file holds every word), and one
//! session (`GET /api/transcripts/view?file=`) rendered by the same HTML renderer as `transcript
//! parse --format html`, subagents nested under their calls, with its usage as `transcript stats`
//! counts it. `follow` keeps an open session up to date as it grows.
//!
//! A session is named by its file relative to Claude Code's `projects/` folder, read without
//! following links; nothing outside that folder is read.
//!
//! Must not parse transcripts itself: `converters` does.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Viewer, blocking, failure};
use crate::converters::sessions::list_sessions;
use crate::converters::usage::{self, Grouping, PriceTable, ScanOptions};
use crate::converters::{
    ConvertOptions, Input, InputReader, SessionHeader, convert_one, html_blocks,
};
use crate::runtime::env::beneath;
use crate::types::ConversationBlock;

/// Tool output lines shown before the rest is cut, as `transcript parse` cuts by default.
pub const MAX_OUTPUT_LINES: usize = 40;
/// Largest session file searched by `?q=` (bytes read from its start): beyond this a session
/// is searched in its first part only.
const MAX_SEARCH_BYTES: u64 = 32 * 1024 * 1024;

pub fn routes() -> Router<Arc<Viewer>> {
    Router::new()
        .route("/api/transcripts", get(list))
        .route("/api/transcripts/view", get(view))
        .route("/api/transcripts/follow", get(super::follow::follow_socket))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    q: Option<String>,
}

/// Whether the file holds every word (ignoring case).
fn file_holds(path: &Path, words: &[String]) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut bytes = Vec::new();
    if f.take(MAX_SEARCH_BYTES).read_to_end(&mut bytes).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&bytes).to_lowercase();
    words.iter().all(|w| text.contains(w.as_str()))
}

async fn list(State(v): State<Arc<Viewer>>, Query(q): Query<ListQuery>) -> Response {
    let projects = v.claude_projects();
    let r = blocking(move || {
        if !projects.is_dir() {
            return Ok::<_, String>(Vec::new());
        }
        let words: Vec<String> =
            q.q.as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_lowercase)
                .collect();
        let list = list_sessions(&projects).map_err(|e| e.to_string())?;
        Ok(list
            .sessions
            .into_iter()
            .filter(|s| words.is_empty() || file_holds(&s.path, &words))
            .map(|s| {
                json!({
                    "id": s.id,
                    "file": s.path.strip_prefix(&projects).unwrap_or(&s.path).display().to_string(),
                    "project_dir": s.project_dir,
                    "first_prompt": s.first_prompt,
                    "started": s.started.map(|t| t.to_string()),
                    "last_activity": s.last_activity.map(|t| t.to_string()),
                    "messages": s.messages,
                })
            })
            .collect::<Vec<_>>())
    })
    .await;
    match r {
        Ok(Ok(sessions)) => axum::Json(json!({ "sessions": sessions })).into_response(),
        Ok(Err(e)) => failure(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct ViewQuery {
    file: String,
}

/// Checks a session's file name: relative to `projects/`, plain names, a `.jsonl` file, and no
/// link on the way.
fn session_path(projects: &Path, file: &str) -> Result<PathBuf, String> {
    let rel = Path::new(file);
    let plain = !file.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain || !file.ends_with(".jsonl") {
        return Err(format!(
            "{file:?}: give a session file relative to Claude Code's projects folder, such as -home-me-project/<id>.jsonl"
        ));
    }
    match beneath::kind(projects, rel) {
        Ok(Some(beneath::Kind::File)) => Ok(projects.join(rel)),
        Ok(None) => Err(format!("{file:?}: no such session")),
        Ok(Some(_)) => Err(format!("{file:?}: not a regular file")),
        Err(e) => Err(format!("{file:?}: {e}")),
    }
}

/// One top-level block of a session, rendered.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BlockHtml {
    /// The block's id, stable across readings of the same lines: a later version of the block
    /// replaces the one with this id.
    pub id: String,
    pub html: String,
}

impl BlockHtml {
    /// `block` rendered as `transcript parse --format html` renders it.
    pub fn of(block: &ConversationBlock) -> BlockHtml {
        BlockHtml {
            id: block.id.clone(),
            html: html_blocks(std::slice::from_ref(block), MAX_OUTPUT_LINES),
        }
    }
}

/// A whole session as the tab shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionPage {
    pub title: Option<String>,
    /// Its top-level blocks in order, each rendered.
    pub blocks: Vec<BlockHtml>,
    pub bad_lines: Vec<String>,
    pub usage: usage::Report,
}

/// Why a session could not be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError(pub StatusCode, pub String);

/// A session file's path from its name, with the status to answer when it is not one.
pub fn session_file(projects: &Path, file: &str) -> Result<PathBuf, SessionError> {
    session_path(projects, file).map_err(|e| {
        let status = if e.ends_with("no such session") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        SessionError(status, e)
    })
}

/// Reads and renders the whole session at `path` (the whole-file reader: rewinds and compactions
/// in their place, subagents nested), with its usage.
pub fn session_page(path: &Path) -> Result<SessionPage, SessionError> {
    // The renderer hands back bytes; the blocks, each rendered by itself, are kept here instead.
    let rendered: Mutex<Vec<BlockHtml>> = Mutex::new(Vec::new());
    let render = |blocks: &[ConversationBlock], _header: &SessionHeader, _out: &mut Vec<u8>| {
        *rendered.lock().unwrap_or_else(|p| p.into_inner()) =
            blocks.iter().map(BlockHtml::of).collect();
        Ok(())
    };
    let options = ConvertOptions::default();
    let mut reader = InputReader::new(options.read);
    let converted = convert_one(
        &Input::file(path.to_path_buf()),
        &options,
        &mut reader,
        &render,
    );
    let unreadable = |e: String| SessionError(StatusCode::UNPROCESSABLE_ENTITY, e);
    if let Some(e) = converted.error {
        return Err(unreadable(e.to_string()));
    }
    let blocks = rendered.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(SessionPage {
        title: converted.title,
        blocks,
        bad_lines: converted
            .bad_lines
            .iter()
            .map(ToString::to_string)
            .collect(),
        usage: session_usage(path).map_err(unreadable)?,
    })
}

/// The session's usage, its subagents' files included, as `transcript stats` counts it.
pub fn session_usage(path: &Path) -> Result<usage::Report, String> {
    let mut files = vec![path.to_path_buf()];
    let sub = path.with_extension("").join("subagents");
    if let Ok(rd) = std::fs::read_dir(&sub) {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        more.sort();
        files.extend(more);
    }
    usage::count(
        &files,
        Grouping::Model,
        &PriceTable::builtin(),
        &jiff::tz::TimeZone::UTC,
        &ScanOptions::default(),
    )
    .map_err(|e| e.to_string())
}

async fn view(State(v): State<Arc<Viewer>>, Query(q): Query<ViewQuery>) -> Response {
    let projects = v.claude_projects();
    let r = blocking(move || {
        let path = session_file(&projects, &q.file)?;
        let page = session_page(&path)?;
        let html: String = page.blocks.iter().map(|b| b.html.as_str()).collect();
        Ok::<_, SessionError>(json!({
            "file": q.file,
            "title": page.title,
            "html": html,
            "bad_lines": page.bad_lines,
            "usage": page.usage,
        }))
    })
    .await;
    match r {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(SessionError(status, e))) => failure(status, e),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_files_stay_in_the_projects_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("p")).unwrap();
        std::fs::write(d.path().join("p/s.jsonl"), "").unwrap();
        assert!(session_path(d.path(), "p/s.jsonl").is_ok());
        for bad in [
            "../x.jsonl",
            "/etc/x.jsonl",
            "p/s.json",
            "",
            "p/../p/s.jsonl",
        ] {
            assert!(session_path(d.path(), bad).is_err(), "{bad}");
        }
        std::os::unix::fs::symlink(d.path().join("p"), d.path().join("l")).unwrap();
        assert!(session_path(d.path(), "l/s.jsonl").is_err());
    }
}
