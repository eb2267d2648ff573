//! The sandbox's HTTP proxy: `CONNECT host:port` (HTTPS) and absolute-form requests
//! (`GET http://host:port/...`, plain HTTP), to allowlisted `host:port`s only. Everything else
//! is answered with an error and closed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::split_host_port;

/// Longest request head accepted: real ones are a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client has to send its request head, so idle connections do not hold a slot.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    /// A tunnel (`CONNECT`).
    Tunnel(String, u16),
    /// A plain HTTP request, forwarded as it is.
    Forward(String, u16),
}

/// Reads the request on `conn` and, when its destination is allowed, returns the connection to
/// it (the client has been answered, or the request forwarded). `None`: refused and answered.
pub(super) async fn accept(
    conn: &mut UnixStream,
    allowed: &[(String, u16)],
) -> std::io::Result<Option<TcpStream>> {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(conn)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Err(e)) => return Err(e),
        _ => {
            reply(
                conn,
                "400 Bad Request",
                "aisys sandbox: the request head was not sent in time or is too long",
            )
            .await?;
            return Ok(None);
        }
    };
    let Some(ask) = parse(&head) else {
        reply(
            conn,
            "400 Bad Request",
            "aisys sandbox: the proxy takes CONNECT host:port and http:// requests only",
        )
        .await?;
        return Ok(None);
    };
    let (Ask::Tunnel(host, port) | Ask::Forward(host, port)) = &ask;
    let host = host.to_ascii_lowercase();
    if !allowed.iter().any(|(h, p)| *h == host && p == port) {
        let text =
            format!("aisys sandbox: {host}:{port} is not in the sandbox's network allowlist");
        reply(conn, "403 Forbidden", &text).await?;
        return Ok(None);
    }
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut up = match super::connect(&target).await {
        Ok(up) => up,
        Err(e) => {
            reply(
                conn,
                "502 Bad Gateway",
                &format!("aisys sandbox: {target}: {e}"),
            )
            .await?;
            return Ok(None);
        }
    };
    match ask {
        Ask::Tunnel(..) => {
            conn.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await?;
            let end = head_end(&head).unwrap_or(head.len());
            up.write_all(&head[end..]).await?;
        }
        Ask::Forward(..) => up.write_all(&head).await?,
    }
    Ok(Some(up))
}

async fn reply(conn: &mut UnixStream, status: &str, text: &str) -> std::io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}\n",
        text.len() + 1
    );
    conn.write_all(msg.as_bytes()).await
}

/// Reads until the end of the head (and whatever came with it); `None` past [`MAX_HEAD`].
async fn read_head(conn: &mut UnixStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if head_end(&buf).is_some() {
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

/// Where the head ends (just past its blank line).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn parse(head: &[u8]) -> Option<Ask> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return None;
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_host_port(uri)?;
        return Some(Ask::Tunnel(host, port?));
    }
    let rest = uri.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let (host, port) = split_host_port(authority)?;
    Some(Ask::Forward(host, port.unwrap_or(80)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_their_destination() {
        let t = |s: &str| parse(s.as_bytes());
        assert_eq!(
            t("CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Ask::Tunnel("api.anthropic.com".into(), 443))
        );
        assert_eq!(
            t("GET http://example.com/x HTTP/1.1\r\n\r\n"),
            Some(Ask::Forward("example.com".into(), 80))
        );
        assert_eq!(
            t("GET http://[::1]:8080/ HTTP/1.1\r\n\r\n"),
            Some(Ask::Forward("::1".into(), 8080))
        );
        assert_eq!(t("CONNECT example.com HTTP/1.1\r\n\r\n"), None);
        assert_eq!(t("GET /relative HTTP/1.1\r\n\r\n"), None);
        assert_eq!(t("GET http://user@evil:80/ HTTP/1.1\r\n\r\n"), None);
    }
}
