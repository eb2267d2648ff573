//! The Modal bridge process and its JSON-lines protocol (see `bridge.py` for the wire format;
//! the requests and their replies are typed in [`super::protocol`]).
//!
//! One [`Bridge`] is one `python3 bridge.py` child serving every sandbox of one
//! [`super::ModalEnvironment`]. Requests get replies matched by id; exec output arrives as events
//! routed to per-exec channels. A malformed line or a dead bridge fails everything pending with an
//! error naming the cause; nothing here panics on what the bridge sends.
//!
//! Must not know what the sandboxes are for: no agent, workspace or tag policy lives here.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

use super::super::{EnvError, ExitInfo};
use super::protocol::{BridgeRequest, Envelope, ErrorBody, Incoming};

/// The bridge program, shipped inside the binary.
pub const BRIDGE_SOURCE: &str = include_str!("bridge.py");
/// The protocol version this side speaks; the bridge announces its own in `ready`.
const PROTOCOL: u64 = 1;
/// Environment variable naming the Python interpreter (default `python3`).
pub const ENV_PYTHON: &str = "AISYS_MODAL_PYTHON";
/// Importing `modal` takes about a second; far more means a broken interpreter.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of the bridge's stderr kept to explain why it died.
const STDERR_TAIL_LINES: usize = 40;
/// Longest bridge line accepted: a file read comes back in one line (base64, 4/3 of the bytes).
const MAX_LINE: usize = 400 * 1024 * 1024;
/// How much of a malformed line an error quotes.
const QUOTE_LEN: usize = 200;

/// What the install/auth errors tell the user to do.
pub const INSTALL_HINT: &str = "pip install 'modal>=1.6,<2' (into the python3 that aisys runs, or point AISYS_MODAL_PYTHON at a venv's python)";
pub const AUTH_HINT: &str = "run `modal token new`, or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET";

/// Where a running exec's events go.
struct ExecRoute {
    stdout: mpsc::UnboundedSender<Vec<u8>>,
    stderr: mpsc::UnboundedSender<Vec<u8>>,
    exit: oneshot::Sender<Result<ExitInfo, EnvError>>,
}

/// An exec's stdout chunks, stderr chunks and exit status, as the bridge delivers them.
pub type ExecReceivers = (
    mpsc::UnboundedReceiver<Vec<u8>>,
    mpsc::UnboundedReceiver<Vec<u8>>,
    oneshot::Receiver<Result<ExitInfo, EnvError>>,
);

/// A reply's `ok` object, as text until the request decodes it into its op's struct.
type Reply = Result<Box<RawValue>, EnvError>;
type Pending = HashMap<u64, oneshot::Sender<Reply>>;

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    execs: Mutex<HashMap<String, ExecRoute>>,
    /// Why the bridge can no longer answer, once it cannot.
    broken: Mutex<Option<String>>,
    stderr_tail: Mutex<VecDeque<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map is still a valid map: a panic elsewhere must not wedge every sandbox.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Marks the bridge broken and fails everything waiting on it.
    fn fail_all(&self, why: String) {
        lock(&self.broken).get_or_insert(why.clone());
        for (_, tx) in lock(&self.pending).drain() {
            let _ = tx.send(Err(EnvError::Backend(why.clone())));
        }
        for (_, route) in lock(&self.execs).drain() {
            let _ = route.exit.send(Err(EnvError::Backend(why.clone())));
        }
    }

    fn stderr_tail(&self) -> String {
        let tail = lock(&self.stderr_tail);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// A running bridge. Dropping the last handle closes its stdin, which makes it terminate the
/// sandboxes it owns and exit.
pub struct Bridge {
    tx: mpsc::UnboundedSender<String>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    /// The bridge's Modal SDK version, from its `ready` line.
    pub modal_version: String,
}

impl Bridge {
    /// Writes the bridge program under `data_dir` (if changed) and starts it with `python`.
    pub async fn start(
        python: &Path,
        data_dir: &Path,
        env: &std::collections::BTreeMap<String, String>,
        verbose: bool,
    ) -> Result<Bridge, EnvError> {
        let script = install_script(data_dir)?;
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C at the terminal reaches aisys, which then asks the
            // bridge to terminate the sandboxes; the bridge must not die first.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EnvError::ModalSetup(format!(
                    "the Modal backend needs Python 3, and `{}` was not found.\n  fix: install python3 and then {INSTALL_HINT}",
                    python.display()
                ))
            } else {
                EnvError::ModalSetup(format!("cannot start `{}`: {e}", python.display()))
            }
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(EnvError::ModalSetup("bridge stdio was not piped".into()));
        };
        let shared = Arc::new(Shared::default());

        // stderr: kept (tail) to explain failures; shown live with -v (Modal's build log).
        let sh = shared.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if verbose {
                    eprintln!("modal: {line}");
                }
                let mut tail = lock(&sh.stderr_tail);
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });

        // stdin: one writer, so lines never interleave.
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut stdin = stdin;
            while let Some(line) = rx.recv().await {
                if stdin.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            // All handles gone: closing stdin tells the bridge to clean up and exit. The child
            // is reaped here so it does not linger as a zombie.
            drop(stdin);
            let _ = child.wait().await;
        });

        // stdout: the first line is `ready` or `fatal`, then replies and events.
        let mut reader = BufReader::new(stdout);
        let first = tokio::time::timeout(START_TIMEOUT, read_line(&mut reader))
            .await
            .map_err(|_| {
                EnvError::ModalSetup(format!(
                    "the Modal bridge did not start within {}s",
                    START_TIMEOUT.as_secs()
                ))
            })?;
        let first = match first {
            Ok(Some(line)) => line,
            Ok(None) | Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(EnvError::ModalSetup(format!(
                    "the Modal bridge exited at start:\n{}",
                    shared.stderr_tail()
                )));
            }
        };
        let modal_version = check_ready(&first)?;

        let sh = shared.clone();
        tokio::spawn(async move {
            let why = loop {
                match read_line(&mut reader).await {
                    Ok(Some(line)) => {
                        if let Err(why) = dispatch(&sh, &line) {
                            break why;
                        }
                    }
                    Ok(None) => {
                        // Give the stderr task a moment to collect the traceback.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        break format!("the Modal bridge exited:\n{}", sh.stderr_tail());
                    }
                    Err(e) => break format!("reading from the Modal bridge: {e}"),
                }
            };
            sh.fail_all(why);
        });

        Ok(Bridge {
            tx,
            shared,
            next_id: AtomicU64::new(1),
            modal_version,
        })
    }

    fn send(&self, msg: &impl Serialize) -> Result<(), EnvError> {
        if let Some(why) = lock(&self.shared.broken).clone() {
            return Err(EnvError::Backend(why));
        }
        let mut line = serde_json::to_string(msg)
            .map_err(|e| EnvError::Backend(format!("encoding a bridge request: {e}")))?;
        line.push('\n');
        self.tx
            .send(line)
            .map_err(|_| EnvError::Backend("the Modal bridge has stopped".into()))
    }

    /// Sends `request` and waits for its reply, decoded as the reply of its op.
    pub async fn request<R: DeserializeOwned>(
        &self,
        request: BridgeRequest<'_>,
    ) -> Result<R, EnvError> {
        let rx = self.request_start(&request)?;
        let ok = rx
            .await
            .map_err(|_| EnvError::Backend("the Modal bridge has stopped".into()))??;
        serde_json::from_str(ok.get()).map_err(|e| {
            EnvError::Backend(format!(
                "the Modal bridge's {} reply is malformed: {e}",
                request.op()
            ))
        })
    }

    /// Sends `request` and returns the receiver of its reply without waiting.
    pub fn request_start(
        &self,
        request: &BridgeRequest<'_>,
    ) -> Result<oneshot::Receiver<Reply>, EnvError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        if let Err(e) = self.send(&Envelope { id, request }) {
            lock(&self.shared.pending).remove(&id);
            return Err(e);
        }
        Ok(rx)
    }

    /// Registers where an exec's events go; call before sending the `exec` request.
    pub fn route_exec(&self, exec_id: &str) -> ExecReceivers {
        // Unbounded: the one reader task serves every sandbox, so it must never wait on a slow
        // consumer of one exec; the backlog is bounded by what that process writes.
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (err_tx, err_rx) = mpsc::unbounded_channel();
        let (exit_tx, exit_rx) = oneshot::channel();
        lock(&self.shared.execs).insert(
            exec_id.to_string(),
            ExecRoute {
                stdout: out_tx,
                stderr: err_tx,
                exit: exit_tx,
            },
        );
        (out_rx, err_rx, exit_rx)
    }

    pub fn unroute_exec(&self, exec_id: &str) {
        lock(&self.shared.execs).remove(exec_id);
    }
}

/// Reads one line (without its newline); `None` at end of stream.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.read_until(b'\n', &mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(std::io::Error::other(format!(
            "a bridge line of {} bytes exceeds the limit of {MAX_LINE}",
            buf.len()
        )));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| std::io::Error::other("the Modal bridge sent a line that is not UTF-8"))
}

fn quote(line: &str) -> String {
    let mut end = line.len().min(QUOTE_LEN);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{:?}{}",
        &line[..end],
        if end < line.len() { "…" } else { "" }
    )
}

fn malformed(line: &str, what: &str) -> String {
    format!(
        "malformed line from the Modal bridge ({what}): {}",
        quote(line)
    )
}

/// Checks the bridge's first line: `ready`, or `fatal` turned into an error with its fix.
fn check_ready(line: &str) -> Result<String, EnvError> {
    match Incoming::parse(line).map_err(|why| EnvError::ModalSetup(malformed(line, &why)))? {
        Incoming::Ready {
            protocol,
            modal_version,
        } => {
            if protocol != Some(PROTOCOL) {
                return Err(EnvError::ModalSetup(format!(
                    "the Modal bridge speaks protocol {protocol:?}, aisys speaks {PROTOCOL}"
                )));
            }
            Ok(modal_version.unwrap_or_else(|| "?".into()))
        }
        Incoming::Fatal(ErrorBody { class, message }) => Err(match class.as_str() {
            "ModalMissing" => EnvError::ModalSetup(format!(
                "the Modal backend needs Modal's Python SDK, which this python cannot import ({message}).\n  fix: {INSTALL_HINT}\n  then authenticate: {AUTH_HINT}"
            )),
            "NoCredentials" => EnvError::ModalSetup(format!(
                "no Modal credentials: {message}.\n  fix: {AUTH_HINT}"
            )),
            _ => modal_error(class, message),
        }),
        _ => Err(EnvError::ModalSetup(malformed(line, "expected `ready`"))),
    }
}

/// An error Modal (or the bridge) raised, with a fix where one is known.
pub fn modal_error(class: String, message: String) -> EnvError {
    let hint = match class.as_str() {
        "AuthError" => format!("\n  fix: {AUTH_HINT}"),
        "SandboxTimeoutError" => {
            "\n  the sandbox reached its time limit; start a new one (its home volume is kept)"
                .into()
        }
        "SandboxTerminatedError" => "\n  the sandbox was terminated; start a new one".into(),
        "NotFoundError" => "\n  it may have ended; `aisys sandboxes list` shows live ones".into(),
        _ => String::new(),
    };
    EnvError::Modal {
        class,
        message: format!("{message}{hint}"),
    }
}

/// Routes one line from the bridge. `Err` means the stream can no longer be trusted.
fn dispatch(sh: &Shared, line: &str) -> Result<(), String> {
    match Incoming::parse(line).map_err(|why| malformed(line, &why))? {
        Incoming::Reply { id, result } => {
            let Some(tx) = lock(&sh.pending).remove(&id) else {
                return Err(malformed(line, "reply to no pending request"));
            };
            let _ = tx.send(result.map_err(|e| modal_error(e.class, e.message)));
        }
        Incoming::Output { exec, fd, data } => {
            let execs = lock(&sh.execs);
            let Some(route) = execs.get(&exec) else {
                return Ok(()); // output of an exec nobody waits for any more
            };
            // A dropped reader only means nobody wants that stream.
            let _ = if fd == 1 {
                route.stdout.send(data)
            } else {
                route.stderr.send(data)
            };
        }
        Incoming::Exit { exec, code } => {
            // asyncio-style negative codes mean "killed by signal -code".
            let info = if code < 0 {
                ExitInfo {
                    code: None,
                    signal: Some((-code) as i32),
                }
            } else {
                ExitInfo {
                    code: Some(code as i32),
                    signal: None,
                }
            };
            if let Some(route) = lock(&sh.execs).remove(&exec) {
                let _ = route.exit.send(Ok(info));
            }
        }
        Incoming::ExecFailed { exec, error } => {
            if let Some(route) = lock(&sh.execs).remove(&exec) {
                let _ = route
                    .exit
                    .send(Err(modal_error(error.class, error.message)));
            }
        }
        Incoming::Log { message } => tracing::warn!("modal bridge: {message}"),
        Incoming::Ready { .. } | Incoming::Fatal(_) => {
            return Err(malformed(line, "neither a reply nor an event"));
        }
    }
    Ok(())
}

/// Writes the bridge program to `<data_dir>/modal/bridge.py` unless it is already there.
fn install_script(data_dir: &Path) -> Result<PathBuf, EnvError> {
    let dir = data_dir.join("modal");
    let path = dir.join("bridge.py");
    if std::fs::read(&path).ok().as_deref() == Some(BRIDGE_SOURCE.as_bytes()) {
        return Ok(path);
    }
    let io = |source| EnvError::File {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    // Written aside and renamed, so a concurrent aisys never runs half a program.
    let tmp = dir.join(format!("bridge.py.{}", std::process::id()));
    std::fs::write(&tmp, BRIDGE_SOURCE).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}
