//! Starts the real `aisys serve` binary on a free loopback port with its own data folder, and
//! connects clients to it, and what those clients do again and again (make a session, send a
//! message, collect events, crash and restart the server). Shared by the server tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aisys::client::{Client, ClientConfig, Notification};
use aisys::types::{StreamEvent, TurnStatus};
use tokio::sync::mpsc;

/// How long a test waits for a turn's result before failing.
pub const TURN_WAIT: Duration = Duration::from_secs(60);
/// How long a server dropped at the end of a test gets to stop by itself (and remove its
/// sandboxes' cgroups) before it is killed; an idle server stops in milliseconds.
const STOP_WAIT: Duration = Duration::from_secs(3);

pub fn fake_claude() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/support/fake-claude")
}

/// The Python interpreter itself, not a version manager's shim: a shim (pyenv's is a shell
/// script) costs more to start than the stand-in agent does. The system's comes first, since a
/// sandbox shows `/usr` but not the home folder where version managers keep theirs.
fn python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if Path::new(SYSTEM_PYTHON).exists() {
                return SYSTEM_PYTHON.to_string();
            }
            let out = Command::new("python3")
                .args(["-c", "import sys; print(sys.executable)"])
                .output()
                .expect("python3 runs the stand-in agent: apt-get install python3");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .clone()
}

const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A copy of the fake agent with its own settings file, run by the interpreter itself.
pub fn fake_claude_with(dir: &Path, settings: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fake-claude");
    let script = std::fs::read_to_string(fake_claude()).unwrap();
    let body = script.split_once('\n').map_or("", |(_, rest)| rest);
    std::fs::write(&bin, format!("#!{}\n{body}", python())).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("fake-claude.json"), settings).unwrap();
    bin
}

/// The aisys binary this build made.
const AISYS: &str = env!("CARGO_BIN_EXE_aisys");

pub struct Server {
    /// The aisys binary it runs.
    pub bin: PathBuf,
    pub child: Child,
    pub url: String,
    pub http: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The server's limits on open files (soft, hard), when a test sets them.
    pub fd_limit: Option<(u64, u64)>,
}

impl Server {
    /// Starts `aisys serve` with `args` and `env` (on top of a cleared environment).
    pub fn start(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_binary(Path::new(AISYS), data_dir, args, env)
    }

    /// Like [`Server::start`], with another build of aisys (a benchmark's "before").
    pub fn start_binary(
        bin: &Path,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        // Tests name their agent binaries; a missing one must fail, not be fetched from npm.
        let args: Vec<String> = std::iter::once("--no-agent-install")
            .chain(args.iter().copied())
            .map(|s| s.to_string())
            .collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn(bin, data_dir, args, env, "127.0.0.1:0", None)
    }

    /// Starts `aisys serve` running the real Claude Code (`claude`) against the mock model at
    /// `base_url`, offline, with `args`.
    pub fn with_claude(data_dir: &Path, claude: &Path, base_url: &str, args: &[&str]) -> Server {
        Server::start(
            data_dir,
            args,
            &[
                ("AISYS_CLAUDE_BIN", claude.to_str().unwrap()),
                ("ANTHROPIC_BASE_URL", base_url),
                ("ANTHROPIC_API_KEY", "test"),
                ("DISABLE_TELEMETRY", "1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                ("CLAUDE_CODE_MAX_RETRIES", "0"),
            ],
        )
    }

    /// Like [`Server::start`], started under these limits on open files.
    pub fn start_with_fd_limit(data_dir: &Path, args: &[&str], soft: u64, hard: u64) -> Server {
        let args = std::iter::once("--no-agent-install")
            .chain(args.iter().copied())
            .map(|s| s.to_string())
            .collect();
        Self::spawn(
            Path::new(AISYS),
            data_dir,
            args,
            Vec::new(),
            "127.0.0.1:0",
            Some((soft, hard)),
        )
    }

    fn spawn(
        bin: &Path,
        data_dir: &Path,
        args: Vec<String>,
        env: Vec<(String, String)>,
        bind: &str,
        fd_limit: Option<(u64, u64)>,
    ) -> Server {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--bind")
            .arg(bind)
            .arg("--data-dir")
            .arg(data_dir)
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", data_dir)
            .env("AISYS_CONFIG_DIR", data_dir.join("config"))
            .envs(env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((soft, hard)) = fd_limit {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("start aisys serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("aisys serve printed nothing").unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        // Servers sharing a store share a token file (`--token-file`).
        let token_file = args
            .iter()
            .position(|a| a == "--token-file")
            .and_then(|i| args.get(i + 1))
            .map_or_else(|| data_dir.join("token"), PathBuf::from);
        let token = std::fs::read_to_string(token_file)
            .unwrap()
            .trim()
            .to_string();
        let http = url
            .replace("ws://", "http://")
            .trim_end_matches("/ws")
            .to_string();
        Server {
            bin: bin.to_path_buf(),
            child,
            url,
            http,
            token,
            data_dir: data_dir.to_path_buf(),
            args,
            env,
            fd_limit,
        }
    }

    /// Starts `aisys serve` as a user's first start would: it may install the default agent.
    pub fn start_first_time(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn(
            Path::new(AISYS),
            data_dir,
            Vec::new(),
            env,
            "127.0.0.1:0",
            None,
        )
    }

    /// Starts the server again on the same address and data folder.
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        let addr = self
            .url
            .trim_start_matches("ws://")
            .trim_end_matches("/ws")
            .to_string();
        let next = Self::spawn(
            &self.bin,
            &self.data_dir,
            self.args.clone(),
            self.env.clone(),
            &addr,
            self.fd_limit,
        );
        *self = next;
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap()
    }

    /// Kills the server with SIGKILL, lets go of `client` (its connection went with the server),
    /// starts the server again on the same data folder and connects a new client.
    pub async fn crash_and_reconnect(
        &mut self,
        client: Client,
    ) -> (Client, mpsc::Receiver<Notification>) {
        self.kill9();
        drop(client);
        self.restart();
        self.client().await
    }

    pub async fn client(&self) -> (Client, mpsc::Receiver<Notification>) {
        Client::connect(ClientConfig {
            url: self.url.clone(),
            token: self.token.clone(),
            client_name: "test".into(),
        })
        .await
        .expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let deadline = std::time::Instant::now() + STOP_WAIT;
            while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a session from `spec` and attaches `client` to it from its first event.
pub async fn attached(
    client: &Client,
    spec: aisys::types::SessionSpec,
) -> aisys::types::SessionInfo {
    let info = client.create(spec).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    info
}

/// Sends a user message to a session and waits for the server to take it.
pub async fn say(client: &Client, session_id: &str, text: &str) {
    client
        .ack(aisys::types::ClientMessage::Message {
            session_id: session_id.into(),
            text: text.into(),
        })
        .await
        .unwrap();
}

/// Collects a session's events until a `result` event; returns (seq, event) pairs.
pub async fn until_result(
    notes: &mut mpsc::Receiver<Notification>,
    session_id: &str,
) -> Vec<(u64, StreamEvent)> {
    events_until(notes, session_id, |e| {
        matches!(e, StreamEvent::Result { .. })
    })
    .await
}

/// A raw WebSocket to `server`, its token given, that has said hello and attached to
/// `session_id` from the start, and reads nothing until the test says so.
pub async fn raw_attached(
    server: &Server,
    session_id: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut req = server.url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    for frame in [
        r#"{"type":"hello","protocol_version":1}"#.to_string(),
        format!(r#"{{"type":"session.attach","session_id":"{session_id}","after_seq":0}}"#),
    ] {
        ws.send(Message::Text(frame.into())).await.unwrap();
    }
    ws
}

/// Waits until `n` text events (of any session) have come: the agent's lines are stored.
pub async fn until_texts(notes: &mut mpsc::Receiver<Notification>, n: usize) {
    let mut seen = 0;
    while seen < n {
        match tokio::time::timeout(TURN_WAIT, notes.recv()).await {
            Ok(Some(Notification::Event {
                event: StreamEvent::Text { .. },
                ..
            })) => seen += 1,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the agent's first lines never came ({seen} of {n})"),
        }
    }
}

/// The next `n` events (of any session) as (seq, event), other notifications passed over; fails
/// the test when they stop coming.
pub async fn next_events(
    notes: &mut mpsc::Receiver<Notification>,
    n: usize,
) -> Vec<(u64, StreamEvent)> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(TURN_WAIT, notes.recv()).await {
            Ok(Some(Notification::Event { seq, event, .. })) => got.push((seq, event)),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("replay stopped after {} events", got.len()),
        }
    }
    got
}

/// Every event of `session_id` until `stop` says so, as (seq, event).
pub async fn events_until(
    notes: &mut mpsc::Receiver<Notification>,
    session_id: &str,
    stop: impl Fn(&StreamEvent) -> bool,
) -> Vec<(u64, StreamEvent)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + TURN_WAIT;
    loop {
        let note = tokio::time::timeout_at(deadline, notes.recv())
            .await
            .unwrap_or_else(|_| panic!("waited in vain; so far: {out:?}"))
            .expect("connection task ended");
        if let Notification::Event {
            session_id: s,
            seq,
            event,
        } = note
            && s == session_id
        {
            let done = stop(&event);
            out.push((seq, event));
            if done {
                return out;
            }
        }
    }
}

pub fn result_status(events: &[(u64, StreamEvent)]) -> Option<TurnStatus> {
    events.iter().rev().find_map(|(_, e)| match e {
        StreamEvent::Result { status, .. } => Some(*status),
        _ => None,
    })
}

/// The server's answer to `session.read_file` of `path`: a `file` frame, or its error as an
/// `error` frame.
pub async fn read_file(client: &Client, id: &str, path: &str) -> aisys::types::ServerMessage {
    use aisys::types::{ClientMessage, ServerMessage};
    match client
        .request(ClientMessage::ReadFile {
            session_id: id.into(),
            path: path.into(),
        })
        .await
    {
        Ok(m) => m,
        Err(aisys::client::ClientError::Server { code, message }) => {
            ServerMessage::Error { code, message }
        }
        Err(e) => panic!("{e}"),
    }
}

/// The session's workspace as `session.files` lists it, and whether the listing was cut.
pub async fn list_files(client: &Client, id: &str) -> (Vec<aisys::types::WorkspaceFile>, bool) {
    use aisys::types::{ClientMessage, ServerMessage};
    let listed = client
        .request(ClientMessage::Files {
            session_id: id.into(),
        })
        .await
        .unwrap();
    let ServerMessage::Files {
        files, truncated, ..
    } = listed
    else {
        panic!("{listed:?}")
    };
    (files, truncated)
}

/// Collects a session's `file_changed` notices until one says `path` changed as `kind`;
/// returns every change seen, that one last.
pub async fn until_file_change(
    notes: &mut mpsc::Receiver<Notification>,
    session_id: &str,
    path: &str,
    kind: aisys::types::FileChangeKind,
) -> Vec<aisys::types::FileChange> {
    use aisys::types::ServerMessage;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + TURN_WAIT;
    loop {
        let note = tokio::time::timeout_at(deadline, notes.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} {path} in time; saw {seen:?}"))
            .expect("connection task ended");
        if let Notification::Server(ServerMessage::FileChanged {
            session_id: s,
            change,
        }) = note
            && s == session_id
        {
            let done = change.path == path && change.kind == kind;
            seen.push(change);
            if done {
                return seen;
            }
        }
    }
}

/// `/metrics`, fetched over a plain socket.
pub async fn metrics(server: &Server) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.http.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.token
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

/// The value of one sample line of the exposition, e.g. `aisys_queue_depth{queue="journal"}`.
pub fn sample(text: &str, name: &str) -> i64 {
    sample_text(text, name)
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a whole number ({e}):\n{text}"))
}

/// [`sample`], for a value with a fraction (seconds).
pub fn sample_f64(text: &str, name: &str) -> f64 {
    sample_text(text, name)
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a number ({e}):\n{text}"))
}

/// The text of a sample's value; the sample must be there.
fn sample_text<'t>(text: &'t str, name: &str) -> &'t str {
    sample_if_any(text, name).unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// The text of a sample's value, if the exposition has the sample (an older build may not).
pub fn sample_if_any<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::trim))
}

pub fn depth(text: &str, queue: &str) -> i64 {
    sample(text, &format!("aisys_queue_depth{{queue=\"{queue}\"}}"))
}

pub fn peak(text: &str, queue: &str) -> i64 {
    sample(text, &format!("aisys_queue_peak{{queue=\"{queue}\"}}"))
}
