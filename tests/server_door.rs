//! `aisys serve`'s door, end to end against the real server process: what strangers on the
//! network can and cannot do before they show the token (floods of half-sent requests, sockets
//! that never say `hello`, too many connections, Host and Origin), and what the server leaves on
//! disk. Every loop is bounded and talks to 127.0.0.1 only.

mod serve_harness;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serve_harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

/// Longest a step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(15);
/// The server's header and `hello` time limits (src/server/door.rs, connection.rs), plus slack.
const TIMEOUT_AND_SLACK: Duration = Duration::from_secs(14);

fn addr(server: &Server) -> String {
    server
        .http
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Lets this test process hold many sockets itself.
fn raise_own_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a plain struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// Opens an authenticated WebSocket, says `hello`, and returns the reply's type.
async fn hello(server: &Server) -> Result<String, String> {
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| e.to_string())?;
    ws.send(Message::Text(
        r#"{"type":"hello","protocol_version":1}"#.into(),
    ))
    .await
    .map_err(|e| e.to_string())?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                return Ok(v["type"].as_str().unwrap_or_default().to_string());
            }
            Some(Ok(_)) => continue,
            other => return Err(format!("{other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_half_sent_requests_does_not_keep_an_authenticated_client_out() {
    raise_own_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    // Fewer descriptors than the flood has sockets: without a cap the server runs out.
    let server = Server::start_with_fd_limit(&dir.path().join("data"), &[], 512, 512);
    let addr = addr(&server);
    let mut held = Vec::new();
    for _ in 0..700 {
        let Ok(Ok(mut s)) = tokio::time::timeout(STEP, TcpStream::connect(&addr)).await else {
            break;
        };
        let _ = s
            .write_all(format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
            .await;
        held.push(s);
    }
    assert!(held.len() > 512, "the flood holds {} sockets", held.len());
    let reply = tokio::time::timeout(STEP, hello(&server)).await;
    assert_eq!(
        reply.map_err(|_| "timed out".to_string()).and_then(|r| r),
        Ok("welcome".to_string()),
        "an authenticated client is served while {} half-sent requests are held",
        held.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_headers_and_a_missing_hello_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[], &[]);
    let addr = addr(&server);
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut silent, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    let headers = async {
        let mut buf = Vec::new();
        half.read_to_end(&mut buf).await.map(|_| buf)
    };
    let hello = async {
        loop {
            match silent.next().await {
                Some(Ok(Message::Close(Some(f)))) => return Some((u16::from(f.code), f.reason)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    };
    let (headers, hello) =
        tokio::time::timeout(TIMEOUT_AND_SLACK, async { tokio::join!(headers, hello) })
            .await
            .expect("both sockets are closed by the server within its time limits");
    assert!(
        headers.is_ok(),
        "the half-sent request is closed: {headers:?}"
    );
    let (code, reason) = hello.expect("a close frame");
    assert_eq!(code, 1008);
    assert!(reason.contains("hello"), "{reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_over_the_cap_get_a_clear_503() {
    let dir = tempfile::tempdir().unwrap();
    // 300 descriptors less the reserve for everything else: a cap of 44 connections.
    let server = Server::start_with_fd_limit(&dir.path().join("data"), &[], 300, 300);
    let addr = addr(&server);
    let mut held = Vec::new();
    let mut refused = None;
    for _ in 0..200 {
        let mut req = server.url.as_str().into_client_request().unwrap();
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {}", server.token).parse().unwrap(),
        );
        match tokio::time::timeout(STEP, tokio_tungstenite::connect_async(req))
            .await
            .expect("an answer")
        {
            Ok((ws, _)) => held.push(ws),
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("some connection is refused");
    assert!(refused.contains("503"), "{refused}");
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let mut buf = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf.starts_with("HTTP/1.1 503"), "{buf}");
    assert!(buf.contains("maximum of"), "{buf}");
    // Closing one makes room again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        tokio::time::timeout(STEP, hello(&server)).await.unwrap(),
        Ok("welcome".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attaching_after_an_event_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_claude_with(dir.path(), r#"{"events": 3}"#);
    let bin = bin.display().to_string();
    let server = Server::start(
        &dir.path().join("data"),
        &[],
        &[
            ("AISYS_CLAUDE_BIN", bin.as_str()),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
        ],
    );
    let (client, mut notes) = server.client().await;
    let info = serve_harness::attached(&client, Default::default()).await;
    say(&client, &info.id, "go").await;
    until_result(&mut notes, &info.id).await;
    // After the result the session goes idle (one more event): then its last event stays put.
    let mut last = 0;
    for _ in 0..100 {
        let now = client.list().await.unwrap();
        let s = now.iter().find(|s| s.id == info.id).unwrap();
        if s.state == aisys::types::SessionState::Idle {
            last = s.last_seq;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(last > 0, "the session went idle");
    let (late, _) = server.client().await;
    for ahead in [last + 1, last + 5, 1 << 63, u64::MAX] {
        match late.attach(&info.id, ahead).await {
            Err(aisys::client::ClientError::Server { code, message }) => {
                assert_eq!(code, aisys::types::ErrorCode::BadRequest);
                assert!(message.contains(&format!("last event {last}")), "{message}");
            }
            other => panic!("after_seq {ahead} (last is {last}) must be refused: {other:?}"),
        }
    }
    // At the last event exactly: attached, nothing replayed, and the session still works.
    assert_eq!(late.attach(&info.id, last).await.unwrap().id, info.id);
}

/// A GET over a raw socket with the given `Host` and `Authorization` headers: the status.
async fn get_status(addr: &str, host: &str, authorization: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn host_names_are_checked_and_the_bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--allow-host", "aisys.internal"],
        &[],
    );
    let addr = addr(&server);
    let bearer = format!("Bearer {}", server.token);
    let port = addr.rsplit(':').next().unwrap();
    assert_eq!(get_status(&addr, &addr, &bearer).await, 200);
    for host in [
        format!("localhost:{port}"),
        format!("aisys.internal:{port}"),
    ] {
        assert_eq!(get_status(&addr, &host, &bearer).await, 200, "{host}");
    }
    // A DNS-rebinding page reaches the server under the attacker's own name.
    let rebound = format!("rebind.evil.example:{port}");
    assert_eq!(get_status(&addr, &rebound, &bearer).await, 421);
    let lower = format!("bearer {}", server.token);
    assert_eq!(get_status(&addr, &addr, &lower).await, 200);
    assert_eq!(get_status(&addr, &addr, "bearer wrong").await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[], &[]);
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(bad)).await.unwrap();
    let code = tokio::time::timeout(STEP, async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(f) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1007));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_folder_is_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let server = Server::start(&fresh, &[], &[]);
    assert_eq!(mode(&fresh), 0o700);
    drop(server);
    // An existing folder that others could read is tightened.
    let open = dir.path().join("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _server = Server::start(&open, &[], &[]);
    assert_eq!(mode(&open), 0o700);
    assert!(open.join("aisys.db").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_soft_open_files_limit_is_raised_to_the_hard_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_fd_limit(&dir.path().join("data"), &[], 256, 2048);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums, ["2048", "2048"], "{line}");
}
