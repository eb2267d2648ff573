//! The network of a `local` sandbox: its own network namespace (only `lo`), and egress only to
//! the destinations its [`Network::Egress`] lists.
//!
//! The host side ([`HostRelay`]) listens on Unix sockets in a private (0700) folder per sandbox,
//! mounted read-only into it at [`INSIDE_DIR`]: one socket per loopback endpoint (connected to
//! that endpoint only) and one HTTP proxy socket that lets through only the allowlisted remote
//! `host:port`s. Inside, `aisys sandbox-init` ([`inside`]) listens on the same loopback
//! addresses in the sandbox's namespace, starts the agent, and relays each TCP connection to
//! its socket. So the agent reaches its model at the address it was given, and nothing else of
//! the host or the internet.
//!
//! Must not know about agents: which destinations are allowed is the caller's decision; this
//! module only enforces it.

pub mod inside;
mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::{Egress, EnvError};

/// Where the relay's socket folder is mounted inside the sandbox.
pub const INSIDE_DIR: &str = "/run/aisys/net";
/// Where the aisys binary is mounted inside the sandbox, to run the relay.
pub const INSIDE_BIN: &str = "/run/aisys/init";
/// The hidden subcommand that runs the relay and the agent inside.
pub const INIT_SUBCOMMAND: &str = "sandbox-init";
/// Names the aisys binary when the running program is not it (a test using the library).
pub const ENV_BIN: &str = "AISYS_BIN";
/// The first port tried for the proxy inside the sandbox (the usual proxy port); the next free
/// one is taken when a loopback endpoint uses it.
const PROXY_PORT: u16 = 3128;
/// Most relayed connections one sandbox may hold open at once: an agent needs a handful, and a
/// sandbox must not exhaust the host's file descriptors.
const MAX_CONNECTIONS: usize = 256;
/// How long connecting to an allowed destination may take before the sandbox's connection is
/// dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an accept error (out of file descriptors) pauses the accept loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How every relay folder's name begins, before the owning process's id and a random part.
const DIR_PREFIX: &str = "aisys-net-";

/// The aisys binary to run inside the sandbox: this program when it is aisys, else `$AISYS_BIN`.
pub fn aisys_binary() -> Result<PathBuf, EnvError> {
    if let Ok(exe) = std::env::current_exe()
        && exe.file_name().is_some_and(|n| n == "aisys")
    {
        return Ok(exe);
    }
    match std::env::var_os(ENV_BIN) {
        Some(p) if Path::new(&p).is_file() => Ok(PathBuf::from(p)),
        Some(p) => Err(EnvError::Network(format!(
            "${ENV_BIN}={}: no such file; point it at the aisys binary, which relays the sandbox's network",
            Path::new(&p).display()
        ))),
        None => Err(EnvError::Network(format!(
            "the local sandbox's network relay needs the aisys binary, and this program is not it: set {ENV_BIN} to its path"
        ))),
    }
}

/// The host side of one sandbox's network; stops when dropped.
pub struct HostRelay {
    dir: tempfile::TempDir,
    /// Each listening address inside the sandbox and its socket's file name.
    relays: Vec<(SocketAddr, String)>,
    /// The proxy's address inside the sandbox, when remote destinations are allowed.
    proxy: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

/// Where one socket's connections go.
enum Dest {
    /// Always this loopback endpoint.
    Fixed(SocketAddr),
    /// Where an HTTP proxy request asks, when the allowlist has it.
    Proxy(Vec<(String, u16)>),
}

impl HostRelay {
    /// Listens for the sandbox's connections to `egress`.
    pub async fn start(egress: &[Egress]) -> Result<HostRelay, EnvError> {
        let err =
            |e: std::io::Error| EnvError::Network(format!("the sandbox's network relay: {e}"));
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| sweep_stale(&std::env::temp_dir()));
        // tempfile makes the folder 0700: only this user can reach the sockets. Its name holds
        // this process's id, so that a later process can tell a folder left by a killed one.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(err)?;
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut relays = Vec::new();
        let mut tasks = Vec::new();
        let mut remotes = Vec::new();
        for e in egress {
            match e {
                Egress::Loopback(addr) => {
                    if relays.iter().any(|(a, _)| a == addr) {
                        continue;
                    }
                    let name = format!("tcp-{}.sock", relays.len());
                    let l = UnixListener::bind(dir.path().join(&name)).map_err(err)?;
                    tasks.push(tokio::spawn(serve(
                        l,
                        limit.clone(),
                        Arc::new(Dest::Fixed(*addr)),
                    )));
                    relays.push((*addr, name));
                }
                Egress::Remote { host, port } => remotes.push((host.to_ascii_lowercase(), *port)),
            }
        }
        let mut proxy = None;
        if !remotes.is_empty() {
            let port = (PROXY_PORT..=u16::MAX)
                .find(|p| !relays.iter().any(|(a, _)| a.port() == *p))
                .unwrap_or(PROXY_PORT);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let name = "proxy.sock".to_string();
            let l = UnixListener::bind(dir.path().join(&name)).map_err(err)?;
            tasks.push(tokio::spawn(serve(
                l,
                limit,
                Arc::new(Dest::Proxy(remotes)),
            )));
            relays.push((addr, name));
            proxy = Some(addr);
        }
        Ok(HostRelay {
            dir,
            relays,
            proxy,
            tasks,
        })
    }

    /// The host folder to mount at [`INSIDE_DIR`].
    pub fn host_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `sandbox-init`'s `--relay ADDR=SOCKET` arguments.
    pub fn init_args(&self) -> Vec<String> {
        self.relays
            .iter()
            .flat_map(|(addr, name)| ["--relay".to_string(), format!("{addr}={INSIDE_DIR}/{name}")])
            .collect()
    }

    /// The variables that send the sandbox's HTTP clients through the proxy (loopback
    /// endpoints are reached directly).
    pub fn env(&self) -> Vec<(String, String)> {
        let Some(proxy) = self.proxy else {
            return Vec::new();
        };
        let url = format!("http://{proxy}");
        let direct = "localhost,127.0.0.1,::1".to_string();
        [
            ("HTTPS_PROXY", &url),
            ("https_proxy", &url),
            ("HTTP_PROXY", &url),
            ("http_proxy", &url),
            ("NO_PROXY", &direct),
            ("no_proxy", &direct),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }
}

impl Drop for HostRelay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Removes the relay folders in `parent` that processes which no longer run left behind (a
/// server or `aisys run` killed with SIGKILL cannot remove its own). A folder is removed only
/// when its name says which process made it and that process is gone; others are left alone.
pub fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: geteuid(2) only reads this process's user id.
        let me = unsafe { libc::geteuid() };
        let mine = entry
            .metadata()
            .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == me);
        if mine && pid > 0 && !process_runs(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a process with this id runs (one that runs as another user counts).
fn process_runs(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

async fn serve(listener: UnixListener, limit: Arc<Semaphore>, dest: Arc<Dest>) {
    loop {
        let conn = match listener.accept().await {
            Ok((conn, _)) => conn,
            Err(e) => {
                tracing::warn!("sandbox network relay: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Over the limit, the connection is refused at once rather than queued.
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue;
        };
        let dest = dest.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = relay_one(conn, &dest).await {
                tracing::debug!("sandbox network relay: {e}");
            }
        });
    }
}

async fn relay_one(mut conn: UnixStream, dest: &Dest) -> std::io::Result<()> {
    let mut upstream = match dest {
        Dest::Fixed(addr) => connect(&addr.to_string()).await?,
        Dest::Proxy(allowed) => match proxy::accept(&mut conn, allowed).await? {
            Some(up) => up,
            None => return Ok(()),
        },
    };
    tokio::io::copy_bidirectional(&mut conn, &mut upstream).await?;
    let _ = upstream.shutdown().await;
    Ok(())
}

/// Connects to `host:port` within [`CONNECT_TIMEOUT`].
async fn connect(target: &str) -> std::io::Result<TcpStream> {
    tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{target}: connect timed out"),
            )
        })?
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port is `None` when absent.
pub fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':')?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_folders_of_processes_that_are_gone_are_swept() {
        let parent = tempfile::tempdir().unwrap();
        let at = |name: &str| parent.path().join(name);
        // Above any pid Linux hands out (its limit is 2^22).
        let gone = format!("{DIR_PREFIX}{}-abc", 1 << 23);
        let mine = format!("{DIR_PREFIX}{}-def", std::process::id());
        let other = format!("{DIR_PREFIX}1-ghi");
        for name in [
            &gone,
            &mine,
            &other,
            &"aisys-net-old".to_string(),
            &"elsewhere-5-x".into(),
        ] {
            std::fs::create_dir(at(name)).unwrap();
            std::fs::write(at(name).join("tcp-0.sock"), "").unwrap();
        }
        sweep_stale(parent.path());
        assert!(!at(&gone).exists(), "a killed process's folder is swept");
        for kept in [
            &mine,
            &other,
            &"aisys-net-old".to_string(),
            &"elsewhere-5-x".into(),
        ] {
            assert!(at(kept).exists(), "{kept} is kept");
        }
    }
}
