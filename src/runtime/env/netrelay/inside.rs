//! The relay inside a `local` sandbox (`aisys sandbox-init`): listens on the loopback addresses
//! the sandbox may reach, in the sandbox's own network namespace, starts the agent, and relays
//! each TCP connection to the host side's Unix socket for that address. It passes the agent's
//! stdio through untouched (the agent's stdout is the event stream) and exits as the agent did.
//!
//! Must not decide what is allowed: the host side does; this only carries bytes.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;

use tokio::net::{TcpListener, UnixStream};

use super::super::EnvError;

/// Parses one `ADDR=SOCKET` argument.
pub fn parse_relay(s: &str) -> Result<(SocketAddr, PathBuf), String> {
    let (addr, socket) = s.split_once('=').ok_or_else(|| {
        format!("{s}: expected ADDR=SOCKET, e.g. 127.0.0.1:8080=/run/aisys/net/tcp-0.sock")
    })?;
    let addr = addr
        .parse()
        .map_err(|e| format!("{addr}: not an address with a port ({e})"))?;
    Ok((addr, PathBuf::from(socket)))
}

/// Listens on every relay's address, then runs `command` and relays until it exits.
pub async fn run(
    relays: &[(SocketAddr, PathBuf)],
    command: &[OsString],
) -> Result<ExitStatus, EnvError> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| EnvError::Network("sandbox-init: no command to run".into()))?;
    // Listening before the agent starts: its first connection must find the relay there.
    // An address that cannot be had (`::1` without IPv6) is skipped: the agent's client falls
    // back to the other one, or reports the failed connection itself.
    for (addr, socket) in relays {
        match TcpListener::bind(addr).await {
            Ok(listener) => drop(tokio::spawn(accept_loop(listener, socket.clone()))),
            Err(e) => eprintln!("aisys sandbox-init: cannot listen on {addr}: {e}"),
        }
    }
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .spawn()
        .map_err(|source| EnvError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
    child
        .wait()
        .await
        .map_err(|e| EnvError::Backend(format!("sandbox-init: waiting for the agent: {e}")))
}

async fn accept_loop(listener: TcpListener, socket: PathBuf) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            continue;
        };
        let socket = socket.clone();
        tokio::spawn(async move {
            if let Ok(mut up) = UnixStream::connect(&socket).await {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut up).await;
            }
        });
    }
}
