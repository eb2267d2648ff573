//! Shared by the docs viewer's tests: a scratch machine (HOME, Claude home, a git project), the
//! real `aisys docs` started on it, plain HTTP requests, and waiting on a page.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::browser::Page;
use crate::mock_api::claude_bin;

/// How long a page may take to show a file's change: the viewer promises a second.
pub const LIVE_LIMIT: Duration = Duration::from_secs(1);
/// The token the tests start the viewer with.
pub const TOKEN: &str = "docs-viewer-test-token";

/// A scratch machine: the entities tests' world (HOME, a Claude home, a git project) below the
/// build's temporary folder, with a docs folder in its project.
pub struct World(crate::entities_support::World);

impl std::ops::Deref for World {
    type Target = crate::entities_support::World;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let w = crate::entities_support::World::in_dir(dir);
        std::fs::create_dir_all(w.project.join("docs")).unwrap();
        World(w)
    }

    pub fn env(&self, c: &mut Command) {
        c.current_dir(&self.project)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.claude)
            .env("GIT_CONFIG_GLOBAL", self.dir.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CEILING_DIRECTORIES", self.dir.path())
            .env("AISYS_CONFIG_DIR", self.dir.path().join("aisys-config"))
            .env("AISYS_DATA_DIR", self.dir.path().join("aisys-data"));
    }

    pub fn aisys(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aisys"));
        c.args(args);
        self.env(&mut c);
        c.output().unwrap()
    }

    pub fn claude(&self, args: &[&str], extra: &[(&str, String)]) -> std::process::Output {
        let mut c = Command::new(claude_bin());
        c.args(args).stdin(Stdio::null());
        self.env(&mut c);
        c.env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

pub use crate::entities_support::ok;

/// A running `aisys docs`; stopped when dropped.
pub struct Viewer {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Viewer {
    pub fn start(w: &World, dir: &Path) -> Viewer {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aisys"));
        c.args(["docs", "--port", "0", "--no-open"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        w.env(&mut c);
        c.env("AISYS_TOKEN", TOKEN);
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("aisys docs printed no address")
                .unwrap();
            if let Some(u) = line.strip_prefix("open: ") {
                break u.to_string();
            }
        };
        // Keep reading so that the pipe never fills.
        std::thread::spawn(move || for _ in lines {});
        assert!(url.ends_with(&format!("/docs/?token={TOKEN}")), "{url}");
        let base = url.split("/docs/").next().unwrap().to_string();
        Viewer { child, base }
    }

    pub fn open_url(&self, path: &str) -> String {
        format!("{}{path}?token={TOKEN}", self.base)
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain HTTP/1.1 request; returns the status and the body.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_full(base, method, path, headers, body);
    (status, body)
}

/// A GET's status and header block (lowercased).
pub fn http_head(base: &str, path: &str) -> (u16, String) {
    let (status, head, _) = http_full(base, "GET", path, &[], "");
    (status, head)
}

fn http_full(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head.to_lowercase(),
        body.to_string(),
    )
}

/// Where screenshots go: a temporary folder, or with `AISYS_UPDATE_SCREENSHOTS=1` the README's
/// `docs/screenshots/`.
pub fn shots_dir() -> PathBuf {
    let d = if std::env::var_os("AISYS_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Waits until `expr` is true in the page, failing after `limit`; returns how long it took.
pub async fn within(page: &Page<'_>, expr: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if page.eval(&format!("!!({expr})")).await == json!(true) {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            let body = page.eval("document.body.innerText").await;
            panic!("not within {limit:?}: {expr}\nthe page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn inner_text(page: &Page<'_>, selector: &str) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    page.eval(&format!(
        "(document.querySelector({sel}) || {{innerText: ''}}).innerText"
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}
