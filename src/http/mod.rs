//! The one HTTP client aisys talks to the outside with: the npm registry (agent installs), hosted
//! marketplace files (`entities`), and a server's `/healthz` (`aisys doctor`).
//!
//! It honours the machine's proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, upper or lower case, through reqwest's system proxy support), bounds every wait
//! with a named timeout, and retries what is likely to pass on a second try (connection refused
//! or reset, timeouts, 5xx and 429 answers) with exponential backoff. TLS is rustls, with the
//! machine's root certificates plus Mozilla's (so a corporate CA in the system store works, and a
//! machine without `ca-certificates` still reaches public hosts).
//!
//! Must not know what it fetches: callers say what a failure means (which registry, which fix);
//! this module says what happened (which URL, which host, after how many tries).

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Longest a TCP connect (and TLS handshake) may take: a reachable host answers in well under a
/// second; a black-holed one should fail fast enough to retry.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a response may stay silent between two reads: a stalled transfer fails instead of
/// hanging, while a slow but moving one (a 100 MB tarball on a bad line) is never cut.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times one request is tried in all before its error is reported.
pub const MAX_ATTEMPTS: u32 = 4;
/// The wait before the first retry; it doubles for each further one (0.5 s, 1 s, 2 s), about as
/// long as a registry's load balancer takes to drop a bad node.
pub const RETRY_BASE_DELAY: Duration = Duration::from_millis(500);
/// Largest JSON document read into memory (registry metadata, a marketplace file): the biggest
/// real ones are a few hundred KiB; anything past this is not what was asked for.
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// What went wrong with one request. Each message names the URL; none carries a fix, which
/// depends on what the caller was fetching.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("`{url}` is not a usable URL: {detail}")]
    BadUrl { url: String, detail: String },
    /// No answer at all: DNS, connection refused, TLS, a proxy that refused, or timeouts, after
    /// every try.
    #[error("cannot reach {host} for {url} after {attempts} tries: {detail}{proxy}")]
    Unreachable {
        url: String,
        host: String,
        attempts: u32,
        detail: String,
        /// ` (through the proxy in HTTPS_PROXY)` when a proxy variable is set, else empty.
        proxy: String,
    },
    #[error("{url} answered {status}{detail}")]
    Status {
        url: String,
        status: u16,
        /// `: <start of the body>` when the answer had one, else empty.
        detail: String,
    },
    /// The connection broke during the body, after every try.
    #[error("the download of {url} was cut after {received} of {expected} bytes: {detail}")]
    Cut {
        url: String,
        received: u64,
        /// The announced length, or `an unknown number of`.
        expected: String,
        detail: String,
    },
    #[error("{url} is larger than {limit} bytes, more than aisys reads from it")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: not JSON: {detail}")]
    Json { url: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A shared client. Cheap to clone.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    attempts: u32,
}

/// How a client waits and retries; the default is the module's constants.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Tries per request, at least 1.
    pub attempts: u32,
    /// Whether the proxy variables apply (a check of a server on this machine turns them off).
    pub use_proxy: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
            attempts: MAX_ATTEMPTS,
            use_proxy: true,
        }
    }
}

/// One answer: its status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Http {
    /// The client with the timeouts above, the system's proxies, and aisys's User-Agent.
    pub fn new() -> Result<Http, HttpError> {
        Http::with(Options::default())
    }

    pub fn with(options: Options) -> Result<Http, HttpError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("aisys/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout);
        if !options.use_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| HttpError::Client(chain(&e)))?;
        Ok(Http {
            client,
            attempts: options.attempts.max(1),
        })
    }

    /// GETs `url` (retrying as the module says) and returns the answer once its status is
    /// success or 304; any other status is an error. The body is read whole, up to `limit`.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, String)],
        limit: u64,
    ) -> Result<Answer, HttpError> {
        // Both callbacks reach the body: `start` empties it for each new try.
        let body = std::sync::Mutex::new(Vec::new());
        let lock = || body.lock().unwrap_or_else(|e| e.into_inner());
        let (status, headers) = self
            .fetch(
                url,
                headers,
                limit,
                &mut |_| {
                    lock().clear();
                    Ok(())
                },
                &mut |chunk| {
                    lock().extend_from_slice(chunk);
                    Ok(())
                },
            )
            .await?
            .0;
        let body = body.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// GETs `url` and reads its body as JSON (at most [`MAX_JSON_BYTES`]).
    pub async fn get_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<serde_json::Value, HttpError> {
        let answer = self.get(url, headers, MAX_JSON_BYTES).await?;
        serde_json::from_slice(&answer.body).map_err(|e| HttpError::Json {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// Streams `url`'s body into `sink` (which sees every chunk, in order, exactly once per
    /// try), refusing more than `limit` bytes. `start` is called at the beginning of each try
    /// with the announced length; a try cut short by the network is started over from the
    /// first byte (the sink must accept that: `start` tells it to begin again).
    pub async fn download(
        &self,
        url: &str,
        headers: &[(&str, String)],
        limit: u64,
        start: OnStart<'_>,
        sink: OnChunk<'_>,
    ) -> Result<u64, HttpError> {
        Ok(self.fetch(url, headers, limit, start, sink).await?.1)
    }

    /// The one retry loop of a GET: sends, refuses a body announced as over `limit`, then streams
    /// the body into `sink` (calling `start` with the announced length at the start of each try).
    /// Returns the status and headers of the try that got through, and the bytes received.
    async fn fetch(
        &self,
        url: &str,
        headers: &[(&str, String)],
        limit: u64,
        start: OnStart<'_>,
        sink: OnChunk<'_>,
    ) -> Result<((StatusCode, HeaderMap), u64), HttpError> {
        let headers = header_map(url, headers)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.attempts;
            let resp = match self.send(url, &headers, attempt).await {
                Ok(r) => r,
                Err(e) if !last && e.retry => {
                    backoff(attempt).await;
                    continue;
                }
                Err(e) => return Err(e.error),
            };
            if resp.content_length().is_some_and(|n| n > limit) {
                return Err(too_large(url, limit));
            }
            let head = (resp.status(), resp.headers().clone());
            start(resp.content_length())?;
            let mut received = 0u64;
            match stream_body(resp, url, limit, &mut received, sink).await {
                Ok(()) => return Ok((head, received)),
                Err(e) if !last && e.retry => backoff(attempt).await,
                Err(e) => return Err(e.error),
            }
        }
    }

    /// One request; a status that is worth retrying (5xx, 429) is a retryable error here.
    async fn send(
        &self,
        url: &str,
        headers: &HeaderMap,
        attempt: u32,
    ) -> Result<reqwest::Response, Failure> {
        let resp = self
            .client
            .get(url)
            .headers(headers.clone())
            .send()
            .await
            .map_err(|e| Failure {
                retry: e.is_connect() || e.is_timeout() || is_reset(&e),
                error: unreachable(url, attempt, &e),
            })?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        let retry = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        // A little of the body says why (a registry's `{"error":"not found"}`).
        let body = read_body(resp, url, 512)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        let body: String = body.chars().filter(|c| !c.is_control()).take(200).collect();
        Err(Failure {
            retry,
            error: HttpError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                detail: if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                },
            },
        })
    }
}

/// Called at the start of each try of a download, with the length the answer announces.
pub type OnStart<'a> = &'a mut (dyn FnMut(Option<u64>) -> Result<(), HttpError> + Send);
/// Called with each chunk of a body, in order.
pub type OnChunk<'a> = &'a mut (dyn FnMut(&[u8]) -> Result<(), HttpError> + Send);

/// An error and whether another try may help.
struct Failure {
    retry: bool,
    error: HttpError,
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(RETRY_BASE_DELAY * 2u32.pow(attempt.saturating_sub(1))).await;
}

fn header_map(url: &str, headers: &[(&str, String)]) -> Result<HeaderMap, HttpError> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let bad = |detail: String| HttpError::BadUrl {
            url: url.to_string(),
            detail,
        };
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(format!("{k}: {e}")))?;
        let value = HeaderValue::from_str(v).map_err(|e| bad(format!("{k}: {e}")))?;
        map.insert(name, value);
    }
    Ok(map)
}

fn too_large(url: &str, limit: u64) -> HttpError {
    HttpError::TooLarge {
        url: url.to_string(),
        limit,
    }
}

/// Reads a whole body, up to `limit` bytes.
async fn read_body(resp: reqwest::Response, url: &str, limit: u64) -> Result<Vec<u8>, Failure> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(Failure {
            retry: false,
            error: too_large(url, limit),
        });
    }
    let mut body = Vec::new();
    let mut received = 0;
    stream_body(resp, url, limit, &mut received, &mut |chunk| {
        body.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    Ok(body)
}

async fn stream_body(
    resp: reqwest::Response,
    url: &str,
    limit: u64,
    received: &mut u64,
    sink: OnChunk<'_>,
) -> Result<(), Failure> {
    let expected = resp.content_length();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure {
            retry: true,
            error: HttpError::Cut {
                url: url.to_string(),
                received: *received,
                expected: expected
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "an unknown number of".into()),
                detail: chain(&e),
            },
        })?;
        *received += chunk.len() as u64;
        if *received > limit {
            return Err(Failure {
                retry: false,
                error: too_large(url, limit),
            });
        }
        sink(&chunk).map_err(|error| Failure {
            retry: false,
            error,
        })?;
    }
    Ok(())
}

fn unreachable(url: &str, attempts: u32, e: &reqwest::Error) -> HttpError {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
        })
        .unwrap_or_else(|| url.to_string());
    if e.is_builder() {
        return HttpError::BadUrl {
            url: url.to_string(),
            detail: chain(e),
        };
    }
    HttpError::Unreachable {
        url: url.to_string(),
        host,
        attempts,
        detail: chain(e),
        proxy: proxy_note(url),
    }
}

/// Names the proxy variable that applies to `url`, if one is set, so an error through a proxy
/// says so.
pub fn proxy_note(url: &str) -> String {
    let https = url.starts_with("https:");
    let names: &[&str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    names
        .iter()
        .find(|n| std::env::var(n).is_ok_and(|v| !v.is_empty()))
        .map(|n| format!(" (through the proxy in {n})"))
        .unwrap_or_default()
}

/// An error and its causes on one line: reqwest's own message is often just "error sending
/// request", with the reason (refused, reset, DNS) further down the chain.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// Whether the connection was reset or closed under the request: worth another try.
fn is_reset(e: &reqwest::Error) -> bool {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_closed() || h.is_canceled())
        {
            return true;
        }
        cur = s.source();
    }
    false
}

/// Runs a future to completion from synchronous code, whether or not a Tokio runtime is already
/// running on this thread (then on a thread of its own, since a runtime cannot be entered twice).
pub fn block_on<F>(fut: F) -> Result<F::Output, HttpError>
where
    F: Future + Send,
    F::Output: Send,
{
    let run = move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(fut))
            .map_err(|e| HttpError::Client(e.to_string()))
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(run)
                .join()
                .unwrap_or_else(|_| Err(HttpError::Client("the HTTP thread panicked".into())))
        })
    } else {
        run()
    }
}
