//! The command line: clap definitions, one file per subcommand, each with a `run()`.
//!
//! Responsible for turning arguments into calls of the core and results into output and exit
//! codes. This is the binary's edge, so it (and only it) uses `anyhow`. Must not hold logic that
//! the core needs: a command parses, resolves settings, calls the core and prints.
//!
//! Exit codes and environment variables: [`reference`], from which `--help` and the README's
//! tables are generated.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, ProcessEnv};

pub mod agents;
pub mod chat;
pub mod completions;
pub mod docs;
pub mod doctor;
pub mod entities;
pub mod generate;
pub mod output;
pub mod reference;
pub mod run;
pub mod run_output;
pub mod sandbox_init;
pub mod sandboxes;
pub mod serve;
pub mod table;
pub mod transcript;
pub mod values;

pub use output::Output;

/// Exit status of a command that ran to its end.
pub type Exit = u8;

pub const EXIT_OK: Exit = 0;
/// The work failed (for `run`: the agent's turn failed).
pub const EXIT_FAILURE: Exit = 1;
/// Wrong usage, or a missing file.
pub const EXIT_USAGE: Exit = 2;
/// Bad input data, or a sandbox or agent that could not start.
pub const EXIT_BAD_INPUT: Exit = 3;
/// A time limit ran out.
pub const EXIT_TIMEOUT: Exit = 124;
/// Interrupted by Ctrl-C.
pub const EXIT_INTERRUPTED: Exit = 130;

/// An error that carries the exit status it should end the process with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: Exit,
    pub message: String,
}

impl CommandError {
    pub fn new(code: Exit, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

/// aisys runs AI coding agents (Claude Code, OpenCode) in isolated sandboxes.
#[derive(Debug, Parser)]
#[command(
    name = "aisys",
    version,
    about = "Run AI coding agents (Claude Code, OpenCode) in isolated sandboxes",
    long_about = "Run AI coding agents (Claude Code, OpenCode) in isolated sandboxes.\n\n\
        aisys gives you one CLI for coding agents: run a single query in a sandbox (`run`), \
        serve many sessions to many clients (`serve`, `chat`), read and count agent transcripts \
        (`transcript`), and manage Claude Code's plugins, skills and commands (`entities`).",
    after_help = reference::after_help(),
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The heading the global flags are listed under in every command's `--help`, apart from the
/// command's own.
pub const GLOBAL_HEADING: &str = "Global options";

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = GLOBAL_HEADING)]
pub struct GlobalArgs {
    /// Log more on stderr: -v for info, -vv for debug, -vvv for trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Print only errors and the command's own output.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to use colors: auto (only on a terminal, and not when NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Read settings from this file instead of ~/.config/aisys/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Serve(serve::ServeArgs),
    Chat(chat::ChatArgs),
    Run(run::RunArgs),
    Docs(docs::DocsArgs),
    #[command(subcommand)]
    Transcript(transcript::TranscriptCommand),
    #[command(subcommand)]
    Entities(entities::EntitiesCommand),
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
    #[command(subcommand)]
    Sandboxes(sandboxes::SandboxesCommand),
    Doctor(doctor::DoctorArgs),
    Completions(completions::CompletionsArgs),
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
    #[command(hide = true)]
    SandboxInit(sandbox_init::SandboxInitArgs),
}

/// What every command's `run()` gets: the resolved configuration and how to print.
pub struct Context {
    pub config: Config,
    pub out: Output,
}

impl Context {
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Context> {
        let config = Config::load(global.config.as_deref(), &ProcessEnv)
            .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
        Ok(Context {
            config,
            out: Output::new(global),
        })
    }
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    // Pure generators need no configuration: keep them working on any machine.
    match cli.command {
        Command::Completions(args) => return completions::run(args),
        Command::Generate(cmd) => return generate::run(cmd),
        // Inside a sandbox: no configuration there, and none is needed.
        Command::SandboxInit(args) => return sandbox_init::run(args),
        _ => {}
    }
    let ctx = Context::load(&cli.global)?;
    match cli.command {
        Command::Serve(args) => serve::run(&ctx, args),
        Command::Chat(args) => chat::run(&ctx, args),
        Command::Run(args) => run::run(&ctx, args),
        Command::Docs(args) => docs::run(&ctx, args),
        Command::Transcript(cmd) => transcript::run(&ctx, cmd),
        Command::Entities(cmd) => entities::run(&ctx, cmd),
        Command::Agents(cmd) => agents::run(&ctx, cmd),
        Command::Sandboxes(cmd) => sandboxes::run(&ctx, cmd),
        Command::Doctor(args) => doctor::run(&ctx, args),
        Command::Completions(_) | Command::Generate(_) | Command::SandboxInit(_) => {
            unreachable!("handled above")
        }
    }
}

/// The clap command tree, for generators and tests.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
