//! One `notify` watcher (one inotify instance) for every host watch of this process, its events
//! handed to each watch whose root they fall under. The kernel allows a user 128 inotify
//! instances by default (`fs.inotify.max_user_instances`), so a watcher per workspace would stop
//! watching past about a hundred sessions; watches (folders) have a limit of their own, far
//! higher, which [`super::MAX_WATCHED_DIRS`] keeps each workspace's share of.
//!
//! Must not decide what a change is: it only routes the kernel's events.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, OnceLock};

use notify::{RecursiveMode, Watcher};

use super::super::EnvError;

type RawEvent = notify::Result<notify::Event>;

struct Shared {
    watcher: Mutex<notify::RecommendedWatcher>,
    routes: &'static Mutex<Routes>,
}

#[derive(Default)]
struct Routes {
    next_id: u64,
    /// Each watch's root and where its events go.
    by_id: Vec<(u64, PathBuf, Sender<RawEvent>)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's watcher, made on first use; its error, when the kernel refused one.
fn shared() -> Result<&'static Shared, EnvError> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let routes: &'static Mutex<Routes> = Box::leak(Box::default());
            notify::recommended_watcher(move |ev: RawEvent| dispatch(&lock(routes), ev))
                .map(|w| Shared {
                    watcher: Mutex::new(w),
                    routes,
                })
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EnvError::Backend(format!("watching workspaces: {e}")))
}

/// Hands an event to the watches it concerns: those whose root holds one of its paths, or all
/// of them when it names no path (the kernel's queue overflowed) or is an error.
fn dispatch(routes: &Routes, ev: RawEvent) {
    match ev {
        Ok(e) if !e.paths.is_empty() && !e.need_rescan() => {
            for (_, root, tx) in &routes.by_id {
                if e.paths.iter().any(|p| p.starts_with(root)) {
                    let _ = tx.send(Ok(e.clone()));
                }
            }
        }
        Ok(e) => {
            for (_, _, tx) in &routes.by_id {
                let _ = tx.send(Ok(e.clone()));
            }
        }
        Err(err) => {
            for (_, _, tx) in &routes.by_id {
                let _ = tx.send(Err(notify::Error::generic(&err.to_string())));
            }
        }
    }
}

/// One watch's share of the process's watcher: the events under its root reach `tx` until it
/// is dropped. Its owner unwatches the folders it watched.
pub(super) struct Route {
    id: u64,
    shared: &'static Shared,
}

impl Route {
    pub(super) fn new(root: &Path, tx: Sender<RawEvent>) -> Result<Route, EnvError> {
        let shared = shared()?;
        let mut routes = lock(shared.routes);
        routes.next_id += 1;
        let id = routes.next_id;
        routes.by_id.push((id, root.to_path_buf(), tx));
        Ok(Route { id, shared })
    }

    /// Watches one folder (not what is below it); false when the kernel refused.
    pub(super) fn watch(&self, dir: &Path) -> bool {
        lock(&self.shared.watcher)
            .watch(dir, RecursiveMode::NonRecursive)
            .is_ok()
    }

    /// Stops watching one folder; one deleted since is no longer watched, and that is fine.
    pub(super) fn unwatch(&self, dir: &Path) {
        let _ = lock(&self.shared.watcher).unwatch(dir);
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        lock(self.shared.routes)
            .by_id
            .retain(|(id, _, _)| *id != self.id);
    }
}
