//! Claude Code's on-disk plugin layout, as Claude Code 2.1.197 writes it:
//!
//! - `<home>/settings.json`: `enabledPlugins` (`"plugin@marketplace": true|false`) and
//!   `extraKnownMarketplaces.<name>.source`; a project's `.claude/settings.json` has its own
//!   `enabledPlugins` for `--scope project`.
//! - `<home>/plugins/known_marketplaces.json`: `<name>: {source, installLocation, lastUpdated}`.
//! - `<home>/plugins/installed_plugins.json`: `{"version": 2, "plugins": {"p@m": [{scope,
//!   installPath, version, installedAt, lastUpdated, gitCommitSha?, projectPath?}]}}`.
//! - `<home>/plugins/marketplaces/<name>/`: the clone of a git or GitHub marketplace (a local
//!   folder marketplace is used in place).
//! - `<home>/plugins/cache/<marketplace>/<plugin>/<version>/`: the installed copy of a plugin.
//!   Claude Code loads a plugin from there, except a plugin of a local folder (`directory`)
//!   marketplace, which it loads from that folder in place.
//!
//! Knows paths and record shapes only; must not write (writes go through `store`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{Warning, file};

/// The version of `installed_plugins.json` this module reads and writes.
pub const INSTALLED_PLUGINS_VERSION: u64 = 2;

/// Paths inside one Claude home (`~/.claude` or `$CLAUDE_CONFIG_DIR`).
#[derive(Debug, Clone)]
pub struct ClaudeHome {
    pub root: PathBuf,
}

impl ClaudeHome {
    pub fn new(root: impl Into<PathBuf>) -> ClaudeHome {
        ClaudeHome { root: root.into() }
    }
    pub fn settings(&self) -> PathBuf {
        self.root.join("settings.json")
    }
    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }
    pub fn installed_plugins(&self) -> PathBuf {
        self.plugins().join("installed_plugins.json")
    }
    pub fn known_marketplaces(&self) -> PathBuf {
        self.plugins().join("known_marketplaces.json")
    }
    pub fn marketplaces(&self) -> PathBuf {
        self.plugins().join("marketplaces")
    }
    pub fn cache(&self) -> PathBuf {
        self.plugins().join("cache")
    }
    /// aisys's own lock against a concurrent aisys changing the same home (Claude Code does not
    /// take it; its own writes are single JSON file replacements).
    pub fn lock_file(&self) -> PathBuf {
        self.plugins().join(".aisys.lock")
    }
}

/// Where Claude Code keeps its global state file (`.claude.json`: user and local MCP servers):
/// inside `$CLAUDE_CONFIG_DIR` when that is set, else in the home folder.
pub fn claude_json(claude_config_dir: Option<&Path>) -> Option<PathBuf> {
    match claude_config_dir {
        Some(d) => Some(d.join(".claude.json")),
        None => dirs::home_dir().map(|h| h.join(".claude.json")),
    }
}

/// A project's settings files, nearest wins.
pub fn project_settings(project: &Path) -> [PathBuf; 2] {
    [
        project.join(".claude/settings.local.json"),
        project.join(".claude/settings.json"),
    ]
}

/// One entry of `installed_plugins.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    pub scope: String,
    pub install_path: PathBuf,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub git_commit_sha: Option<String>,
    #[serde(default)]
    pub project_path: Option<PathBuf>,
}

/// Reads a JSON file of at most `limit` bytes (see [`file`]); a missing file is `Ok(None)`, a bad
/// one (or one that is not a regular file) a warning with its line.
pub fn read_json(path: &Path, limit: u64) -> Result<Option<Value>, Warning> {
    let text = match file::read_text(path, limit) {
        Ok(t) => t,
        Err(e) if e.is_missing() => return Ok(None),
        Err(e) => {
            let what = if e.is_skipped() {
                "skipped"
            } else {
                "cannot read"
            };
            return Err(Warning {
                path: path.into(),
                line: None,
                message: format!("{what}: {e}"),
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| Warning {
        path: path.into(),
        line: Some(e.line()),
        message: format!("invalid JSON: {e}; fix the file so that Claude Code can read it too"),
    })
}

/// `installed_plugins.json`'s `plugins` map, in file order of ids.
pub fn installed_records(
    doc: &Value,
    path: &Path,
) -> (Vec<(String, Vec<InstallRecord>)>, Vec<Warning>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let Some(plugins) = doc.get("plugins").and_then(Value::as_object) else {
        if !doc.is_null() {
            warnings.push(Warning {
                path: path.into(),
                line: None,
                message: "no `plugins` object: not a version 2 installed_plugins.json".into(),
            });
        }
        return (out, warnings);
    };
    for (id, records) in plugins {
        match serde_json::from_value::<Vec<InstallRecord>>(records.clone()) {
            Ok(r) => out.push((id.clone(), r)),
            Err(e) => warnings.push(Warning {
                path: path.into(),
                line: None,
                message: format!("plugin `{id}`: bad install record: {e}"),
            }),
        }
    }
    (out, warnings)
}

/// `enabledPlugins` of one settings document: id -> enabled.
pub fn enabled_plugins(settings: &Value) -> Vec<(String, bool)> {
    settings
        .get("enabledPlugins")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_bool().unwrap_or(false)))
                .collect()
        })
        .unwrap_or_default()
}

/// Splits `plugin@marketplace`.
pub fn split_plugin_id(id: &str) -> Option<(&str, &str)> {
    let (p, m) = id.rsplit_once('@')?;
    (!p.is_empty() && !m.is_empty()).then_some((p, m))
}
