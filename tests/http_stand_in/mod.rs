//! A small HTTP/1.1 server on 127.0.0.1 for tests of what aisys fetches over HTTP: a stand-in
//! npm registry (package metadata and tarballs made here, with right or wrong integrity), a
//! hosted marketplace file (with ETag and Last-Modified), a connection cut in the middle of a
//! body, and a forward proxy that records what it was asked for (absolute-form `GET`s, which it
//! serves from the same routes, and `CONNECT`s, which it refuses).
//!
//! Raw sockets rather than a framework, so that a cut connection is really cut and the proxy
//! sees the request line as the client sent it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

/// What one path answers.
#[derive(Clone)]
pub enum Route {
    /// 200 with this body and content type; `etag` makes a matching `If-None-Match` get a 304.
    Body {
        body: Vec<u8>,
        content_type: String,
        etag: Option<String>,
    },
    /// Announces the whole length, sends `sent` bytes, and closes the connection.
    Cut {
        body: Vec<u8>,
        sent: usize,
    },
    Status(u16),
    /// Answers `status` to the first `times` requests, then as `then`.
    Failing {
        status: u16,
        times: usize,
        then: Box<Route>,
    },
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, Route>,
    /// Each request line received, with the headers that matter for caching.
    log: Vec<String>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl StandIn {
    pub fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = inner.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || serve(stream, state));
            }
        });
        StandIn { addr, inner }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn route(&self, path: &str, route: Route) {
        self.inner
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    /// Removes and returns what `path` answers.
    pub fn take(&self, path: &str) -> Option<Route> {
        self.inner.lock().unwrap().routes.remove(path)
    }

    pub fn json(&self, path: &str, v: &Value) {
        self.route(
            path,
            Route::Body {
                body: serde_json::to_vec(v).unwrap(),
                content_type: "application/json".into(),
                etag: None,
            },
        );
    }

    /// Every request line (and `If-None-Match`/`If-Modified-Since` when sent), in order.
    pub fn log(&self) -> Vec<String> {
        self.inner.lock().unwrap().log.clone()
    }

    /// Publishes `main@version` whose native package `native` holds `files` (path, body, mode)
    /// under `package/`. The tarball's integrity is right unless `integrity` overrides it; the
    /// tarball is served whole, or cut after `cut` bytes.
    pub fn publish(
        &self,
        main: &str,
        native: &str,
        version: &str,
        files: &[(&str, &[u8], u32)],
        integrity: Option<&str>,
        cut: Option<usize>,
    ) {
        let tgz = tarball(files);
        let tar_path = format!("/tarballs/{}-{version}.tgz", native.replace('/', "-"));
        let integrity = integrity.map(String::from).unwrap_or_else(|| sri(&tgz));
        self.route(
            &tar_path,
            match cut {
                Some(sent) => Route::Cut { body: tgz, sent },
                None => Route::Body {
                    body: tgz,
                    content_type: "application/octet-stream".into(),
                    etag: None,
                },
            },
        );
        let base = self.url();
        let base = base.trim_end_matches('/');
        let main_doc = json!({
            "name": main, "version": version,
            "optionalDependencies": {native: version},
            "dist": {"tarball": format!("{base}/tarballs/main.tgz"), "integrity": "sha512-unused"},
        });
        let native_doc = json!({
            "name": native, "version": version, "os": ["linux"],
            "dist": {"tarball": format!("{base}{tar_path}"), "integrity": integrity},
        });
        for (name, doc) in [(main, main_doc), (native, native_doc)] {
            let path = format!("/{}", name.replacen('/', "%2f", 1));
            self.json(&format!("{path}/{version}"), &doc);
            self.add_to_packument(&path, name, version, doc);
        }
    }

    /// The whole-package document (`/name`) gains `version`, which becomes `latest`.
    fn add_to_packument(&self, path: &str, name: &str, version: &str, doc: Value) {
        let old = match self.inner.lock().unwrap().routes.get(path) {
            Some(Route::Body { body, .. }) => serde_json::from_slice(body).ok(),
            _ => None,
        };
        let mut packument = old.unwrap_or_else(|| json!({"name": name, "versions": {}}));
        packument["versions"][version] = doc;
        packument["dist-tags"] = json!({"latest": version});
        self.json(path, &packument);
    }
}

/// `sha512-<base64>` of `data`.
pub fn sri(data: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(data))
    )
}

/// A gzip'd tar of `files` under `package/`, as npm packs them.
pub fn tarball(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for (path, body, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        b.append_data(&mut h, format!("package/{path}"), *body)
            .unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn serve(stream: TcpStream, state: Arc<Mutex<Inner>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let mut logged = line.clone();
        for k in ["if-none-match", "if-modified-since"] {
            if let Some(v) = headers.get(k) {
                logged.push_str(&format!(" [{k}: {v}]"));
            }
        }
        state.lock().unwrap().log.push(logged);
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        if method == "CONNECT" {
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            return;
        }
        if let Some(n) = headers
            .get("content-length")
            .and_then(|n| n.parse::<usize>().ok())
        {
            let mut body = vec![0; n];
            let _ = reader.read_exact(&mut body);
        }
        // A proxy request names the whole URL; its path is what is served.
        let path = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => target,
        };
        let route = {
            let mut inner = state.lock().unwrap();
            match inner.routes.get(path).cloned() {
                Some(Route::Failing {
                    status,
                    times,
                    then,
                }) => {
                    let next = if times > 1 {
                        Route::Failing {
                            status,
                            times: times - 1,
                            then: then.clone(),
                        }
                    } else {
                        *then
                    };
                    inner.routes.insert(path.to_string(), next);
                    Some(Route::Status(status))
                }
                other => other,
            }
        };
        let ok = match route {
            Some(Route::Body {
                body,
                content_type,
                etag,
            }) => {
                if let Some(tag) = etag.as_ref().filter(|t| headers.get("if-none-match") == Some(t)) {
                    write!(
                        stream,
                        "HTTP/1.1 304 Not Modified\r\netag: {tag}\r\ncontent-length: 0\r\n\r\n"
                    )
                    .is_ok()
                } else {
                    let etag = etag
                        .map(|e| format!("etag: {e}\r\nlast-modified: Tue, 01 Dec 2026 10:00:00 GMT\r\n"))
                        .unwrap_or_default();
                    write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n{etag}content-length: {}\r\n\r\n",
                        body.len()
                    )
                    .and_then(|_| stream.write_all(&body))
                    .is_ok()
                }
            }
            Some(Route::Cut { body, sent }) => {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body[..sent.min(body.len())]);
                let _ = stream.flush();
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return;
            }
            Some(Route::Failing { .. }) => unreachable!("resolved above"),
            Some(Route::Status(code)) => write!(
                stream,
                "HTTP/1.1 {code} Stand-in\r\ncontent-length: 0\r\n\r\n"
            )
            .is_ok(),
            None => write!(
                stream,
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{{\"error\":\"not found\"}}"
            )
            .is_ok(),
        };
        if !ok {
            return;
        }
    }
}
