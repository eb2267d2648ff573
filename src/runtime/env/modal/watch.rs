//! The workspace watch of a Modal sandbox: Modal offers no file events, so the watch lists the
//! workspace inside the sandbox (GNU `find`, through the bridge's `exec`) whenever it is told to
//! look (the server does after each tool result and at a turn's end) and compares the listing
//! with the last one.
//!
//! Must not read what files hold: the listing is names, kinds, sizes and times.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;

use super::super::watch::{Entry, NOT_ENTERED, Reporter, Tracker, WorkspaceWatch};
use super::{EnvError, ModalSandbox};
use crate::types::FileKind;

/// Most bytes of one listing: [`MAX_TRACKED`](super::super::watch::MAX_TRACKED) entries with
/// paths of a few hundred bytes; a larger listing is an overflow.
const MAX_LISTING_BYTES: u64 = 8 * 1024 * 1024;
/// What `find -printf` prints per entry: its type letter, size, modification time (seconds
/// with a fraction) and path relative to the workspace, ended by NUL (paths may hold newlines).
const ENTRY_FORMAT: &str = "%y\\t%s\\t%T@\\t%P\\0";

/// Starts the watch of `sandbox`'s workspace.
pub(super) fn start(sandbox: ModalSandbox) -> WorkspaceWatch {
    let look = Arc::new(Notify::new());
    let (watch, reporter) = Reporter::new(Some(look.clone()));
    tokio::spawn(run(sandbox, look, reporter));
    watch
}

async fn run(sandbox: ModalSandbox, look: Arc<Notify>, mut reporter: Reporter) {
    let mut tracker = match sandbox.listing().await {
        Ok(l) => Tracker::knowing(l),
        Err(e) => {
            tracing::warn!("sandbox {}: listing its workspace: {e}", sandbox.id);
            Tracker::default()
        }
    };
    loop {
        tokio::select! {
            _ = look.notified() => {}
            _ = reporter.closed() => return,
        }
        match sandbox.listing().await {
            Ok(listing) => {
                let changes = tracker.compare(listing);
                reporter.report(changes, false);
            }
            Err(EnvError::Terminated) => return,
            Err(e) => {
                tracing::warn!("sandbox {}: listing its workspace: {e}", sandbox.id);
                reporter.report(Vec::new(), true);
            }
        }
    }
}

impl ModalSandbox {
    /// The workspace's entries, folders in [`NOT_ENTERED`] listed but not entered.
    pub(super) async fn listing(&self) -> Result<BTreeMap<String, Entry>, EnvError> {
        let mut argv: Vec<String> = ["find", ".", "-mindepth", "1", "(", "-type", "d", "("]
            .map(String::from)
            .to_vec();
        for (i, name) in NOT_ENTERED.iter().enumerate() {
            if i > 0 {
                argv.push("-o".into());
            }
            argv.extend(["-name".into(), name.to_string()]);
        }
        argv.extend(
            [
                ")",
                ")",
                "-printf",
                ENTRY_FORMAT,
                "-prune",
                "-o",
                "-printf",
                ENTRY_FORMAT,
            ]
            .map(String::from),
        );
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (code, out, err) = self.run(&argv, None, MAX_LISTING_BYTES).await?;
        if code != Some(0) {
            return Err(EnvError::Backend(format!(
                "listing the workspace of Modal sandbox {} failed: {}",
                self.id,
                String::from_utf8_lossy(&err).trim()
            )));
        }
        Ok(parse_listing(&out))
    }
}

/// The entries of `find`'s output in [`ENTRY_FORMAT`]; malformed records are skipped.
fn parse_listing(out: &[u8]) -> BTreeMap<String, Entry> {
    let mut entries = BTreeMap::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let mut parts = text.splitn(4, '\t');
        let (Some(kind), Some(size), Some(mtime), Some(path)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let kind = match kind {
            "f" => FileKind::File,
            "d" => FileKind::Dir,
            "l" => FileKind::Link,
            _ => FileKind::Other,
        };
        entries.insert(
            path.to_string(),
            Entry {
                kind,
                size: if kind == FileKind::File {
                    size.parse().unwrap_or(0)
                } else {
                    0
                },
                mtime: nanos(mtime),
            },
        );
    }
    entries
}

/// `find`'s `%T@` (seconds, a dot, a fraction) in nanoseconds.
fn nanos(t: &str) -> i128 {
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    secs.parse::<i128>().unwrap_or(0) * 1_000_000_000 + frac.parse::<i128>().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_output_is_read_as_entries() {
        let out = b"d\t4096\t1700000000.5\tsrc\0f\t6\t1700000001.0000000001\tsrc/a b\nc.txt\0l\t3\t1.0\tlink\0garbage\0";
        let got = parse_listing(out);
        assert_eq!(got.len(), 3);
        assert_eq!(got["src"].kind, FileKind::Dir);
        assert_eq!(got["src"].size, 0);
        assert_eq!(got["src/a b\nc.txt"].size, 6);
        assert_eq!(got["src/a b\nc.txt"].mtime, 1_700_000_001_000_000_000);
        assert_eq!(got["src"].mtime, 1_700_000_000_500_000_000);
        assert_eq!(got["link"].kind, FileKind::Link);
    }
}
