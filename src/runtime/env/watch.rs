//! Watching a sandbox's workspace: what was created, modified or deleted in it, as
//! [`FileChange`]s, for clients that show the workspace live.
//!
//! - Which folders are listed by name but not entered ([`is_entered`]): version control and
//!   dependency trees. The server's file listing and every watch use this one rule.
//! - [`WorkspaceWatch`], what [`Sandbox::watch_workspace`](super::Sandbox::watch_workspace)
//!   returns: reports of changes, gathered for [`DEBOUNCE`] and bounded by
//!   [`MAX_CHANGES_PER_WINDOW`] (past it, one [`WatchReport::Overflow`] instead of a flood).
//! - [`Tracker`]: the entries known so far, so that a path seen again is told apart as created,
//!   modified or deleted; shared by the host watcher and backends that compare listings (Modal).
//! - [`watch_host`]: the watch of a workspace that is a host folder (the `local` and `host`
//!   backends), with `notify`, one folder at a time so that skipped trees cost no watches; one
//!   inotify instance for all of them ([`shared`]).
//!
//! Must not follow links, read what files hold, or write anything.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::EventKind;
use notify::event::{AccessKind, AccessMode};
use tokio::sync::{Notify, mpsc};

use super::EnvError;
use crate::types::{FileChange, FileChangeKind, FileKind};

mod shared;

/// Folders listed by name but not entered: version control and dependency trees, which are large
/// and not what a reader of the agent's work looks for.
pub const NOT_ENTERED: &[&str] = &[".git", "node_modules", "target", ".venv", "__pycache__"];
/// How long changes are gathered before they are reported: writing one file is several kernel
/// events (create, writes, close) within milliseconds, and a reader should see it within a
/// fraction of a second.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// Most changes reported one by one per [`DEBOUNCE`] window: a page applies a hundred rows at
/// once without a stall, while an install or a build changes thousands, better listed again.
pub const MAX_CHANGES_PER_WINDOW: usize = 100;
/// Most entries a watch keeps track of: the server's listing shows at most 5,000, and a tree
/// four times that is still a few megabytes of memory.
pub const MAX_TRACKED: usize = 20_000;
/// Most folders one host watch watches: inotify watches are shared by all of the user's
/// processes (8,192 by default on older kernels); the rest of a larger tree is not reported.
pub const MAX_WATCHED_DIRS: usize = 2_000;
/// Reports waiting for the session; a session further behind gets one overflow report.
const WATCH_QUEUE: usize = 16;
/// How often an idle host watch checks whether anyone still listens (it stops when not).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Whether a listing or a watch enters a folder of this name.
pub fn is_entered(name: &OsStr) -> bool {
    !NOT_ENTERED.iter().any(|n| OsStr::new(n) == name)
}

/// What a watch reports after a window of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchReport {
    /// These entries changed, in path order.
    Changed(Vec<FileChange>),
    /// More changed than is reported one by one (`changes` of them, or 0 when the watch missed
    /// some and cannot tell how many): list the workspace again.
    Overflow { changes: usize },
}

/// A watch of a sandbox's workspace. Dropping it stops the watch.
pub struct WorkspaceWatch {
    reports: mpsc::Receiver<WatchReport>,
    look: Option<Arc<Notify>>,
}

impl WorkspaceWatch {
    /// The next report; `None` once the watch has stopped (its sandbox went away).
    pub async fn next(&mut self) -> Option<WatchReport> {
        self.reports.recv().await
    }

    /// What tells the watch to look now, for backends that notice changes only when they look
    /// (Modal compares listings); `None` for backends that hear of every change.
    pub fn looker(&self) -> Option<Arc<Notify>> {
        self.look.clone()
    }
}

/// The sending side of a watch, kept by whatever produces its reports.
pub(crate) struct Reporter {
    tx: mpsc::Sender<WatchReport>,
    /// A report did not fit in the queue: the next one is an overflow.
    missed: bool,
}

impl Reporter {
    /// A watch and its reporter; with `look`, the watch can be told to look now.
    pub(crate) fn new(look: Option<Arc<Notify>>) -> (WorkspaceWatch, Reporter) {
        let (tx, reports) = mpsc::channel(WATCH_QUEUE);
        (
            WorkspaceWatch { reports, look },
            Reporter { tx, missed: false },
        )
    }

    /// Reports one window's changes (nothing when there are none), as an overflow past
    /// [`MAX_CHANGES_PER_WINDOW`] or after `missed` changes.
    pub(crate) fn report(&mut self, changes: Vec<FileChange>, missed: bool) {
        let report = if missed || self.missed || changes.len() > MAX_CHANGES_PER_WINDOW {
            WatchReport::Overflow {
                changes: changes.len(),
            }
        } else if changes.is_empty() {
            return;
        } else {
            WatchReport::Changed(changes)
        };
        self.missed = self.tx.try_send(report).is_err();
    }

    /// Whether nobody listens any more.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until nobody listens any more.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await
    }
}

/// What a watch knows of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: FileKind,
    /// Bytes, for a file.
    pub size: u64,
    /// Modification time, in nanoseconds since the epoch (0 when unknown).
    pub mtime: i128,
}

impl Entry {
    /// The entry of this metadata (from `symlink_metadata`: a link is a link).
    pub fn of(meta: &std::fs::Metadata) -> Entry {
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            FileKind::Link
        } else if ft.is_dir() {
            FileKind::Dir
        } else if ft.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        };
        let mtime = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        Entry {
            kind,
            size: if kind == FileKind::File {
                meta.len()
            } else {
                0
            },
            mtime,
        }
    }
}

/// The entries known so far and what a new look at one of them means.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    known: BTreeMap<String, Entry>,
}

impl Tracker {
    /// A tracker that knows `entries` (a first listing: nothing is reported of them).
    pub(crate) fn knowing(entries: BTreeMap<String, Entry>) -> Tracker {
        Tracker { known: entries }
    }

    /// `path` is `now` (`None`: gone). A folder's own times change with its entries, so a
    /// folder is only ever created or deleted; a gone folder takes what was below it along.
    pub(crate) fn update(&mut self, path: &str, now: Option<Entry>, out: &mut Vec<FileChange>) {
        let before = self.known.get(path).copied();
        match (before, now) {
            (None, Some(e)) => {
                if self.known.len() < MAX_TRACKED {
                    self.known.insert(path.to_string(), e);
                }
                out.push(change(path, FileChangeKind::Created, e));
            }
            (Some(b), Some(e)) => {
                let changed = b.kind != e.kind
                    || (e.kind != FileKind::Dir && (b.size != e.size || b.mtime != e.mtime));
                self.known.insert(path.to_string(), e);
                if changed {
                    out.push(change(path, FileChangeKind::Modified, e));
                }
                if b.kind == FileKind::Dir && e.kind != FileKind::Dir {
                    self.forget_below(path, out);
                }
            }
            (Some(b), None) => {
                self.known.remove(path);
                self.forget_below(path, out);
                out.push(change(
                    path,
                    FileChangeKind::Deleted,
                    Entry { size: 0, ..b },
                ));
            }
            (None, None) => {}
        }
    }

    /// Reports as deleted everything known below the folder `path`.
    fn forget_below(&mut self, path: &str, out: &mut Vec<FileChange>) {
        let prefix = format!("{path}/");
        let below: Vec<String> = self
            .known
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            if let Some(b) = self.known.remove(&k) {
                out.push(change(&k, FileChangeKind::Deleted, Entry { size: 0, ..b }));
            }
        }
    }

    /// A whole new listing: what it adds, changes and no longer has.
    pub(crate) fn compare(&mut self, listing: BTreeMap<String, Entry>) -> Vec<FileChange> {
        let mut out = Vec::new();
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|k| !listing.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            self.update(&k, None, &mut out);
        }
        for (k, e) in listing {
            self.update(&k, Some(e), &mut out);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

fn change(path: &str, kind: FileChangeKind, e: Entry) -> FileChange {
    FileChange {
        path: path.to_string(),
        kind,
        entry: e.kind,
        size: e.size,
    }
}

/// The entries of `root` below `start` (relative, `""` for all), entering folders by
/// [`is_entered`], at most [`MAX_TRACKED`]; `on_dir` is called for every folder entered.
fn walk(root: &Path, start: &str, mut on_dir: impl FnMut(&str)) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![start.to_string()];
    while let Some(rel) = stack.pop() {
        on_dir(&rel);
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            if out.len() >= MAX_TRACKED {
                return out;
            }
            let name = entry.file_name();
            let path = join(&rel, &name.to_string_lossy());
            // The entry's own metadata: a link is not followed.
            let Ok(meta) = entry.metadata() else { continue };
            let e = Entry::of(&meta);
            if e.kind == FileKind::Dir && is_entered(&name) {
                stack.push(path.clone());
            }
            out.insert(path, e);
        }
    }
    out
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// [`watch_host`] off the async threads (it lists the workspace first), as the host-folder
/// backends answer `watch_workspace`.
pub async fn watch_host_folder(root: PathBuf) -> Result<Option<WorkspaceWatch>, EnvError> {
    tokio::task::spawn_blocking(move || watch_host(root))
        .await
        .map_err(|e| EnvError::Backend(format!("watching the workspace: {e}")))?
        .map(Some)
}

/// Watches the host folder `root` (a workspace of the `local` or `host` backend): changes after
/// it returns are reported. It lists the folder first, so it blocks: call it off the runtime.
/// Every watch of the process shares one inotify instance ([`shared`]).
pub fn watch_host(root: PathBuf) -> Result<WorkspaceWatch, EnvError> {
    let (raw_tx, raw_rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    let route = shared::Route::new(&root, raw_tx)?;
    let (watch, reporter) = Reporter::new(None);
    let mut host = HostWatch {
        root,
        route,
        watched: HashSet::new(),
        tracker: Tracker::default(),
    };
    // The watches first, then the listing: a change in between is seen twice, never missed.
    let listing = host.walk_watching("");
    host.tracker = Tracker::knowing(listing);
    std::thread::Builder::new()
        .name("aisys-workspace-watch".into())
        .spawn(move || host.run(raw_rx, reporter))
        .map_err(|e| EnvError::Backend(format!("starting the workspace watch: {e}")))?;
    Ok(watch)
}

struct HostWatch {
    root: PathBuf,
    route: shared::Route,
    /// Folders watched, relative to the root (`""` is the root).
    watched: HashSet<String>,
    tracker: Tracker,
}

impl HostWatch {
    fn run(
        mut self,
        raw: std::sync::mpsc::Receiver<notify::Result<notify::Event>>,
        mut reporter: Reporter,
    ) {
        let mut touched = BTreeSet::new();
        let mut missed = false;
        let mut window: Option<Instant> = None;
        loop {
            let wait = window.map_or(IDLE_CHECK, |t| DEBOUNCE.saturating_sub(t.elapsed()));
            match raw.recv_timeout(wait) {
                Ok(Ok(ev)) => {
                    missed |= ev.need_rescan();
                    if matters(&ev.kind) || ev.need_rescan() {
                        touched.extend(ev.paths.iter().filter_map(|p| self.relative(p)));
                        window.get_or_insert_with(Instant::now);
                    }
                }
                Ok(Err(_)) => {
                    missed = true;
                    window.get_or_insert_with(Instant::now);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            }
            if reporter.is_closed() {
                return;
            }
            if window.is_some_and(|t| t.elapsed() >= DEBOUNCE) {
                window = None;
                let mut changes = Vec::new();
                if missed {
                    let listing = self.walk_watching("");
                    changes = self.tracker.compare(listing);
                } else {
                    for path in std::mem::take(&mut touched) {
                        self.look_at(&path, &mut changes);
                    }
                    changes.sort_by(|a, b| a.path.cmp(&b.path));
                    changes.dedup_by(|a, b| a.path == b.path && a.kind == b.kind);
                }
                touched.clear();
                reporter.report(changes, missed);
                missed = false;
            }
        }
    }

    /// `path` relative to the root, if it is below it and not the root itself.
    fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let s = rel.to_str()?.to_string();
        (!s.is_empty()).then_some(s)
    }

    /// Looks at one path an event named, and at everything below it when it is a new folder.
    fn look_at(&mut self, path: &str, out: &mut Vec<FileChange>) {
        let now = std::fs::symlink_metadata(self.root.join(path))
            .ok()
            .map(|m| Entry::of(&m));
        let name = Path::new(path).file_name().unwrap_or_default();
        let new_dir = now.is_some_and(|e| e.kind == FileKind::Dir)
            && is_entered(name)
            && !self.watched.contains(path);
        self.tracker.update(path, now, out);
        if new_dir {
            // What was made in it before its watch began is found by listing it.
            for (p, e) in self.walk_watching(path) {
                self.tracker.update(&p, Some(e), out);
            }
        }
        if now.is_none_or(|e| e.kind != FileKind::Dir) {
            let prefix = format!("{path}/");
            self.watched
                .retain(|w| w != path && !w.starts_with(&prefix));
        }
    }

    /// Lists below `start`, watching every folder entered (up to [`MAX_WATCHED_DIRS`]).
    fn walk_watching(&mut self, start: &str) -> BTreeMap<String, Entry> {
        let root = self.root.clone();
        let mut dirs = Vec::new();
        let listing = walk(&root, start, |d| dirs.push(d.to_string()));
        for d in dirs {
            if self.watched.len() >= MAX_WATCHED_DIRS || self.watched.contains(&d) {
                continue;
            }
            if self.route.watch(&root.join(&d)) {
                self.watched.insert(d);
            }
        }
        listing
    }
}

impl Drop for HostWatch {
    /// The watcher is the process's: the folders this watch added leave it with the watch.
    fn drop(&mut self) {
        for dir in &self.watched {
            self.route.unwatch(&self.root.join(dir));
        }
    }
}

/// Whether an event can mean a change: opening and reading a file cannot.
fn matters(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, mtime: i128) -> Entry {
        Entry {
            kind: FileKind::File,
            size,
            mtime,
        }
    }

    #[test]
    fn a_listing_compared_with_the_last_tells_created_modified_and_deleted() {
        let dir = Entry {
            kind: FileKind::Dir,
            size: 0,
            mtime: 1,
        };
        let mut t = Tracker::knowing(BTreeMap::from([
            ("a.txt".to_string(), file(1, 1)),
            ("d".to_string(), dir),
            ("d/x".to_string(), file(2, 1)),
            ("same".to_string(), file(3, 1)),
        ]));
        let changes = t.compare(BTreeMap::from([
            ("a.txt".to_string(), file(1, 2)),
            ("new".to_string(), file(4, 1)),
            ("same".to_string(), file(3, 1)),
        ]));
        let got: Vec<(&str, FileChangeKind)> =
            changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
        assert_eq!(
            got,
            [
                ("a.txt", FileChangeKind::Modified),
                ("d", FileChangeKind::Deleted),
                ("d/x", FileChangeKind::Deleted),
                ("new", FileChangeKind::Created),
            ]
        );
    }

    /// How long a test waits for a report: windows are [`DEBOUNCE`] long.
    const REPORT_WAIT: Duration = Duration::from_secs(10);

    async fn next(watch: &mut WorkspaceWatch) -> WatchReport {
        tokio::time::timeout(REPORT_WAIT, watch.next())
            .await
            .expect("no report in time")
            .expect("the watch stopped")
    }

    /// The changes of the next reports, until `n` paths have changed (a busy machine may split
    /// what happened at once over several windows: a file's creation and its write can come
    /// one window apart, and count as its creation), in path order.
    async fn changes(watch: &mut WorkspaceWatch, n: usize) -> Vec<FileChange> {
        let mut all = std::collections::BTreeMap::<String, FileChange>::new();
        while all.len() < n {
            match next(watch).await {
                WatchReport::Changed(c) => {
                    for change in c {
                        let created = all
                            .get(&change.path)
                            .is_some_and(|was| was.kind == FileChangeKind::Created);
                        let mut change = change;
                        if created && change.kind == FileChangeKind::Modified {
                            change.kind = FileChangeKind::Created;
                        }
                        all.insert(change.path.clone(), change);
                    }
                }
                other => panic!("{other:?} after {all:?}"),
            }
        }
        all.into_values().collect()
    }

    fn kinds(c: &[FileChange]) -> Vec<(&str, FileChangeKind)> {
        c.iter().map(|c| (c.path.as_str(), c.kind)).collect()
    }

    #[tokio::test]
    async fn more_workspaces_are_watched_than_the_kernel_gives_inotify_instances() {
        // 128 instances per user by default; every watch of the process shares one.
        const WORKSPACES: usize = 200;
        let dirs: Vec<_> = (0..WORKSPACES)
            .map(|_| tempfile::tempdir().unwrap())
            .collect();
        let mut watches: Vec<_> = dirs
            .iter()
            .map(|d| watch_host(d.path().to_path_buf()).expect("a watch past the 128th"))
            .collect();
        let last = WORKSPACES - 1;
        std::fs::write(dirs[0].path().join("first.txt"), "1").unwrap();
        std::fs::write(dirs[last].path().join("last.txt"), "2").unwrap();
        // Each hears of its own workspace only.
        assert_eq!(
            kinds(&changes(&mut watches[last], 1).await),
            [("last.txt", FileChangeKind::Created)]
        );
        assert_eq!(
            kinds(&changes(&mut watches[0], 1).await),
            [("first.txt", FileChangeKind::Created)]
        );
    }

    #[tokio::test]
    async fn host_writes_are_reported_and_skipped_folders_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::create_dir_all(root.join("node_modules/pkg")).unwrap();
        std::fs::write(root.join("old.txt"), "old").unwrap();
        let mut watch = watch_host(root.clone()).unwrap();

        std::fs::write(root.join(".git/objects/x"), "blob").unwrap();
        std::fs::write(root.join("node_modules/pkg/index.js"), "x").unwrap();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/deep/a.rs"), "fn a() {}").unwrap();
        let c = changes(&mut watch, 3).await;
        assert_eq!(
            kinds(&c),
            [
                ("src", FileChangeKind::Created),
                ("src/deep", FileChangeKind::Created),
                ("src/deep/a.rs", FileChangeKind::Created),
            ],
            "nothing inside .git or node_modules: {c:?}"
        );
        assert_eq!((c[2].entry, c[2].size), (FileKind::File, 9));

        // The new folder is watched too.
        std::fs::write(root.join("src/deep/a.rs"), "fn a() { 1 }").unwrap();
        std::fs::remove_file(root.join("old.txt")).unwrap();
        assert_eq!(
            kinds(&changes(&mut watch, 2).await),
            [
                ("old.txt", FileChangeKind::Deleted),
                ("src/deep/a.rs", FileChangeKind::Modified),
            ]
        );

        std::fs::remove_dir_all(root.join("src")).unwrap();
        assert_eq!(
            kinds(&changes(&mut watch, 3).await),
            [
                ("src", FileChangeKind::Deleted),
                ("src/deep", FileChangeKind::Deleted),
                ("src/deep/a.rs", FileChangeKind::Deleted),
            ]
        );

        // A burst past the cap is one overflow, and the watch goes on after it.
        // (Three times the cap, so that a window split by a busy machine still overflows.)
        for i in 0..3 * MAX_CHANGES_PER_WINDOW {
            std::fs::write(root.join(format!("f{i}")), "x").unwrap();
        }
        while !matches!(
            next(&mut watch).await,
            WatchReport::Overflow { changes } if changes > MAX_CHANGES_PER_WINDOW
        ) {}
        std::fs::write(root.join("after.txt"), "x").unwrap();
        loop {
            if let WatchReport::Changed(c) = next(&mut watch).await
                && c.iter().any(|c| c.path == "after.txt")
            {
                assert_eq!(kinds(&c), [("after.txt", FileChangeKind::Created)]);
                break;
            }
        }
    }

    #[test]
    fn past_the_cap_a_window_is_one_overflow() {
        let (mut watch, mut reporter) = Reporter::new(None);
        let many: Vec<FileChange> = (0..=MAX_CHANGES_PER_WINDOW)
            .map(|i| change(&format!("f{i}"), FileChangeKind::Created, file(0, 0)))
            .collect();
        reporter.report(many.clone(), false);
        reporter.report(many[..2].to_vec(), false);
        reporter.report(Vec::new(), false);
        drop(reporter);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(
                watch.next().await,
                Some(WatchReport::Overflow {
                    changes: MAX_CHANGES_PER_WINDOW + 1
                })
            );
            assert_eq!(
                watch.next().await,
                Some(WatchReport::Changed(many[..2].to_vec()))
            );
            assert_eq!(watch.next().await, None, "an empty window reports nothing");
        });
    }
}
