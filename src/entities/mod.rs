//! Entities: Claude Code's plugins, skills, commands, agents, hooks, MCP servers and marketplaces,
//! in the on-disk layout Claude Code itself reads (`~/.claude`, a project's `.claude/`,
//! `~/.claude/plugins/`).
//!
//! Must not write outside its target roots.
