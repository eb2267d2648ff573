//! The real Chromium (Debian's `chromium`), headless, driven over the Chrome DevTools Protocol
//! from the tests: open a page at a given width, evaluate script in it, wait for a condition,
//! take a screenshot. A missing Chromium fails the test with how to install it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long one DevTools command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Chromium may take to start and print its DevTools address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn chromium_bin() -> PathBuf {
    if let Ok(p) = std::env::var("AISYS_CHROMIUM") {
        return p.into();
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("Chromium is missing: run scripts/install-test-deps (or apt-get install chromium)");
}

type Pending = Arc<Mutex<std::collections::HashMap<u64, oneshot::Sender<Value>>>>;

/// A running headless Chromium; killed when dropped.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    tx: mpsc::UnboundedSender<String>,
    pending: Pending,
    next: Arc<AtomicU64>,
}

impl Browser {
    pub async fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        // The flags keep a headless Chromium from reaching for the network on its own.
        let mut child = Command::new(chromium_bin())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = url_tx.send(url.trim().to_string());
                }
            }
        });
        let url = url_rx
            .recv_timeout(START_TIMEOUT)
            .expect("chromium printed no DevTools address");
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to chromium");
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.send(Message::text(m)).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let p = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if let Some(id) = v["id"].as_u64()
                    && let Some(done) = p.lock().await.remove(&id)
                {
                    let _ = done.send(v);
                }
            }
        });
        Browser {
            child,
            _profile: profile,
            tx,
            pending,
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    async fn command(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.pending.lock().await.insert(id, done);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.tx.send(msg.to_string()).unwrap();
        let reply = tokio::time::timeout(COMMAND_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("chromium did not answer {method}"))
            .unwrap();
        if let Some(e) = reply.get("error") {
            panic!("{method}: {e}");
        }
        reply["result"].clone()
    }

    /// A new tab of `width` x `height` CSS pixels (`mobile` for a phone's viewport).
    pub async fn page(&self, width: u32, height: u32, mobile: bool) -> Page<'_> {
        let t = self
            .command(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target = t["targetId"].as_str().unwrap().to_string();
        let a = self
            .command(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await;
        let session = a["sessionId"].as_str().unwrap().to_string();
        let page = Page {
            browser: self,
            session,
        };
        page.cmd("Page.enable", json!({})).await;
        page.cmd("Runtime.enable", json!({})).await;
        page.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
pub struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Page<'_> {
    async fn cmd(&self, method: &str, params: Value) -> Value {
        self.browser
            .command(Some(&self.session), method, params)
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("Page.navigate", json!({"url": url})).await;
        self.wait_for("document.readyState === 'complete'").await;
    }

    /// Evaluates `expr` (awaiting a promise) and returns its value.
    pub async fn eval(&self, expr: &str) -> Value {
        let r = self
            .cmd(
                "Runtime.evaluate",
                json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("script failed: {expr}\n{e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is truthy; fails the test with `expr` after `TURN_WAIT`-like limits.
    pub async fn wait_for(&self, expr: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.eval(&format!("!!({expr})")).await;
            if v == json!(true) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let body = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!("timed out waiting for {expr}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `selector`.
    pub async fn click(&self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        self.wait_for(&format!("document.querySelector({sel})"))
            .await;
        self.eval(&format!("document.querySelector({sel}).click()"))
            .await;
    }

    /// Types `text` into the element matching `selector` (once there) as key presses would, then
    /// presses Enter if asked.
    pub async fn type_text(&self, selector: &str, text: &str, enter: bool) {
        let sel = serde_json::to_string(selector).unwrap();
        self.wait_for(&format!("document.querySelector({sel})"))
            .await;
        self.eval(&format!("document.querySelector({sel}).focus()"))
            .await;
        self.cmd("Input.insertText", json!({"text": text})).await;
        if enter {
            for kind in ["keyDown", "keyUp"] {
                self.cmd(
                    "Input.dispatchKeyEvent",
                    json!({"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": if kind == "keyDown" { "\r" } else { "" }}),
                )
                .await;
            }
        }
    }

    pub async fn screenshot(&self, path: &Path) {
        let r = self
            .cmd("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn reload(&self) {
        self.cmd("Page.reload", json!({})).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.wait_for("document.readyState === 'complete'").await;
    }
}
