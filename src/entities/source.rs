//! Marketplace and plugin sources: the typed form of Claude Code's `{"source": "github", ...}`
//! records, as `claude plugin marketplace add` reads them from the command line, and the git URL
//! behind one.
//!
//! Must not touch the network or the disk beyond resolving a local path.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::EntityError;

/// Where a marketplace or a plugin comes from, as Claude Code writes it in
/// `known_marketplaces.json`, `extraKnownMarketplaces` and a `marketplace.json` plugin entry.
/// Fields aisys does not read are kept in `extra` and written back as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum Source {
    /// `{"source": "github", "repo": "owner/name"}`.
    Github {
        repo: String,
        #[serde(flatten)]
        pin: Pin,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// `{"source": "git", "url": ...}`: any git URL (`https://`, `user@host:path`, `file://`).
    Git {
        url: String,
        #[serde(flatten)]
        pin: Pin,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// `{"source": "git-subdir", "url": ..., "path": ...}`: one folder of a repository; `url` may
    /// be GitHub's `owner/repo`.
    GitSubdir {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(flatten)]
        pin: Pin,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// `{"source": "directory", "path": ...}`: a local folder, read in place.
    Directory {
        path: PathBuf,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// `{"source": "url", "url": ...}`: a hosted `marketplace.json` (for a marketplace) or a git
    /// URL (for a plugin).
    Url {
        url: String,
        #[serde(flatten)]
        pin: Pin,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// A kind aisys does not install (such as `npm`), or a record it cannot read, kept whole.
    #[serde(untagged)]
    Other(Value),
}

/// The ref to check out and the commit to pin, for the kinds that are git repositories.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    /// A branch or tag (`owner/repo#ref` on the command line).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A commit to check out after cloning (plugin entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
}

/// A plugin entry's `source` in a `marketplace.json`: a folder relative to the marketplace, or a
/// source of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PluginSource {
    Relative(String),
    Remote(Source),
}

impl Source {
    /// Reads a `source` value from a record; anything unreadable becomes [`Source::Other`].
    pub fn from_value(v: &Value) -> Source {
        serde_json::from_value(v.clone()).unwrap_or_else(|_| Source::Other(v.clone()))
    }

    fn git(url: &str, reference: Option<&str>) -> Source {
        Source::Git {
            url: url.to_string(),
            pin: Pin {
                reference: reference.map(String::from),
                sha: None,
            },
            extra: Map::new(),
        }
    }

    /// The kind, as Claude Code names it (`github`, `git`, ...).
    pub fn kind(&self) -> &str {
        match self {
            Source::Github { .. } => "github",
            Source::Git { .. } => "git",
            Source::GitSubdir { .. } => "git-subdir",
            Source::Directory { .. } => "directory",
            Source::Url { .. } => "url",
            Source::Other(v) => v.get("source").and_then(Value::as_str).unwrap_or("?"),
        }
    }

    /// A marketplace served as one `marketplace.json` over HTTP.
    pub fn is_hosted(&self) -> bool {
        matches!(self, Source::Url { .. })
    }

    /// Where it is (a repository, URL or folder) and its ref, for the kinds aisys knows.
    fn place(&self) -> Option<(String, &Pin)> {
        match self {
            Source::Github { repo, pin, .. } => Some((repo.clone(), pin)),
            Source::Git { url, pin, .. }
            | Source::GitSubdir { url, pin, .. }
            | Source::Url { url, pin, .. } => Some((url.clone(), pin)),
            Source::Directory { .. } | Source::Other(_) => None,
        }
    }

    /// The commit a plugin entry pins, if any.
    pub fn sha(&self) -> Option<&str> {
        self.place()?.1.sha.as_deref()
    }

    /// The URL to clone and the ref to check out, for the kinds that are git repositories.
    pub fn clone_url(&self) -> Option<(String, Option<String>)> {
        let (at, pin) = self.place()?;
        let url = match self {
            Source::Github { .. } => format!("https://github.com/{at}.git"),
            // Its `url` may also be GitHub's owner/repo.
            Source::GitSubdir { .. } if !at.contains(':') && at.split('/').count() == 2 => {
                format!("https://github.com/{at}.git")
            }
            _ => at,
        };
        Some((url, pin.reference.clone()))
    }
}

/// In one line for people: `kind:where#ref`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (at, reference) = match (self, self.place()) {
            (_, Some((at, pin))) => (at, pin.reference.as_deref()),
            (Source::Directory { path, .. }, None) => (path.display().to_string(), None),
            (Source::Other(v), _) => (
                ["path", "url", "repo"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(Value::as_str))
                    .unwrap_or("")
                    .to_string(),
                v.get("ref").and_then(Value::as_str),
            ),
            _ => (String::new(), None),
        };
        write!(f, "{}:{at}", self.kind())?;
        match reference {
            Some(r) => write!(f, "#{r}"),
            None => Ok(()),
        }
    }
}

/// Reads a source as `claude plugin marketplace add` does: `user@host:path`, an `https://` URL
/// ending in `.git` (or a GitHub URL), any other `http(s)://` URL as a hosted `marketplace.json`
/// (`{"source": "url"}`), a `file://` URL (aisys also takes these, for local git
/// repositories), a local path (`./`, `../`, `/`, `~`), or GitHub's `owner/repo[#ref]`. A source
/// that is none of these is the user's mistake ([`EntityError::Usage`]).
pub fn parse_source(s: &str, cwd: &Path) -> Result<Source, EntityError> {
    let t = s.trim();
    let (base, reference) = match t.split_once('#') {
        Some((b, r)) if !r.is_empty() => (b, Some(r)),
        _ => (t, None),
    };
    let git = |url: &str| Source::git(url, reference);
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
        return Ok(Source::Url {
            url: base.to_string(),
            pin: Pin::default(),
            extra: Map::new(),
        });
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
            return Err(EntityError::Usage(format!(
                "{}: a local marketplace must be a folder holding .claude-plugin/marketplace.json",
                p.display()
            )));
        }
        return Ok(Source::Directory {
            path: p,
            extra: Map::new(),
        });
    }
    if base.contains('/') && !base.contains(':') {
        let ok = base.split('/').count() == 2
            && base
                .split('/')
                .all(|part| !part.is_empty() && part.chars().all(super::names::is_segment_char));
        if !ok {
            return Err(EntityError::Usage(format!(
                "`{s}` is not a GitHub owner/repo; for a git repository give its URL ending in .git, \
                 for a local folder start the path with ./ or /"
            )));
        }
        return Ok(Source::Github {
            repo: base.to_string(),
            pin: Pin {
                reference: reference.map(String::from),
                sha: None,
            },
            extra: Map::new(),
        });
    }
    Err(EntityError::Usage(format!(
        "`{s}` is not a marketplace source; give owner/repo, a git URL (https://...git), or a \
         folder (./path)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_read_and_write_back_unchanged() {
        for v in [
            json!({"source": "github", "repo": "o/r", "ref": "v1"}),
            json!({"source": "git", "url": "https://e.com/r.git", "sha": "abc1234"}),
            json!({"source": "git-subdir", "url": "o/r", "path": "plugins/p"}),
            json!({"source": "directory", "path": "/m"}),
            json!({"source": "url", "url": "https://e.com/marketplace.json", "headers": {"a": "b"}}),
            json!({"source": "npm", "package": "p"}),
            json!("not an object"),
        ] {
            let s = Source::from_value(&v);
            assert_eq!(serde_json::to_value(&s).unwrap(), v, "{s:?}");
        }
        assert!(matches!(
            Source::from_value(&json!({"source": "npm"})),
            Source::Other(_)
        ));
    }

    #[test]
    fn clone_urls_and_descriptions() {
        let sub = Source::from_value(&json!({"source": "git-subdir", "url": "o/r", "ref": "main"}));
        assert_eq!(
            sub.clone_url(),
            Some(("https://github.com/o/r.git".into(), Some("main".into())))
        );
        assert_eq!(sub.to_string(), "git-subdir:o/r#main");
        let dir = Source::from_value(&json!({"source": "directory", "path": "/m"}));
        assert_eq!(dir.clone_url(), None);
        assert_eq!(dir.to_string(), "directory:/m");
        let npm = Source::from_value(&json!({"source": "npm", "url": "x"}));
        assert_eq!(npm.to_string(), "npm:x");
    }

    #[test]
    fn plugin_sources_are_paths_or_sources() {
        let rel: PluginSource = serde_json::from_value(json!("./p")).unwrap();
        assert_eq!(rel, PluginSource::Relative("./p".into()));
        let remote: PluginSource =
            serde_json::from_value(json!({"source": "github", "repo": "o/r"})).unwrap();
        assert!(matches!(
            remote,
            PluginSource::Remote(Source::Github { .. })
        ));
    }
}
