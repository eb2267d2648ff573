//! Live updates: the viewer's folders watched with `notify`, their changes grouped for a moment
//! and told to every open page over a WebSocket (`GET /api/live`), as `docs` (pages changed),
//! `context` (what Claude Code loads changed) or `transcripts` (a session file grew).
//!
//! Only the folders that matter are watched, each by itself where a tree could be large: the
//! docs folder's walked folders, the Claude home's entity folders and plugin records, the
//! project's `.claude/`, and the Claude home's `projects/` (transcripts). The watcher starts
//! with the first page that listens.
//!
//! Must not read what changed: pages fetch it again through the API.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use notify::{EventKind, RecursiveMode, Watcher};
use serde::Serialize;
use tokio::sync::broadcast;

use super::{Viewer, pages};

/// How long changes are gathered before pages are told: an editor's save is several events
/// within milliseconds, and a page must see the change within a second.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// Changes queued per listening page; a page that falls further behind is told to reload all.
const LIVE_QUEUE: usize = 64;
/// Entity folders of the Claude home watched with everything below them.
const HOME_ENTITY_DIRS: &[&str] = &["skills", "commands", "agents"];

/// What changed, as a page is told.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// Pages of the docs folder (relative paths); an empty list means the tree itself changed.
    Docs { paths: Vec<String> },
    /// Skills, commands, agents, hooks, MCP servers, plugins or marketplaces.
    Context,
    /// Session files under the Claude home's `projects/` (absolute paths).
    Transcripts { paths: Vec<String> },
    /// The page missed changes: it should read everything again.
    Resync,
}

/// The running watcher and the channel pages listen on.
pub struct Live {
    tx: broadcast::Sender<Change>,
    watched: Arc<Mutex<Watched>>,
}

struct Watched {
    watcher: notify::RecommendedWatcher,
    paths: HashSet<PathBuf>,
}

impl Live {
    /// Starts watching `viewer`'s folders.
    pub fn start(viewer: &Viewer) -> notify::Result<Live> {
        let (raw_tx, raw_rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let watcher = notify::recommended_watcher(move |ev| {
            let _ = raw_tx.send(ev);
        })?;
        let watched = Arc::new(Mutex::new(Watched {
            watcher,
            paths: HashSet::new(),
        }));
        let (tx, _) = broadcast::channel(LIVE_QUEUE);
        let targets = Targets::of(viewer);
        targets.watch(&watched);
        let live = Live {
            tx: tx.clone(),
            watched: watched.clone(),
        };
        std::thread::Builder::new()
            .name("aisys-docs-live".into())
            .spawn(move || gather(raw_rx, targets, watched, tx))
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(live)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// How many folders are watched (for the viewer's start line and tests).
    pub fn watched(&self) -> usize {
        lock(&self.watched).paths.len()
    }
}

fn lock(w: &Mutex<Watched>) -> std::sync::MutexGuard<'_, Watched> {
    // A poisoned set of watches is still the set of watches.
    w.lock().unwrap_or_else(|e| e.into_inner())
}

/// The folders to watch and how to tell what a changed path is.
#[derive(Debug, Clone)]
struct Targets {
    docs_root: PathBuf,
    claude_home: PathBuf,
    claude_json: Option<PathBuf>,
    projects: Vec<PathBuf>,
}

impl Targets {
    fn of(v: &Viewer) -> Targets {
        Targets {
            docs_root: v.docs_root.clone(),
            claude_home: v.claude_home.clone(),
            claude_json: v.claude_json.clone(),
            projects: crate::entities::Roots::project_dirs(&v.project),
        }
    }

    fn list(&self) -> Vec<(PathBuf, RecursiveMode)> {
        let mut out: Vec<(PathBuf, RecursiveMode)> = pages::walk(&self.docs_root)
            .dirs
            .into_iter()
            .map(|d| (d, RecursiveMode::NonRecursive))
            .collect();
        out.push((self.claude_home.clone(), RecursiveMode::NonRecursive));
        for d in HOME_ENTITY_DIRS {
            out.push((self.claude_home.join(d), RecursiveMode::Recursive));
        }
        out.push((
            self.claude_home.join("plugins"),
            RecursiveMode::NonRecursive,
        ));
        out.push((self.claude_home.join("projects"), RecursiveMode::Recursive));
        if let Some(parent) = self.claude_json.as_deref().and_then(Path::parent) {
            out.push((parent.to_path_buf(), RecursiveMode::NonRecursive));
        }
        for p in &self.projects {
            out.push((p.clone(), RecursiveMode::NonRecursive));
            out.push((p.join(".claude"), RecursiveMode::Recursive));
        }
        out
    }

    /// Adds a watch for every target that exists and is not watched yet (folders appear: a
    /// first skill creates `skills/`).
    fn watch(&self, watched: &Mutex<Watched>) {
        let mut w = lock(watched);
        for (path, mode) in self.list() {
            if w.paths.contains(&path) || !path.is_dir() {
                continue;
            }
            match w.watcher.watch(&path, mode) {
                Ok(()) => {
                    w.paths.insert(path);
                }
                Err(e) => tracing::warn!("cannot watch {}: {e}", path.display()),
            }
        }
    }

    /// What a changed path is; `None` for paths nobody shows.
    fn classify(&self, path: &Path) -> Option<Change> {
        let projects_dir = self.claude_home.join("projects");
        if path.starts_with(&projects_dir) {
            return path
                .extension()
                .is_some_and(|e| e == "jsonl")
                .then(|| Change::Transcripts {
                    paths: vec![path.display().to_string()],
                });
        }
        let context = path.starts_with(&self.claude_home)
            || self.claude_json.as_deref() == Some(path)
            || self
                .projects
                .iter()
                .any(|p| path.starts_with(p.join(".claude")) || path == p.join(".mcp.json"));
        if context {
            return Some(Change::Context);
        }
        if let Ok(rel) = path.strip_prefix(&self.docs_root) {
            let name = rel.file_name()?.to_string_lossy();
            if pages::is_markdown(&name) {
                return Some(Change::Docs {
                    paths: vec![rel.to_string_lossy().replace('\\', "/")],
                });
            }
            if !name.contains('.') || path.is_dir() {
                return Some(Change::Docs { paths: vec![] });
            }
        }
        None
    }
}

/// The watcher's thread: gathers raw events for [`DEBOUNCE`], then tells pages what changed.
fn gather(
    raw: std::sync::mpsc::Receiver<notify::Result<notify::Event>>,
    targets: Targets,
    watched: Arc<Mutex<Watched>>,
    tx: broadcast::Sender<Change>,
) {
    while let Ok(first) = raw.recv() {
        let mut batch = vec![first];
        let until = std::time::Instant::now() + DEBOUNCE;
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match raw.recv_timeout(left) {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        let mut docs: BTreeSet<String> = BTreeSet::new();
        let mut docs_tree = false;
        let mut context = false;
        let mut transcripts: BTreeSet<String> = BTreeSet::new();
        let mut new_dirs = false;
        for ev in batch.into_iter().flatten() {
            if matches!(ev.kind, EventKind::Access(_)) {
                continue;
            }
            if matches!(ev.kind, EventKind::Create(_)) && ev.paths.iter().any(|p| p.is_dir()) {
                new_dirs = true;
            }
            for p in &ev.paths {
                match targets.classify(p) {
                    Some(Change::Docs { paths }) if paths.is_empty() => docs_tree = true,
                    Some(Change::Docs { paths }) => docs.extend(paths),
                    Some(Change::Context) => context = true,
                    Some(Change::Transcripts { paths }) => transcripts.extend(paths),
                    _ => {}
                }
            }
        }
        if new_dirs {
            targets.watch(&watched);
        }
        // Nobody listening is fine: the next page reads everything anyway.
        if docs_tree || !docs.is_empty() {
            let _ = tx.send(Change::Docs {
                paths: docs.into_iter().collect(),
            });
        }
        if context {
            let _ = tx.send(Change::Context);
        }
        if !transcripts.is_empty() {
            let _ = tx.send(Change::Transcripts {
                paths: transcripts.into_iter().collect(),
            });
        }
    }
}

/// Tells one page every change until it goes away.
pub async fn serve_socket(mut socket: WebSocket, mut rx: broadcast::Receiver<Change>) {
    loop {
        tokio::select! {
            change = rx.recv() => {
                let change = match change {
                    Ok(c) => c,
                    Err(broadcast::error::RecvError::Lagged(_)) => Change::Resync,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let Ok(text) = serde_json::to_string(&change) else { continue };
                if socket.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                // Pages send nothing but pings and the close.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_told_apart() {
        let t = Targets {
            docs_root: "/p/docs".into(),
            claude_home: "/h/.claude".into(),
            claude_json: Some("/h/.claude.json".into()),
            projects: vec!["/p".into()],
        };
        assert_eq!(
            t.classify(Path::new("/p/docs/guide/a.md")),
            Some(Change::Docs {
                paths: vec!["guide/a.md".into()]
            })
        );
        assert_eq!(t.classify(Path::new("/p/docs/.a.md.swp")), None);
        assert_eq!(
            t.classify(Path::new("/p/.claude/skills/x/SKILL.md")),
            Some(Change::Context)
        );
        assert_eq!(t.classify(Path::new("/p/.mcp.json")), Some(Change::Context));
        assert_eq!(
            t.classify(Path::new("/h/.claude.json")),
            Some(Change::Context)
        );
        assert_eq!(t.classify(Path::new("/h/.bashrc")), None);
        assert_eq!(
            t.classify(Path::new("/h/.claude/projects/-p/s.jsonl")),
            Some(Change::Transcripts {
                paths: vec!["/h/.claude/projects/-p/s.jsonl".into()]
            })
        );
    }
}
