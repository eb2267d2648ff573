//! The runner: one turn of one agent in one sandbox, as a stream of [`StreamEvent`]s.
//!
//! It starts the agent's process, feeds its stdin, turns stdout lines into events (through the
//! adapter), stderr lines into `stderr` events, relays permission decisions and interrupts, and
//! enforces the turn's time limit: interrupt first, kill after [`INTERRUPT_GRACE`]. Every turn
//! ends with exactly one `result` event, made up by the runner when the agent died without one.
//!
//! Must not persist anything, and must not decide permissions: requests go out as events and
//! decisions come back as [`TurnControl`] messages.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::agent::{AgentAdapter, AgentOptions};
use super::env::{EnvError, ExitInfo, LimitHit, Sandbox};
use super::turn_events::EventSender;
use crate::converters::lines::{BadLine, LineBuffer, LineError};
use crate::types::{DecidedBy, PermissionDecision, StreamEvent, TurnStatus};

/// How long an agent gets to end its turn after an interrupt before it is killed.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(5);
/// How many stderr lines are kept to explain a turn that ended without a result.
const STDERR_TAIL: usize = 20;
/// Bytes read from the agent's stdout at a time: lines are split inside this buffer, so a burst
/// of lines costs one `read`, and a long line a few.
const STDOUT_CHUNK: usize = 64 * 1024;
/// Bytes read from the agent's stderr at a time: it says little, a line now and then.
const STDERR_CHUNK: usize = 8 * 1024;

/// What the caller can tell a running turn.
///
/// Its queue is unbounded on purpose: callers poll the turn in their own task, so a full
/// bounded queue would wait for the very task that is waiting. It holds at most one message per
/// thing a user did (an answer, an interrupt), which the turn takes the next time it is polled.
#[derive(Debug, Clone)]
pub enum TurnControl {
    /// End the turn cleanly (the agent's own interrupt), killing it after [`INTERRUPT_GRACE`].
    Interrupt,
    /// Kill the agent now.
    Kill,
    /// Answer a `permission_request` event.
    Permission {
        request_id: String,
        decision: PermissionDecision,
        message: Option<String>,
        /// Who decided, for the `permission_decision` event.
        decided_by: DecidedBy,
    },
}

/// One turn to run.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    pub prompt: String,
    pub options: AgentOptions,
    /// Most time the turn may take.
    pub timeout: Option<Duration>,
}

/// How a turn ended.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub status: TurnStatus,
    /// The agent's own session id, to resume its conversation.
    pub agent_session_id: Option<String>,
    pub exit: Option<ExitInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("cannot write to the agent's stdin: {0}")]
    Stdin(std::io::Error),
}

impl RunnerError {
    /// The turn could not start because its sandbox no longer exists.
    pub fn sandbox_gone(&self) -> bool {
        matches!(self, RunnerError::Env(e) if e.sandbox_gone())
    }
}

/// Sets top-level `keys` in the JSON file at `path` (inside the sandbox), keeping its other keys;
/// a missing file, or one that is not a JSON object, starts from an empty object.
async fn merge_json_keys(
    sandbox: &dyn Sandbox,
    path: &str,
    keys: serde_json::Map<String, serde_json::Value>,
) -> Result<(), EnvError> {
    let mut doc = match sandbox.read_file(path).await {
        Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        },
        Err(_) => serde_json::Map::new(),
    };
    doc.extend(keys);
    let text = serde_json::to_vec_pretty(&serde_json::Value::Object(doc)).unwrap_or_default();
    sandbox.write_file(path, &text).await
}

/// Runs one turn, sending every event to `events`: the events of the lines one read of the
/// agent's output brought go over together. Returns when the agent's process is gone.
pub async fn run_turn(
    sandbox: &dyn Sandbox,
    adapter: &mut dyn AgentAdapter,
    turn: Turn,
    mut events: EventSender,
    mut control: mpsc::UnboundedReceiver<TurnControl>,
) -> Result<TurnOutcome, RunnerError> {
    let started = Instant::now();
    let home = sandbox.home().to_string();
    for (rel, contents) in adapter.home_files(&turn.options) {
        sandbox
            .write_file(&format!("{home}/{rel}"), &contents)
            .await?;
    }
    for (rel, keys) in adapter.home_json(&turn.options) {
        merge_json_keys(sandbox, &format!("{home}/{rel}"), keys).await?;
    }
    let mut spec = adapter.command(&turn.prompt, &turn.options, &home);
    spec.env.extend(adapter.env(&turn.options, &home));
    spec.gathered_stdout = true;
    let mut process = sandbox.exec(spec).await?;

    let mut stdin = process.stdin.take();
    if let Some(w) = stdin.as_mut() {
        for line in adapter.stdin_lines(&turn.prompt) {
            write_line(w, &line).await.map_err(RunnerError::Stdin)?;
        }
    }
    if !adapter.keeps_stdin_open() {
        stdin = None;
    }

    let (mut stdout, mut stderr) = (process.stdout, process.stderr);
    let mut out_lines = LineBuffer::new(STDOUT_CHUNK);
    let mut err_lines = LineBuffer::new(STDERR_CHUNK);
    let (mut out_open, mut err_open) = (true, true);
    let mut stderr_tail: Vec<String> = Vec::new();
    let mut pending: HashMap<String, serde_json::Value> = HashMap::new();
    let mut result: Option<TurnStatus> = None;
    let mut agent_session_id: Option<String> = turn.options.resume.clone();
    let mut ended_by: Option<TurnStatus> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let deadline = turn.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut control_open = true;

    while out_open || err_open {
        let timer = next_timer(deadline, kill_at, ended_by.is_some());
        tokio::select! {
            read = out_lines.next_async(&mut stdout), if out_open => {
                match read {
                    Ok(None) => out_open = false,
                    Ok(Some(line)) => {
                        // Borrowed, not copied, when it is UTF-8 (it almost always is).
                        let line = line.text();
                        for mut ev in adapter.read_line(line.trim_end()) {
                            // A turn ended by an interrupt or the time limit says so, whatever
                            // the agent reports.
                            if let (StreamEvent::Result { status, error, .. }, Some(by)) =
                                (&mut ev, ended_by)
                            {
                                *status = by;
                                if by == TurnStatus::Timeout {
                                    *error = Some(timeout_message(turn.timeout));
                                }
                            }
                            match &ev {
                                StreamEvent::PermissionRequest { request_id, input, .. } => {
                                    pending.insert(request_id.clone(), input.clone());
                                }
                                StreamEvent::SessionStarted { agent_session_id: Some(id), .. } => {
                                    agent_session_id = Some(id.clone());
                                }
                                StreamEvent::Result { status, agent_session_id: id, .. } => {
                                    result = Some(*status);
                                    if id.is_some() {
                                        agent_session_id = id.clone();
                                    }
                                    // The turn is over: closing stdin lets the agent exit.
                                    stdin = None;
                                }
                                _ => {}
                            }
                            let tool_done = matches!(ev, StreamEvent::ToolResult { .. });
                            events.push(ev).await;
                            // A tool's command is what runs into a limit: say so beside its result.
                            if tool_done {
                                report_limits(sandbox, None, &mut events).await;
                            }
                        }
                        // The lines this read brought are done: their events go over together.
                        if !out_lines.line_ready() {
                            events.flush().await;
                        }
                    }
                    Err(e) => {
                        let message = match e {
                            LineError::TooLong { number } => {
                                BadLine::too_long("agent stdout", number).to_string()
                            }
                            LineError::Io(e) => format!("agent stdout: {e}"),
                        };
                        events.send(StreamEvent::Error {
                            message,
                            code: Some("line_too_long".into()),
                            timestamp: None,
                        }).await;
                        process.control.kill();
                        out_open = false;
                    }
                }
            }
            read = err_lines.next_async(&mut stderr), if err_open => {
                match read {
                    Ok(Some(line)) => {
                        let line = line.text().trim_end().to_string();
                        if stderr_tail.len() == STDERR_TAIL {
                            stderr_tail.remove(0);
                        }
                        stderr_tail.push(line.clone());
                        events.send(StreamEvent::Stderr { line }).await;
                    }
                    _ => err_open = false,
                }
            }
            msg = control.recv(), if control_open => {
                match msg {
                    None => control_open = false,
                    Some(TurnControl::Kill) => {
                        ended_by.get_or_insert(TurnStatus::Interrupted);
                        process.control.kill();
                    }
                    Some(TurnControl::Interrupt) => {
                        ended_by.get_or_insert(TurnStatus::Interrupted);
                        interrupt(adapter, &mut stdin, &mut process.control, &mut kill_at).await;
                    }
                    Some(TurnControl::Permission { request_id, decision, message, decided_by }) => {
                        let Some(input) = pending.remove(&request_id) else { continue };
                        events.send(StreamEvent::PermissionDecision {
                            request_id: request_id.clone(),
                            decision,
                            message: message.clone(),
                            decided_by: Some(decided_by),
                        }).await;
                        if let (Some(w), Some(line)) = (stdin.as_mut(),
                            adapter.permission_reply(&request_id, decision, &input, message.as_deref())) {
                            if let Err(e) = write_line(w, &line).await {
                                tracing::warn!("cannot answer permission request {request_id}: {e}");
                            }
                        }
                    }
                }
            }
            _ = sleep_until(timer), if timer.is_some() => {
                if kill_at.is_some_and(|k| tokio::time::Instant::now() >= k) {
                    process.control.kill();
                    kill_at = None;
                } else if ended_by.is_none() {
                    ended_by = Some(TurnStatus::Timeout);
                    interrupt(adapter, &mut stdin, &mut process.control, &mut kill_at).await;
                }
            }
        }
    }
    events.flush().await;
    drop(stdin);
    let exit = process.control.wait().await.ok();
    for text in sandbox.take_notices() {
        events
            .send(StreamEvent::Notice {
                kind: "sandbox".into(),
                text,
                timestamp: None,
            })
            .await;
    }
    report_limits(sandbox, exit.as_ref(), &mut events).await;
    if result.is_none()
        && ended_by.is_none()
        && let Some(ev) =
            adapter.result_on_exit(exit.as_ref(), started.elapsed().as_millis() as u64)
    {
        if let StreamEvent::Result {
            status,
            agent_session_id: id,
            ..
        } = &ev
        {
            result = Some(*status);
            if id.is_some() {
                agent_session_id = id.clone();
            }
        }
        events.send(ev).await;
    }

    let status = match (ended_by, result) {
        (Some(by), _) => by,
        (None, Some(s)) => s,
        (None, None) => TurnStatus::Error,
    };
    if result.is_none() {
        let error = match status {
            TurnStatus::Timeout => Some(timeout_message(turn.timeout)),
            TurnStatus::Interrupted => None,
            _ => Some(describe_exit(exit, &stderr_tail)),
        };
        events
            .send(StreamEvent::Result {
                status,
                duration_ms: Some(started.elapsed().as_millis() as u64),
                num_turns: None,
                cost_usd: None,
                usage: None,
                text: None,
                error,
                agent_session_id: agent_session_id.clone(),
            })
            .await;
    }
    Ok(TurnOutcome {
        status,
        agent_session_id,
        exit,
    })
}

/// Sends an error event for each resource limit the sandbox hit since the last check.
async fn report_limits(sandbox: &dyn Sandbox, exit: Option<&ExitInfo>, events: &mut EventSender) {
    for hit in sandbox.limits_hit(exit).await {
        events
            .send(StreamEvent::Error {
                message: limit_message(hit),
                code: Some(hit.code().to_string()),
                timestamp: None,
            })
            .await;
    }
}

/// What a user reads when a limit was hit: what happened, and the two ways to raise it.
fn limit_message(hit: LimitHit) -> String {
    let (flag, key) = match hit {
        LimitHit::Pids { .. } => ("--max-pids", "max_pids"),
        LimitHit::Memory { .. } => ("--max-memory", "max_memory"),
        LimitHit::CpuTime { .. } => ("--max-cpu-time", "max_cpu_time"),
    };
    format!("{hit}: raise it with {flag}, or `{key}` in the [limits] table of config.toml")
}

fn timeout_message(limit: Option<Duration>) -> String {
    format!(
        "the turn took longer than its limit of {}s",
        limit.unwrap_or_default().as_secs()
    )
}

fn describe_exit(exit: Option<ExitInfo>, stderr_tail: &[String]) -> String {
    let how = match exit {
        Some(ExitInfo { code: Some(c), .. }) => format!("the agent exited with status {c}"),
        Some(ExitInfo {
            signal: Some(s), ..
        }) => format!("the agent was killed by signal {s}"),
        _ => "the agent ended".to_string(),
    };
    match stderr_tail.last() {
        Some(_) => format!(
            "{how} without a result; its last stderr lines:\n{}",
            stderr_tail.join("\n")
        ),
        None => format!("{how} without a result"),
    }
}

async fn interrupt(
    adapter: &mut dyn AgentAdapter,
    stdin: &mut Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    control: &mut Box<dyn super::env::ProcessControl>,
    kill_at: &mut Option<tokio::time::Instant>,
) {
    let sent = match (stdin.as_mut(), adapter.interrupt_line()) {
        (Some(w), Some(line)) => write_line(w, &line).await.is_ok(),
        _ => false,
    };
    if sent {
        *kill_at = Some(tokio::time::Instant::now() + INTERRUPT_GRACE);
    } else {
        control.kill();
    }
}

fn next_timer(
    deadline: Option<tokio::time::Instant>,
    kill_at: Option<tokio::time::Instant>,
    ended: bool,
) -> Option<tokio::time::Instant> {
    match (if ended { None } else { deadline }, kill_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn write_line(
    w: &mut Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    line: &str,
) -> std::io::Result<()> {
    w.write_all(line.as_bytes()).await?;
    w.write_all(b"\n").await?;
    w.flush().await
}
