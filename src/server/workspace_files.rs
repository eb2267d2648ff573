//! A session's workspace as the browser client's file panel sees it: the list of its entries and
//! one file's text. They are read where the latest version of the files is: inside the session's
//! sandbox when it runs one whose workspace is not the host folder (Modal, whose workspace is a
//! copy of the host folder made with the sandbox), else on the host, from the workspace folder.
//!
//! The agent can change that folder at any time, so nothing here follows a link: the listing
//! reports links as links without entering them, and a file is read through
//! [`beneath`](crate::runtime::env::beneath) on the host, or by the sandbox's own reader, both of
//! which refuse a link anywhere on the path. Both are bounded: a listing stops at
//! [`MAX_ENTRIES`], a read at [`MAX_READ_BYTES`]. Folders such as `.git` and `node_modules` are
//! listed but not entered ([`watch::is_entered`], the rule the workspace watches follow too).
//!
//! Must not write anything, and must not read outside the workspace.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;

use super::session::SessionError;
use crate::runtime::env::watch::Entry;
use crate::runtime::env::{EnvError, Sandbox, beneath, watch};
use crate::types::{ErrorCode, FileKind, WorkspaceFile};

/// Most entries one listing returns: enough for a project's source tree, small enough for one
/// frame; a larger tree says it was cut.
pub const MAX_ENTRIES: usize = 5_000;
/// Most bytes of one file sent to a client: a file viewer shows text, not build outputs.
pub const MAX_READ_BYTES: u64 = 512 * 1024;
/// How much earlier than the session's creation a file's time may be and still count as changed
/// in it: file times come from the kernel's coarse clock, which lags the clock the creation time
/// was read from by up to a scheduler tick.
const FILE_CLOCK_SLACK: std::time::Duration = std::time::Duration::from_millis(50);

/// The workspace's entries, folders before files, each sorted by path; `since` marks what changed
/// after it. Listed in `sandbox` when it has its own copy of the workspace, else in the host
/// folder `workspace`. Returns the entries and whether the listing was cut at [`MAX_ENTRIES`].
pub async fn list(
    sandbox: Option<Arc<dyn Sandbox>>,
    workspace: PathBuf,
    since: Option<Timestamp>,
) -> Result<(Vec<WorkspaceFile>, bool), SessionError> {
    if let Some(sandbox) = sandbox {
        match sandbox.list_workspace().await {
            Ok(Some(entries)) => {
                let truncated = entries.len() > MAX_ENTRIES;
                let mut entries: Vec<_> = entries.into_iter().collect();
                // The shallowest entries, as the host's walk keeps when it is cut.
                entries.sort_by_key(|(p, _)| (p.matches('/').count(), p.clone()));
                entries.truncate(MAX_ENTRIES);
                return Ok((files(entries, since), truncated));
            }
            // The sandbox ended meanwhile: its files came home.
            Ok(None) | Err(EnvError::Terminated) => {}
            Err(e) => return Err(SessionError::new(ErrorCode::Internal, e.to_string())),
        }
    }
    tokio::task::spawn_blocking(move || {
        let (entries, truncated) = list_host(&workspace);
        (files(entries, since), truncated)
    })
    .await
    .map_err(|e| SessionError::new(ErrorCode::Internal, e.to_string()))
}

/// The host folder's entries, walked until [`MAX_ENTRIES`]; and whether the walk was cut.
fn list_host(workspace: &Path) -> (Vec<(String, Entry)>, bool) {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    let mut truncated = false;
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(workspace.join(&rel)) else {
            continue;
        };
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(|e| e.file_name());
        for entry in names.into_iter().rev() {
            if out.len() >= MAX_ENTRIES {
                truncated = true;
                break;
            }
            let path = rel.join(entry.file_name());
            // The entry's own metadata: a link is not followed.
            let Ok(meta) = entry.metadata() else { continue };
            let e = Entry::of(&meta);
            // The watches of `runtime::env::watch` skip the same folders.
            if e.kind == FileKind::Dir && watch::is_entered(&entry.file_name()) {
                stack.push(path.clone());
            }
            out.push((path.to_string_lossy().into_owned(), e));
        }
    }
    (out, truncated)
}

/// `entries` as a client sees them: folders before files, each sorted by path, files changed
/// after `since` marked.
fn files(entries: Vec<(String, Entry)>, since: Option<Timestamp>) -> Vec<WorkspaceFile> {
    let since = since.map(|s| s.checked_sub(FILE_CLOCK_SLACK).unwrap_or(s));
    let mut out: Vec<WorkspaceFile> = entries
        .into_iter()
        .map(|(path, e)| {
            let modified = (e.mtime != 0)
                .then(|| Timestamp::from_nanosecond(e.mtime).ok())
                .flatten();
            WorkspaceFile {
                path,
                kind: e.kind,
                size: e.size,
                modified: modified.map(|t| t.to_string()),
                changed: e.kind == FileKind::File
                    && matches!((since, modified), (Some(s), Some(m)) if m >= s),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let dir = |f: &WorkspaceFile| f.kind != FileKind::Dir;
        (dir(a), &a.path).cmp(&(dir(b), &b.path))
    });
    out
}

/// What [`read`] found.
pub struct FileText {
    pub size: u64,
    pub text: String,
    pub binary: bool,
    pub truncated: bool,
}

/// The text of `path` (relative, inside the workspace) up to [`MAX_READ_BYTES`], read where
/// [`list`] lists.
pub async fn read(
    sandbox: Option<Arc<dyn Sandbox>>,
    workspace: PathBuf,
    path: &str,
) -> Result<FileText, SessionError> {
    let rel = Path::new(path);
    let outside = rel.is_absolute()
        || rel.components().any(|c| !matches!(c, Component::Normal(_)))
        || path.is_empty();
    if outside {
        return Err(SessionError::new(
            ErrorCode::BadRequest,
            format!(
                "path {path:?}: give a path inside the workspace, relative to it, without `..`"
            ),
        ));
    }
    let io_error = |e: std::io::Error| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::NotFound
        } else {
            ErrorCode::BadRequest
        };
        SessionError::new(code, format!("{path}: {e}"))
    };
    let mut read = None;
    if let Some(sandbox) = sandbox {
        match sandbox.read_workspace_file(path, MAX_READ_BYTES).await {
            Ok(r) => read = r,
            // The sandbox ended meanwhile: its files came home.
            Err(EnvError::Terminated) => {}
            Err(EnvError::File { source, .. }) => return Err(io_error(source)),
            Err(e) => return Err(SessionError::new(ErrorCode::Internal, e.to_string())),
        }
    }
    let (data, size) = match read {
        Some(r) => r,
        None => {
            let rel = rel.to_path_buf();
            tokio::task::spawn_blocking(move || {
                beneath::read_capped(&workspace, &rel, MAX_READ_BYTES)
            })
            .await
            .map_err(|e| SessionError::new(ErrorCode::Internal, e.to_string()))?
            .map_err(io_error)?
        }
    };
    Ok(text_of(data, size))
}

/// `data`, the first bytes of a file of `size` bytes, as a client is sent it.
fn text_of(data: Vec<u8>, size: u64) -> FileText {
    let truncated = size > data.len() as u64;
    match String::from_utf8(data) {
        Ok(text) => FileText {
            size,
            text,
            binary: false,
            truncated,
        },
        // A cut in the middle of a character is still text.
        Err(e) if truncated && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            FileText {
                size,
                text: String::from_utf8(bytes).unwrap_or_default(),
                binary: false,
                truncated,
            }
        }
        Err(_) => FileText {
            size,
            text: String::new(),
            binary: true,
            truncated,
        },
    }
}
