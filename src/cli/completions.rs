//! `aisys completions`: shell completion scripts.

use std::io::Write;

use clap::Args;
use clap_complete::Shell;

use super::{EXIT_OK, Exit};

/// Print a completion script for your shell.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys completions bash > ~/.local/share/bash-completion/completions/aisys
  aisys completions zsh > ~/.zfunc/_aisys
  aisys completions fish > ~/.config/fish/completions/aisys.fish")]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<Exit> {
    let mut cmd = super::command();
    // Into memory first: clap_complete panics on a failed write, as to a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "aisys", &mut script);
    let mut out = super::output::stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(EXIT_OK)
}
