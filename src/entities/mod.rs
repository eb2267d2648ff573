//! Entities: Claude Code's plugins, skills, commands, agents, hooks, MCP servers and marketplaces,
//! in the on-disk layout Claude Code itself reads (`~/.claude`, a project's `.claude/`,
//! `~/.claude/plugins/`).
//!
//! `discover` reads every scope and applies Claude Code's precedence; `frontmatter` parses the
//! YAML header of skill, command and agent files; `layout` knows Claude Code's plugin records;
//! `store` rewrites JSON files atomically under a lock (`ordered_json` keeps a hand-edited file's key
//! order); `install` adds marketplaces and installs
//! plugins the way `claude plugin` does, taking in only what `admit` passes (the checks of
//! `validate`); `mcp` adds, changes and removes MCP servers the way `claude mcp`
//! does; `validate` checks what an author wrote; `file` is the one
//! reader of their files (regular files only, within a size limit).
//!
//! Must not write outside its target roots: the Claude home, a project's `.claude/`, and for MCP
//! servers Claude Code's `.claude.json` and a project's `.mcp.json`; nothing else. Names that could escape a root (`/`, `..`, absolute paths) and symlinks that leave a
//! plugin are refused before anything is written.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub mod admit;
pub mod discover;
pub mod file;
pub mod frontmatter;
pub mod git;
pub mod hosted;
pub mod install;
pub mod layout;
pub mod mcp;
pub mod names;
pub mod ordered_json;
pub mod source;
pub mod store;
pub mod validate;

pub use discover::{Inventory, Roots, discover};

/// What kind of thing an entity is. (`--kind` of `aisys entities list` takes these names.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Skill,
    Command,
    Agent,
    Hook,
    Mcp,
    Plugin,
    Marketplace,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Skill,
        EntityKind::Command,
        EntityKind::Agent,
        EntityKind::Hook,
        EntityKind::Mcp,
        EntityKind::Plugin,
        EntityKind::Marketplace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Skill => "skill",
            EntityKind::Command => "command",
            EntityKind::Agent => "agent",
            EntityKind::Hook => "hook",
            EntityKind::Mcp => "mcp",
            EntityKind::Plugin => "plugin",
            EntityKind::Marketplace => "marketplace",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an entity comes from. (`--scope` of `aisys entities list` takes these names.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `~/.claude` or `$CLAUDE_CONFIG_DIR`.
    User,
    /// A project's `.claude/` (and its `.mcp.json`).
    Project,
    /// An installed plugin.
    Plugin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
            Scope::Plugin => "plugin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One skill, command, agent, hook, MCP server, plugin or marketplace.
#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    /// The name Claude Code uses: plugin entities are `plugin:name`.
    pub name: String,
    pub kind: EntityKind,
    pub scope: Scope,
    /// `plugin@marketplace` for plugin entities, otherwise the file it was read from.
    pub source: String,
    /// The file (or folder, for plugins and marketplaces) it was read from.
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether Claude Code loads it (a disabled plugin's entities are not).
    pub enabled: bool,
    /// The entity that wins over this one, as `scope kind/name (path)`; None when it is active.
    pub hidden_by: Option<String>,
    /// Why its file was left unread (a FIFO, a device, over the size limit); such an entry is
    /// listed so that it is seen, and counts as disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Every frontmatter field (or manifest / config object), as read.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Entity {
    /// `kind/name`, the form `entities show` takes.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// How another entity refers to this one when it hides it.
    pub fn describe(&self) -> String {
        match self.scope {
            // Two plugins of one name (from two marketplaces) share a namespace: name the plugin.
            Scope::Plugin => format!(
                "{} {} from {} ({})",
                self.scope,
                self.id(),
                self.source,
                self.path.display()
            ),
            _ => format!("{} {} ({})", self.scope, self.id(), self.path.display()),
        }
    }
}

/// Something wrong in a file that did not stop the rest from being read.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub path: PathBuf,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.path.display(), l, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Errors of the entity operations that change files or need one specific input.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a regular file, is over its size limit, or could not be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: file::ReadError,
    },
    #[error("{path}:{line}: invalid JSON: {message}; fix the file or remove it")]
    BadJson {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A name read from a file that cannot become a path segment.
    #[error("{0}")]
    BadName(String),
    /// A malformed value given by the user (a command-line argument, a form field): a usage
    /// error, where the other variants are about files and the outside world.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unsafe(String),
    #[error("{0}")]
    Git(String),
    /// A hosted marketplace file could not be fetched.
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Invalid(String),
}

impl EntityError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> EntityError {
        EntityError::Io {
            path: path.into(),
            source,
        }
    }
}
