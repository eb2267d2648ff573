//! The `aisys` binary: parses the command line, sets up logging, runs the command and turns its
//! outcome into an exit status (see `aisys --help` for the codes).

use std::process::ExitCode;

use clap::Parser;

use aisys::cli::{self, Cli, CommandError, EXIT_FAILURE, EXIT_OK};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global);
    match cli::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        // `| head`: the reader has all it wanted, which is no failure.
        Err(err) if cli::output::reader_gone(&err) => ExitCode::from(EXIT_OK),
        Err(err) => {
            let code = err
                .downcast_ref::<CommandError>()
                .map(|e| e.code)
                .unwrap_or(EXIT_FAILURE);
            cli::output::to_stderr(render_error(&err));
            ExitCode::from(code)
        }
    }
}

/// The error and its causes, one per line; a `CommandError` already says everything.
fn render_error(err: &anyhow::Error) -> String {
    if err.downcast_ref::<CommandError>().is_some() {
        return err.to_string();
    }
    let mut s = format!("error: {err}");
    for cause in err.chain().skip(1) {
        s.push_str(&format!("\n  caused by: {cause}"));
    }
    s
}

fn init_tracing(global: &cli::GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_env(aisys::cli::reference::ENV_LOG)
        .unwrap_or_else(|_| EnvFilter::new(level));
    let color = cli::output::resolve_color(
        global.color,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os(aisys::cli::reference::ENV_NO_COLOR).is_some_and(|v| !v.is_empty()),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(global.verbose >= 2)
        .try_init();
}
