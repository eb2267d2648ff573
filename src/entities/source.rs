//! Marketplace and plugin sources as `claude plugin marketplace add` reads them from the command
//! line, and the git URL behind a source.
//!
//! Must not touch the network or the disk beyond resolving a local path.

use std::path::Path;

use serde_json::{Value, json};

use super::EntityError;

/// Reads a source as `claude plugin marketplace add` does: `user@host:path`, an `https://` URL
/// ending in `.git` (or a GitHub URL), any other `http(s)://` URL as a hosted `marketplace.json`
/// (`{"source": "url"}`), a `file://` URL (aisys also takes these, for local git
/// repositories), a local path (`./`, `../`, `/`, `~`), or GitHub's `owner/repo[#ref]`.
pub fn parse_source(s: &str, cwd: &Path) -> Result<Value, EntityError> {
    let t = s.trim();
    let (base, reference) = match t.split_once('#') {
        Some((b, r)) if !r.is_empty() => (b, Some(r)),
        _ => (t, None),
    };
    let git = |url: &str| {
        let mut v = json!({"source": "git", "url": url});
        if let Some(r) = reference {
            v["ref"] = r.into();
        }
        v
    };
    if let Some((user, rest)) = base.split_once('@')
        && !user.is_empty()
        && !user.contains('/')
        && rest.contains(':')
        && !base.contains("://")
    {
        return Ok(git(base));
    }
    if base.starts_with("file://") {
        return Ok(git(base));
    }
    if base.starts_with("https://") || base.starts_with("http://") {
        if base.ends_with(".git") || base.contains("/_git/") {
            return Ok(git(base));
        }
        if let Some(path) = base
            .strip_prefix("https://github.com/")
            .or_else(|| base.strip_prefix("http://github.com/"))
        {
            let repo = path.trim_end_matches('/');
            if repo.split('/').count() == 2 {
                return Ok(git(&format!("{}.git", base.trim_end_matches('/'))));
            }
        }
        // Anything else over http(s) is a hosted marketplace.json, fetched as a file.
        return Ok(json!({"source": "url", "url": base}));
    }
    if base.starts_with("./")
        || base.starts_with("../")
        || base.starts_with('/')
        || base.starts_with('~')
        || base == "."
    {
        let p = match base.strip_prefix('~') {
            Some(rest) => dirs::home_dir()
                .ok_or_else(|| EntityError::Invalid("cannot find the home folder for `~`".into()))?
                .join(rest.trim_start_matches('/')),
            None => cwd.join(base),
        };
        let p = p
            .canonicalize()
            .map_err(|e| EntityError::NotFound(format!("marketplace path {}: {e}", p.display())))?;
        if !p.is_dir() {
            return Err(EntityError::Invalid(format!(
                "{}: a local marketplace must be a folder holding .claude-plugin/marketplace.json",
                p.display()
            )));
        }
        return Ok(json!({"source": "directory", "path": p}));
    }
    if base.contains('/') && !base.contains(':') {
        let ok = base.split('/').count() == 2
            && base.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !ok {
            return Err(EntityError::Invalid(format!(
                "`{s}` is not a GitHub owner/repo; for a git repository give its URL ending in .git, \
                 for a local folder start the path with ./ or /"
            )));
        }
        let mut v = json!({"source": "github", "repo": base});
        if let Some(r) = reference {
            v["ref"] = r.into();
        }
        return Ok(v);
    }
    Err(EntityError::Invalid(format!(
        "`{s}` is not a marketplace source; give owner/repo, a git URL (https://...git), or a \
         folder (./path)"
    )))
}

/// The URL to clone for a git or GitHub source.
pub fn clone_url(source: &Value) -> Option<(String, Option<String>)> {
    let reference = source.get("ref").and_then(Value::as_str).map(String::from);
    match source.get("source").and_then(Value::as_str)? {
        "git" | "url" => Some((source.get("url")?.as_str()?.to_string(), reference)),
        // Its `url` may also be GitHub's owner/repo.
        "git-subdir" => {
            let url = source.get("url")?.as_str()?;
            let is_shorthand = !url.contains(':') && url.split('/').count() == 2;
            Some((
                if is_shorthand {
                    format!("https://github.com/{url}.git")
                } else {
                    url.to_string()
                },
                reference,
            ))
        }
        "github" => Some((
            format!("https://github.com/{}.git", source.get("repo")?.as_str()?),
            reference,
        )),
        _ => None,
    }
}
