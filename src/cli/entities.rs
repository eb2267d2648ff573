//! `aisys entities`: Claude Code's plugins, skills, commands, agents, hooks and MCP servers.
//!
//! The clap definitions and the dispatch to `list.rs` (list, show, validate), `plugins.rs`
//! (install, uninstall, enable, disable, marketplace), `profile.rs` (agent profiles) and `mcp.rs`
//! (MCP servers). Must not hold entity logic: that is `crate::entities`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::transcript::TableFormat;
use super::{Context, Exit};
use crate::entities::{EntityKind, Scope};

mod list;
pub mod mcp;
mod plugins;
mod profile;

/// Find, inspect and install Claude Code plugins, skills, commands, agents and marketplaces.
///
/// Works on the same files Claude Code reads (~/.claude, a project's .claude/, and
/// ~/.claude/plugins), so what aisys installs, Claude Code sees.
#[derive(Debug, Subcommand)]
pub enum EntitiesCommand {
    List(ListArgs),
    Show(ShowArgs),
    /// Install a plugin from a known marketplace, and enable it.
    ///
    /// The plugin is checked first as `entities validate` checks it: an error refuses it (exit 3)
    /// before anything is written; warnings do not.
    #[command(after_help = "Examples:
  aisys entities install demo@local-market
  aisys entities install demo@local-market --scope project")]
    Install(PluginArgs),
    /// Uninstall a plugin: its record and enabled flag go; its copy stays in the cache.
    #[command(after_help = "Examples:
  aisys entities uninstall demo@local-market
  aisys entities uninstall demo@local-market --scope project")]
    Uninstall(PluginArgs),
    /// Enable an installed plugin in the settings of a scope.
    #[command(after_help = "Examples:
  aisys entities enable demo@local-market
  aisys entities enable demo@local-market --scope project")]
    Enable(PluginArgs),
    /// Disable a plugin in the settings of a scope, keeping it installed.
    #[command(after_help = "Examples:
  aisys entities disable demo@local-market
  aisys entities disable demo@local-market --scope local")]
    Disable(PluginArgs),
    Validate(ValidateArgs),
    #[command(subcommand)]
    Marketplace(MarketplaceCommand),
    #[command(subcommand)]
    Profile(ProfileCommand),
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
}

/// The agent profiles: what a sandboxed agent gets of skills, plugins, subagents, commands,
/// hooks, MCP servers and rules (`user`, `none`, and the config file's `[profiles.NAME]`).
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles and what each holds.
    #[command(after_help = "Examples:
  aisys entities profile list
  aisys entities profile list --format json")]
    List {
        /// The project whose .claude/ is the project scope (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
        format: TableFormat,
    },
    /// Show what one profile resolves to: each entity, where it comes from, what hides what.
    #[command(after_help = "Examples:
  aisys entities profile show user
  aisys entities profile show review --format json")]
    Show {
        /// The profile: user, none, or a [profiles.NAME] of the config file.
        #[arg(value_name = "NAME")]
        name: String,
        /// The project whose .claude/ is the project scope (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
        format: TableFormat,
    },
}

/// List every entity in every scope, what is active, and what hides what.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys entities list
  aisys entities list --kind skill --scope project
  aisys entities list --format json")]
pub struct ListArgs {
    /// Only this kind.
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: Option<EntityKind>,
    /// Only this scope.
    #[arg(long, value_enum, value_name = "SCOPE")]
    pub scope: Option<Scope>,
    /// The project whose .claude/ is the project scope (default: the current folder and its git root).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
    /// Treat warnings (bad frontmatter, unreadable files) as a failure (exit 3).
    #[arg(long)]
    pub strict: bool,
}

/// Show one entity: its frontmatter, path and body.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys entities show skill/pdf
  aisys entities show command/demo:review")]
pub struct ShowArgs {
    /// KIND/NAME, e.g. skill/pdf or agent/demo:tester.
    #[arg(value_name = "KIND/NAME")]
    pub entity: String,
    /// The project whose .claude/ is the project scope.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

/// A plugin to act on, and the settings where it is enabled.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// PLUGIN@MARKETPLACE.
    #[arg(value_name = "PLUGIN@MARKETPLACE")]
    pub plugin: String,
    /// Which settings: user (~/.claude/settings.json), project (.claude/settings.json) or local
    /// (.claude/settings.local.json, not shared).
    #[arg(long, value_enum, default_value_t = InstallScope::User, value_name = "SCOPE")]
    pub scope: InstallScope,
    /// The project for --scope project or local (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

/// Check a plugin, skill, command or agent the way its author needs.
#[derive(Debug, Args)]
#[command(
    after_help = "JSON (--format json): {\"errors\": n, \"warnings\": n, \"checked\": [{\"kind\",
\"path\"}], \"findings\": [{\"severity\": \"error\"|\"warning\", \"path\", \"line\", \"field\",
\"message\"}]}; the exit status is the same as for the lines (3 when there is an error).

Examples:
  aisys entities validate ./my-plugin
  aisys entities validate .claude/skills/pdf/SKILL.md
  aisys entities validate ./my-plugin --format json"
)]
pub struct ValidateArgs {
    /// The plugin folder or entity file (default: the current folder).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Output format: one finding a line, or JSON.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
}

/// Add, list, update and remove plugin marketplaces.
#[derive(Debug, Subcommand)]
pub enum MarketplaceCommand {
    /// Add a marketplace from a git URL, a GitHub owner/repo, a hosted marketplace.json URL, or a
    /// local folder.
    ///
    /// Its marketplace.json must have a name, an owner and a list of plugins, each with a name and
    /// a source: one that does not is refused (exit 3), naming the field.
    ///
    /// A hosted marketplace.json is fetched over HTTP (HTTPS_PROXY and NO_PROXY are honoured),
    /// checked, and kept as Claude Code keeps it; `marketplace update` asks for it again with the
    /// ETag and Last-Modified of the last answer. Its plugins must have git or GitHub sources.
    #[command(after_help = "Examples:
  aisys entities marketplace add ./my-marketplace
  aisys entities marketplace add ./team-marketplace --scope project
  aisys entities marketplace add anthropics/claude-code
  aisys entities marketplace add https://example.com/team/plugins.git
  aisys entities marketplace add https://example.com/team/marketplace.json")]
    Add {
        /// A git URL, owner/repo for GitHub, an http(s) URL of a marketplace.json, or a local path.
        #[arg(value_name = "SOURCE")]
        source: String,
        /// Where to declare it: user (~/.claude/settings.json), project (.claude/settings.json,
        /// shared with the project) or local (.claude/settings.local.json).
        #[arg(long, value_enum, default_value_t = InstallScope::User, value_name = "SCOPE")]
        scope: InstallScope,
        /// The project for --scope project or local (default: the current folder).
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
    },
    /// List the known marketplaces.
    #[command(after_help = "Examples:
  aisys entities marketplace list --format json")]
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
        format: TableFormat,
    },
    /// Fetch the newest version of one marketplace, or of all.
    ///
    /// A hosted marketplace.json is asked for with If-None-Match / If-Modified-Since, and kept
    /// when the server says it has not changed.
    #[command(after_help = "Examples:
  aisys entities marketplace update
  aisys entities marketplace update local-market")]
    Update {
        /// The marketplace's name (default: all).
        #[arg(value_name = "NAME")]
        name: Option<String>,
    },
    /// Remove a marketplace and the plugins installed from it.
    #[command(after_help = "Examples:
  aisys entities marketplace remove local-market")]
    Remove {
        /// The marketplace's name.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstallScope {
    /// ~/.claude/settings.json.
    User,
    /// The project's .claude/settings.json, shared through the repository.
    Project,
    /// The project's .claude/settings.local.json, for you only.
    Local,
}

pub fn run(ctx: &Context, cmd: EntitiesCommand) -> anyhow::Result<Exit> {
    match cmd {
        EntitiesCommand::List(args) => list::list(ctx, args),
        EntitiesCommand::Show(args) => list::show(ctx, args),
        EntitiesCommand::Install(args) => plugins::install(ctx, args),
        EntitiesCommand::Uninstall(args) => plugins::uninstall(ctx, args),
        EntitiesCommand::Enable(args) => plugins::set_enabled(ctx, args, true),
        EntitiesCommand::Disable(args) => plugins::set_enabled(ctx, args, false),
        EntitiesCommand::Validate(args) => list::validate(ctx, args),
        EntitiesCommand::Marketplace(cmd) => plugins::marketplace(ctx, cmd),
        EntitiesCommand::Profile(cmd) => profile::run(ctx, cmd),
        EntitiesCommand::Mcp(cmd) => mcp::run(ctx, cmd),
    }
}
