//! The npm registry as an agent install reads it: which registry (npm's own settings), a
//! package version's metadata, and its tarball's integrity.
//!
//! Must not download tarballs or touch the disk beyond reading `.npmrc`: `install` does that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use super::InstallError;
use crate::config::Env;
use crate::http::{Http, HttpError};

/// npm's default registry, used when neither the environment nor `.npmrc` names another.
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";
/// The Accept header npm sends for metadata: the abbreviated document when the registry has one.
const METADATA_ACCEPT: &str = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8";

/// A registry to read packages from, and where that choice came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The base URL, ending in `/`.
    pub url: String,
    /// `npm_config_registry`, the `.npmrc` file's path, or `npm's default`.
    pub from: String,
    /// `_authToken` for this registry from `.npmrc`, sent as a bearer token to its own host only.
    token: Option<String>,
}

/// One version of one package, as the registry describes it.
#[derive(Debug, Clone)]
pub struct PackageVersion {
    pub name: String,
    pub version: String,
    /// `optionalDependencies`: for an agent's main package, its native packages and versions.
    pub optional: BTreeMap<String, String>,
    /// `os`, `cpu` and `libc`: where a native package runs (empty: anywhere).
    pub os: Vec<String>,
    pub cpu: Vec<String>,
    pub libc: Vec<String>,
    pub tarball: String,
    /// `dist.integrity`, Subresource Integrity (`sha512-<base64>`).
    pub integrity: String,
}

impl Registry {
    /// The registry for `package`, as npm chooses it: a scoped registry (`@scope:registry=` in
    /// `.npmrc`), else `npm_config_registry` in the environment, else `registry=` in `.npmrc`
    /// (`NPM_CONFIG_USERCONFIG`, or `~/.npmrc`), else npm's default.
    pub fn for_package(env: &dyn Env, home: Option<&Path>, package: &str) -> Registry {
        let rc_path: Option<PathBuf> = env
            .var("NPM_CONFIG_USERCONFIG")
            .or_else(|| env.var("npm_config_userconfig"))
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".npmrc")));
        let rc = rc_path
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| parse_npmrc(&text, env))
            .unwrap_or_default();
        let rc_name = rc_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let scope = package
            .strip_prefix('@')
            .and_then(|p| p.split_once('/'))
            .map(|(s, _)| format!("@{s}:registry"));
        let (url, from) = if let Some(u) = scope.as_ref().and_then(|k| rc.get(k)) {
            (
                u.clone(),
                format!("{} ({})", rc_name, scope.unwrap_or_default()),
            )
        } else if let Some(u) = env
            .var("npm_config_registry")
            .or_else(|| env.var("NPM_CONFIG_REGISTRY"))
        {
            (u, "npm_config_registry".to_string())
        } else if let Some(u) = rc.get("registry") {
            (u.clone(), rc_name)
        } else {
            (DEFAULT_REGISTRY.to_string(), "npm's default".to_string())
        };
        let url = if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        };
        let token = token_for(&rc, &url);
        Registry { url, from, token }
    }

    /// Headers for a request to `url`: the token only when `url` is on the registry's own host
    /// and path, never to a tarball host elsewhere.
    pub fn headers_for(&self, url: &str) -> Vec<(&'static str, String)> {
        match &self.token {
            Some(t) if url.starts_with(&self.url) || same_host(url, &self.url) => {
                vec![("authorization", format!("Bearer {t}"))]
            }
            _ => Vec::new(),
        }
    }

    /// Reads `package@version` (a version or a dist-tag such as `latest`). Registries that have
    /// no per-version document are read through the package's whole (abbreviated) document.
    pub async fn version(
        &self,
        http: &Http,
        package: &str,
        version: &str,
    ) -> Result<PackageVersion, InstallError> {
        let base = format!("{}{}", self.url, package.replacen('/', "%2f", 1));
        let url = format!("{base}/{version}");
        let mut headers = self.headers_for(&url);
        headers.push(("accept", METADATA_ACCEPT.to_string()));
        match http.get_json(&url, &headers).await {
            Ok(doc) => return self.parse_version(&url, &doc),
            Err(HttpError::Status {
                status: 400 | 404 | 405,
                ..
            }) => {}
            Err(e) => return Err(self.fetch_error(e)),
        }
        let doc = http.get_json(&base, &headers).await.map_err(|e| match e {
            HttpError::Status { status: 404, .. } => InstallError::NoSuchPackage {
                package: package.to_string(),
                registry: self.url.clone(),
            },
            e => self.fetch_error(e),
        })?;
        let exact = doc
            .get("dist-tags")
            .and_then(|t| t.get(version))
            .and_then(Value::as_str)
            .unwrap_or(version);
        match doc.get("versions").and_then(|v| v.get(exact)) {
            Some(v) => self.parse_version(&base, v),
            None => Err(InstallError::NoSuchVersion {
                package: package.to_string(),
                version: version.to_string(),
                registry: self.url.clone(),
                latest: doc
                    .get("dist-tags")
                    .and_then(|t| t.get("latest"))
                    .and_then(Value::as_str)
                    .unwrap_or("none")
                    .to_string(),
            }),
        }
    }

    /// A registry that cannot be reached gets the one error that says which and how to fix it.
    pub fn fetch_error(&self, e: HttpError) -> InstallError {
        match e {
            HttpError::Unreachable { .. } => InstallError::Offline {
                registry: self.url.clone(),
                from: self.from.clone(),
                detail: e.to_string(),
            },
            e => InstallError::Http(Box::new(e)),
        }
    }

    fn parse_version(&self, url: &str, doc: &Value) -> Result<PackageVersion, InstallError> {
        let bad = |what: &str| InstallError::BadMetadata {
            url: url.to_string(),
            detail: what.to_string(),
        };
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(String::from);
        let list = |key: &str| -> Vec<String> {
            doc.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let dist = doc.get("dist").ok_or_else(|| bad("no `dist`"))?;
        Ok(PackageVersion {
            name: text("name").ok_or_else(|| bad("no `name`"))?,
            version: text("version").ok_or_else(|| bad("no `version`"))?,
            optional: doc
                .get("optionalDependencies")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            os: list("os"),
            cpu: list("cpu"),
            libc: list("libc"),
            tarball: dist
                .get("tarball")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("no `dist.tarball`"))?
                .to_string(),
            integrity: dist
                .get("integrity")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

fn same_host(a: &str, b: &str) -> bool {
    let host = |u: &str| reqwest::Url::parse(u).ok().map(|u| u.origin());
    host(a).is_some() && host(a) == host(b)
}

/// `key=value` lines of an `.npmrc`, with `${VAR}` expanded from the environment, as npm reads
/// them (`;` and `#` start comments; quotes around a value are dropped).
fn parse_npmrc(text: &str, env: &dyn Env) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'');
        out.insert(k.trim().to_string(), expand(v, env));
    }
    out
}

fn expand(v: &str, env: &dyn Env) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        match rest[i + 2..].find('}') {
            Some(j) => {
                out.push_str(&env.var(&rest[i + 2..i + 2 + j]).unwrap_or_default());
                rest = &rest[i + 3 + j..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `_authToken` whose `//host/path/` key is the longest prefix of the registry URL.
fn token_for(rc: &BTreeMap<String, String>, url: &str) -> Option<String> {
    let bare = url.split_once(':').map(|(_, r)| r).unwrap_or(url);
    rc.iter()
        .filter_map(|(k, v)| Some((k.strip_suffix(":_authToken")?, v)))
        .filter(|(prefix, _)| bare.starts_with(*prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, v)| v.clone())
}

/// Checks `data` against a Subresource Integrity string: at least one of its `sha512-` hashes
/// must match. Weaker algorithms alone are refused, as the registry has given sha512 for years.
pub fn verify_integrity(integrity: &str, digest_sha512: &[u8]) -> Result<(), String> {
    let wanted: Vec<&str> = integrity
        .split_whitespace()
        .filter_map(|h| h.strip_prefix("sha512-"))
        .map(|h| h.split('?').next().unwrap_or(h))
        .collect();
    if wanted.is_empty() {
        return Err(format!(
            "the registry gave no sha512 integrity (`{integrity}`), so the download cannot be checked"
        ));
    }
    let got = base64::engine::general_purpose::STANDARD.encode(digest_sha512);
    if wanted.iter().any(|w| *w == got) {
        Ok(())
    } else {
        Err(format!(
            "its sha512 is {got}, but the registry says {}",
            wanted.join(" or ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Vec<(&'static str, String)>);
    impl Env for Vars {
        fn var(&self, key: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_registry_comes_from_scope_then_env_then_npmrc_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let none = Vars(vec![]);
        let r = Registry::for_package(&none, Some(dir.path()), "opencode-ai");
        assert_eq!(r.url, DEFAULT_REGISTRY);
        std::fs::write(
            dir.path().join(".npmrc"),
            "registry=https://mirror.example/npm\n@anthropic-ai:registry=https://scoped.example/\n\
             //mirror.example/npm/:_authToken=${TOKEN}\n",
        )
        .unwrap();
        let token = Vars(vec![("TOKEN", "s3cret".into())]);
        let r = Registry::for_package(&token, Some(dir.path()), "opencode-ai");
        assert_eq!(r.url, "https://mirror.example/npm/");
        assert_eq!(
            r.headers_for("https://mirror.example/npm/opencode-ai/1.0.0"),
            vec![("authorization", "Bearer s3cret".to_string())]
        );
        assert!(r.headers_for("https://elsewhere.example/x.tgz").is_empty());
        let r = Registry::for_package(&token, Some(dir.path()), "@anthropic-ai/claude-code");
        assert_eq!(r.url, "https://scoped.example/");
        let env = Vars(vec![("npm_config_registry", "http://127.0.0.1:9".into())]);
        let r = Registry::for_package(&env, Some(dir.path()), "opencode-ai");
        assert_eq!(
            (r.url.as_str(), r.from.as_str()),
            ("http://127.0.0.1:9/", "npm_config_registry")
        );
    }

    #[test]
    fn integrity_needs_a_matching_sha512() {
        use sha2::Digest;
        let digest = sha2::Sha512::digest(b"tarball");
        let good = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert!(verify_integrity(&good, &digest).is_ok());
        assert!(verify_integrity(&format!("sha1-abc {good}"), &digest).is_ok());
        let other = sha2::Sha512::digest(b"other");
        assert!(
            verify_integrity(&good, &other)
                .unwrap_err()
                .contains("registry says")
        );
        assert!(
            verify_integrity("sha1-abc", &digest)
                .unwrap_err()
                .contains("no sha512")
        );
    }
}
