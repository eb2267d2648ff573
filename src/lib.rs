//! aisys: run AI coding agents (Claude Code, OpenCode) in isolated sandboxes, with one CLI.
//!
//! The library core that every subcommand shares. Its modules mirror the map in
//! `docs/architecture.md`: `types` is the shared vocabulary, `converters` reads agent formats,
//! `entities` manages Claude Code's plugins and skills, `profile` composes from them what a
//! sandboxed agent gets, `runtime` runs agents in sandboxes,
//! `server` and `client` are the two ends of the WebSocket protocol, `tui` is `aisys chat`,
//! `config` resolves settings and paths, `http` is the one HTTP client (registry, marketplaces,
//! health checks), and `cli` holds the clap definitions that call into all
//! of them.

pub mod cli;
pub mod client;
pub mod config;
pub mod converters;
pub mod docs;
pub mod entities;
pub mod http;
pub mod profile;
pub mod runtime;
pub mod server;
pub mod tui;
pub mod types;
