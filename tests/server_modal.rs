//! `aisys serve --sandbox modal` against the fake `modal` package (tests/fake_modal): sessions
//! run in Modal sandboxes, a server restarted after `kill -9` reattaches to the sandbox a session
//! held, and deleting the session terminates it; the workspace's changes inside the sandbox
//! reach attached clients as `file_changed` notices (a listing compared after each turn); on a
//! shared PostgreSQL store, a server that takes over from one killed reattaches to the session's
//! sandbox the same way.

mod pg_support;
mod serve_harness;

use aisys::types::{ClientMessage, FileChangeKind, SessionSpec, StreamEvent, TurnStatus};
use serde_json::Value;
use serve_harness::*;

/// The fake's records of the sandboxes it created.
fn sandboxes(state: &std::path::Path) -> Vec<Value> {
    let Ok(dir) = std::fs::read_dir(state.join("sandboxes")) else {
        return vec![];
    };
    dir.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect()
}

/// The environment of a server whose Modal is the fake under `d`, plus `extra`. Inside the
/// sandbox the agent is `claude` on PATH, as in the real image: here the fast stand-in agent.
fn modal_env(d: &std::path::Path, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    std::fs::create_dir_all(d.join("bin")).unwrap();
    std::fs::copy(fake_claude(), d.join("bin/claude")).unwrap();
    std::fs::write(d.join("bin/claude.json"), r#"{"events": 2}"#).unwrap();
    let path = format!(
        "{}:{}",
        d.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let s = |p: &str| d.join(p).display().to_string();
    let mut env = vec![
        ("PATH", path),
        (
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake_modal").to_string(),
        ),
        ("FAKE_MODAL_STATE", s("state")),
        ("MODAL_TOKEN_ID", "ak-test".into()),
        ("MODAL_TOKEN_SECRET", "as-test".into()),
        ("AISYS_MODAL_WORKDIR", s("remote/ws")),
        ("AISYS_MODAL_HOME", s("remote/home")),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

/// A server whose sandboxes are the fake's Modal under `d`, with `extra` in its environment.
fn modal_server(d: &std::path::Path, extra: &[(&'static str, &str)]) -> Server {
    let env = modal_env(d, extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(&d.join("data"), &["--sandbox", "modal"], &env)
}

/// A new session, attached, after one successful turn in the one sandbox the fake under `d`
/// made for it.
async fn one_turn(
    client: &aisys::client::Client,
    notes: &mut tokio::sync::mpsc::Receiver<aisys::client::Notification>,
    d: &std::path::Path,
) -> aisys::types::SessionInfo {
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(client, &info.id, "hello").await;
    let events = until_result(notes, &info.id).await;
    assert_eq!(
        result_status(&events),
        Some(TurnStatus::Success),
        "{events:?}"
    );
    let boxes = sandboxes(&d.join("state"));
    assert_eq!(boxes.len(), 1, "{boxes:?}");
    info
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_server_reattaches_to_the_sandbox_and_delete_terminates_it() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let mut server = modal_server(d, &[]);
    let (client, mut notes) = server.client().await;
    let info = one_turn(&client, &mut notes, d).await;
    let boxes = sandboxes(&d.join("state"));
    let id = boxes[0]["id"].as_str().unwrap().to_string();
    assert_eq!(boxes[0]["terminated"], false);
    assert_eq!(boxes[0]["tags"]["aisys.session"], info.id.as_str());
    let listed = client.list().await.unwrap();
    assert_eq!(listed[0].sandbox_id.as_deref(), Some(id.as_str()));

    // A crash: the sandbox outlives the server, and the next turn runs in it again.
    let (client, mut notes) = server.crash_and_reconnect(client).await;
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "again").await;
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    let boxes = sandboxes(&d.join("state"));
    assert_eq!(boxes.len(), 1, "no second sandbox: {boxes:?}");
    assert_eq!(boxes[0]["terminated"], false);

    // A crash again, then delete: the sandbox the session held is terminated.
    let (client, _notes) = server.crash_and_reconnect(client).await;
    client
        .ack(ClientMessage::Delete {
            session_id: info.id.clone(),
        })
        .await
        .unwrap();
    let boxes = sandboxes(&d.join("state"));
    assert_eq!(boxes[0]["id"], id.as_str());
    assert_eq!(
        boxes[0]["terminated"], true,
        "deleting the session ended its sandbox"
    );
    server.terminate();
}

/// Two servers sharing a PostgreSQL store and one Modal (the fake): the session's sandbox
/// belongs to no server, so the server that takes the session over from a killed one reattaches
/// to it by its id and runs the next turn there.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_taking_over_a_session_reattaches_to_its_modal_sandbox() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let url = pg_support::cluster().new_database();
    let token = d.join("shared-token");
    std::fs::write(&token, "modal-cluster-token\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A short lease (AISYS_LEASE_EXPIRY_MS), so that the takeover after the kill is quick.
    let env = modal_env(d, &[("AISYS_LEASE_EXPIRY_MS", "1500")]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = [
        "--sandbox",
        "modal",
        "--store",
        &url,
        "--token-file",
        token.to_str().unwrap(),
    ];
    let mut a = Server::start(&d.join("a"), &args, &env);
    let b = Server::start(&d.join("b"), &args, &env);
    let (on_a, mut notes_a) = a.client().await;
    let info = one_turn(&on_a, &mut notes_a, d).await;
    // A client of B reads the workspace in the sandbox that A runs the session in (the host
    // folder has none of this file).
    std::fs::write(d.join("remote/ws/on-a.txt"), "in A's sandbox\n").unwrap();
    {
        let (early_b, _notes) = b.client().await;
        match read_file(&early_b, &info.id, "on-a.txt").await {
            aisys::types::ServerMessage::File { text, .. } => assert_eq!(text, "in A's sandbox\n"),
            other => panic!("{other:?}"),
        }
    }

    a.kill9();
    drop(on_a);
    let (on_b, mut notes_b) = b.client().await;
    on_b.attach(&info.id, 0).await.unwrap();
    say(&on_b, &info.id, "again").await;
    // The replay of the first turn, then the second, run by B.
    until_result(&mut notes_b, &info.id).await;
    let events = until_result(&mut notes_b, &info.id).await;
    assert!(
        events.iter().any(
            |(_, e)| matches!(e, aisys::types::StreamEvent::UserMessage { text, .. } if text == "again")
        ),
        "{events:?}"
    );
    assert_eq!(
        result_status(&events),
        Some(TurnStatus::Success),
        "{events:?}"
    );
    let boxes = sandboxes(&d.join("state"));
    assert_eq!(boxes.len(), 1, "no second sandbox: {boxes:?}");
    assert_eq!(boxes[0]["terminated"], false);
}

/// How long the fake takes to make a sandbox in the slow test: long enough that waiting shows.
const SLOW_CREATE_SECS: &str = "4";
/// What "at once" means for an answer while a sandbox is being made.
const QUICK: std::time::Duration = std::time::Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_sandbox_holds_up_neither_its_session_nor_the_connection() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let server = modal_server(d, &[("FAKE_MODAL_CREATE_DELAY", SLOW_CREATE_SECS)]);
    let (client, mut notes) = server.client().await;
    let slow = client.create(SessionSpec::default()).await.unwrap();
    let other = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&slow.id, 0).await.unwrap();
    let say = |id: &str, text: &str| ClientMessage::Message {
        session_id: id.into(),
        text: text.into(),
    };
    client.ack(say(&slow.id, "hello")).await.unwrap();
    // The first session is making its sandbox: the same connection still gets answers.
    let quick = |what: &'static str| {
        move |r: Result<Result<(), aisys::client::ClientError>, _>| {
            r.unwrap_or_else(|_| panic!("{what} waited for the sandbox"))
                .unwrap()
        }
    };
    let started = std::time::Instant::now();
    quick("a message to the other session")(
        tokio::time::timeout(QUICK, client.ack(say(&other.id, "hi"))).await,
    );
    quick("an interrupt")(
        tokio::time::timeout(
            QUICK,
            client.ack(ClientMessage::Interrupt {
                session_id: slow.id.clone(),
            }),
        )
        .await,
    );
    quick("a stop")(
        tokio::time::timeout(
            QUICK,
            client.ack(ClientMessage::Stop {
                session_id: slow.id.clone(),
            }),
        )
        .await,
    );
    assert!(started.elapsed() < QUICK * 3);
    let events = until_result(&mut notes, &slow.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Interrupted));
    // The sandbox the stopped session no longer wants is terminated once it exists.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let boxes = sandboxes(&d.join("state"));
        let mine: Vec<_> = boxes
            .iter()
            .filter(|b| b["tags"]["aisys.session"] == slow.id.as_str())
            .collect();
        if mine.len() == 1 && mine[0]["terminated"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stopped session's sandbox still runs: {boxes:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_in_the_sandboxs_workspace_reach_attached_clients() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let server = modal_server(d, &[]);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    // Uploaded with the workspace when the sandbox is made.
    std::fs::write(std::path::Path::new(&info.workspace).join("gone.txt"), "x").unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hello").await;
    until_result(&mut notes, &info.id).await;

    // The fake's sandbox workspace is a folder here: change it as a process inside would.
    let remote = d.join("remote/ws");
    assert!(
        remote.join("gone.txt").exists(),
        "the workspace was uploaded"
    );
    std::fs::write(remote.join("made.txt"), "made\n").unwrap();
    std::fs::remove_file(remote.join("gone.txt")).unwrap();
    std::fs::create_dir_all(remote.join(".git/objects")).unwrap();
    std::fs::write(remote.join(".git/objects/x"), "blob").unwrap();
    say(&client, &info.id, "again").await;
    let mut seen =
        until_file_change(&mut notes, &info.id, "made.txt", FileChangeKind::Created).await;
    let made = seen.last().unwrap();
    assert_eq!(made.size, 5);
    if !seen.iter().any(|c| c.path == "gone.txt") {
        seen.extend(
            until_file_change(&mut notes, &info.id, "gone.txt", FileChangeKind::Deleted).await,
        );
    }
    assert!(
        seen.iter()
            .any(|c| c.path == "gone.txt" && c.kind == FileChangeKind::Deleted),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|c| c.path.starts_with(".git/")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_panel_reads_the_modal_sandbox_while_the_session_has_it() {
    use aisys::types::{FileKind, ServerMessage};
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let server = modal_server(d, &[]);
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    let host = std::path::Path::new(&info.workspace);
    std::fs::write(host.join("uploaded.txt"), "from the host\n").unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hello").await;
    until_result(&mut notes, &info.id).await;

    // Written inside the sandbox (the fake's is a folder here): the host folder has none of it.
    let remote = d.join("remote/ws");
    std::fs::create_dir_all(remote.join("src")).unwrap();
    std::fs::write(remote.join("src/made.rs"), "fn made() {}\n").unwrap();
    let secret = d.join("secret.txt");
    std::fs::write(&secret, "sandbox secret\n").unwrap();
    symlink(&secret, remote.join("leak.txt")).unwrap();
    symlink(d, remote.join("up")).unwrap();
    assert!(!host.join("src/made.rs").exists());

    let (files, truncated) = list_files(&client, &info.id).await;
    assert!(!truncated);
    let find = |p: &str| files.iter().find(|f| f.path == p);
    let made = find("src/made.rs").unwrap_or_else(|| panic!("{files:?}"));
    assert_eq!((made.kind, made.size), (FileKind::File, 13));
    assert!(made.changed, "made in this session: {made:?}");
    assert_eq!(find("src").unwrap().kind, FileKind::Dir);
    assert_eq!(find("uploaded.txt").unwrap().size, 14);
    assert_eq!(find("leak.txt").unwrap().kind, FileKind::Link);
    match read_file(&client, &info.id, "src/made.rs").await {
        ServerMessage::File { text, size, .. } => {
            assert_eq!((text.as_str(), size), ("fn made() {}\n", 13))
        }
        other => panic!("{other:?}"),
    }
    for (path, why) in [
        ("leak.txt", "a link to a file outside"),
        ("up/secret.txt", "a path through a link to a folder outside"),
        ("src", "a folder"),
    ] {
        match read_file(&client, &info.id, path).await {
            ServerMessage::Error { code, message } => {
                assert_eq!(
                    code,
                    aisys::types::ErrorCode::BadRequest,
                    "{why}: {message}"
                );
                assert!(!message.contains("sandbox secret"), "{why}: {message}");
            }
            other => panic!("{why} was read: {other:?}"),
        }
    }
    match read_file(&client, &info.id, "missing.txt").await {
        ServerMessage::Error { code, .. } => assert_eq!(code, aisys::types::ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }

    // Stopped, the session has no sandbox: what the sandbox made was brought home first, its
    // links refused, and the clients were told; its files are the host folder's.
    client
        .request(ClientMessage::Stop {
            session_id: info.id.clone(),
        })
        .await
        .unwrap();
    let notice = home_notice(&mut notes, &info.id).await;
    // (The stand-in agent leaves a note of its arguments in the workspace too.)
    assert!(
        notice.contains("changed files of the sandbox's workspace brought home"),
        "{notice}"
    );
    assert!(notice.contains("src/made.rs"), "{notice}");
    assert!(
        notice.contains("leak.txt (symlink pointing outside"),
        "{notice}"
    );
    assert!(notice.contains("up (symlink pointing outside"), "{notice}");
    assert!(!notice.contains("sandbox secret"), "{notice}");
    assert_eq!(
        std::fs::read_to_string(host.join("src/made.rs")).unwrap(),
        "fn made() {}\n"
    );
    assert!(std::fs::symlink_metadata(host.join("leak.txt")).is_err());
    assert!(std::fs::symlink_metadata(host.join("up")).is_err());
    let (files, _) = list_files(&client, &info.id).await;
    assert!(files.iter().any(|f| f.path == "src/made.rs"), "{files:?}");
    assert!(files.iter().any(|f| f.path == "uploaded.txt"), "{files:?}");
}

/// The text of the next `workspace_home` notice of `session_id`.
async fn home_notice(
    notes: &mut tokio::sync::mpsc::Receiver<aisys::client::Notification>,
    session_id: &str,
) -> String {
    let is_home =
        |e: &StreamEvent| matches!(e, StreamEvent::Notice { kind, .. } if kind == "workspace_home");
    let events = events_until(notes, session_id, is_home).await;
    match events.last() {
        Some((_, StreamEvent::Notice { text, .. })) => text.clone(),
        other => panic!("{other:?}"),
    }
}

/// A sandbox released for being idle brings the agent's changes home first, so the session's
/// next sandbox starts from them instead of from the folder as it was before the turn.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_sandbox_brings_the_workspace_home_before_it_is_released() {
    use aisys::client::Notification;
    use aisys::types::ServerMessage;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let env = modal_env(d, &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(
        &d.join("data"),
        &["--sandbox", "modal", "--idle-timeout", "500ms"],
        &env,
    );
    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hello").await;
    until_result(&mut notes, &info.id).await;
    let remote = d.join("remote/ws");
    std::fs::write(remote.join("notes.md"), "# made in the sandbox\n").unwrap();

    // The event that says what came home, and the live notice to list the files again, in
    // either order.
    let (mut notice, mut resync) = (None, None);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while notice.is_none() || resync.is_none() {
        let note = tokio::time::timeout_at(deadline, notes.recv())
            .await
            .unwrap_or_else(|_| panic!("notice {notice:?}, resync {resync:?}"))
            .unwrap();
        match note {
            Notification::Event {
                event: StreamEvent::Notice { kind, text, .. },
                ..
            } if kind == "workspace_home" => notice = Some(text),
            Notification::Server(ServerMessage::FilesResync {
                session_id,
                changes,
            }) if session_id == info.id => resync = Some(changes),
            _ => {}
        }
    }
    let notice = notice.unwrap();
    assert!(notice.contains("notes.md"), "{notice}");
    assert!(resync.unwrap() >= 1);
    let host = std::path::Path::new(&info.workspace);
    assert_eq!(
        std::fs::read_to_string(host.join("notes.md")).unwrap(),
        "# made in the sandbox\n"
    );
    // The sandbox ends right after its files came home.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let boxes = loop {
        let boxes = sandboxes(&d.join("state"));
        if boxes.iter().all(|b| b["terminated"] == true) || std::time::Instant::now() > deadline {
            break boxes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(boxes.len(), 1, "{boxes:?}");
    assert_eq!(boxes[0]["terminated"], true, "released after the sync");
}

/// Modal ended the session's sandbox on its own (its idle timeout or lifetime, an outage):
/// the next message is not lost to it. The server says the sandbox ended, makes a new one and
/// runs the message there.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_to_a_sandbox_modal_ended_runs_in_a_new_one() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let mut server = modal_server(d, &[]);
    let (client, mut notes) = server.client().await;
    let info = one_turn(&client, &mut notes, d).await;
    let first = sandboxes(&d.join("state"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What Modal does when it ends a sandbox: its processes die and it answers as terminated.
    let record = d.join(format!("state/sandboxes/{first}.json"));
    let mut rec: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    rec["terminated"] = true.into();
    // Replaced whole, as the fake itself writes it: it may be reading the record meanwhile.
    let tmp = record.with_extension("json.tmp");
    std::fs::write(&tmp, rec.to_string()).unwrap();
    std::fs::rename(&tmp, &record).unwrap();

    say(&client, &info.id, "again").await;
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(
        result_status(&events),
        Some(TurnStatus::Success),
        "{events:?}"
    );
    let ended = events.iter().find_map(|(_, e)| match e {
        StreamEvent::Notice { kind, text, .. } if kind == "sandbox_released" => Some(text.clone()),
        _ => None,
    });
    let ended = ended.expect("a notice says the sandbox ended");
    assert!(ended.contains(&first) && ended.contains("ended"), "{ended}");
    let boxes = sandboxes(&d.join("state"));
    assert_eq!(boxes.len(), 2, "a second sandbox: {boxes:?}");
    let listed = client.list().await.unwrap();
    let now = listed[0].sandbox_id.clone().unwrap();
    assert_ne!(now, first, "the session holds the new sandbox");
    server.terminate();
}
