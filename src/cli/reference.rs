//! The exit statuses and environment variables of aisys, defined once.
//!
//! `aisys --help` (and so the man page and `commands/aisys.md`) and the README's two tables are
//! generated from these lists (`aisys generate docs`), so they cannot disagree. Must not hold
//! anything else: a variable is read where it is used, under the name this list gives it.

use std::fmt::Write as _;

use super::{
    EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, Exit,
};
use crate::config::{ENV_CLAUDE_CONFIG_DIR, ENV_CONFIG_DIR, ENV_DATA_DIR};
use crate::runtime::agent::env_var as agent_bin_var;
use crate::runtime::env::{
    MODAL_ENV_HOME as ENV_HOME, MODAL_ENV_PYTHON as ENV_PYTHON, MODAL_ENV_WORKDIR as ENV_WORKDIR,
};
use crate::server::auth::ENV_TOKEN;
use crate::server::cluster::ENV_LEASE_EXPIRY_MS;
use crate::types::AgentKind;

/// Every exit status, with what it means.
pub const EXIT_STATUSES: &[(Exit, &str)] = &[
    (
        EXIT_OK,
        "success (also when the reader of the output, such as `head`, stops early)",
    ),
    (
        EXIT_FAILURE,
        "failure (for `run`: the agent's turn failed; for `doctor`: not ready)",
    ),
    (EXIT_USAGE, "usage error, or missing input"),
    (
        EXIT_BAD_INPUT,
        "bad input data, or a sandbox or agent that could not start",
    ),
    (EXIT_TIMEOUT, "a time limit ran out"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
];

/// The variable that sets the log filter (read in `main`).
pub const ENV_LOG: &str = "AISYS_LOG";
/// The address `aisys serve` binds.
pub const ENV_BIND: &str = "AISYS_BIND";
/// The store `aisys serve` keeps sessions in.
pub const ENV_STORE: &str = "AISYS_STORE";
/// The convention (no-color.org) for turning colours off.
pub const ENV_NO_COLOR: &str = "NO_COLOR";

/// Every environment variable aisys reads, with what it does.
pub fn environment() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            ENV_CONFIG_DIR,
            "folder of config.toml (default ~/.config/aisys)",
        ),
        (ENV_DATA_DIR, "data folder (default ~/.local/share/aisys)"),
        (
            ENV_CLAUDE_CONFIG_DIR,
            "Claude Code's home (default ~/.claude)",
        ),
        (ENV_LOG, "log filter, e.g. `aisys=debug` (overrides -v)"),
        (
            ENV_TOKEN,
            "the token of `serve`, `chat` and `docs` (else the token file in the data folder); \
             servers sharing a store share it",
        ),
        (ENV_BIND, "the address `serve` binds (like --bind)"),
        (
            ENV_STORE,
            "the store of `serve` (like --store), keeping a database password off the command line",
        ),
        (
            ENV_LEASE_EXPIRY_MS,
            "for tests: how long a session's lease lasts between servers sharing a store, in \
             milliseconds (default 15000)",
        ),
        (
            agent_bin_var(AgentKind::ClaudeCode),
            "the Claude Code binary to run (default: the installed or pinned one)",
        ),
        (
            agent_bin_var(AgentKind::Opencode),
            "the OpenCode binary to run (default: the installed or pinned one)",
        ),
        (
            ENV_PYTHON,
            "the Python that runs the Modal bridge (default python3)",
        ),
        (
            ENV_WORKDIR,
            "the workspace inside a Modal sandbox (default /workspace), for an image laid out \
             differently",
        ),
        (
            ENV_HOME,
            "the agent's home inside a Modal sandbox (default /aisys/home)",
        ),
        (ENV_NO_COLOR, "set to anything to turn colours off"),
    ]
}

/// What `aisys --help` shows after the commands: the two lists, the config keys and examples.
pub fn after_help() -> String {
    let mut s = String::from("Exit status:\n");
    for (code, meaning) in EXIT_STATUSES {
        let _ = writeln!(s, "  {code:<4} {meaning}");
    }
    s.push_str("\nEnvironment:\n");
    let env = environment();
    let w = env.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, what) in &env {
        let _ = writeln!(s, "  {name:<w$}  {what}");
    }
    s.push_str(
        "\nConfig file keys (config.toml): agent, sandbox, model, data_dir, network, allow_net, \
         profile, [profiles.NAME], [limits], and in [server]: bind, url, token_file, \
         max_sessions, store.\n\n\
         Examples:\n  \
         aisys doctor\n  \
         aisys run \"add a README\" --workspace ./myproject\n  \
         aisys serve\n  \
         aisys chat\n  \
         aisys transcript stats --by day\n  \
         aisys entities list --kind skill",
    );
    s
}

/// The README's tables, between its `generated:` markers.
pub fn readme_exit_table() -> String {
    let mut s = String::from("| code | meaning |\n| --- | --- |\n");
    for (code, meaning) in EXIT_STATUSES {
        let _ = writeln!(s, "| {code} | {meaning} |");
    }
    s
}

/// The README's table of environment variables.
pub fn readme_env_table() -> String {
    let mut s = String::from("| variable | what it does |\n| --- | --- |\n");
    for (name, what) in environment() {
        let _ = writeln!(s, "| `{name}` | {what} |");
    }
    s
}
