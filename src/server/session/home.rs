//! Bringing a sandbox's own copy of the workspace (Modal's) home before the sandbox is
//! released: what the agent changed is written into the session's host folder, so that its work
//! outlives the sandbox and the session's next sandbox starts from it. Clients hear what came
//! home and what was refused (an event), and are told to list the files again (a live notice).
//!
//! Must not write anything itself: the sandbox's backend does, refusing what would escape the
//! folder or reach git's control surface.

use std::path::Path;

use super::*;
use crate::runtime::env::SyncReport;
use crate::server::workspace_watch;

/// Most paths a `workspace_home` notice names of each list; the rest are counted, so that a
/// sandbox that made thousands of files does not make an event of megabytes.
const NOTICE_PATHS: usize = 20;

impl AgentSession {
    /// Writes what the agent changed in a sandbox's own copy of the workspace (Modal's) into
    /// the session's host folder before the sandbox goes, and tells the clients what came home,
    /// what was refused, or that it could not be brought home (an event), and to list the files
    /// again (a live notice).
    pub(super) async fn bring_home(&mut self, sb: &dyn Sandbox) {
        if self.info.workspace.is_empty() {
            return;
        }
        let text = match sb.bring_home(Path::new(&self.info.workspace)).await {
            Ok(None) => return,
            Ok(Some(r)) if r.written.is_empty() && r.refused.is_empty() => return,
            Ok(Some(r)) => {
                if !r.written.is_empty() {
                    // Files changed in the folder with no watch to tell: list them again.
                    workspace_watch::resync(&self.notices, &self.info.id, r.written.len() as u64);
                }
                brought_home(&r)
            }
            Err(e) => {
                tracing::warn!("session {}: bringing its workspace home: {e}", self.info.id);
                format!("the workspace's changes in the sandbox could not be brought home: {e}")
            }
        };
        self.emit(vec![StreamEvent::Notice {
            kind: WORKSPACE_HOME.into(),
            text,
            timestamp: Some(rfc3339(now())),
        }])
        .await;
    }
}

/// What a `workspace_home` notice says of a sync: the files written and the entries refused,
/// each list cut at [`NOTICE_PATHS`].
fn brought_home(r: &SyncReport) -> String {
    fn some<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
        let mut s: Vec<String> = items.iter().take(NOTICE_PATHS).map(show).collect();
        if items.len() > NOTICE_PATHS {
            s.push(format!("and {} more", items.len() - NOTICE_PATHS));
        }
        s.join(", ")
    }
    let mut text = format!(
        "{} changed file{} of the sandbox's workspace brought home before it ended",
        r.written.len(),
        if r.written.len() == 1 { "" } else { "s" }
    );
    if !r.written.is_empty() {
        text.push_str(&format!(
            ": {}",
            some(&r.written, |p| p.display().to_string())
        ));
    }
    if !r.refused.is_empty() {
        text.push_str(&format!(
            "; not brought home: {}",
            some(&r.refused, |(p, why)| format!("{p} ({why})"))
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_at_most_its_share_of_paths_and_counts_the_rest() {
        let report = SyncReport {
            written: (0..NOTICE_PATHS + 5)
                .map(|i| std::path::PathBuf::from(format!("f{i}.rs")))
                .collect(),
            refused: vec![(".git/config".into(), "git's".into())],
        };
        let text = brought_home(&report);
        assert!(
            text.starts_with("25 changed files of the sandbox's workspace"),
            "{text}"
        );
        assert!(text.contains("f19.rs, and 5 more;"), "{text}");
        assert!(!text.contains("f20.rs"), "{text}");
        assert!(
            text.ends_with("not brought home: .git/config (git's)"),
            "{text}"
        );
        let one = SyncReport {
            written: vec!["a.txt".into()],
            refused: vec![],
        };
        assert_eq!(
            brought_home(&one),
            "1 changed file of the sandbox's workspace brought home before it ended: a.txt"
        );
    }
}
