//! A throwaway PostgreSQL cluster for tests: `initdb` in a temporary folder, the server on a
//! free loopback port with its socket in that folder, run as an unprivileged user when the tests
//! run as root (PostgreSQL refuses root), and stopped when the test process ends. No system
//! service is touched. One cluster per test process; each test takes a database of its own.
//!
//! Used by the library's store tests (through `#[path]`) and by integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long the cluster may take to accept connections: it usually takes well under a second,
/// but a loaded machine running other tests can be much slower.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The cluster's superuser (trusted on loopback: the cluster lives only as long as the tests).
pub const USER: &str = "aisys";

const MISSING: &str = "PostgreSQL's server programs (initdb, postgres) are missing: run \
    scripts/install-test-deps, or `apt-get install postgresql` (Debian/Ubuntu; they land in \
    /usr/lib/postgresql/<version>/bin), or put a folder holding initdb on PATH";

pub struct Cluster {
    pub port: u16,
    /// The temporary folder holding the data and the socket.
    pub dir: PathBuf,
    bin: PathBuf,
    pid: u32,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The test process's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

impl Cluster {
    /// The postmaster's process id (its children are the connections' backends).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// A connection URL for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` with psql on the database of `url`; returns what it printed, unaligned.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-At", "-d", url, "-c", sql])
            .current_dir(&self.dir)
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Switches TLS on (connections may still be plain) with a certificate for 127.0.0.1 signed
    /// by a certificate authority of its own; returns that authority's PEM file.
    pub fn enable_tls(&self) -> PathBuf {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let data = self.dir.join("data");
        std::fs::write(data.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        if let Some((uid, gid)) = nobody() {
            for f in ["server.crt", "server.key"] {
                std::os::unix::fs::chown(data.join(f), Some(uid), Some(gid)).unwrap();
            }
        }
        let admin = self.url("postgres");
        self.psql(&admin, "ALTER SYSTEM SET ssl = on");
        self.psql(&admin, "SELECT pg_reload_conf()");
        let deadline = Instant::now() + START_TIMEOUT;
        while self.psql(&admin, "SHOW ssl").trim() != "on" {
            assert!(Instant::now() < deadline, "ssl did not come on");
            std::thread::sleep(Duration::from_millis(50));
        }
        let ca_file = self.dir.join("test-ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        ca_file
    }

    /// Creates an empty database for one test and returns its URL.
    pub fn new_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.psql(&self.url("postgres"), &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }
}

/// The folder holding initdb: on PATH, else Debian's newest /usr/lib/postgresql/<version>/bin.
fn bin_dir() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            // Where initdb really lives (a PATH entry may be a symlink to it) holds the rest.
            if let Ok(initdb) = dir.join("initdb").canonicalize() {
                let dir = initdb.parent().expect("a file's folder").to_path_buf();
                if dir.join("postgres").is_file() && dir.join("pg_isready").is_file() {
                    return dir;
                }
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!("{MISSING}"),
    }
}

/// The unprivileged account the cluster runs as when the tests run as root.
fn nobody() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions; getpwnam's result is read before any other call.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"nobody".as_ptr());
        assert!(
            !pw.is_null(),
            "tests run as root and PostgreSQL refuses root, but there is no user `nobody` to run it as"
        );
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// A command run as the cluster's user, killed if this process ends (`--pdeathsig`).
fn as_owner(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut c = Command::new("setpriv");
    if let Some((uid, gid)) = owner {
        c.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups");
    }
    c.args(["--pdeathsig", "KILL"]).arg(program);
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn start() -> Cluster {
    let bin = bin_dir();
    let owner = nobody();
    let dir = tempfile::Builder::new()
        .prefix("aisys-pg-")
        .tempdir()
        .expect("a temporary folder")
        .keep();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown of the cluster folder");
    }
    let data = dir.join("data");
    let out = as_owner(&bin.join("initdb"), owner)
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            USER,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running setpriv/initdb ({e}): {MISSING}"));
    assert!(
        out.status.success(),
        "initdb in {}: {}{}",
        data.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Throwaway data: no fsync, so that the tests stay quick. In the configuration file, not on
    // the command line, so that a benchmark can switch it back on (`ALTER SYSTEM`).
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut f| f.write_all(b"\nfsync = off\nfull_page_writes = off\n"))
        .expect("writing the cluster's postgresql.conf");
    let port = free_port();
    let log = std::fs::File::create(dir.join("postgres.log")).expect("the cluster's log file");
    let mut cmd = as_owner(&bin.join("postgres"), owner);
    cmd.arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir)
        .args(["-p", &port.to_string()])
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log file"))
        .stderr(log);
    // Spawned from a thread that lives as long as the process: `--pdeathsig` fires when the
    // spawning thread ends, and a test's thread ends with the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let child = cmd.spawn();
        let _ = tx.send(child.map(|c| c.id()));
        loop {
            std::thread::park();
        }
    });
    let pid = rx
        .recv()
        .expect("the cluster's thread")
        .unwrap_or_else(|e| panic!("starting postgres: {e}"));
    let cluster = Cluster {
        port,
        dir: dir.clone(),
        bin,
        pid,
    };
    STOP.set((pid, dir.clone())).ok();
    // SAFETY: registering a plain function with no captured state.
    unsafe { libc::atexit(stop) };
    let began = Instant::now();
    loop {
        let ready = Command::new(cluster.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running pg_isready: {e}: {MISSING}"))
            .success();
        if ready {
            break;
        }
        if began.elapsed() > START_TIMEOUT {
            panic!(
                "PostgreSQL did not start within {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster
}

static STOP: OnceLock<(u32, PathBuf)> = OnceLock::new();

/// Stops the cluster (immediate shutdown: the data is thrown away) and removes its folder.
extern "C" fn stop() {
    if let Some((pid, dir)) = STOP.get() {
        // SAFETY: signalling and reaping our own child process.
        unsafe {
            libc::kill(*pid as i32, libc::SIGQUIT);
            libc::waitpid(*pid as i32, std::ptr::null_mut(), 0);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
