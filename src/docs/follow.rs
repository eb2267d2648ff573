//! The Transcripts tab's open session, live: `GET /api/transcripts/follow?file=` is a WebSocket
//! that first sends the session as `GET /api/transcripts/view` renders it (whole-file reader,
//! block by block), then follows its file with `transcript parse --follow`'s reader
//! ([`Follower`]): lines appended to the session (or to its subagents' files) are read once,
//! assembled onto the blocks already built, and only the top-level blocks they add or change are
//! rendered and sent. The page replaces a block with the same id or appends a new one.
//!
//! Messages, as JSON text: `{"type":"page", title, blocks:[{id, html}], bad_lines, usage}` first,
//! then `{"type":"blocks", blocks, bad_lines}` as lines arrive and `{"type":"usage", usage}` when
//! the counts are refreshed, or `{"type":"error", error}` before the socket closes.
//!
//! Must not read a session whole on a change (only the usage is recounted, at most every
//! [`USAGE_REFRESH`]), nor parse transcripts itself: `converters` does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::live::Change;
use super::transcripts::{BlockHtml, SessionError, SessionPage, session_file, session_page};
use super::{Viewer, blocking, failure};
use crate::converters::{Assembler, BadLine, Follower, Sink};

/// Sessions followed at once over all pages: each holds its blocks in memory and a reader per
/// file, and a page shows one session at a time, so a few tabs' worth is plenty.
pub const MAX_FOLLOWED: usize = 16;
/// How often a followed session is looked at without being told of a change: a subagent's file
/// is followed only once its `.meta.json` names its call, which may be written after it, and
/// the look finds nothing new at the cost of a `stat`.
const IDLE_LOOK: Duration = Duration::from_secs(1);
/// Least time between two recounts of a growing session's usage: the count reads the files
/// whole (fast, but not per line), and the table need not be newer than this.
pub const USAGE_REFRESH: Duration = Duration::from_secs(2);
/// Most reads of the follower per look before the page is sent what it has: one read takes at
/// most 4 MiB of a file, so a burst of growth reaches the page in pieces.
const READS_PER_LOOK: usize = 8;

/// A session being followed: its reader's place in each file and the blocks built so far.
pub struct SessionFollow {
    follower: Follower,
    assembler: Assembler,
}

/// What one look found.
#[derive(Debug, Default)]
pub struct Found {
    /// The top-level blocks added or changed, in order.
    pub blocks: Vec<BlockHtml>,
    pub bad_lines: Vec<String>,
    /// Lines read.
    pub lines: usize,
}

impl SessionFollow {
    /// Opens the session at `path` and reads what it holds now; then the whole-file page, read
    /// after it so that a line appended in between is in the page and read again by the next
    /// look, whose block replaces the page's.
    pub fn open(path: &Path) -> Result<(SessionFollow, SessionPage), SessionError> {
        let mut f = SessionFollow {
            follower: Follower::new(path, None),
            assembler: Assembler::new(),
        };
        while f.read_once(&mut Vec::new(), &mut BTreeSet::new())? > 0 {}
        let page = session_page(path)?;
        Ok((f, page))
    }

    fn read_once(
        &mut self,
        bad: &mut Vec<String>,
        changed: &mut BTreeSet<usize>,
    ) -> Result<usize, SessionError> {
        let assembler = &mut self.assembler;
        let mut on_event = |ev| {
            changed.extend(assembler.push(ev));
            Ok(())
        };
        let mut on_bad = |b: &BadLine| bad.push(b.to_string());
        let mut sink = Sink::new(false, &mut on_event, &mut on_bad);
        self.follower
            .poll(&mut sink)
            .map_err(|e| SessionError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
    }

    /// Reads the lines written since the last look and renders the blocks they touched.
    pub fn look(&mut self) -> Result<Found, SessionError> {
        let mut found = Found::default();
        let mut changed = BTreeSet::new();
        for _ in 0..READS_PER_LOOK {
            let n = self.read_once(&mut found.bad_lines, &mut changed)?;
            found.lines += n;
            if n == 0 {
                break;
            }
        }
        let blocks = self.assembler.blocks();
        found.blocks = changed
            .into_iter()
            .filter_map(|i| blocks.get(i))
            .map(BlockHtml::of)
            .collect();
        Ok(found)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct FollowQuery {
    file: String,
}

/// Counts an open socket; the slot is freed when it closes.
struct Slot(Arc<Viewer>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0
            .followed
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub(super) async fn follow_socket(
    State(v): State<Arc<Viewer>>,
    Query(q): Query<FollowQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    use std::sync::atomic::Ordering;
    let path = match session_file(&v.claude_projects(), &q.file) {
        Ok(p) => p,
        Err(SessionError(status, e)) => return failure(status, e),
    };
    if v.followed.fetch_add(1, Ordering::SeqCst) >= MAX_FOLLOWED {
        v.followed.fetch_sub(1, Ordering::SeqCst);
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{MAX_FOLLOWED} sessions are open already: close a Transcripts tab and try again"
            ),
        );
    }
    let slot = Slot(v.clone());
    // Changes are told by the viewer's watcher; without it the idle looks still follow.
    let v2 = v.clone();
    let rx = match blocking(move || v2.live().map(|l| l.subscribe()).map_err(str::to_string)).await
    {
        Ok(Ok(rx)) => Some(rx),
        Ok(Err(e)) => {
            tracing::warn!("transcripts follow without the watcher: {e}");
            None
        }
        Err(r) => return r,
    };
    upgrade.on_upgrade(move |socket| serve(socket, path, rx, slot))
}

/// Whether a change names the session's file or one in its folder (its subagents).
fn touches(change: &Change, path: &Path) -> bool {
    match change {
        Change::Transcripts { paths } => {
            let folder = path.with_extension("");
            paths
                .iter()
                .any(|p| Path::new(p) == path || Path::new(p).starts_with(&folder))
        }
        Change::Resync => true,
        _ => false,
    }
}

async fn send(socket: &mut WebSocket, v: Value) -> bool {
    socket.send(Message::text(v.to_string())).await.is_ok()
}

async fn serve(
    mut socket: WebSocket,
    path: PathBuf,
    mut rx: Option<broadcast::Receiver<Change>>,
    _slot: Slot,
) {
    let p = path.clone();
    let opened = blocking(move || SessionFollow::open(&p)).await;
    let mut follow = match opened {
        Ok(Ok((follow, page))) => {
            let mut msg = json!(page);
            msg["type"] = json!("page");
            if !send(&mut socket, msg).await {
                return;
            }
            follow
        }
        Ok(Err(SessionError(_, e))) => {
            let _ = send(&mut socket, json!({"type": "error", "error": e})).await;
            return;
        }
        Err(_) => return,
    };
    let mut idle = tokio::time::interval(IDLE_LOOK);
    idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut counted = Instant::now();
    let mut usage_due = false;
    loop {
        let look = tokio::select! {
            change = async {
                match rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match change {
                Ok(c) => touches(&c, &path),
                Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => {
                    rx = None;
                    false
                }
            },
            _ = idle.tick() => true,
            incoming = socket.recv() => match incoming {
                // Pages send nothing but pings and the close.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => false,
            },
        };
        if look {
            let looked = match tokio::task::spawn_blocking(move || {
                let found = follow.look();
                (follow, found)
            })
            .await
            {
                Ok(r) => r,
                Err(_) => break,
            };
            follow = looked.0;
            match looked.1 {
                Ok(found) => {
                    usage_due |= found.lines > 0;
                    if (!found.blocks.is_empty() || !found.bad_lines.is_empty())
                        && !send(
                            &mut socket,
                            json!({"type": "blocks", "blocks": found.blocks, "bad_lines": found.bad_lines}),
                        )
                        .await
                    {
                        break;
                    }
                }
                Err(SessionError(_, e)) => {
                    let _ = send(&mut socket, json!({"type": "error", "error": e})).await;
                    break;
                }
            }
        }
        if usage_due && counted.elapsed() >= USAGE_REFRESH {
            usage_due = false;
            counted = Instant::now();
            let p = path.clone();
            if let Ok(Ok(usage)) = blocking(move || super::transcripts::session_usage(&p)).await
                && !send(&mut socket, json!({"type": "usage", "usage": usage})).await
            {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel)
    }

    /// Copies a recorded session line by line into a growing file: every look finds only the new
    /// line's blocks, and the page and the follower name blocks alike.
    #[test]
    fn appended_lines_come_back_as_the_blocks_they_touch() {
        let d = tempfile::tempdir().unwrap();
        let src = std::fs::read_to_string(fixture("claude-code-2.1.197/transcript-tool-run.jsonl"))
            .unwrap();
        let lines: Vec<&str> = src.lines().collect();
        let cut = lines.len() / 2;
        let path = d.path().join("s.jsonl");
        std::fs::write(&path, lines[..cut].join("\n") + "\n").unwrap();
        let (mut f, page) = SessionFollow::open(&path).unwrap();
        let mut shown: Vec<BlockHtml> = page.blocks;
        assert!(f.look().unwrap().blocks.is_empty(), "nothing new yet");
        for line in &lines[cut..] {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes()).unwrap();
            let found = f.look().unwrap();
            assert_eq!(found.lines, 1);
            for b in found.blocks {
                match shown.iter_mut().find(|s| s.id == b.id) {
                    Some(s) => *s = b,
                    None => shown.push(b),
                }
            }
        }
        // What the page built piece by piece is what it would show if opened now.
        let whole = session_page(&path).unwrap().blocks;
        assert_eq!(shown, whole);
        assert!(
            shown
                .last()
                .unwrap()
                .html
                .contains("Done: hello.txt says good morning.")
        );
    }

    /// The order a live session is written in: the main file up to the `Agent` call, then the
    /// subagent's files, then the call's result and the answer.
    #[test]
    fn a_subagent_is_followed_under_its_call_as_it_runs() {
        let d = tempfile::tempdir().unwrap();
        let dir = fixture("claude-code-2.1.197/transcript-subagent");
        let session = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .unwrap();
        let stem = session.file_stem().unwrap().to_owned();
        let text = std::fs::read_to_string(&session).unwrap();
        let call_end = text.find("\"name\":\"Agent\"").unwrap();
        let cut = call_end + text[call_end..].find('\n').unwrap() + 1;
        let path = d.path().join(session.file_name().unwrap());
        std::fs::write(&path, &text[..cut]).unwrap();
        let (mut f, page) = SessionFollow::open(&path).unwrap();
        let mut shown = page.blocks;
        let mut apply = |found: Found| {
            for b in found.blocks {
                match shown.iter_mut().find(|s| s.id == b.id) {
                    Some(s) => *s = b,
                    None => shown.push(b),
                }
            }
            shown.clone()
        };
        // The subagent's files arrive while its call waits for its result.
        let from = dir.join(&stem).join("subagents");
        let to = d.path().join(&stem).join("subagents");
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
        let found = f.look().unwrap();
        assert!(found.lines > 0);
        assert_eq!(found.blocks.len(), 1, "only the call: {:?}", found.blocks);
        let call = found.blocks[0].clone();
        assert!(
            call.html.contains("class=\"b sub") && call.html.contains("Counting with wc."),
            "{}",
            call.html
        );
        let now = apply(found);
        assert!(
            now.iter().filter(|b| b.id == call.id).count() == 1,
            "it replaced the call"
        );
        // Then the result and the answer.
        std::fs::write(&path, &text).unwrap();
        let now = apply(f.look().unwrap());
        assert!(
            now.last()
                .unwrap()
                .html
                .contains("The helper counted 3 lines in notes.txt.")
        );
        assert_eq!(now, session_page(&path).unwrap().blocks, "as if opened now");
    }

    #[test]
    fn a_change_is_looked_at_only_for_its_session() {
        let p = Path::new("/h/projects/-p/s1.jsonl");
        let ch = |paths: &[&str]| Change::Transcripts {
            paths: paths.iter().map(|s| s.to_string()).collect(),
        };
        assert!(touches(&ch(&["/h/projects/-p/s1.jsonl"]), p));
        assert!(touches(
            &ch(&["/h/projects/-p/s1/subagents/agent-a.jsonl"]),
            p
        ));
        assert!(!touches(&ch(&["/h/projects/-p/s2.jsonl"]), p));
        assert!(!touches(&ch(&["/h/projects/-p/s1.jsonl.bak"]), p));
        assert!(touches(&Change::Resync, p));
        assert!(!touches(&Change::Context, p));
    }
}
