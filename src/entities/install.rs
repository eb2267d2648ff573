//! Marketplaces and plugins, changed the way Claude Code 2.1.197's `claude plugin` changes them,
//! so that each tool sees what the other installed (see `layout` for the files and their keys).
//!
//! Every change holds the home's lock; a plugin copy is staged in a temporary folder inside
//! `plugins/cache/` (the same filesystem) and renamed into place, and the JSON records are written
//! last, each atomically: an interrupted install leaves the previous state (and its staging folder
//! is removed by the next change). Must not write outside the Claude home and, for a project or
//! local scope, the project's `.claude/settings.json` or `.claude/settings.local.json`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

pub use super::admit::read_marketplace;
use super::git::{self, Progress};
use super::layout::{self, ClaudeHome, INSTALLED_PLUGINS_VERSION};
use super::names::{self, check_name};
pub use super::source::parse_source;
use super::source::{PluginSource, Source};
use super::store::{self, HomeLock, check_object_at, object_at, update_json};
use super::{EntityError, file};
use super::{admit, hosted};
use crate::types::{now, rfc3339};

/// Name prefix of the staging folders (inside `plugins/cache/` and `plugins/marketplaces/`, so
/// that the final rename stays on one filesystem).
const STAGE_PREFIX: &str = ".aisys-stage-";
/// Claude Code's version folder for a plugin with no version and no git commit.
pub const UNKNOWN_VERSION: &str = "unknown";
/// Length of the commit prefix Claude Code uses as the version of an unversioned git plugin.
pub const SHA_VERSION_LEN: usize = 12;

/// Which settings file an install, enable or disable changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallScope {
    User,
    /// The project folder whose `.claude/settings.json` is changed.
    Project(PathBuf),
    /// The project folder whose `.claude/settings.local.json` (not committed) is changed.
    Local(PathBuf),
}

impl InstallScope {
    pub fn as_str(&self) -> &'static str {
        match self {
            InstallScope::User => "user",
            InstallScope::Project(_) => "project",
            InstallScope::Local(_) => "local",
        }
    }

    /// The project folder a project or local install is recorded with (`projectPath`).
    fn project_path(&self) -> Option<PathBuf> {
        match self {
            InstallScope::User => None,
            InstallScope::Project(p) | InstallScope::Local(p) => {
                Some(p.canonicalize().unwrap_or_else(|_| p.clone()))
            }
        }
    }
}

/// A known marketplace, as `marketplace list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MarketplaceInfo {
    pub name: String,
    pub source: Source,
    #[serde(rename = "installLocation")]
    pub install_location: String,
    #[serde(rename = "lastUpdated", skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
}

/// Changes one Claude home's marketplaces and plugins.
pub struct Manager {
    pub home: ClaudeHome,
    pub progress: Progress,
}

impl Manager {
    pub fn new(home: impl Into<PathBuf>, progress: Progress) -> Manager {
        Manager {
            home: ClaudeHome::new(home),
            progress,
        }
    }

    /// Takes the home's lock, then removes staging folders an interrupted aisys left behind (with
    /// the lock held, no other aisys is using one).
    fn lock(&self) -> Result<HomeLock, EntityError> {
        let lock = HomeLock::acquire(&self.home.lock_file())?;
        for dir in [self.home.cache(), self.home.marketplaces()] {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(STAGE_PREFIX) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(lock)
    }

    fn known(&self) -> Result<Map<String, Value>, EntityError> {
        match store::read_for_update(
            &self.home.known_marketplaces(),
            json!({}),
            file::MAX_STATE_FILE,
        )? {
            Value::Object(m) => Ok(m),
            _ => Err(EntityError::Invalid(format!(
                "{}: must be a JSON object",
                self.home.known_marketplaces().display()
            ))),
        }
    }

    fn known_one(&self, name: &str) -> Result<Value, EntityError> {
        let known = self.known()?;
        known.get(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = known.keys().map(String::as_str).collect();
            EntityError::NotFound(format!(
                "marketplace `{name}` is not known; add it with `aisys entities marketplace add SOURCE`{}",
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" (known: {})", names.join(", "))
                }
            ))
        })
    }

    /// Adds a marketplace (cloning git and GitHub ones) and returns its name. It is recorded in
    /// the Claude home and declared (`extraKnownMarketplaces`) in the settings of `scope`, as
    /// `claude plugin marketplace add --scope` does.
    pub fn marketplace_add(
        &self,
        source: &str,
        cwd: &Path,
        scope: &InstallScope,
    ) -> Result<String, EntityError> {
        let source = parse_source(source, cwd)?;
        let _lock = self.lock()?;
        self.check_writable(scope, None)?;
        let dir = self.home.marketplaces();
        std::fs::create_dir_all(&dir).map_err(|e| EntityError::io(&dir, e))?;
        let (name, location) = match (&source, source.clone_url()) {
            (Source::Url { url, .. }, _) => {
                let hosted::Fetched::Document {
                    name,
                    text,
                    validators,
                } = hosted::fetch(url, None)?
                else {
                    return Err(EntityError::Fetch(format!(
                        "{url} answered 304 Not Modified to a request that was not conditional"
                    )));
                };
                self.check_not_other(&name, &source)?;
                let dest = dir.join(&name);
                hosted::store(&self.home, &name, &dest, &text, validators)?;
                (name, dest)
            }
            (Source::Directory { path, .. }, _) => {
                let path = path.clone();
                let (name, _) = read_marketplace(&path)?;
                self.check_not_other(&name, &source)?;
                (name, path)
            }
            (_, Some((url, reference))) => {
                let stage = tempfile::Builder::new()
                    .prefix(STAGE_PREFIX)
                    .tempdir_in(&dir)
                    .map_err(|e| EntityError::io(&dir, e))?;
                let clone = stage.path().join("repo");
                git::clone(&url, reference.as_deref(), &clone, self.progress)?;
                let (name, _) = read_marketplace(&clone)?;
                self.check_not_other(&name, &source)?;
                let dest = dir.join(&name);
                replace_dir(&clone, &dest, stage.path())?;
                (name, dest)
            }
            (other, None) => {
                return Err(EntityError::Invalid(format!(
                    "{other} is not a marketplace source aisys can add"
                )));
            }
        };
        self.record_marketplace(&name, &source, &location)?;
        let settings = self.settings_of(scope);
        update_json(&settings, json!({}), |doc| {
            object_at(doc, "extraKnownMarketplaces", &settings)?
                .insert(name.clone(), json!({"source": source}));
            Ok(())
        })?;
        Ok(name)
    }

    /// A marketplace of this name from another source must be removed first.
    fn check_not_other(&self, name: &str, source: &Source) -> Result<(), EntityError> {
        if let Some(old) = self.known()?.get(name)
            && let old = Source::from_value(old.get("source").unwrap_or(&Value::Null))
            && &old != source
        {
            return Err(EntityError::Invalid(format!(
                "a marketplace named `{name}` is already known from {old}; remove it first with \
                 `aisys entities marketplace remove {name}`"
            )));
        }
        Ok(())
    }

    fn record_marketplace(
        &self,
        name: &str,
        source: &Source,
        location: &Path,
    ) -> Result<(), EntityError> {
        update_json(&self.home.known_marketplaces(), json!({}), |doc| {
            let m = doc.as_object_mut().expect("checked object");
            m.insert(
                name.to_string(),
                json!({"source": source, "installLocation": location, "lastUpdated": rfc3339(now())}),
            );
            Ok(())
        })
    }

    pub fn marketplace_list(&self) -> Result<Vec<MarketplaceInfo>, EntityError> {
        Ok(self
            .known()?
            .into_iter()
            .map(|(name, v)| MarketplaceInfo {
                name,
                source: Source::from_value(v.get("source").unwrap_or(&Value::Null)),
                install_location: v
                    .get("installLocation")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                last_updated: v
                    .get("lastUpdated")
                    .and_then(Value::as_str)
                    .map(String::from),
            })
            .collect())
    }

    /// Fetches the newest version of one marketplace, or of all; returns the names updated.
    pub fn marketplace_update(&self, name: Option<&str>) -> Result<Vec<String>, EntityError> {
        let names: Vec<String> = match name {
            Some(n) => {
                self.known_one(n)?;
                vec![n.to_string()]
            }
            None => self.known()?.keys().cloned().collect(),
        };
        let _lock = self.lock()?;
        for n in &names {
            let rec = self.known_one(n)?;
            let source = Source::from_value(rec.get("source").unwrap_or(&Value::Null));
            let location = PathBuf::from(
                rec.get("installLocation")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            );
            if let Source::Url { url, .. } = &source {
                let known = hosted::validators(&self.home, n, url, &location);
                if let hosted::Fetched::Document {
                    name,
                    text,
                    validators,
                } = hosted::fetch(url, known.as_ref())?
                {
                    if &name != n {
                        return Err(EntityError::Invalid(format!(
                            "{url} now names its marketplace `{name}`, not `{n}`; remove `{n}` and add the URL again"
                        )));
                    }
                    hosted::store(&self.home, n, &location, &text, validators)?;
                }
                self.record_marketplace(n, &source, &location)?;
                continue;
            }
            if let Some((_, reference)) = source.clone_url() {
                git::update(&location, reference.as_deref(), self.progress)?;
            }
            read_marketplace(&location)?;
            self.record_marketplace(n, &source, &location)?;
        }
        Ok(names)
    }

    /// Removes a marketplace, its clone, and the records and enabled flags of its plugins, also in
    /// the settings of the projects they were installed for (the plugin copies stay in the cache,
    /// as with Claude Code).
    ///
    /// The project in `cwd` loses the marketplace's declaration too (from `--scope project` or
    /// `local`), as with Claude Code run there.
    pub fn marketplace_remove(&self, name: &str, cwd: &Path) -> Result<(), EntityError> {
        check_name("marketplace", name).map_err(EntityError::Usage)?;
        let _lock = self.lock()?;
        let rec = self.known_one(name)?;
        self.check_writable(&InstallScope::User, None)?;
        let suffix = format!("@{name}");
        // The projects its plugins were installed for: their settings lose the plugins too.
        let installed = store::read_for_update(
            &self.home.installed_plugins(),
            empty_installed(),
            file::MAX_STATE_FILE,
        )?;
        let mut projects: Vec<PathBuf> = installed
            .get("plugins")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(id, _)| id.ends_with(&suffix))
            .filter_map(|(_, recs)| recs.as_array())
            .flatten()
            .filter_map(|r| r.get("projectPath")?.as_str().map(PathBuf::from))
            .collect();
        projects.push(cwd.to_path_buf());
        projects.sort();
        projects.dedup();
        let project_settings: Vec<PathBuf> = projects
            .iter()
            .flat_map(|p| {
                [
                    InstallScope::Project(p.clone()),
                    InstallScope::Local(p.clone()),
                ]
            })
            .map(|s| self.settings_of(&s))
            .filter(|f| f.is_file())
            .collect();
        for f in &project_settings {
            store::read_for_update(f, json!({}), file::MAX_STATE_FILE)?;
        }
        // Files and keys that are not there stay absent, as with Claude Code.
        let installed = self.home.installed_plugins();
        if installed.is_file() {
            update_json(&installed, empty_installed(), |doc| {
                check_installed_version(doc, &installed)?;
                if let Some(m) = doc.get_mut("plugins").and_then(Value::as_object_mut) {
                    m.retain(|id, _| !id.ends_with(&suffix));
                }
                Ok(())
            })?;
        }
        let user_settings = Some(self.home.settings()).filter(|f| f.is_file());
        for f in project_settings.iter().chain(user_settings.iter()) {
            update_json(f, json!({}), |doc| {
                forget_marketplace(doc, name, &suffix);
                Ok(())
            })?;
        }
        update_json(&self.home.known_marketplaces(), json!({}), |doc| {
            doc.as_object_mut().expect("checked object").remove(name);
            Ok(())
        })?;
        // Only a clone that aisys or Claude Code made is deleted; a local folder is the user's.
        if let Some(loc) = rec.get("installLocation").and_then(Value::as_str) {
            let loc = PathBuf::from(loc);
            if loc.parent() == Some(self.home.marketplaces().as_path()) && loc.is_dir() {
                std::fs::remove_dir_all(&loc).map_err(|e| EntityError::io(&loc, e))?;
            } else if loc.parent() == Some(self.home.marketplaces().as_path()) && loc.is_file() {
                // A hosted marketplace's cached file.
                std::fs::remove_file(&loc).map_err(|e| EntityError::io(&loc, e))?;
            }
        }
        if Source::from_value(rec.get("source").unwrap_or(&Value::Null)).is_hosted() {
            hosted::forget(&self.home, name)?;
        }
        Ok(())
    }

    /// Installs `plugin@marketplace` and enables it in `scope`; returns the install path.
    pub fn install(&self, id: &str, scope: &InstallScope) -> Result<PathBuf, EntityError> {
        let (plugin, market) = parse_id(id)?;
        let _lock = self.lock()?;
        // Refuse unwritable records before copying anything.
        self.check_writable(scope, Some(id))?;
        let rec = self.known_one(market)?;
        let location = PathBuf::from(
            rec.get("installLocation")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let is_hosted = location.is_file();
        let (_, manifest) = if is_hosted {
            hosted::read_cached(&location)?
        } else {
            read_marketplace(&location)?
        };
        let entries = manifest
            .get("plugins")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let entry = entries
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(plugin))
            .ok_or_else(|| {
                let available: Vec<&str> = entries
                    .iter()
                    .filter_map(|e| e.get("name")?.as_str())
                    .collect();
                EntityError::NotFound(format!(
                    "marketplace `{market}` has no plugin `{plugin}` (it has: {}); \
                     `aisys entities marketplace update {market}` fetches its newest list",
                    if available.is_empty() {
                        "none".to_string()
                    } else {
                        available.join(", ")
                    }
                ))
            })?;

        let cache = self.home.cache();
        std::fs::create_dir_all(&cache).map_err(|e| EntityError::io(&cache, e))?;
        let stage = tempfile::Builder::new()
            .prefix(STAGE_PREFIX)
            .tempdir_in(&cache)
            .map_err(|e| EntityError::io(&cache, e))?;
        // `subdir` is the plugin's folder inside its repository, for `git-subdir` sources.
        let source = entry
            .get("source")
            .map(|v| serde_json::from_value::<PluginSource>(v.clone()));
        let (src, sha, subdir) = match source {
            Some(Ok(PluginSource::Relative(rel))) if is_hosted => {
                return Err(EntityError::Invalid(format!(
                    "marketplace `{market}`, plugin `{plugin}`: source `{rel}` is a relative path, \
                     but a marketplace hosted as one file has no folder to find it in; the \
                     marketplace must give a git, GitHub or url source"
                )));
            }
            Some(Ok(PluginSource::Relative(rel))) => {
                let src = names::inside(&location, &rel).map_err(|e| {
                    EntityError::Unsafe(format!(
                        "marketplace `{market}`, plugin `{plugin}`: source {e}"
                    ))
                })?;
                (src, git::head(&location), None)
            }
            Some(Ok(PluginSource::Remote(remote))) => {
                let (url, reference) = remote.clone_url().ok_or_else(|| {
                    EntityError::Invalid(format!(
                        "marketplace `{market}`, plugin `{plugin}`: source {remote} is not a kind \
                         aisys installs (a relative path, github, url, git or git-subdir)"
                    ))
                })?;
                let dest = stage.path().join("src");
                git::clone(&url, reference.as_deref(), &dest, self.progress)?;
                if let Some(pin) = remote.sha() {
                    if pin.len() < 7
                        || pin.len() > 40
                        || !pin.chars().all(|c| c.is_ascii_hexdigit())
                    {
                        return Err(EntityError::Invalid(format!(
                            "marketplace `{market}`, plugin `{plugin}`: `sha` {pin} is not a commit id"
                        )));
                    }
                    git::run(
                        Some(&dest),
                        &["checkout", "--quiet", "--detach", pin],
                        self.progress,
                        &format!("Checking out {pin}"),
                    )?;
                }
                let sha = git::head(&dest);
                match &remote {
                    Source::GitSubdir {
                        path: Some(sub), ..
                    } => {
                        let src = names::inside(&dest, sub).map_err(|e| {
                            EntityError::Unsafe(format!(
                                "marketplace `{market}`, plugin `{plugin}`: path {e}"
                            ))
                        })?;
                        (src, sha, Some(sub.to_string()))
                    }
                    _ => (dest, sha, None),
                }
            }
            Some(Err(_)) => {
                return Err(EntityError::Invalid(format!(
                    "marketplace `{market}`, plugin `{plugin}`: `source` must be a relative path \
                     or an object with a `source` kind"
                )));
            }
            None => {
                return Err(EntityError::Invalid(format!(
                    "marketplace `{market}`, plugin `{plugin}`: `source` is missing"
                )));
            }
        };
        if !src.is_dir() {
            return Err(EntityError::NotFound(format!(
                "marketplace `{market}`, plugin `{plugin}`: source folder {} does not exist",
                src.display()
            )));
        }
        let escaping = names::escaping_symlinks(&src);
        if !escaping.is_empty() {
            return Err(EntityError::Unsafe(format!(
                "plugin `{id}` has symlinks that point outside it: {}; refusing to install it",
                escaping.join(", ")
            )));
        }
        admit::check_plugin(id, &src)?;
        let plugin_manifest = match store::read_for_update(
            &src.join(".claude-plugin/plugin.json"),
            Value::Null,
            file::MAX_ENTITY_FILE,
        )? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let version = plugin_manifest
            .get("version")
            .or_else(|| entry.get("version"))
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| sha.as_deref().map(|s| sha_version(s, subdir.as_deref())))
            .unwrap_or_else(|| UNKNOWN_VERSION.to_string());
        check_segment("version", &version)?;

        let copy = stage.path().join("copy");
        copy_tree(&src, &copy, self.progress, &format!("Copying {id}"))?;
        let dest = cache.join(market).join(plugin).join(&version);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| EntityError::io(parent, e))?;
        }
        replace_dir(&copy, &dest, stage.path())?;

        let now = rfc3339(now());
        let project_path = scope.project_path();
        let installed = self.home.installed_plugins();
        update_json(&installed, empty_installed(), |doc| {
            check_installed_version(doc, &installed)?;
            check_records(doc, id, &installed)?;
            doc["version"] = INSTALLED_PLUGINS_VERSION.into();
            let plugins = object_at(doc, "plugins", &installed)?;
            let records = plugins.entry(id.to_string()).or_insert(Value::Null);
            if records.is_null() {
                *records = json!([]);
            }
            let list = records.as_array_mut().expect("checked, or just made");
            let same = |r: &Value| {
                r.get("scope").and_then(Value::as_str) == Some(scope.as_str())
                    && r.get("projectPath")
                        .and_then(Value::as_str)
                        .map(PathBuf::from)
                        == project_path
            };
            let installed_at = list
                .iter()
                .find(|r| same(r))
                .and_then(|r| r.get("installedAt").cloned())
                .unwrap_or_else(|| now.clone().into());
            let mut rec = json!({
                "scope": scope.as_str(),
                "installPath": dest,
                "version": version,
                "installedAt": installed_at,
                "lastUpdated": now,
            });
            if let Some(s) = &sha {
                rec["gitCommitSha"] = s.clone().into();
            }
            if let Some(p) = &project_path {
                rec["projectPath"] = json!(p);
            }
            match list.iter_mut().find(|r| same(r)) {
                Some(old) => {
                    // Keep keys a newer Claude Code may have added to the record.
                    if let (Some(o), Some(n)) = (old.as_object_mut(), rec.as_object()) {
                        for (k, v) in n {
                            o.insert(k.clone(), v.clone());
                        }
                    }
                }
                None => list.push(rec),
            }
            Ok(())
        })?;
        self.set_flag(id, scope, Some(true))?;
        Ok(dest)
    }

    /// Removes the install record of `id` in `scope` and its enabled flag (the copy stays in the
    /// cache, as with Claude Code, which sweeps unused copies itself).
    pub fn uninstall(&self, id: &str, scope: &InstallScope) -> Result<(), EntityError> {
        parse_id(id)?;
        let _lock = self.lock()?;
        self.check_writable(scope, Some(id))?;
        let project_path = scope.project_path();
        let path = self.home.installed_plugins();
        update_json(&path, empty_installed(), |doc| {
            check_installed_version(doc, &path)?;
            let plugins = object_at(doc, "plugins", &path)?;
            let Some(list) = plugins.get_mut(id).and_then(Value::as_array_mut) else {
                return Err(EntityError::NotFound(format!(
                    "plugin `{id}` is not installed; `aisys entities list --kind plugin` shows what is"
                )));
            };
            let before = list.len();
            list.retain(|r| {
                !(r.get("scope").and_then(Value::as_str) == Some(scope.as_str())
                    && r.get("projectPath")
                        .and_then(Value::as_str)
                        .map(PathBuf::from)
                        == project_path)
            });
            if list.len() == before {
                return Err(EntityError::NotFound(format!(
                    "plugin `{id}` is not installed in the {} scope{}; pass the --scope it was installed with",
                    scope.as_str(),
                    project_path
                        .as_ref()
                        .map(|p| format!(" of {}", p.display()))
                        .unwrap_or_default()
                )));
            }
            if list.is_empty() {
                plugins.remove(id);
            }
            Ok(())
        })?;
        self.set_flag(id, scope, None)
    }

    /// Enables or disables an installed plugin in `scope`'s settings.
    pub fn set_enabled(&self, id: &str, scope: &InstallScope, on: bool) -> Result<(), EntityError> {
        parse_id(id)?;
        let _lock = self.lock()?;
        let installed = store::read_for_update(
            &self.home.installed_plugins(),
            empty_installed(),
            file::MAX_STATE_FILE,
        )?;
        if installed.get("plugins").and_then(|p| p.get(id)).is_none() {
            return Err(EntityError::NotFound(format!(
                "plugin `{id}` is not installed; install it first with `aisys entities install {id}`"
            )));
        }
        self.set_flag(id, scope, Some(on))
    }

    fn settings_of(&self, scope: &InstallScope) -> PathBuf {
        match scope {
            InstallScope::User => self.home.settings(),
            InstallScope::Project(p) => p.join(".claude/settings.json"),
            InstallScope::Local(p) => p.join(".claude/settings.local.json"),
        }
    }

    /// Reads every file a change will rewrite, and the keys it writes into (with `id`, the
    /// plugin's records), so that a bad one stops the change before the first write, not
    /// half-way.
    fn check_writable(&self, scope: &InstallScope, id: Option<&str>) -> Result<(), EntityError> {
        let read = |path: &Path, default: Value| {
            let doc = store::read_for_update(path, default, file::MAX_STATE_FILE)?;
            match doc.is_object() {
                true => Ok(doc),
                false => Err(store::top_not_object(path)),
            }
        };
        let installed = self.home.installed_plugins();
        let doc = read(&installed, empty_installed())?;
        check_installed_version(&doc, &installed)?;
        check_object_at(&doc, "plugins", &installed)?;
        if let Some(id) = id {
            check_records(&doc, id, &installed)?;
        }
        read(&self.home.known_marketplaces(), json!({}))?;
        read(&self.home.settings(), json!({}))?;
        let settings = self.settings_of(scope);
        let doc = read(&settings, json!({}))?;
        for key in ["enabledPlugins", "extraKnownMarketplaces"] {
            check_object_at(&doc, key, &settings)?;
        }
        Ok(())
    }

    /// Sets (or with `None` removes) `enabledPlugins[id]` in the settings of `scope`.
    fn set_flag(
        &self,
        id: &str,
        scope: &InstallScope,
        on: Option<bool>,
    ) -> Result<(), EntityError> {
        let settings = self.settings_of(scope);
        update_json(&settings, json!({}), |doc| {
            let m = object_at(doc, "enabledPlugins", &settings)?;
            match on {
                Some(v) => {
                    m.insert(id.to_string(), v.into());
                }
                None => {
                    m.remove(id);
                }
            }
            Ok(())
        })
    }
}

/// Only version 2 of `installed_plugins.json` is rewritten: an older file would be half
/// converted, and Claude Code migrates it itself the next time it starts.
fn check_installed_version(doc: &Value, path: &Path) -> Result<(), EntityError> {
    match doc.get("version").and_then(Value::as_u64) {
        Some(INSTALLED_PLUGINS_VERSION) => Ok(()),
        v => Err(EntityError::Invalid(format!(
            "{}: version {} is not the version {INSTALLED_PLUGINS_VERSION} this aisys writes; \
             start Claude Code once so that it converts the file, then try again",
            path.display(),
            v.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
        ))),
    }
}

/// The records of `id` in `installed_plugins.json` must be a list (or absent): anything else is
/// refused rather than replaced.
fn check_records(doc: &Value, id: &str, path: &Path) -> Result<(), EntityError> {
    match doc.get("plugins").and_then(|p| p.get(id)) {
        Some(v) if !v.is_array() && !v.is_null() => Err(store::wrong_type(
            path,
            &format!("`plugins.{id:?}`"),
            v,
            "a list of install records",
        )),
        _ => Ok(()),
    }
}

/// Drops a marketplace's plugins from `enabledPlugins` and its declaration from
/// `extraKnownMarketplaces`, in a settings document where those keys exist; adds no key.
fn forget_marketplace(doc: &mut Value, name: &str, suffix: &str) {
    if let Some(m) = doc.get_mut("enabledPlugins").and_then(Value::as_object_mut) {
        m.retain(|id, _| !id.ends_with(suffix));
    }
    if let Some(m) = doc
        .get_mut("extraKnownMarketplaces")
        .and_then(Value::as_object_mut)
    {
        m.remove(name);
    }
}

fn empty_installed() -> Value {
    json!({"version": INSTALLED_PLUGINS_VERSION, "plugins": {}})
}

/// The version Claude Code 2.1.197 gives an unversioned git plugin: the commit's first 12
/// characters, and for a `git-subdir` source `-` and the first 8 hex digits of the SHA-256 of its
/// path (without `./` and trailing `/`), so that two plugins of one repository differ.
fn sha_version(sha: &str, subdir: Option<&str>) -> String {
    use sha2::Digest;
    let short = &sha[..SHA_VERSION_LEN.min(sha.len())];
    match subdir {
        None => short.to_string(),
        Some(p) => {
            let p = p.replace('\\', "/");
            let p = p.trim_start_matches("./").trim_end_matches('/');
            let hash = sha2::Sha256::digest(p.as_bytes());
            let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
            format!("{short}-{hex}")
        }
    }
}

/// Splits and checks `plugin@marketplace`, as the user gave it.
pub fn parse_id(id: &str) -> Result<(&str, &str), EntityError> {
    let (p, m) = layout::split_plugin_id(id).ok_or_else(|| {
        EntityError::Usage(format!(
            "`{id}`: expected PLUGIN@MARKETPLACE, e.g. demo@local-market"
        ))
    })?;
    check_name("plugin", p).map_err(EntityError::Usage)?;
    check_name("marketplace", m).map_err(EntityError::Usage)?;
    Ok((p, m))
}

/// A version becomes a folder name: one segment, no `..`.
fn check_segment(what: &str, s: &str) -> Result<(), EntityError> {
    if s.is_empty()
        || s == "."
        || s == ".."
        || s.contains('/')
        || s.contains('\\')
        || s.contains('\0')
    {
        return Err(EntityError::BadName(format!(
            "{what} `{s}` cannot be a folder name; use e.g. 1.0.0"
        )));
    }
    Ok(())
}

/// Moves `new` to `dest`, replacing what was there: the old folder is first moved aside into
/// `stage` (deleted with it), so `dest` is never half-written.
fn replace_dir(new: &Path, dest: &Path, stage: &Path) -> Result<(), EntityError> {
    let aside = stage.join("old");
    let had_old = dest.exists();
    if had_old {
        std::fs::rename(dest, &aside).map_err(|e| EntityError::io(dest, e))?;
    }
    if let Err(e) = std::fs::rename(new, dest) {
        if had_old {
            let _ = std::fs::rename(&aside, dest);
        }
        return Err(EntityError::io(dest, e));
    }
    Ok(())
}

/// Copies a plugin folder (symlinks inside it stay symlinks), with a progress bar.
fn copy_tree(src: &Path, dest: &Path, progress: Progress, what: &str) -> Result<(), EntityError> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    let mut i = 0;
    while i < dirs.len() {
        let rel = dirs[i].clone();
        i += 1;
        let dir = src.join(&rel);
        let rd = std::fs::read_dir(&dir).map_err(|e| EntityError::io(&dir, e))?;
        for e in rd {
            let e = e.map_err(|e| EntityError::io(&dir, e))?;
            let ft = e
                .file_type()
                .map_err(|err| EntityError::io(e.path(), err))?;
            let r = rel.join(e.file_name());
            if ft.is_dir() {
                dirs.push(r);
            } else if ft.is_file() || ft.is_symlink() {
                files.push((r, ft.is_symlink()));
            } else {
                // Copying a FIFO blocks, a device never ends: refused before anything is copied.
                return Err(EntityError::Unsafe(format!(
                    "{}: {}, not a regular file; a plugin may hold only files, folders and \
                     symlinks: remove it from the plugin",
                    e.path().display(),
                    file::describe(ft)
                )));
            }
        }
    }
    let pb = progress.bar(files.len() as u64, what.to_string());
    for d in &dirs {
        let p = dest.join(d);
        std::fs::create_dir_all(&p).map_err(|e| EntityError::io(&p, e))?;
    }
    for (rel, is_link) in &files {
        let from = src.join(rel);
        let to = dest.join(rel);
        if *is_link {
            let target = std::fs::read_link(&from).map_err(|e| EntityError::io(&from, e))?;
            std::os::unix::fs::symlink(&target, &to).map_err(|e| EntityError::io(&to, e))?;
        } else {
            copy_file(&from, &to)?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(())
}

/// Copies one regular file with its permissions (a hook script stays executable), opened through
/// [`file::open_regular`] so that a FIFO swapped in after the walk cannot block the copy.
fn copy_file(from: &Path, to: &Path) -> Result<(), EntityError> {
    let (mut src, meta) = file::open_regular(from).map_err(|source| EntityError::Read {
        path: from.to_path_buf(),
        source,
    })?;
    let mut dest = std::fs::File::create(to).map_err(|e| EntityError::io(to, e))?;
    std::io::copy(&mut src, &mut dest).map_err(|e| EntityError::io(from, e))?;
    dest.set_permissions(meta.permissions())
        .map_err(|e| EntityError::io(to, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_like_claude_code() {
        let cwd = Path::new("/");
        assert_eq!(
            serde_json::to_value(parse_source("git@github.com:o/r.git", cwd).unwrap()).unwrap(),
            json!({"source": "git", "url": "git@github.com:o/r.git"})
        );
        assert_eq!(
            serde_json::to_value(parse_source("https://example.com/t/p.git#v1", cwd).unwrap())
                .unwrap(),
            json!({"source": "git", "url": "https://example.com/t/p.git", "ref": "v1"})
        );
        assert_eq!(
            serde_json::to_value(parse_source("https://github.com/o/r", cwd).unwrap()).unwrap(),
            json!({"source": "git", "url": "https://github.com/o/r.git"})
        );
        assert_eq!(
            serde_json::to_value(parse_source("anthropics/claude-code", cwd).unwrap()).unwrap(),
            json!({"source": "github", "repo": "anthropics/claude-code"})
        );
        assert_eq!(
            serde_json::to_value(parse_source("file:///tmp/m", cwd).unwrap()).unwrap(),
            json!({"source": "git", "url": "file:///tmp/m"})
        );
        assert!(parse_source("a/b/c", cwd).is_err());
        assert!(parse_source("plain", cwd).is_err());
        assert!(parse_source("./does-not-exist-here", cwd).is_err());
    }

    #[test]
    fn unversioned_git_plugins_are_named_like_claude_code() {
        let sha = "4f2743eb266fcd09bb99b37221ce628280759796";
        assert_eq!(sha_version(sha, None), "4f2743eb266f");
        let v = sha_version(sha, Some("./tools/plugin/"));
        assert_eq!(v, sha_version(sha, Some("tools/plugin")));
        assert!(v.starts_with("4f2743eb266f-") && v.len() == 21, "{v}");
    }

    #[test]
    fn ids() {
        assert_eq!(parse_id("demo@m").unwrap(), ("demo", "m"));
        assert!(parse_id("demo").is_err());
        assert!(parse_id("../x@m").is_err());
        assert!(parse_id("x@../m").is_err());
    }
}
