//! `session.files` and `session.read_file` against a real `aisys serve`: the workspace's entries
//! with what changed marked, a file's text, and the refusals that keep a read inside the
//! workspace (a path with `..`, a planted link, a FIFO) and bounded (a large file); and the live
//! `file_changed` notices of what the real Claude Code (against the mock model) and the host
//! change in it.

mod mock_api;
mod serve_harness;

use std::os::unix::fs::symlink;

use aisys::types::{FileChangeKind, FileKind, PermissionMode, ServerMessage, SessionSpec};
use mock_api::{Reply, Script, When, claude_bin};
use serde_json::json;
use serve_harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_workspace_is_listed_and_read_without_leaving_it() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let server = Server::start(&dir.path().join("data"), &[], &[]);
    let (client, _notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    let ws = std::path::Path::new(&info.workspace);
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::write(ws.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::create_dir_all(ws.join(".git/objects")).unwrap();
    std::fs::write(ws.join(".git/objects/x"), "blob").unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "host secret\n").unwrap();
    symlink(&secret, ws.join("leak.txt")).unwrap();
    std::fs::write(ws.join("big.log"), "x".repeat(2 * 1024 * 1024)).unwrap();
    let fifo = std::ffi::CString::new(ws.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);

    let (files, truncated) = list_files(&client, &info.id).await;
    assert!(!truncated);
    let find = |p: &str| files.iter().find(|f| f.path == p);
    assert_eq!(find("src").unwrap().kind, FileKind::Dir);
    let main = find("src/main.rs").unwrap();
    assert_eq!(
        (main.kind, main.size, main.changed),
        (FileKind::File, 13, true)
    );
    assert_eq!(find("leak.txt").unwrap().kind, FileKind::Link);
    assert!(find(".git").is_some(), "the .git folder is listed");
    assert!(find(".git/objects").is_none(), "but not entered");

    match read_file(&client, &info.id, "src/main.rs").await {
        ServerMessage::File { text, size, .. } => {
            assert_eq!((text.as_str(), size), ("fn main() {}\n", 13))
        }
        other => panic!("{other:?}"),
    }
    match read_file(&client, &info.id, "big.log").await {
        ServerMessage::File {
            text,
            size,
            truncated,
            ..
        } => {
            assert!(truncated);
            assert_eq!(size, 2 * 1024 * 1024);
            assert_eq!(text.len(), 512 * 1024);
        }
        other => panic!("{other:?}"),
    }
    for (path, why) in [
        ("../../secret.txt", "a path that climbs out"),
        ("/etc/passwd", "an absolute path"),
        ("leak.txt", "a planted link"),
        ("pipe", "a FIFO"),
        ("missing.txt", "a missing file"),
    ] {
        let got = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            read_file(&client, &info.id, path),
        )
        .await
        .unwrap_or_else(|_| panic!("reading {why} hung"));
        match got {
            ServerMessage::Error { message, .. } => {
                assert!(!message.contains("host secret"), "{why}: {message}")
            }
            other => panic!("{why} was read: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_changes_reach_an_attached_client_as_they_happen() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = Script::new()
        .on(
            When::UserSays("write".into()),
            Reply::write("notes.md", "# Notes\n"),
        )
        .on(
            When::UserSays("remove".into()),
            Reply::tool("Bash", json!({"command": "rm old.txt"})),
        )
        .always(When::Always, Reply::text("done"))
        .start();
    let server = Server::with_claude(
        &dir.path().join("data"),
        &claude_bin(),
        &mock.base_url(),
        &[],
    );
    let (client, mut notes) = server.client().await;
    let info = client
        .create(SessionSpec {
            permission_mode: Some(PermissionMode::BypassPermissions),
            ..Default::default()
        })
        .await
        .unwrap();
    let ws = std::path::Path::new(&info.workspace);
    std::fs::write(ws.join("old.txt"), "old\n").unwrap();
    client.attach(&info.id, 0).await.unwrap();

    say(&client, &info.id, "write it").await;
    let mut seen =
        until_file_change(&mut notes, &info.id, "notes.md", FileChangeKind::Created).await;
    let notes_md = seen.last().unwrap();
    assert_eq!((notes_md.entry, notes_md.size), (FileKind::File, 8));

    // Version control and dependency trees are not reported, whoever writes in them.
    std::fs::create_dir_all(ws.join(".git/refs")).unwrap();
    std::fs::write(ws.join(".git/refs/main"), "0000").unwrap();
    std::fs::create_dir_all(ws.join("node_modules/pkg")).unwrap();
    std::fs::write(ws.join("node_modules/pkg/index.js"), "x").unwrap();
    say(&client, &info.id, "remove it").await;
    seen.extend(until_file_change(&mut notes, &info.id, "old.txt", FileChangeKind::Deleted).await);
    let inside: Vec<_> = seen
        .iter()
        .filter(|c| c.path.starts_with(".git/") || c.path.starts_with("node_modules/"))
        .collect();
    assert!(inside.is_empty(), "{inside:?}");
}
