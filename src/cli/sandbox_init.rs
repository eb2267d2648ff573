//! `aisys sandbox-init` (hidden): the first program inside a `local` sandbox with a restricted
//! network. It relays the allowed loopback addresses to the host side, runs the agent with its
//! stdio untouched, and exits as the agent did. aisys starts it; users never do.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CommandError, EXIT_FAILURE, Exit};
use crate::runtime::env::netrelay::inside;

/// Run a program inside a local sandbox behind its network relay (started by aisys itself).
#[derive(Debug, Args)]
pub struct SandboxInitArgs {
    /// Listen on ADDR inside the sandbox and relay each connection to the Unix socket SOCKET.
    #[arg(long = "relay", value_name = "ADDR=SOCKET", value_parser = inside::parse_relay)]
    pub relay: Vec<(SocketAddr, PathBuf)>,
    /// The program and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

pub fn run(args: SandboxInitArgs) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime
        .block_on(inside::run(&args.relay, &args.command))
        .map_err(|e| CommandError::new(EXIT_FAILURE, e.to_string()))?;
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        // Dying of the same signal tells the host side how the agent ended.
        drop(runtime);
        // SAFETY: resetting a signal to its default and raising it touch no memory.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        return Ok((128 + sig).clamp(0, 255) as Exit);
    }
    Ok(status.code().unwrap_or(1).clamp(0, 255) as Exit)
}
