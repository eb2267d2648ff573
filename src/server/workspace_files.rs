//! A session's workspace as the browser client's file panel sees it: the list of its entries and
//! one file's text, read on the host from the session's workspace folder.
//!
//! The agent can change that folder at any time, so nothing here follows a link: the listing
//! reports links as links without entering them, and a file is read through
//! [`beneath`](crate::runtime::env::beneath), which refuses a link anywhere on the path. Both are
//! bounded: a listing stops at [`MAX_ENTRIES`], a read at [`MAX_READ_BYTES`]. Folders such as `.git`
//! and `node_modules` are listed but not entered ([`watch::is_entered`], the rule the workspace
//! watches follow too).
//!
//! Must not write anything, and must not read outside the workspace.

use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;

use super::session::SessionError;
use crate::runtime::env::{beneath, watch};
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
/// after it. Returns the entries and whether the listing was cut at [`MAX_ENTRIES`].
pub fn list(workspace: &Path, since: Option<Timestamp>) -> (Vec<WorkspaceFile>, bool) {
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
            let kind = if meta.file_type().is_symlink() {
                FileKind::Link
            } else if meta.is_dir() {
                FileKind::Dir
            } else if meta.is_file() {
                FileKind::File
            } else {
                FileKind::Other
            };
            let modified = meta
                .modified()
                .ok()
                .and_then(|m| Timestamp::try_from(m).ok());
            // The watches of `runtime::env::watch` skip the same folders.
            if kind == FileKind::Dir && watch::is_entered(&entry.file_name()) {
                stack.push(path.clone());
            }
            out.push(WorkspaceFile {
                path: path.to_string_lossy().into_owned(),
                kind,
                size: if kind == FileKind::File {
                    meta.len()
                } else {
                    0
                },
                modified: modified.map(|t| t.to_string()),
                changed: match (since, modified) {
                    (Some(s), Some(m)) => {
                        kind == FileKind::File && m >= s.checked_sub(FILE_CLOCK_SLACK).unwrap_or(s)
                    }
                    _ => false,
                },
            });
        }
    }
    out.sort_by(|a, b| {
        let dir = |f: &WorkspaceFile| f.kind != FileKind::Dir;
        (dir(a), &a.path).cmp(&(dir(b), &b.path))
    });
    (out, truncated)
}

/// What [`read`] found.
pub struct FileText {
    pub size: u64,
    pub text: String,
    pub binary: bool,
    pub truncated: bool,
}

/// The text of `path` (relative, inside the workspace) up to [`MAX_READ_BYTES`].
pub fn read(workspace: &Path, path: &str) -> Result<FileText, SessionError> {
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
    let (data, size) = beneath::read_capped(workspace, rel, MAX_READ_BYTES).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::NotFound
        } else {
            ErrorCode::BadRequest
        };
        SessionError::new(code, format!("{path}: {e}"))
    })?;
    let truncated = size > data.len() as u64;
    Ok(match String::from_utf8(data) {
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
    })
}
