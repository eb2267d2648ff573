//! A scripted mock of the Anthropic Messages API on 127.0.0.1, for driving the real agent CLIs
//! offline. `POST /v1/messages` answers with SSE when `stream` is true (message_start,
//! content_block_* for text, thinking and tool_use, message_delta, message_stop) and with one JSON
//! message otherwise; `count_tokens` answers a count; failures, slow streams and dropped
//! connections can be scripted. Every request is kept for assertions. Also the real Claude Code
//! and OpenCode commands pointed at it, with nothing of this machine's environment.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

/// An agent binary installed by scripts/install-test-deps, or the one named by `var`; a missing
/// one fails the test with how to install it (never a silent skip).
pub fn agent_bin(rel: &str, var: &str) -> std::path::PathBuf {
    if let Ok(p) = std::env::var(var) {
        return p.into();
    }
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-deps/node_modules")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/install-test-deps",
        p.display()
    );
    p
}

/// The real Claude Code CLI.
pub fn claude_bin() -> std::path::PathBuf {
    agent_bin(
        "@anthropic-ai/claude-code-linux-x64/claude",
        "AISYS_CLAUDE_BIN",
    )
}

/// The real OpenCode CLI.
pub fn opencode_bin() -> std::path::PathBuf {
    agent_bin("opencode-linux-x64/bin/opencode", "AISYS_OPENCODE_BIN")
}

/// The real Claude Code CLI run in `cwd` with `home` as HOME, talking to `mock`: nothing of this
/// machine's environment but PATH, no telemetry, update checks or other traffic; stdin empty.
pub fn claude_command(
    mock: &MockAnthropic,
    home: &std::path::Path,
    cwd: &std::path::Path,
) -> std::process::Command {
    let mut c = std::process::Command::new(claude_bin());
    c.current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env("ANTHROPIC_API_KEY", "test")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(std::process::Stdio::null());
    c
}

/// `claude -p` reading and writing stream-json lines (stream-json output needs `--verbose`).
pub const CLAUDE_STREAM_JSON_IO: [&str; 6] = [
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
];

/// The real OpenCode CLI run in `cwd` with `home` as HOME and its data, config, cache and state
/// folders at `xdg` (in that order) below `home`; no update checks or model list fetches; stdin
/// empty.
pub fn opencode_command(
    home: &std::path::Path,
    cwd: &std::path::Path,
    xdg: [&str; 4],
) -> std::process::Command {
    let [data, config, cache, state] = xdg;
    let mut c = std::process::Command::new(opencode_bin());
    c.current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(data))
        .env("XDG_CONFIG_HOME", home.join(config))
        .env("XDG_CACHE_HOME", home.join(cache))
        .env("XDG_STATE_HOME", home.join(state))
        .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
        .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
        .stdin(std::process::Stdio::null());
    c
}

/// Points OpenCode run in `ws` at `mock`, as its Anthropic provider, by `ws/opencode.json`.
pub fn write_opencode_config(ws: &std::path::Path, mock: &MockAnthropic) {
    std::fs::write(
        ws.join("opencode.json"),
        json!({"provider": {"anthropic": {"options": {"baseURL": format!("{}/v1", mock.base_url()), "apiKey": "test"}}},
               "model": "anthropic/claude-sonnet-4-5"})
        .to_string(),
    )
    .unwrap();
}

/// One content block of a scripted reply.
#[derive(Debug, Clone)]
pub enum Block {
    Text(String),
    Thinking(String),
    ToolUse { name: String, input: Value },
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    Message(Vec<Block>),
    /// An HTTP error with Anthropic's error body (`rate_limit_error`, `api_error`, ...).
    Error {
        status: u16,
        kind: String,
        message: String,
    },
    /// A message streamed with a pause between SSE events (for interrupts).
    Slow(Vec<Block>, Duration),
    /// One text block streamed as these deltas, with a pause before each SSE event (for
    /// watching an answer appear piece by piece).
    Chunked(Vec<String>, Duration),
    /// The connection is dropped after the first event.
    Drop,
}

impl Reply {
    pub fn text(t: &str) -> Reply {
        Reply::Message(vec![Block::Text(t.into())])
    }
    /// One text block, streamed with `pause` between its SSE events.
    pub fn slow_text(t: &str, pause: Duration) -> Reply {
        Reply::Slow(vec![Block::Text(t.into())], pause)
    }
    /// A call of Claude Code's Write tool.
    pub fn write(file_path: &str, content: &str) -> Reply {
        Reply::tool("Write", json!({"file_path": file_path, "content": content}))
    }
    pub fn tool(name: &str, input: Value) -> Reply {
        Reply::Message(vec![Block::ToolUse {
            name: name.into(),
            input,
        }])
    }
}

/// When a rule applies, judged on the request's last message.
#[derive(Debug, Clone)]
pub enum When {
    /// The last user message's text contains this.
    UserSays(String),
    /// The last message carries a tool_result whose text contains this.
    ToolResultContains(String),
    /// Any request that offers tools (the main conversation, not side requests).
    Always,
}

#[derive(Debug, Clone)]
struct Rule {
    when: When,
    reply: Reply,
    /// Whether the rule stays after it matched once.
    sticky: bool,
}

#[derive(Default)]
struct Inner {
    rules: Vec<Rule>,
    requests: Vec<Value>,
    next_id: u64,
}

/// The running mock; stops when dropped.
pub struct MockAnthropic {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Builds the rules of a mock.
#[derive(Default)]
pub struct Script {
    rules: Vec<Rule>,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }
    /// Answer once when `when` holds.
    pub fn on(mut self, when: When, reply: Reply) -> Script {
        self.rules.push(Rule {
            when,
            reply,
            sticky: false,
        });
        self
    }
    /// Answer every time `when` holds.
    pub fn always(mut self, when: When, reply: Reply) -> Script {
        self.rules.push(Rule {
            when,
            reply,
            sticky: true,
        });
        self
    }
    pub fn start(self) -> MockAnthropic {
        MockAnthropic::start(self)
    }
}

impl MockAnthropic {
    /// A mock that gives `reply` to every request offering tools.
    pub fn always(reply: Reply) -> MockAnthropic {
        Script::new().always(When::Always, reply).start()
    }
    pub fn start(script: Script) -> MockAnthropic {
        let inner = Arc::new(Mutex::new(Inner {
            rules: script.rules,
            ..Default::default()
        }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = inner.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new()
                    .route("/v1/messages", post(messages))
                    .route("/v1/messages/count_tokens", post(count_tokens))
                    .with_state(state);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        MockAnthropic {
            addr: addr_rx.recv().unwrap(),
            inner,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request body received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The last request that offered tools: the main conversation's, not a side request's.
    pub fn last_main_request(&self) -> Value {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| r["tools"].as_array().is_some_and(|t| !t.is_empty()))
            .expect("a request that offers tools")
    }
}

impl Drop for MockAnthropic {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // The server may be mid-stream to a killed client; do not wait for it.
        drop(self.thread.take());
    }
}

async fn count_tokens() -> Response {
    json_response(200, json!({"input_tokens": 42}))
}

fn json_response(status: u16, v: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(v.to_string()))
        .unwrap()
}

/// (all user text of the conversation, the text of tool results after its last assistant
/// message). Agents add their own user messages (reminders, agent lists) after the prompt, and
/// sometimes after a tool result, so a prompt is looked for anywhere; tool results only after the
/// last reply, which they answer.
fn conversation_text(body: &Value) -> (String, String) {
    let mut user = String::new();
    let mut results = String::new();
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last_reply = messages.iter().rposition(|m| m["role"] == "assistant");
    for (i, m) in messages.iter().enumerate() {
        let last = last_reply.is_none_or(|r| i > r);
        if m["role"] != "user" {
            continue;
        }
        match &m["content"] {
            Value::String(s) => user.push_str(s),
            Value::Array(items) => {
                for it in items {
                    match it["type"].as_str() {
                        Some("text") => user.push_str(it["text"].as_str().unwrap_or("")),
                        Some("tool_result") if last => results.push_str(&it["content"].to_string()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (user, results)
}

fn choose(inner: &mut Inner, body: &Value) -> Reply {
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let (user, results) = conversation_text(body);
    // Only the main conversation offers tools; side requests (titles, summaries) never take a
    // scripted reply.
    let pos = inner.rules.iter().position(|r| {
        has_tools
            && match &r.when {
                When::UserSays(t) => results.is_empty() && user.contains(t.as_str()),
                When::ToolResultContains(t) => results.contains(t.as_str()),
                When::Always => true,
            }
    });
    match pos {
        Some(i) if inner.rules[i].sticky => inner.rules[i].reply.clone(),
        Some(i) => inner.rules.remove(i).reply,
        None => Reply::text("ok"),
    }
}

async fn messages(State(inner): State<Arc<Mutex<Inner>>>, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (reply, id) = {
        let mut g = inner.lock().unwrap();
        g.requests.push(body.clone());
        g.next_id += 1;
        (choose(&mut g, &body), g.next_id)
    };
    let model = body["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_string();
    let mut chunks: Option<Vec<String>> = None;
    let (blocks, delay, drop_after_first) = match reply {
        Reply::Error {
            status,
            kind,
            message,
        } => {
            return json_response(
                status,
                json!({"type": "error", "error": {"type": kind, "message": message}}),
            );
        }
        Reply::Message(b) => (b, Duration::ZERO, false),
        Reply::Slow(b, d) => (b, d, false),
        Reply::Chunked(parts, d) => {
            let text = parts.concat();
            chunks = Some(parts);
            (vec![Block::Text(text)], d, false)
        }
        Reply::Drop => (vec![Block::Text("partial".into())], Duration::ZERO, true),
    };
    let message_id = format!("msg_mock_{id}");
    let content: Vec<Value> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| match b {
            Block::Text(t) => json!({"type": "text", "text": t}),
            Block::Thinking(t) => json!({"type": "thinking", "thinking": t, "signature": "c2lnbmF0dXJl"}),
            Block::ToolUse { name, input } => json!({"type": "tool_use", "id": format!("toolu_mock_{id}_{i}"), "name": name, "input": input}),
        })
        .collect();
    let stop_reason = if blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
        "tool_use"
    } else {
        "end_turn"
    };
    let usage = json!({"input_tokens": 120, "output_tokens": 30, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 80});
    if !body["stream"].as_bool().unwrap_or(false) {
        return json_response(
            200,
            json!({"id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null, "usage": usage}),
        );
    }
    let mut events: Vec<(String, Value)> = vec![(
        "message_start".into(),
        json!({"type": "message_start", "message": {"id": message_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 120, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 80}}}),
    )];
    for (i, c) in content.iter().enumerate() {
        let start = match c["type"].as_str() {
            Some("text") => json!({"type": "text", "text": ""}),
            Some("thinking") => json!({"type": "thinking", "thinking": ""}),
            _ => json!({"type": "tool_use", "id": c["id"], "name": c["name"], "input": {}}),
        };
        events.push((
            "content_block_start".into(),
            json!({"type": "content_block_start", "index": i, "content_block": start}),
        ));
        match c["type"].as_str() {
            Some("text") if chunks.is_some() => {
                for part in chunks.take().unwrap_or_default() {
                    events.push(("content_block_delta".into(), json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": part}})));
                }
            }
            Some("text") => {
                let t = c["text"].as_str().unwrap_or("");
                let mid = t.len() / 2;
                let mid = (0..=mid)
                    .rev()
                    .find(|m| t.is_char_boundary(*m))
                    .unwrap_or(0);
                for part in [&t[..mid], &t[mid..]] {
                    events.push(("content_block_delta".into(), json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": part}})));
                }
            }
            Some("thinking") => {
                events.push(("content_block_delta".into(), json!({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": c["thinking"]}})));
                events.push(("content_block_delta".into(), json!({"type": "content_block_delta", "index": i, "delta": {"type": "signature_delta", "signature": "c2lnbmF0dXJl"}})));
            }
            _ => {
                let j = c["input"].to_string();
                let mid = j.len() / 2;
                let mid = (0..=mid)
                    .rev()
                    .find(|m| j.is_char_boundary(*m))
                    .unwrap_or(0);
                for part in [&j[..mid], &j[mid..]] {
                    events.push(("content_block_delta".into(), json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": part}})));
                }
            }
        }
        events.push((
            "content_block_stop".into(),
            json!({"type": "content_block_stop", "index": i}),
        ));
    }
    events.push(("message_delta".into(), json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 30}})));
    events.push(("message_stop".into(), json!({"type": "message_stop"})));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        for (n, (name, data)) in events.into_iter().enumerate() {
            if n > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx
                .send(Ok(format!("event: {name}\ndata: {data}\n\n")))
                .await
                .is_err()
            {
                return;
            }
            if drop_after_first {
                let _ = tx
                    .send(Err(std::io::Error::other("dropped by the mock")))
                    .await;
                return;
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}
