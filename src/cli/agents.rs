//! `aisys agents`: find and install the agent CLIs.
//!
//! Installs come from the npm registry over HTTP (`runtime::agent::install`), with no npm or
//! Node.js on the machine; this file only parses arguments and shows progress.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::transcript::TableFormat;
use super::values::AgentArg;
use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, Exit};
use crate::config::ProcessEnv;
use crate::http::Http;
use crate::runtime::agent::install::{self, InstallRecord, Installed, Progress, Registry};
use crate::runtime::agent::{agent_package, binary_version, pinned_version, resolve_binary};
use crate::types::AgentKind;

/// How often the spinner of the metadata step redraws.
const SPINNER_TICK: Duration = Duration::from_millis(100);

/// Show and install the coding agents aisys can run.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    List(AgentsListArgs),
    Install(AgentsInstallArgs),
}

/// Show each agent, the binary aisys would run and its version, or why it is missing.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys agents list
  aisys agents list --format json")]
pub struct AgentsListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
}

/// Install an agent CLI from the npm registry into aisys's data folder (no npm needed).
///
/// Reads the package's metadata from the registry (npm_config_registry, else `registry=` in
/// ~/.npmrc, else https://registry.npmjs.org/), downloads the native package for this machine,
/// checks its SHA-512 integrity before unpacking, and switches to it only once it is complete and
/// runs: an interrupted or failed install leaves the previous version in use. HTTPS_PROXY,
/// HTTP_PROXY and NO_PROXY are honoured.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys agents install claude-code
  aisys agents install opencode@1.18.33
  aisys agents install claude-code --version latest")]
pub struct AgentsInstallArgs {
    /// The agent to install, optionally with a version: claude-code, opencode, opencode@1.18.33.
    #[arg(value_name = "AGENT[@VERSION]", value_parser = parse_agent_spec)]
    pub agent: AgentSpec,
    /// The version (or dist-tag) to install (default: the version aisys is tested with).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
}

/// `claude-code` or `opencode@1.18.33`.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    pub agent: AgentKind,
    pub version: Option<String>,
}

fn parse_agent_spec(s: &str) -> Result<AgentSpec, String> {
    let (name, version) = match s.split_once('@') {
        Some((n, v)) if !v.is_empty() => (n, Some(v.to_string())),
        Some(_) => {
            return Err(format!(
                "`{s}`: nothing after @; give a version, as in opencode@1.18.33"
            ));
        }
        None => (s, None),
    };
    let agent = <AgentArg as clap::ValueEnum>::from_str(name, false).map_err(|_| {
        format!("`{name}` is not an agent aisys installs; give claude-code or opencode")
    })?;
    Ok(AgentSpec {
        agent: agent.into(),
        version,
    })
}

/// One row of `aisys agents list`.
#[derive(Debug, Serialize)]
struct AgentRow {
    agent: AgentKind,
    /// The binary aisys would run, if any.
    path: Option<String>,
    /// How it was found: `--agent-bin`, an environment variable, `aisys agents install`, `PATH`.
    found_by: Option<String>,
    version: Option<String>,
    /// Why it cannot be used, when it cannot.
    problem: Option<String>,
    /// For a binary `aisys agents install` put there: the registry, package and tarball it came
    /// from.
    installed_from: Option<InstallRecord>,
}

pub fn run(ctx: &Context, cmd: AgentsCommand) -> anyhow::Result<Exit> {
    match cmd {
        AgentsCommand::List(args) => list(ctx, args),
        AgentsCommand::Install(args) => install(ctx, args),
    }
}

fn list(ctx: &Context, args: AgentsListArgs) -> anyhow::Result<Exit> {
    let data_dir = ctx.config.data_dir(None);
    let rows: Vec<AgentRow> = AgentKind::ALL
        .iter()
        .map(
            |&agent| match resolve_binary(agent, None, &ProcessEnv, &data_dir) {
                Ok(bin) => {
                    let (version, problem) = match binary_version(&bin.path) {
                        Ok(v) => (Some(v), None),
                        Err(e) => (None, Some(e)),
                    };
                    AgentRow {
                        agent,
                        path: Some(bin.path.display().to_string()),
                        found_by: Some(bin.found_by.to_string()),
                        version,
                        problem,
                        installed_from: (bin.found_by == "aisys agents install")
                            .then(|| install::installed_record(agent, &data_dir))
                            .flatten(),
                    }
                }
                Err(e) => AgentRow {
                    agent,
                    path: None,
                    found_by: None,
                    version: None,
                    problem: Some(e.to_string()),
                    installed_from: None,
                },
            },
        )
        .collect();
    let mut out = super::output::stdout();
    match args.format {
        TableFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        TableFormat::Table => {
            writeln!(
                out,
                "{:<12} {:<10} {:<22} PATH",
                "AGENT", "VERSION", "FOUND BY"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<12} {:<10} {:<22} {}",
                    r.agent.as_str(),
                    r.version.as_deref().unwrap_or("-"),
                    r.found_by.as_deref().unwrap_or("-"),
                    r.path.as_deref().unwrap_or("-")
                )?;
                if let Some(rec) = &r.installed_from {
                    writeln!(
                        out,
                        "  from {} {} ({}), installed {}",
                        rec.native_package, rec.version, rec.registry, rec.installed_at
                    )?;
                }
                if let Some(p) = &r.problem {
                    writeln!(out, "  {}", p.replace('\n', "\n  "))?;
                }
            }
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}

fn install(ctx: &Context, args: AgentsInstallArgs) -> anyhow::Result<Exit> {
    let data_dir = ctx.config.data_dir(None);
    let agent = args.agent.agent;
    let version = match (args.agent.version, args.version) {
        (Some(a), Some(b)) if a != b => {
            return Err(CommandError::new(
                super::EXIT_USAGE,
                format!("two versions given ({a} and {b}); give one, as in {agent}@{a}"),
            )
            .into());
        }
        (a, b) => a.or(b),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = runtime.block_on(install_agent(ctx, agent, version, &data_dir))?;
    let mut out = super::output::stdout();
    if done.unchanged {
        writeln!(
            out,
            "{agent} {} is installed already: {}",
            done.reported_version,
            done.binary.display()
        )?;
    } else {
        writeln!(
            out,
            "{agent} {} installed: {}",
            done.reported_version,
            done.binary.display()
        )?;
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// Installs an agent (the pinned version unless `version` names one) into the agents folder of
/// `data_dir`, with a progress bar on a terminal. `aisys agents install` and the first start of
/// `aisys serve` share it.
pub(super) async fn install_agent(
    ctx: &Context,
    agent: AgentKind,
    version: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<Installed> {
    let version = version.unwrap_or_else(|| pinned_version(agent).to_string());
    let main = agent_package(agent, &crate::runtime::agent::Platform::current()).main;
    let registry = Registry::for_package(&ProcessEnv, dirs::home_dir().as_deref(), main);
    let http = Http::new().map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()))?;
    let shown = ctx.out.stderr_is_tty && !ctx.out.quiet;
    if !shown && !ctx.out.quiet {
        eprintln!(
            "installing {main}@{version} from {} into {}",
            registry.url,
            data_dir.display()
        );
    }
    let bar = ProgressView::new(shown);
    let result = install::install(&http, &registry, agent, &version, data_dir, &|p| {
        bar.show(p)
    })
    .await;
    bar.clear();
    result.map_err(|e| CommandError::new(EXIT_BAD_INPUT, e.to_string()).into())
}

/// The progress of an install on a terminal: a spinner while the metadata is read, then a bar
/// with bytes, rate and time left.
struct ProgressView {
    bar: Option<indicatif::ProgressBar>,
}

impl ProgressView {
    fn new(shown: bool) -> ProgressView {
        ProgressView {
            bar: shown.then(|| {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.enable_steady_tick(SPINNER_TICK);
                bar
            }),
        }
    }

    fn show(&self, p: Progress) {
        let Some(bar) = &self.bar else { return };
        match p {
            Progress::Resolving { package } => {
                bar.set_message(format!("reading {package} from the registry"))
            }
            Progress::Download { package, total } => {
                bar.set_position(0);
                if let Some(total) = total {
                    bar.set_length(total);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                }
                bar.set_message(format!("downloading {package}"));
            }
            Progress::Bytes(n) => bar.inc(n),
            Progress::Unpacking => {
                bar.set_style(indicatif::ProgressStyle::default_spinner());
                bar.set_message("checking and unpacking");
            }
            Progress::Done => {}
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
