//! `aisys agents`: find and install the agent CLIs.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::transcript::TableFormat;
use super::values::AgentArg;
use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, Exit};
use crate::config::ProcessEnv;
use crate::runtime::agent::{
    PINNED_CLAUDE_CODE, PINNED_OPENCODE, agents_dir, installed_binary, npm_package, resolve_binary,
};
use crate::types::AgentKind;

/// How long npm waits on one registry request: a stalled network fails instead of hanging.
const NPM_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How often npm retries a failed registry request.
const NPM_FETCH_RETRIES: u32 = 2;
/// How long `--version` of an agent binary may take before it counts as broken.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

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

/// Install an agent's npm package into aisys's data folder.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys agents install claude-code
  aisys agents install opencode --version 1.18.33")]
pub struct AgentsInstallArgs {
    /// The agent to install.
    #[arg(value_enum, value_name = "AGENT")]
    pub agent: AgentArg,
    /// The version to install (default: the version aisys is tested with).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
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
                    }
                }
                Err(e) => AgentRow {
                    agent,
                    path: None,
                    found_by: None,
                    version: None,
                    problem: Some(e.to_string()),
                },
            },
        )
        .collect();
    match args.format {
        TableFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        TableFormat::Table => {
            println!("{:<12} {:<10} {:<22} PATH", "AGENT", "VERSION", "FOUND BY");
            for r in &rows {
                println!(
                    "{:<12} {:<10} {:<22} {}",
                    r.agent.as_str(),
                    r.version.as_deref().unwrap_or("-"),
                    r.found_by.as_deref().unwrap_or("-"),
                    r.path.as_deref().unwrap_or("-")
                );
                if let Some(p) = &r.problem {
                    println!("  {}", p.replace('\n', "\n  "));
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// Runs `<binary> --version` and returns its first word that looks like a version.
pub(crate) fn binary_version(path: &Path) -> Result<String, String> {
    let mut child = std::process::Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut out = String::new();
            if let Some(mut s) = child.stdout.take() {
                std::io::Read::read_to_string(&mut s, &mut out).map_err(|e| e.to_string())?;
            }
            if !status.success() {
                return Err(format!("{} --version failed ({status})", path.display()));
            }
            return out
                .split_whitespace()
                .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
                .map(str::to_string)
                .ok_or_else(|| format!("{} --version printed no version", path.display()));
        }
        if start.elapsed() > VERSION_TIMEOUT {
            let _ = child.kill();
            return Err(format!("{} --version did not answer", path.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn install(ctx: &Context, args: AgentsInstallArgs) -> anyhow::Result<Exit> {
    let data_dir = ctx.config.data_dir(None);
    let agent: AgentKind = args.agent.into();
    let (bin, version) = install_agent(ctx, agent, args.version, &data_dir)?;
    println!("{agent} {version} installed: {}", bin.display());
    Ok(EXIT_OK)
}

/// Installs an agent's npm package (the pinned version unless `version` names one) into the
/// agents folder of `data_dir`, with a spinner on a terminal, and returns its binary and version.
/// `aisys agents install` and the first start of `aisys serve` share it.
pub(super) fn install_agent(
    ctx: &Context,
    agent: AgentKind,
    version: Option<String>,
    data_dir: &Path,
) -> anyhow::Result<(std::path::PathBuf, String)> {
    let version = version.unwrap_or_else(|| {
        match agent {
            AgentKind::ClaudeCode => PINNED_CLAUDE_CODE,
            AgentKind::Opencode => PINNED_OPENCODE,
        }
        .to_string()
    });
    let dir = agents_dir(data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CommandError::new(EXIT_BAD_INPUT, format!("{}: {e}", dir.display())))?;
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        std::fs::write(&manifest, "{\"name\":\"aisys-agents\",\"private\":true}\n")?;
    }
    let (package, _) = npm_package(agent);
    let spec = format!("{package}@{version}");

    let bar = if ctx.out.stderr_is_tty && !ctx.out.quiet {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("npm install {spec} into {}", dir.display()));
        bar.enable_steady_tick(Duration::from_millis(100));
        Some(bar)
    } else {
        if !ctx.out.quiet {
            eprintln!("installing {spec} into {}", dir.display());
        }
        None
    };
    let out = std::process::Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .arg(format!("--fetch-timeout={}", NPM_FETCH_TIMEOUT.as_millis()))
        .arg(format!("--fetch-retries={NPM_FETCH_RETRIES}"))
        .arg("--prefix")
        .arg(&dir)
        .arg(&spec)
        .stdin(Stdio::null())
        .output();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let out = out.map_err(|e| {
        CommandError::new(
            EXIT_BAD_INPUT,
            format!(
                "cannot run npm: {e}\n  fix: install Node.js and npm (apt-get install nodejs npm)"
            ),
        )
    })?;
    if !out.status.success() {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!(
                "npm install {spec} failed:\n{}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .into());
    }
    let bin = installed_binary(agent, data_dir);
    let version = binary_version(&bin).map_err(|e| {
        CommandError::new(
            EXIT_BAD_INPUT,
            format!("{spec} installed, but its binary does not run: {e}"),
        )
    })?;
    Ok((bin, version))
}
