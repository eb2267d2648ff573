//! `aisys run`: one query, one sandbox, no server.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use std::io::{IsTerminal, Read};

use tokio::sync::mpsc;

use super::run_output::Printer;
use super::values::{
    AgentArg, LimitArgs, NetworkArg, PermissionModeArg, SandboxArg, parse_duration,
};
use super::{
    CommandError, Context, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT,
    EXIT_USAGE, Exit,
};
use crate::config::ProcessEnv;
use crate::profile;
use crate::runtime::agent::{AgentOptions, adapter, resolve_binary};
use crate::runtime::env::{ExecutionEnvironment, ModalEnvironment, Network, SESSION_TAG};
use crate::runtime::launch;
use crate::runtime::policy::PermissionPolicy;
use crate::runtime::runner::{Turn, TurnControl, run_turn};
use crate::runtime::turn_events;
use crate::types::{
    AgentKind, DecidedBy, PermissionDecision, SandboxKind, StreamEvent, TurnStatus,
};

/// Batches of events (each the events of one read of the agent's output, at most
/// [`turn_events::EVENT_BATCH`]) buffered between the runner and the printer; the runner waits
/// when it is full, so a slow terminal slows the reading of the agent's output, never loses it.
const EVENT_QUEUE: usize = 4;

/// Run one query with a coding agent in a sandbox, and stream what it does.
///
/// The agent works in the workspace folder, which is the only host folder it can write. Its tool
/// requests inside the sandbox are allowed unless --permission-mode, --allow-tool or --deny-tool
/// narrow that, or --ask prompts for each one.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys run \"add a unit test for parse_date\" --workspace .
  echo \"explain this repo\" | aisys run - --workspace . --format jsonl
  aisys run \"continue\" --resume 8d9fe6d2-189f-4ca8-a400-4ce669939d52 --workspace .")]
pub struct RunArgs {
    /// The prompt; `-` reads it from stdin.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Which agent to run.
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Option<AgentArg>,
    /// Where to run it: local (bubblewrap), host (no isolation) or modal.
    #[arg(long, value_enum, value_name = "KIND")]
    pub sandbox: Option<SandboxArg>,
    /// The folder the agent works in (default: a new folder under aisys's data folder).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The model to ask, e.g. claude-sonnet-4-5.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Which tool requests need a decision (Claude Code's permission modes).
    #[arg(long, value_enum, value_name = "MODE")]
    pub permission_mode: Option<PermissionModeArg>,
    /// Allow this tool without asking (repeatable), e.g. `Bash(git *)`.
    #[arg(long, value_name = "TOOL")]
    pub allow_tool: Vec<String>,
    /// Deny this tool (repeatable).
    #[arg(long, value_name = "TOOL")]
    pub deny_tool: Vec<String>,
    /// Ask on the terminal for each tool request.
    #[arg(long)]
    pub ask: bool,
    /// Stop after this many agent turns.
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Give up after this long, e.g. `90s` or `10m` (exit 124).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// The local sandbox's network: limited (default: only the model endpoint and the allowed
    /// hosts) or host (the host's network, unrestricted).
    #[arg(long, value_enum, value_name = "MODE")]
    pub network: Option<NetworkArg>,
    /// Let the local sandbox reach this HOST:PORT too (repeatable), e.g. `github.com:443`.
    #[arg(long, value_name = "HOST:PORT")]
    pub allow_net: Vec<String>,
    /// Pass this environment variable into the sandbox too (repeatable).
    #[arg(long = "env", value_name = "KEY")]
    pub env: Vec<String>,
    /// Continue the agent's earlier conversation with this id.
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    /// What the agent gets of skills, plugins, subagents, commands and MCP servers: `user` (what
    /// your own Claude Code loads; the default), `none`, or a `[profiles.NAME]` of the config.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Use this agent binary instead of the installed one.
    #[arg(long, value_name = "PATH")]
    pub agent_bin: Option<PathBuf>,
    /// The Modal app sandboxes run in (with --sandbox modal; created if missing).
    #[arg(long, value_name = "APP")]
    pub modal_app: Option<String>,
    /// A registry image for Modal sandboxes instead of the default one with the agents.
    #[arg(long, value_name = "REGISTRY_REF")]
    pub modal_image: Option<String>,
    /// With --sandbox modal: copy the files the agent changed back into --workspace afterwards.
    #[arg(long)]
    pub sync_back: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Output: pretty (default on a terminal), jsonl (StreamEvents, default otherwise), json, markdown.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<RunFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// Streamed text, one line per tool call, and a summary line.
    Pretty,
    /// One StreamEvent per line.
    Jsonl,
    /// The conversation's blocks as one JSON document at the end.
    Json,
    /// The conversation as Markdown at the end.
    Markdown,
}

pub fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<Exit> {
    let prompt = read_prompt(args.prompt.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_async(ctx, args, prompt))
}

/// The prompt from the argument, or from stdin for `-` (and when stdin is a pipe).
fn read_prompt(arg: Option<&str>) -> anyhow::Result<String> {
    let from_stdin = match arg {
        Some("-") => true,
        Some(p) => return Ok(p.to_string()),
        None => !std::io::stdin().is_terminal(),
    };
    if !from_stdin {
        return Err(CommandError::new(
            EXIT_USAGE,
            "aisys run: no prompt: give it as an argument, or `-` to read it from stdin",
        )
        .into());
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    if text.trim().is_empty() {
        return Err(
            CommandError::new(EXIT_USAGE, "aisys run: the prompt on stdin is empty").into(),
        );
    }
    Ok(text)
}

fn start_error(e: impl std::fmt::Display) -> anyhow::Error {
    CommandError::new(EXIT_BAD_INPUT, e.to_string()).into()
}

async fn run_async(ctx: &Context, args: RunArgs, prompt: String) -> anyhow::Result<Exit> {
    let agent = ctx.config.agent(args.agent.map(Into::into));
    let sandbox_kind = ctx.config.sandbox(args.sandbox.map(Into::into));
    let data_dir = ctx.config.data_dir(None);
    let format = args.format.unwrap_or(if ctx.out.stdout_is_tty {
        RunFormat::Pretty
    } else {
        RunFormat::Jsonl
    });

    // Everything that can be checked before a sandbox starts, is.
    if let Some(ws) = &args.workspace
        && let Some(why) = launch::not_a_folder(ws)
    {
        return Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "--workspace {}: {why}\n  fix: give a folder (one that does not exist yet is made)",
                ws.display()
            ),
        )
        .into());
    }
    let env = launch::sandbox_env(&ProcessEnv, &args.env).map_err(start_error)?;
    launch::check_credentials(&env).map_err(start_error)?;
    let host_network = ctx.config.host_network(args.network.map(Into::into));
    let mut allow_net = ctx.config.file.allow_net.clone();
    allow_net.extend(args.allow_net.iter().cloned());
    // Only the local sandbox enforces a network; the others have their own.
    let network = if sandbox_kind == SandboxKind::Local {
        launch::network(&env, host_network, &allow_net).map_err(start_error)?
    } else {
        Network::Host
    };
    if host_network && sandbox_kind == SandboxKind::Local && !ctx.out.quiet {
        eprintln!(
            "note: --network host: the sandbox shares this machine's network, so the agent can reach anything it can (local services included)"
        );
    }
    let binary = if sandbox_kind == SandboxKind::Modal && args.agent_bin.is_none() {
        launch::modal_agent_binary(agent)
    } else {
        resolve_binary(agent, args.agent_bin.as_deref(), &ProcessEnv, &data_dir)
            .map_err(start_error)?
            .path
    };
    if args.sync_back && sandbox_kind != SandboxKind::Modal {
        return Err(CommandError::new(
            EXIT_USAGE,
            "--sync-back only applies to --sandbox modal (other sandboxes work in the folder itself)",
        )
        .into());
    }
    if args.ask && !std::io::stdin().is_terminal() {
        return Err(CommandError::new(
            EXIT_USAGE,
            "aisys run --ask needs a terminal to ask on: run it in one, or decide ahead with --allow-tool / --deny-tool",
        )
        .into());
    }
    let generated_workspace = args.workspace.is_none();
    let workspace = args
        .workspace
        .clone()
        .unwrap_or_else(|| launch::new_workspace(&data_dir));
    let profiles = profile::Catalog::new(&ctx.config.file, &ctx.config.config_file);
    let resolved = profiles
        .resolve(&profiles.choose(args.profile.as_deref()), &workspace)
        .map_err(|e| match e {
            // A name that is no profile is the command line's mistake, as in `entities`.
            profile::ProfileError::Unknown { .. } => {
                CommandError::new(super::EXIT_USAGE, e.to_string()).into()
            }
            e => start_error(e),
        })?;
    let mut modal = crate::runtime::launch::modal_config(&data_dir);
    if let Some(app) = &args.modal_app {
        modal.app = app.clone();
    }
    modal.image = args.modal_image.clone();
    modal.verbose = ctx.out.verbose > 0;
    let environment: Box<dyn ExecutionEnvironment> = if sandbox_kind == SandboxKind::Modal {
        let m = with_progress(
            ctx,
            "starting the Modal bridge",
            ModalEnvironment::start(modal),
        )
        .await
        .map_err(start_error)?;
        Box::new(m)
    } else {
        launch::environment(sandbox_kind, &modal)
            .await
            .map_err(start_error)?
    };

    let mut options = AgentOptions {
        model: args.model.clone(),
        permission_mode: args.permission_mode.map(Into::into),
        // Claude Code asks over stdin, so the policy answers (and reports) every decision;
        // OpenCode cannot ask, so it gets the rules themselves.
        allowed_tools: if agent == AgentKind::Opencode {
            args.allow_tool.clone()
        } else {
            vec![]
        },
        disallowed_tools: if agent == AgentKind::Opencode {
            args.deny_tool.clone()
        } else {
            vec![]
        },
        max_turns: args.max_turns,
        append_system_prompt: None,
        resume: args.resume.clone(),
        base_url: env.get("ANTHROPIC_BASE_URL").cloned(),
        // Someone reads along only in pretty output on a terminal; the other formats want the
        // complete blocks.
        partial_messages: format == RunFormat::Pretty && ctx.out.stdout_is_tty,
        mcp_servers: Default::default(),
        instructions: Vec::new(),
    };
    let spec = launch::sandbox_spec(launch::SpecParts {
        workspace: workspace.clone(),
        home: launch::agent_home(&data_dir, &workspace, agent),
        env,
        network,
        binary: (sandbox_kind != SandboxKind::Modal).then_some(binary.as_path()),
        label: (SESSION_TAG, launch::workspace_key(&workspace)),
        limits: ctx.config.limits(args.limits.settings()),
    });
    // A remote sandbox can take a while (an image build the first time): show that it is coming.
    let creating = environment.create(spec);
    let sandbox = if sandbox_kind == SandboxKind::Modal {
        with_progress(
            ctx,
            "starting the Modal sandbox (the first run builds its image)",
            creating,
        )
        .await
    } else {
        creating.await
    }
    .map_err(start_error)?;
    match profile::place(&*sandbox, &resolved, agent).await {
        Ok(placed) => placed.apply(&mut options, agent),
        Err(e) => {
            let _ = sandbox.terminate().await;
            return Err(start_error(e));
        }
    }
    if options.model.is_none() {
        options.model = ctx.config.model(None);
    }
    let mut adapter = adapter(agent, binary.clone());
    let policy =
        PermissionPolicy::for_run(args.allow_tool.clone(), args.deny_tool.clone(), args.ask);

    let (event_tx, mut event_rx) = turn_events::channel(EVENT_QUEUE);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let turn = Turn {
        prompt,
        options,
        timeout: args.timeout,
    };
    let sandbox_ref: &dyn crate::runtime::env::Sandbox = &*sandbox;
    let turn_fut = run_turn(sandbox_ref, &mut *adapter, turn, event_tx, control_rx);
    tokio::pin!(turn_fut);

    let mut printer = Printer::new(format, ctx.out);
    // The loop's errors are kept until the sandbox is terminated: a remote one would otherwise
    // live on until its own timeout.
    let looped: anyhow::Result<_> = async {
    let mut interrupts = 0u32;
    let mut outcome = None;
    let mut events_open = true;
    while outcome.is_none() || events_open {
        tokio::select! {
            res = &mut turn_fut, if outcome.is_none() => {
                outcome = Some(res.map_err(start_error)?);
            }
            batch = event_rx.recv(), if events_open => {
                let Some(batch) = batch else { events_open = false; continue };
                for ev in batch {
                    if let StreamEvent::PermissionRequest { request_id, tool_name, input, .. } = &ev {
                        printer.event(&ev)?;
                        let (decision, by) = match policy.decide(tool_name, input) {
                            Some(d) => (d, DecidedBy::Policy),
                            // The agent waits for this answer anyway, so asking may block here.
                            None => (printer.suspend(|| ask_user(tool_name, input)), DecidedBy::User),
                        };
                        let _ = control_tx.send(TurnControl::Permission {
                            request_id: request_id.clone(),
                            decision,
                            message: (decision == PermissionDecision::Deny)
                                .then(|| format!("{tool_name} is not allowed in this run")),
                            decided_by: by,
                        });
                        continue;
                    }
                    printer.event(&ev)?;
                }
            }
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                let msg = if interrupts == 1 { TurnControl::Interrupt } else { TurnControl::Kill };
                if !ctx.out.quiet {
                    eprintln!("{}", if interrupts == 1 {
                        "interrupting the agent (Ctrl-C again to kill it)"
                    } else {
                        "killing the agent"
                    });
                }
                let _ = control_tx.send(msg);
            }
        }
    }
    Ok(outcome.expect("the loop ends after the turn"))
    }
    .await;
    let outcome = match looped {
        Ok(o) => o,
        Err(e) => {
            let _ = sandbox.terminate().await;
            return Err(e);
        }
    };
    if args.sync_back {
        match sandbox.bring_home(&workspace).await {
            Ok(report) => {
                for (path, why) in report.iter().flat_map(|r| &r.refused) {
                    // The path is the agent's to choose.
                    crate::cli::output::to_stderr(format!("sync back: refused {path}: {why}"));
                }
            }
            Err(e) => eprintln!("sync back failed: {e}"),
        }
    }
    let _ = sandbox.terminate().await;
    printer.finish()?;
    if !ctx.out.quiet {
        if generated_workspace {
            eprintln!("workspace: {}", workspace.display());
        }
        if let Some(id) = &outcome.agent_session_id {
            eprintln!(
                "resume with: aisys run --resume {id} --workspace {} ...",
                workspace.display()
            );
        }
    }
    Ok(match outcome.status {
        TurnStatus::Success => EXIT_OK,
        TurnStatus::Error | TurnStatus::MaxTurns => EXIT_FAILURE,
        TurnStatus::Timeout => EXIT_TIMEOUT,
        TurnStatus::Interrupted => EXIT_INTERRUPTED,
    })
}

/// Awaits `fut` with a spinner on stderr (only on a terminal, and not with --quiet).
async fn with_progress<T>(
    ctx: &Context,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    if !ctx.out.stderr_is_tty || ctx.out.quiet {
        return fut.await;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let out = fut.await;
    bar.finish_and_clear();
    out
}

/// Asks on the terminal whether a tool may run.
fn ask_user(tool: &str, input: &serde_json::Value) -> PermissionDecision {
    eprint!(
        "Allow {tool} {}? [y/N] ",
        crate::converters::summarize_input(tool, input)
    );
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        PermissionDecision::Allow
    } else {
        PermissionDecision::Deny
    }
}
