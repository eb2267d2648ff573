//! `aisys doctor`: checks what the main jobs need on this machine and says, per item, whether it
//! is there and the exact fix when it is not.
//!
//! Every check reuses the code the jobs themselves run (bubblewrap's detection, the agent binary
//! lookup, the credentials check, the HTTP client that asks the server's `/healthz`), so doctor
//! and `aisys run` never disagree. Must not change the machine: it only looks (the data folder
//! check writes and removes one temporary file, and a working bubblewrap leaves the same marker
//! `aisys run` leaves), and it never prints a secret's value.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::transcript::TableFormat;
use super::{Context, EXIT_FAILURE, EXIT_OK, Exit};
use crate::config::{DEFAULT_BIND, Env, ProcessEnv};
use crate::http::{Http, HttpError, Options as HttpOptions};
use crate::runtime::agent::{binary_version, npm_package, resolve_binary};
use crate::runtime::env::{
    BwrapEnvironment, EnvError, MODAL_AUTH_HINT, MODAL_ENV_PYTHON, MODAL_INSTALL_HINT,
};
use crate::runtime::launch::{check_credentials, sandbox_env};
use crate::server::auth;
use crate::types::{AgentKind, SandboxKind};

/// How long the server's address may take to accept a connection and answer `/healthz`: a local
/// server answers in microseconds, and doctor must not stall on a filtered remote port.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Where `scripts/install-test-deps` installs the agent CLIs in a checkout of aisys.
const TEST_DEPS: &str = ".test-deps/node_modules";
/// How long `python3 -c "import modal"` may take: the import takes about a second; far more
/// means a broken interpreter, which is reported rather than waited on.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(20);

/// Check that this machine can run agents, and say how to fix what it lacks.
///
/// One line per item: `ok`, `missing`, `warn` or `info`, what was found, and the exact fix.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when the default sandbox (bubblewrap, unless config.toml \
chooses another) and the default agent (claude-code, unless config.toml chooses another) are \
ready; 1 otherwise. The server, Modal, tmux, Chromium and chromedriver are only reported.

JSON (--format json), a stable shape:
  {\"ready\": bool, \"checks\": [{\"name\": str, \"status\": \"ok\"|\"missing\"|\"warn\"|\"info\",
    \"required\": bool, \"detail\": str, \"fix\": str|null}]}
`ready` is true when every check with `required: true` has status `ok`. The names, in order:
bubblewrap, agent claude-code, agent opencode, model credentials, data folder, server, server
token, modal sdk, modal credentials, tmux, chromium, chromedriver. Secrets are never printed,
only the names of the variables that are set.

Examples:
  aisys doctor
  aisys doctor --format json | jq '.checks[] | select(.status != \"ok\")'"
)]
pub struct DoctorArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
}

/// How one item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// There and working.
    Ok,
    /// Absent or not working.
    Missing,
    /// There, but something about it will get in the way.
    Warn,
    /// Reported only: nothing needs it by default.
    Info,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Warn => "warn",
            Status::Info => "info",
        }
    }

    /// ANSI color of the status word.
    fn color(self) -> &'static str {
        match self {
            Status::Ok => "\x1b[32m",
            Status::Missing => "\x1b[31m",
            Status::Warn => "\x1b[33m",
            Status::Info => "\x1b[2m",
        }
    }
}

/// One checked item.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// Whether `ready` depends on it.
    pub required: bool,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn new(name: &str, status: Status, detail: String, fix: Option<String>) -> Check {
        Check {
            name: name.to_string(),
            status,
            required: false,
            detail,
            fix,
        }
    }

    fn required(mut self, yes: bool) -> Check {
        self.required = yes;
        self
    }
}

#[derive(Debug, Serialize)]
struct Report {
    ready: bool,
    checks: Vec<Check>,
}

pub fn run(ctx: &Context, args: DoctorArgs) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let sandbox = ctx.config.sandbox(None);
    let agent = ctx.config.agent(None);
    let data_dir = ctx.config.data_dir(None);

    let mut checks = vec![
        runtime
            .block_on(bubblewrap(&data_dir))
            .required(sandbox == SandboxKind::Local),
    ];
    for kind in AgentKind::ALL {
        checks.push(agent_check(kind, &data_dir).required(kind == agent));
    }
    checks.push(credentials());
    checks.push(data_folder(&data_dir));
    checks.extend(runtime.block_on(server(ctx, &data_dir)));
    checks.extend(modal());
    for (name, commands, why) in [
        (
            "tmux",
            &["tmux"][..],
            "the terminal UI tests drive `aisys chat` in it",
        ),
        (
            "chromium",
            &["chromium", "chromium-browser", "google-chrome"][..],
            "browser tests",
        ),
        ("chromedriver", &["chromedriver"][..], "browser tests"),
    ] {
        checks.push(tool(name, commands, why));
    }

    let ready = checks.iter().all(|c| !c.required || c.status == Status::Ok);
    let report = Report { ready, checks };
    let mut stdout = crate::cli::output::stdout();
    match args.format {
        TableFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        TableFormat::Table => write_human(&mut stdout, ctx, &report, sandbox, agent)?,
    }
    Ok(if ready { EXIT_OK } else { EXIT_FAILURE })
}

fn write_human(
    w: &mut impl Write,
    ctx: &Context,
    report: &Report,
    sandbox: SandboxKind,
    agent: AgentKind,
) -> std::io::Result<()> {
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for c in &report.checks {
        let status = format!("{:<7}", c.status.as_str());
        let status = if ctx.out.color {
            format!("{}{status}\x1b[0m", c.status.color())
        } else {
            status
        };
        write!(w, "{status} {:<width$}  {}", c.name, c.detail)?;
        if let Some(fix) = &c.fix {
            write!(w, "; fix: {fix}")?;
        }
        writeln!(w)?;
    }
    if report.ready {
        writeln!(
            w,
            "ready: the {sandbox} sandbox and the {agent} agent work here"
        )
    } else {
        writeln!(
            w,
            "not ready: the {sandbox} sandbox or the {agent} agent is missing; apply the fixes above"
        )
    }
}

/// bubblewrap, through the detection `aisys run` uses (it runs a trivial sandbox).
async fn bubblewrap(data_dir: &Path) -> Check {
    let name = "bubblewrap";
    match BwrapEnvironment::detect(data_dir).await {
        Ok(env) => Check::new(
            name,
            Status::Ok,
            format!("{} works (user namespaces allowed)", env.bwrap().display()),
            None,
        ),
        // The error's own text ends with its fix; split it off into `fix`.
        Err(e @ (EnvError::BwrapMissing | EnvError::NamespacesUnavailable { .. })) => {
            let text = e.to_string();
            let (detail, fix) = match text.split_once("\n  fix: ") {
                Some((d, f)) => (d.to_string(), Some(f.to_string())),
                None => (text, None),
            };
            Check::new(name, Status::Missing, detail, fix)
        }
        Err(e) => Check::new(name, Status::Missing, e.to_string(), None),
    }
}

/// An agent CLI, found the way `aisys run` finds it, and its version.
fn agent_check(kind: AgentKind, data_dir: &Path) -> Check {
    let name = format!("agent {kind}");
    let install = format!("aisys agents install {kind}");
    match resolve_binary(kind, None, &ProcessEnv, data_dir) {
        Ok(bin) => match binary_version(&bin.path) {
            Ok(v) => Check::new(
                &name,
                Status::Ok,
                format!("{v} at {} (found by {})", bin.path.display(), bin.found_by),
                None,
            ),
            Err(e) => Check::new(
                &name,
                Status::Missing,
                format!("{e} (found by {})", bin.found_by),
                Some(install),
            ),
        },
        Err(e) => {
            let text = e.to_string();
            let detail = text.split("\n  fix: ").next().unwrap_or(&text);
            let detail = detail.trim_end_matches('.').to_string();
            // In a checkout of aisys, scripts/install-test-deps may have installed it already.
            let test_copy = std::env::current_dir()
                .map(|d| d.join(TEST_DEPS).join(npm_package(kind).1))
                .ok()
                .filter(|p| p.is_file());
            let fix = match test_copy {
                Some(p) => format!(
                    "export {}={} (the copy in {TEST_DEPS}), or {install}",
                    crate::runtime::agent::env_var(kind),
                    p.display()
                ),
                None => format!(
                    "{install} (or set {})",
                    crate::runtime::agent::env_var(kind)
                ),
            };
            Check::new(&name, Status::Missing, detail, Some(fix))
        }
    }
}

/// Model credentials, as `aisys run` checks them; only the names of the variables are shown.
fn credentials() -> Check {
    let name = "model credentials";
    let env = sandbox_env(&ProcessEnv, &[]).unwrap_or_default();
    let set: Vec<&str> = [
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
    ]
    .into_iter()
    .filter(|k| env.contains_key(*k))
    .collect();
    match check_credentials(&env) {
        Ok(()) => Check::new(name, Status::Ok, format!("{} set", set.join(", ")), None),
        Err(_) => Check::new(
            name,
            Status::Missing,
            "no ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN or ANTHROPIC_BASE_URL: every turn fails"
                .into(),
            Some(
                "export ANTHROPIC_API_KEY=... (or ANTHROPIC_BASE_URL for a compatible endpoint)"
                    .into(),
            ),
        ),
    }
}

/// The data folder (or, before first use, the folder it will be made in) takes a new file.
fn data_folder(dir: &Path) -> Check {
    let name = "data folder";
    let fix = format!(
        "make {} a writable folder, or set AISYS_DATA_DIR (or data_dir in config.toml) to one",
        dir.display()
    );
    let (probe, note) = if dir.exists() {
        (dir.to_path_buf(), "")
    } else {
        // Not made yet: aisys makes it on first use, in its nearest existing parent.
        match dir.ancestors().skip(1).find(|a| a.exists()) {
            Some(a) => (
                a.to_path_buf(),
                " (not made yet; aisys makes it on first use)",
            ),
            None => (dir.to_path_buf(), ""),
        }
    };
    if !probe.is_dir() {
        return Check::new(
            name,
            Status::Missing,
            format!("{}: {} is not a folder", dir.display(), probe.display()),
            Some(fix),
        );
    }
    match tempfile::Builder::new()
        .prefix(".aisys-doctor")
        .tempfile_in(&probe)
    {
        Ok(_) => Check::new(
            name,
            Status::Ok,
            format!("{} is writable{note}", dir.display()),
            None,
        ),
        Err(e) => Check::new(
            name,
            Status::Missing,
            format!(
                "{}: cannot write in {}: {e}",
                dir.display(),
                probe.display()
            ),
            Some(fix),
        ),
    }
}

/// The configured server, asked for `/healthz` with its token (with the HTTP client every other
/// request of aisys uses), and its token file: informational, a server need not run.
async fn server(ctx: &Context, data_dir: &Path) -> [Check; 2] {
    let server = &ctx.config.file.server;
    let addr = server
        .url
        .as_deref()
        .and_then(host_port)
        .or_else(|| server.bind.clone())
        .unwrap_or_else(|| DEFAULT_BIND.to_string());
    let token_file: PathBuf = server
        .token_file
        .clone()
        .unwrap_or_else(|| data_dir.join(auth::TOKEN_FILE));
    let read = std::fs::read_to_string(&token_file);
    let reach = health(&addr, read.as_deref().ok().map(str::trim), &token_file).await;
    let token = match read {
        Ok(t) if !t.trim().is_empty() => Check::new(
            "server token",
            Status::Ok,
            format!("{} is readable", token_file.display()),
            None,
        ),
        Ok(_) => Check::new(
            "server token",
            Status::Warn,
            format!("{} is empty", token_file.display()),
            Some(format!(
                "remove {} and start `aisys serve`, which writes a new one",
                token_file.display()
            )),
        ),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Check::new(
                "server token",
                Status::Info,
                format!("{} does not exist yet", token_file.display()),
                Some("aisys serve (it writes the token on first start)".into()),
            )
        }
        Err(e) => Check::new(
            "server token",
            Status::Warn,
            format!("{}: {e}", token_file.display()),
            Some(format!(
                "make {} readable by this user (mode 0600)",
                token_file.display()
            )),
        ),
    };
    [reach, token]
}

/// `GET http://addr/healthz`: `ok` from a server that takes the token, a warning from one that
/// refuses it or from something that is not an aisys server, `info` when nothing listens.
async fn health(addr: &str, token: Option<&str>, token_file: &Path) -> Check {
    let url = format!("http://{addr}/healthz");
    let local = addr
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']'))
        .is_some_and(|h| {
            h == "localhost"
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
    let http = Http::with(HttpOptions {
        connect_timeout: HEALTH_TIMEOUT,
        read_timeout: HEALTH_TIMEOUT,
        attempts: 1,
        // A server on this machine is never behind the proxy meant for the outside.
        use_proxy: !local,
    });
    let headers: Vec<(&str, String)> = token
        .filter(|t| !t.is_empty())
        .map(|t| ("authorization", format!("Bearer {t}")))
        .into_iter()
        .collect();
    let answer = match http {
        Ok(h) => h.get(&url, &headers, 1024).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(a) if String::from_utf8_lossy(&a.body).trim() == "ok" => Check::new(
            "server",
            Status::Ok,
            format!("aisys serve answers at {url}"),
            None,
        ),
        Ok(a) => Check::new(
            "server",
            Status::Warn,
            format!(
                "{url} answered {} without `ok`: not an aisys server?",
                a.status
            ),
            Some(format!(
                "stop what listens at {addr}, or point server.url in config.toml elsewhere"
            )),
        ),
        Err(HttpError::Status { status: 401, .. }) => Check::new(
            "server",
            Status::Warn,
            format!(
                "a server at {addr} refuses the token in {}",
                token_file.display()
            ),
            Some(
                "use the data folder of the server that runs there (AISYS_DATA_DIR), or restart it"
                    .into(),
            ),
        ),
        Err(e @ HttpError::Status { .. }) => Check::new(
            "server",
            Status::Warn,
            format!("{e}: not an aisys server?"),
            Some(format!(
                "stop what listens at {addr}, or point server.url in config.toml elsewhere"
            )),
        ),
        Err(e) => Check::new(
            "server",
            Status::Info,
            format!("no server at {addr} ({e}); `aisys chat` starts one inside itself"),
            Some("aisys serve".into()),
        ),
    }
}

/// `host:port` of a `ws://host:port/path` URL.
fn host_port(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let hp = rest.split('/').next()?;
    (!hp.is_empty()).then(|| hp.to_string())
}

/// Modal's Python SDK and credentials: reported, never required.
fn modal() -> [Check; 2] {
    let python = ProcessEnv
        .var(MODAL_ENV_PYTHON)
        .unwrap_or_else(|| "python3".into());
    let sdk = match python_output(&python, "import modal; print(modal.__version__)") {
        Ok(v) => Check::new(
            "modal sdk",
            Status::Ok,
            format!("modal {v} in {python}"),
            None,
        ),
        Err(e) => Check::new(
            "modal sdk",
            Status::Info,
            format!("not usable in {python} ({e}); needed only for --sandbox modal"),
            Some(MODAL_INSTALL_HINT.into()),
        ),
    };
    let env_token = ProcessEnv.var("MODAL_TOKEN_ID").is_some()
        && ProcessEnv.var("MODAL_TOKEN_SECRET").is_some();
    let file = dirs::home_dir().map(|h| h.join(".modal.toml"));
    let creds = if env_token {
        Check::new(
            "modal credentials",
            Status::Ok,
            "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET set".into(),
            None,
        )
    } else if let Some(f) = file.as_ref().filter(|f| f.is_file()) {
        Check::new(
            "modal credentials",
            Status::Ok,
            format!("{} exists", f.display()),
            None,
        )
    } else {
        Check::new(
            "modal credentials",
            Status::Info,
            "no MODAL_TOKEN_ID/MODAL_TOKEN_SECRET and no ~/.modal.toml; needed only for --sandbox modal"
                .into(),
            Some(MODAL_AUTH_HINT.into()),
        )
    };
    [sdk, creds]
}

/// Runs `python -c code`, returning its trimmed stdout, within [`PYTHON_TIMEOUT`].
fn python_output(python: &str, code: &str) -> Result<String, String> {
    let mut child = std::process::Command::new(python)
        .args(["-c", code])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut out = String::new();
            if let Some(mut s) = child.stdout.take() {
                std::io::Read::read_to_string(&mut s, &mut out).map_err(|e| e.to_string())?;
            }
            return if status.success() {
                Ok(out.trim().to_string())
            } else {
                Err("`import modal` failed".into())
            };
        }
        if start.elapsed() > PYTHON_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "did not answer within {}s",
                PYTHON_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A program the tests use, found on PATH: reported only.
fn tool(name: &str, commands: &[&str], why: &str) -> Check {
    let found = ProcessEnv.var("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find_map(|dir| commands.iter().map(|c| dir.join(c)).find(|p| p.is_file()))
    });
    match found {
        Some(p) => Check::new(name, Status::Ok, format!("{}", p.display()), None),
        None => Check::new(
            name,
            Status::Info,
            format!("not on PATH; used by {why}"),
            Some(format!("apt-get install {}", apt_package(name))),
        ),
    }
}

/// The Debian package that provides a tool.
fn apt_package(name: &str) -> &'static str {
    match name {
        "tmux" => "tmux",
        "chromium" => "chromium",
        _ => "chromium-driver",
    }
}
