//! The checks every request behind the token passes, whichever app serves it (`aisys serve` or
//! `aisys docs`): the `Host` names this server (no DNS rebinding), the token is shown, and a
//! request that changes something comes from this server's own pages.
//!
//! The last check matters because the browser client's routes write files (plugins, MCP
//! servers): a page on another origin must not be able to drive them even if it could make the
//! browser send the cookie. Browsers say where a request comes from in `Sec-Fetch-Site` and
//! `Origin`; a client that is not a browser sends neither and is judged by its token alone.
//!
//! Must not know about sessions or documents: it only reads headers.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::{self, Token};

/// Why a request was refused: its status and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// What a request is checked against.
#[derive(Debug, Clone)]
pub struct Gate {
    pub token: Token,
    /// Host names clients may use besides loopback names and IP addresses.
    pub allowed_hosts: Vec<String>,
    /// Origins besides the server's own that may send requests that change something.
    pub allowed_origins: Vec<String>,
}

/// The header in which a browser says whether a request comes from the page's own origin.
const SEC_FETCH_SITE: header::HeaderName = header::HeaderName::from_static("sec-fetch-site");

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request only reads: these methods change nothing, so where they come from does
/// not matter (a cross-origin page cannot read their answers).
fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl Gate {
    /// `Ok` when the request may go on; otherwise the answer that refuses it.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
        check(
            &self.token,
            &self.allowed_hosts,
            &self.allowed_origins,
            method,
            headers,
        )
    }
}

/// [`Gate::check`] on borrowed settings, for an app that keeps them elsewhere (the agent
/// server's state): nothing is copied per request.
pub fn check(
    token: &Token,
    allowed_hosts: &[String],
    allowed_origins: &[String],
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if let Some(host) = header_str(headers, header::HOST)
        && !auth::host_allowed(host, allowed_hosts)
    {
        return Err(Refusal(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server does not answer to the name {host:?}: connect by localhost or an IP address, or start it with --allow-host NAME\n"
            ),
        ));
    }
    let presented = auth::presented_token(
        header_str(headers, header::AUTHORIZATION),
        header_str(headers, header::SEC_WEBSOCKET_PROTOCOL),
    )
    .or_else(|| auth::cookie_token(header_str(headers, header::COOKIE)));
    if !presented.is_some_and(|t| token.matches(t)) {
        return Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send `Authorization: Bearer <token>` (the token is in the server's data folder, or in the address the server printed)\n".into(),
        ));
    }
    // A WebSocket is not bound by the browser's same-origin rule: judge it like a write.
    let upgrade = headers.contains_key(header::UPGRADE);
    if (!is_read(method) || upgrade) && !same_origin(allowed_origins, headers) {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "a request that changes something must come from this server's own pages (its Origin or Sec-Fetch-Site said otherwise)\n".into(),
        ));
    }
    Ok(())
}

/// Whether a request comes from this server's pages or from no browser page at all.
fn same_origin(allowed_origins: &[String], headers: &HeaderMap) -> bool {
    let origin = header_str(headers, header::ORIGIN);
    // Chromium and Firefox send it on every request; `none` is a user typing an address.
    let site_ok = match header_str(headers, SEC_FETCH_SITE) {
        None | Some("same-origin") | Some("none") => true,
        // An allowed origin is another site by the browser's reckoning.
        Some(_) => origin.is_some_and(|o| allowed_origins.iter().any(|a| a == o)),
    };
    site_ok && auth::origin_allowed(origin, header_str(headers, header::HOST), allowed_origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Gate {
        Gate {
            token: Token::new("t0k"),
            allowed_hosts: vec![],
            allowed_origins: vec![],
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn status(r: Result<(), Refusal>) -> u16 {
        match r {
            Ok(()) => 200,
            Err(Refusal(s, _)) => s.as_u16(),
        }
    }

    #[test]
    fn the_token_is_needed_and_writes_must_come_from_this_origin() {
        let g = gate();
        let host = ("host", "127.0.0.1:7780");
        let cookie = ("cookie", "aisys_token=t0k");
        assert_eq!(status(g.check(&Method::GET, &headers(&[host]))), 401);
        assert_eq!(
            status(g.check(
                &Method::GET,
                &headers(&[host, ("cookie", "aisys_token=no")])
            )),
            401
        );
        assert_eq!(
            status(g.check(&Method::GET, &headers(&[host, cookie]))),
            200
        );
        // No browser: the token alone decides.
        assert_eq!(
            status(g.check(&Method::POST, &headers(&[host, cookie]))),
            200
        );
        let own = [
            host,
            cookie,
            ("origin", "http://127.0.0.1:7780"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert_eq!(status(g.check(&Method::POST, &headers(&own))), 200);
        let foreign = [
            host,
            cookie,
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert_eq!(status(g.check(&Method::POST, &headers(&foreign))), 403);
        // A read from elsewhere cannot see its answer; it is let through on the token.
        assert_eq!(status(g.check(&Method::GET, &headers(&foreign))), 200);
        // A lying Origin is still caught by the browser's own Sec-Fetch-Site.
        let sibling = [
            host,
            cookie,
            ("origin", "http://127.0.0.1:7780"),
            ("sec-fetch-site", "same-site"),
        ];
        assert_eq!(status(g.check(&Method::PUT, &headers(&sibling))), 403);
        assert_eq!(
            status(g.check(&Method::GET, &headers(&[("host", "evil.example"), cookie]))),
            421
        );
    }
}
