//! Agent profiles: what a sandboxed agent gets of skills, commands, subagents, plugins, hooks, MCP
//! servers, rules and settings, and the files that give it to the agent.
//!
//! A profile is `user` (what the user's own Claude Code loads, as `entities` resolves it), `none`
//! (a bare agent) or a `[profiles.<name>]` table of the config file. [`resolve`] turns one into a
//! [`Resolved`] list, checked before any sandbox starts (a missing entity is an error naming it and
//! the fix); [`materialize`] turns that into the home files of one agent — Claude Code's own layout
//! (`claude`), or OpenCode's (`opencode`) — with every path pointing inside the sandbox.
//!
//! The composition lives here so that `aisys run` and the server share it; `entities` stays the
//! one reader of Claude Code's layout and `runtime` only receives files. Must not copy anything
//! but entity files: never credentials, `~/.claude.json` itself, transcripts or caches, and no MCP
//! server's `env` or `headers` values unless the profile defines that server itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config::{ConfigFile, ProfileConfig, expand_home};
use crate::entities::{self, EntityKind, Roots, Scope, layout};
use crate::runtime::agent::AgentOptions;
use crate::runtime::env::{HomeTree, Sandbox};
use crate::types::{AgentKind, PermissionMode};

mod claude;
mod collect;
mod hooks;
mod opencode;

pub use collect::{MAX_PROFILE_BYTES, MAX_PROFILE_FILE};

/// The profile sessions get when none is named.
pub const DEFAULT_PROFILE: &str = "user";
/// The profile with nothing in it.
pub const EMPTY_PROFILE: &str = "none";

/// Why a profile cannot be used; each message names the entity and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "profile `{name}` is not defined: use `user`, `none`, or add [profiles.{name}] to {config}"
    )]
    Unknown { name: String, config: String },
    #[error(
        "profile `{profile}`: plugin `{plugin}` is not installed: run `aisys entities install {plugin}`, or remove it from [profiles.{profile}] plugins"
    )]
    MissingPlugin { profile: String, plugin: String },
    #[error(
        "profile `{profile}`: MCP server `{server}` is not one of your MCP servers: add it with `claude mcp add --scope user {server} ...`, define it in [profiles.{profile}.mcp_servers.{server}], or remove it from `mcp`"
    )]
    MissingMcp { profile: String, server: String },
    #[error(
        "profile `{profile}`: {kind} {path}: {why}; fix the path in [profiles.{profile}] {kind}"
    )]
    BadPath {
        profile: String,
        kind: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("profile `{profile}`: hooks: {why}; fix [profiles.{profile}.hooks] in the config file")]
    BadHooks { profile: String, why: String },
    #[error("profile `{profile}`: MCP server `{server}`: {why}")]
    BadMcp {
        profile: String,
        server: String,
        why: String,
    },
    #[error("{path}: {why}")]
    Read { path: PathBuf, why: String },
    #[error(
        "the profile's files come to more than {limit} bytes: name fewer entities in the profile (or use --profile none)"
    )]
    TooLarge { limit: u64 },
    #[error("cannot tell where your home folder is: set HOME")]
    NoHome,
    #[error("placing the profile in the sandbox: {0}")]
    Place(#[from] crate::runtime::env::EnvError),
}

/// Where an entry of a profile comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Origin {
    /// The user's Claude Code home (`~/.claude`, `~/.claude.json`).
    User,
    /// An installed plugin, `plugin@marketplace`.
    Plugin(String),
    /// The profile's own table in the config file.
    Profile,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::User => f.write_str("user"),
            Origin::Plugin(id) => write!(f, "plugin {id}"),
            Origin::Profile => f.write_str("profile"),
        }
    }
}

/// One skill, command, subagent, plugin, MCP server or rules file of a profile.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// As the agent names it (`greet`, `frontend:lint`, `demo:greet` for a plugin's).
    pub name: String,
    pub origin: Origin,
    /// The file or folder it is copied from.
    pub path: PathBuf,
    /// What wins over it when the agent loads both, as `entities list` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_by: Option<String>,
    /// A note for the user (e.g. which values were left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What an [`Entry`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Skill,
    Command,
    Agent,
    Plugin,
    Mcp,
    Hooks,
    Rules,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Skill => "skill",
            EntryKind::Command => "command",
            EntryKind::Agent => "agent",
            EntryKind::Plugin => "plugin",
            EntryKind::Mcp => "mcp",
            EntryKind::Hooks => "hooks",
            EntryKind::Rules => "rules",
        }
    }
}

/// A plugin of a profile: its id and where its installed files are.
#[derive(Debug, Clone, Serialize)]
pub struct Plugin {
    /// `plugin@marketplace`.
    pub id: String,
    pub name: String,
    pub marketplace: String,
    pub version: Option<String>,
    /// The folder Claude Code loads it from on the host.
    pub root: PathBuf,
}

/// The settings a profile gives the agent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<PermissionMode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_tools: Vec<String>,
}

/// A profile resolved against the files on this machine: the list of what the agent gets.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub name: String,
    /// RFC 3339.
    #[serde(with = "crate::types::serde_rfc3339")]
    pub resolved_at: jiff::Timestamp,
    pub entries: Vec<Entry>,
    #[serde(skip)]
    plugins: Vec<Plugin>,
    /// MCP servers by name, in Claude Code's shape, as they will be written.
    #[serde(skip)]
    mcp_servers: BTreeMap<String, Value>,
    /// The user's `hooks` settings, when included.
    #[serde(skip)]
    hooks: Option<Value>,
    pub settings: Settings,
}

impl Resolved {
    /// A resolved profile with nothing in it.
    pub fn empty(name: &str) -> Resolved {
        Resolved {
            name: name.to_string(),
            resolved_at: crate::types::now(),
            entries: Vec::new(),
            plugins: Vec::new(),
            mcp_servers: BTreeMap::new(),
            hooks: None,
            settings: Settings::default(),
        }
    }

    /// How many entries of `kind` it has.
    pub fn count(&self, kind: EntryKind) -> usize {
        self.entries.iter().filter(|e| e.kind == kind).count()
    }
}

/// Where a profile reads the user's Claude Code files from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The user's Claude home and global state file, and the workspace's project folders.
    pub roots: Roots,
    /// The folder relative paths of the config file are relative to.
    pub config_dir: PathBuf,
}

impl Sources {
    /// The user's Claude Code files as the process environment says (`CLAUDE_CONFIG_DIR`, else
    /// `~/.claude`), for a session in `workspace`.
    pub fn from_env(workspace: &Path, config_file: &Path) -> Result<Sources, ProfileError> {
        use crate::config::{ENV_CLAUDE_CONFIG_DIR, Env, ProcessEnv};
        let dir = ProcessEnv.var(ENV_CLAUDE_CONFIG_DIR).map(PathBuf::from);
        let claude_home =
            crate::config::claude_home(&ProcessEnv).map_err(|_| ProfileError::NoHome)?;
        Ok(Sources {
            roots: Roots {
                claude_home,
                claude_json: layout::claude_json(dir.as_deref()),
                projects: Roots::project_dirs(workspace),
            },
            config_dir: config_file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        })
    }
}

/// The profiles a process knows: its config file's, and where that file is (relative paths in it
/// are relative to its folder).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub config: ConfigFile,
    pub config_path: PathBuf,
}

impl Catalog {
    pub fn new(config: &ConfigFile, config_path: &Path) -> Catalog {
        Catalog {
            config: config.clone(),
            config_path: config_path.to_path_buf(),
        }
    }

    /// The profile to use when `asked` (or nothing) was asked for.
    pub fn choose(&self, asked: Option<&str>) -> String {
        choose(asked, &self.config)
    }

    /// Resolves `name` for a session in `workspace`, against the user's Claude Code files as the
    /// environment names them.
    pub fn resolve(&self, name: &str, workspace: &Path) -> Result<Resolved, ProfileError> {
        if name == EMPTY_PROFILE {
            return Ok(Resolved::empty(name));
        }
        let sources = Sources::from_env(workspace, &self.config_path)?;
        resolve(name, &self.config, &self.config_path, &sources)
    }
}

/// The profile to use: the one asked for, else the config file's `profile`, else `user`.
pub fn choose(asked: Option<&str>, config: &ConfigFile) -> String {
    asked
        .or(config.profile.as_deref())
        .unwrap_or(DEFAULT_PROFILE)
        .to_string()
}

/// Every profile there is: `user`, `none`, then the config file's, by name.
pub fn names(config: &ConfigFile) -> Vec<String> {
    let mut out = vec![DEFAULT_PROFILE.to_string(), EMPTY_PROFILE.to_string()];
    out.extend(
        config
            .profiles
            .keys()
            .filter(|k| *k != DEFAULT_PROFILE && *k != EMPTY_PROFILE)
            .cloned(),
    );
    out
}

/// Resolves the profile `name` against the files `sources` names.
pub fn resolve(
    name: &str,
    config: &ConfigFile,
    config_path: &Path,
    sources: &Sources,
) -> Result<Resolved, ProfileError> {
    let mut out = Resolved::empty(name);
    if name == EMPTY_PROFILE {
        return Ok(out);
    }
    let inventory = entities::discover(&sources.roots);
    if name == DEFAULT_PROFILE && !config.profiles.contains_key(DEFAULT_PROFILE) {
        add_user(&mut out, &inventory, sources);
        add_plugin_contents(&mut out, &inventory);
        return Ok(out);
    }
    let table = config
        .profiles
        .get(name)
        .ok_or_else(|| ProfileError::Unknown {
            name: name.to_string(),
            config: config_path.display().to_string(),
        })?;
    if table.user {
        add_user(&mut out, &inventory, sources);
    }
    add_named(&mut out, table, &inventory, sources)?;
    add_plugin_contents(&mut out, &inventory);
    out.settings = Settings {
        model: table.model.clone(),
        permission_mode: table.permission_mode,
        allowed_tools: table.allowed_tools.clone(),
        denied_tools: table.denied_tools.clone(),
    };
    Ok(out)
}

/// What the user's own Claude Code loads: user-scope skills, commands, subagents, hooks, rules,
/// MCP servers (without their values), and every enabled plugin.
fn add_user(out: &mut Resolved, inv: &entities::Inventory, sources: &Sources) {
    for e in &inv.entities {
        let kind = match (e.kind, e.scope) {
            (EntityKind::Skill, Scope::User) => EntryKind::Skill,
            (EntityKind::Command, Scope::User) => EntryKind::Command,
            (EntityKind::Agent, Scope::User) => EntryKind::Agent,
            (EntityKind::Mcp, Scope::User) => {
                let server = strip_values(&Value::Object(e.fields.clone()));
                out.mcp_servers.insert(e.name.clone(), server);
                EntryKind::Mcp
            }
            (EntityKind::Plugin, _) if e.enabled && e.hidden_by.is_none() => {
                if let Some(p) = plugin_of(e) {
                    out.plugins.push(p);
                }
                EntryKind::Plugin
            }
            _ => continue,
        };
        if e.skipped.is_some() {
            continue;
        }
        out.entries.push(Entry {
            kind,
            name: e.name.clone(),
            origin: if kind == EntryKind::Plugin {
                Origin::Plugin(e.source.clone())
            } else {
                Origin::User
            },
            path: e.path.clone(),
            hidden_by: e.hidden_by.clone(),
            note: (kind == EntryKind::Mcp).then(|| VALUES_LEFT_OUT.to_string()),
        });
    }
    let home = &sources.roots.claude_home;
    if let Ok(Some(settings)) =
        layout::read_json(&home.join("settings.json"), entities::file::MAX_STATE_FILE)
        && let Some(hooks) = settings.get("hooks").filter(|h| h.is_object())
    {
        out.hooks = Some(hooks.clone());
        out.entries.push(Entry {
            kind: EntryKind::Hooks,
            name: "hooks".into(),
            origin: Origin::User,
            path: home.join("settings.json"),
            hidden_by: None,
            note: None,
        });
    }
    for rules in ["CLAUDE.md", "rules"] {
        let path = home.join(rules);
        if path.exists() {
            out.entries.push(Entry {
                kind: EntryKind::Rules,
                name: rules.to_string(),
                origin: Origin::User,
                path,
                hidden_by: None,
                note: None,
            });
        }
    }
}

/// The skills, commands and subagents of the profile's plugins, as entries (the plugin's folder
/// carries them; the entries say what the agent will find).
fn add_plugin_contents(out: &mut Resolved, inv: &entities::Inventory) {
    for e in &inv.entities {
        if e.scope != Scope::Plugin || !out.plugins.iter().any(|p| p.id == e.source) {
            continue;
        }
        let kind = match e.kind {
            EntityKind::Skill => EntryKind::Skill,
            EntityKind::Command => EntryKind::Command,
            EntityKind::Agent => EntryKind::Agent,
            _ => continue,
        };
        out.entries.push(Entry {
            kind,
            name: e.name.clone(),
            origin: Origin::Plugin(e.source.clone()),
            path: e.path.clone(),
            hidden_by: e.hidden_by.clone(),
            note: None,
        });
    }
}

/// What is said of an MCP server copied without its values.
const VALUES_LEFT_OUT: &str = "env and headers values not copied";

/// An MCP server without its `env` and `headers` values (they often hold tokens).
fn strip_values(server: &Value) -> Value {
    let mut s = server.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove("env");
        m.remove("headers");
    }
    s
}

fn plugin_of(e: &entities::Entity) -> Option<Plugin> {
    let (name, marketplace) = layout::split_plugin_id(&e.source)?;
    Some(Plugin {
        id: e.source.clone(),
        name: name.to_string(),
        marketplace: marketplace.to_string(),
        version: e
            .fields
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_string),
        root: e.path.clone(),
    })
}

/// The entries a `[profiles.<name>]` table lists.
fn add_named(
    out: &mut Resolved,
    table: &ProfileConfig,
    inv: &entities::Inventory,
    sources: &Sources,
) -> Result<(), ProfileError> {
    let profile = out.name.clone();
    for id in &table.plugins {
        if out.plugins.iter().any(|p| &p.id == id) {
            continue;
        }
        let found = inv
            .entities
            .iter()
            .find(|e| e.kind == EntityKind::Plugin && &e.source == id)
            .and_then(plugin_of)
            .ok_or_else(|| ProfileError::MissingPlugin {
                profile: profile.clone(),
                plugin: id.clone(),
            })?;
        out.entries.push(Entry {
            kind: EntryKind::Plugin,
            name: id.clone(),
            origin: Origin::Profile,
            path: found.root.clone(),
            hidden_by: None,
            note: None,
        });
        out.plugins.push(found);
    }
    let path = |p: &Path| -> Result<PathBuf, ProfileError> {
        let p = expand_home(p).map_err(|_| ProfileError::NoHome)?;
        Ok(if p.is_relative() {
            sources.config_dir.join(p)
        } else {
            p
        })
    };
    for p in &table.skills {
        let dir = path(p)?;
        if !dir.join("SKILL.md").is_file() {
            return Err(bad_path(
                &profile,
                "skills",
                &dir,
                "no SKILL.md in this folder",
            ));
        }
        out.entries
            .push(named_entry(EntryKind::Skill, &dir, dir_name(&dir)));
    }
    for (kind, list, what) in [
        (EntryKind::Command, &table.commands, "commands"),
        (EntryKind::Agent, &table.agents, "agents"),
    ] {
        for p in list {
            let p = path(p)?;
            for (file, name) in
                collect::markdown_files(&p).map_err(|why| bad_path(&profile, what, &p, &why))?
            {
                out.entries.push(named_entry(kind, &file, name));
            }
        }
    }
    if let Some(p) = &table.claude_md {
        let p = path(p)?;
        if !p.is_file() {
            return Err(bad_path(&profile, "claude_md", &p, "no such file"));
        }
        out.entries
            .push(named_entry(EntryKind::Rules, &p, "CLAUDE.md".into()));
    }
    for p in &table.rules {
        let p = path(p)?;
        for (file, name) in
            collect::markdown_files(&p).map_err(|why| bad_path(&profile, "rules", &p, &why))?
        {
            let name = format!("rules/{}.md", name.replace(':', "/"));
            out.entries.push(named_entry(EntryKind::Rules, &file, name));
        }
    }
    if let Some(table) = &table.hooks {
        let hooks = hooks::from_table(table).map_err(|why| ProfileError::BadHooks {
            profile: profile.clone(),
            why,
        })?;
        let events: Vec<&str> = hooks.keys().map(String::as_str).collect();
        let note = format!("{}; Claude Code only", events.join(", "));
        hooks::add(&mut out.hooks, hooks);
        out.entries.push(Entry {
            kind: EntryKind::Hooks,
            name: "hooks".into(),
            origin: Origin::Profile,
            path: sources.config_dir.join(crate::config::CONFIG_FILE_NAME),
            hidden_by: None,
            note: Some(note),
        });
    }
    for name in &table.mcp {
        let server = inv
            .entities
            .iter()
            .find(|e| e.kind == EntityKind::Mcp && e.scope == Scope::User && &e.name == name)
            .ok_or_else(|| ProfileError::MissingMcp {
                profile: profile.clone(),
                server: name.clone(),
            })?;
        out.mcp_servers.insert(
            name.clone(),
            strip_values(&Value::Object(server.fields.clone())),
        );
        out.entries.push(Entry {
            kind: EntryKind::Mcp,
            name: name.clone(),
            origin: Origin::User,
            path: server.path.clone(),
            hidden_by: None,
            note: Some(VALUES_LEFT_OUT.into()),
        });
    }
    for (name, def) in &table.mcp_servers {
        let value = serde_json::to_value(def).map_err(|e| ProfileError::BadMcp {
            profile: profile.clone(),
            server: name.clone(),
            why: e.to_string(),
        })?;
        if value.get("command").is_none() && value.get("url").is_none() {
            return Err(ProfileError::BadMcp {
                profile: profile.clone(),
                server: name.clone(),
                why: "give it a `command` (a local server) or a `url` (a remote one)".into(),
            });
        }
        out.mcp_servers.insert(name.clone(), value);
        out.entries.push(Entry {
            kind: EntryKind::Mcp,
            name: name.clone(),
            origin: Origin::Profile,
            path: sources.config_dir.join(crate::config::CONFIG_FILE_NAME),
            hidden_by: None,
            note: None,
        });
    }
    Ok(())
}

fn named_entry(kind: EntryKind, path: &Path, name: String) -> Entry {
    Entry {
        kind,
        name,
        origin: Origin::Profile,
        path: path.to_path_buf(),
        hidden_by: None,
        note: None,
    }
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn bad_path(profile: &str, kind: &'static str, path: &Path, why: &str) -> ProfileError {
    ProfileError::BadPath {
        profile: profile.to_string(),
        kind,
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

/// What materializing a profile gives one agent: the trees to place in its home (read-only) and
/// the MCP servers for its config, every path pointing inside the sandbox.
#[derive(Debug, Clone, Default)]
pub struct Materialized {
    pub trees: Vec<HomeTree>,
    pub mcp_servers: BTreeMap<String, Value>,
    /// Rules files the agent's config names (OpenCode's `instructions`), inside the sandbox.
    pub instructions: Vec<String>,
    pub settings: Settings,
}

/// The files that give `profile` to `agent`, whose home inside the sandbox is `home`.
pub fn materialize(
    profile: &Resolved,
    agent: AgentKind,
    home: &str,
) -> Result<Materialized, ProfileError> {
    let mut budget = collect::Budget::new(MAX_PROFILE_BYTES);
    let (mcp_servers, mcp_tree) = collect::mcp_files(&profile.mcp_servers, home, &mut budget)?;
    let (mut trees, instructions) = match agent {
        AgentKind::ClaudeCode => (claude::trees(profile, home, &mut budget)?, Vec::new()),
        AgentKind::Opencode => opencode::trees(profile, home, &mut budget)?,
    };
    if let Some(t) = mcp_tree {
        trees.push(t);
    }
    Ok(Materialized {
        trees,
        mcp_servers,
        instructions,
        settings: profile.settings.clone(),
    })
}

impl Materialized {
    /// Gives the agent's options what the profile says, where the user did not choose already
    /// (a flag wins over the profile).
    pub fn apply(&self, options: &mut AgentOptions, agent: AgentKind) {
        options.mcp_servers = self.mcp_servers.clone();
        options.instructions = self.instructions.clone();
        if options.model.is_none() {
            options.model = self.settings.model.clone();
        }
        if options.permission_mode.is_none() {
            options.permission_mode = self.settings.permission_mode;
        }
        // Claude Code reads the rules from the settings file written with the profile; OpenCode
        // gets them in its config from the options.
        if agent == AgentKind::Opencode {
            options
                .allowed_tools
                .extend(self.settings.allowed_tools.iter().cloned());
            options
                .disallowed_tools
                .extend(self.settings.denied_tools.iter().cloned());
        }
    }
}

/// Places `profile` in the home of `sandbox` for `agent`, before the agent's first turn; returns
/// what the agent's options need of it. The `none` profile places nothing.
pub async fn place(
    sandbox: &dyn Sandbox,
    profile: &Resolved,
    agent: AgentKind,
) -> Result<Materialized, ProfileError> {
    if profile.name == EMPTY_PROFILE {
        return Ok(Materialized::default());
    }
    let (p, home) = (profile.clone(), sandbox.home().to_string());
    let made = tokio::task::spawn_blocking(move || materialize(&p, agent, &home))
        .await
        .map_err(|e| ProfileError::Read {
            path: PathBuf::from("profile"),
            why: e.to_string(),
        })??;
    sandbox.place_home(&made.trees).await?;
    Ok(made)
}
