//! `aisys sandboxes`: show and remove the Modal sandboxes aisys left running, found by their tags.
//!
//! Must not touch sandboxes aisys did not create: everything goes through the `aisys.managed` tag.

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};

use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, Exit};
use crate::runtime::env::{MODAL_DEFAULT_APP, ModalEnvironment, SESSION_TAG};

/// Show or remove aisys's sandboxes on Modal.
#[derive(Debug, Subcommand)]
pub enum SandboxesCommand {
    List(SandboxesArgs),
    Prune(SandboxesArgs),
}

/// Which sandboxes: those of the Modal app, optionally of one session.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys sandboxes list
  aisys sandboxes prune --session s_01J9Z8")]
pub struct SandboxesArgs {
    /// The Modal app the sandboxes belong to.
    #[arg(long, default_value = MODAL_DEFAULT_APP, value_name = "APP")]
    pub modal_app: String,
    /// Only the sandbox of this session.
    #[arg(long, value_name = "SESSION")]
    pub session: Option<String>,
}

pub fn run(ctx: &Context, cmd: SandboxesCommand) -> anyhow::Result<Exit> {
    let (prune, args) = match cmd {
        SandboxesCommand::List(a) => (false, a),
        SandboxesCommand::Prune(a) => (true, a),
    };
    let mut config = crate::runtime::launch::modal_config(&ctx.config.data_dir);
    config.app = args.modal_app;
    config.keep_on_exit = true; // listing must not end anything
    let mut tags = BTreeMap::new();
    if let Some(s) = args.session {
        tags.insert(SESSION_TAG.to_string(), s);
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let env = ModalEnvironment::start(config)
            .await
            .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
        if prune {
            let ids = env
                .prune(&tags)
                .await
                .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
            let mut out = super::output::stdout();
            for id in &ids {
                writeln!(out, "terminated {id}")?;
            }
            drop(out);
            eprintln!("{} sandbox(es) terminated", ids.len());
        } else {
            let list = env
                .list(&tags)
                .await
                .map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
            let mut out = super::output::stdout();
            for e in &list {
                let session = e.tags.get(SESSION_TAG).map(String::as_str).unwrap_or("-");
                writeln!(out, "{}\t{session}", e.id)?;
            }
        }
        Ok::<_, anyhow::Error>(EXIT_OK)
    })
}
