//! Who may talk to the server: the token (created on first start, mode 0600), compared in
//! constant time, taken from `Authorization: Bearer` or from the WebSocket subprotocol
//! `aisys.token.<token>` that a browser can send; the `Host` check (no DNS rebinding); and the
//! `Origin` check on upgrades.
//!
//! Must not know about sessions.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

/// The token file's name in the data folder.
pub const TOKEN_FILE: &str = "token";
/// Environment variable that overrides the token file.
pub const ENV_TOKEN: &str = "AISYS_TOKEN";
/// Prefix of the WebSocket subprotocol that carries the token.
pub const TOKEN_PROTOCOL_PREFIX: &str = "aisys.token.";
/// Random bytes in a new token: 256 bits, beyond guessing.
const TOKEN_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token file {path} is empty: delete it to get a new token, or write one into it")]
    Empty { path: PathBuf },
    #[error("cannot get random bytes for a token: {0}")]
    Random(String),
    #[error(
        "token file {path} can be read by other users (mode {mode:o})\n  fix: chmod 600 {path}"
    )]
    TooOpen { path: PathBuf, mode: u32 },
}

/// The server's token, kept out of `Debug` output.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    pub fn new(s: impl Into<String>) -> Token {
        Token(s.into())
    }

    /// A new random token, for a server that keeps none on disk (`aisys docs`).
    pub fn random() -> Result<Token, AuthError> {
        new_token()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so response timing tells nothing about the token.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

/// Reads the token from `path`, creating a new random one (mode 0600) if the file is missing.
/// Returns the token and whether it was just created.
pub fn load_or_create(path: &Path) -> Result<(Token, bool), AuthError> {
    let io = |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(AuthError::TooOpen {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            let t = text.trim();
            if t.is_empty() {
                return Err(AuthError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Ok((Token(t.to_string()), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let token = new_token()?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            writeln!(f, "{}", token.0).map_err(io)?;
            Ok((token, true))
        }
        Err(e) => Err(io(e)),
    }
}

fn new_token() -> Result<Token, AuthError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
}

/// The token a request presents: the bearer token, or the subprotocol form.
pub fn presented_token<'a>(
    authorization: Option<&'a str>,
    protocols: Option<&'a str>,
) -> Option<&'a str> {
    // The scheme is case-insensitive (RFC 7235).
    if let Some((scheme, t)) = authorization.and_then(|h| h.trim().split_once(' '))
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(t.trim());
    }
    protocols?
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(TOKEN_PROTOCOL_PREFIX))
}

/// The name of the cookie the browser client keeps the token in, after trading `?token=` for it.
pub const TOKEN_COOKIE: &str = "aisys_token";

/// The token a browser presents in its `Cookie` header, if any.
pub fn cookie_token(cookie: Option<&str>) -> Option<&str> {
    cookie?.split(';').find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == TOKEN_COOKIE).then_some(value.trim())
    })
}

/// Whether a WebSocket upgrade's `Origin` may connect: none (not a browser), the server's own
/// address, or one the operator allowed.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

/// Whether a request's `Host` names this server: an IP address (a DNS-rebinding page always
/// uses its own domain name), `localhost` or a name under it, or a name the operator allowed.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        // [v6]:port
        Some(rest) => {
            return rest
                .split(']')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
        }
        None => host.rsplit_once(':').map_or(host, |(n, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                n
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&name) || a.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_random_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let (t1, created) = load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(t1.as_str().len(), TOKEN_BYTES * 2);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (t2, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert!(t1.matches(t2.as_str()));
        let other = tempfile::tempdir().unwrap();
        let (t3, _) = load_or_create(&other.path().join("token")).unwrap();
        assert!(!t1.matches(t3.as_str()));
    }

    #[test]
    fn an_open_token_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(AuthError::TooOpen { .. })
        ));
    }

    #[test]
    fn tokens_come_from_the_header_or_the_subprotocol() {
        assert_eq!(presented_token(Some("Bearer abc"), None), Some("abc"));
        assert_eq!(
            presented_token(None, Some("json, aisys.token.xyz")),
            Some("xyz")
        );
        assert_eq!(presented_token(Some("Basic abc"), None), None);
        assert_eq!(presented_token(Some("bearer abc"), None), Some("abc"));
        assert_eq!(presented_token(Some("BEARER abc"), None), Some("abc"));
        assert!(!Token::new("abc").matches("abd"));
        assert!(!Token::new("abc").matches("ab"));
    }

    #[test]
    fn hosts_are_ip_addresses_loopback_names_or_allowed_ones() {
        let allowed = vec!["aisys.internal".to_string()];
        for ok in [
            "127.0.0.1:7777",
            "localhost:7777",
            "LOCALHOST",
            "[::1]:7777",
            "10.0.0.5",
            "aisys.internal:7777",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "evil.example:7777",
            "evil.example",
            "localhost.evil.example",
            "[evil]:1",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://app.example".to_string()];
        assert!(origin_allowed(None, Some("127.0.0.1:7777"), &[]));
        assert!(origin_allowed(
            Some("http://127.0.0.1:7777"),
            Some("127.0.0.1:7777"),
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            Some("127.0.0.1:7777"),
            &[]
        ));
        assert!(origin_allowed(
            Some("https://app.example"),
            Some("127.0.0.1:7777"),
            &allowed
        ));
    }
}
