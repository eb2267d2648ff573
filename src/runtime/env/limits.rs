//! Resource limits of local sandboxes: how many tasks (processes and threads), how much memory and
//! how much CPU time the processes of one sandbox may use, and whether they ran into a limit.
//!
//! Each sandbox gets its own cgroup, a child of aisys's own cgroup: cgroup v2 when aisys's cgroup
//! is writable with the `pids` and `memory` controllers, else cgroup v1 (the `pids` and `memory`
//! hierarchies, each on its own), else rlimits (`RLIMIT_NPROC` for non-root users only; memory is
//! then not enforced, see [`Enforcement`]). Processes join the cgroup before they exec, so nothing
//! they start escapes it; the cgroup is removed when the sandbox ends.
//!
//! Must not know about agents, and must not fail a sandbox because a limit cannot be enforced:
//! how each limit is enforced is logged instead, with a warning when nothing enforces it.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::process::Command;

/// Default most tasks (processes and threads; `pids.max` counts both) of one sandbox. A turn with
/// a shell command measured a peak of 17 with Claude Code and with OpenCode (bwrap, the agent's
/// threads, the shell); 1024 leaves room for parallel builds and test runners, and stops a fork
/// bomb long before the machine's own limit.
pub const DEFAULT_MAX_PIDS: u64 = 1024;
/// Default most memory (resident, page cache included) of one sandbox: 4 GiB. A turn measured
/// 125 MiB with Claude Code and 650 MiB with OpenCode; the rest is for the commands they run
/// (compilers, test suites).
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;
/// Default most CPU time of one process of a sandbox: none, because an agent's session can run for
/// hours and its compilers legitimately burn CPU; the time limit of a turn bounds it instead.
pub const DEFAULT_MAX_CPU_TIME: Option<Duration> = None;
/// How long removing a sandbox's cgroup waits for its killed processes to leave it: a SIGKILLed
/// process is gone within milliseconds, so this only bounds a stuck one (in uninterruptible I/O).
const CGROUP_REMOVE_WAIT: Duration = Duration::from_secs(2);
/// Pause between attempts to remove a cgroup that still has processes.
const CGROUP_REMOVE_POLL: Duration = Duration::from_millis(10);
/// Prefix of the cgroups aisys creates, followed by aisys's pid and a counter.
const CGROUP_PREFIX: &str = "aisys-";
/// Where cgroup file systems are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What the processes of one sandbox may use; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most tasks (processes and threads) at once.
    pub pids: Option<u64>,
    /// Most memory in bytes, for all processes together.
    pub memory: Option<u64>,
    /// Most CPU time of each process.
    pub cpu_time: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            pids: Some(DEFAULT_MAX_PIDS),
            memory: Some(DEFAULT_MAX_MEMORY),
            cpu_time: DEFAULT_MAX_CPU_TIME,
        }
    }
}

impl Limits {
    /// No limit at all (what a backend without local processes may assume).
    pub const UNLIMITED: Limits = Limits {
        pids: None,
        memory: None,
        cpu_time: None,
    };
}

/// A limit the processes of a sandbox ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// A fork or thread creation failed because the sandbox had `max` tasks.
    Pids { max: u64 },
    /// A process was killed because the sandbox used `max` bytes.
    Memory { max: u64 },
    /// A process was killed because it used `max` CPU time.
    CpuTime { max: Duration },
}

impl LimitHit {
    /// A short machine-readable name: `pids_limit`, `memory_limit`, `cpu_time_limit`.
    pub fn code(&self) -> &'static str {
        match self {
            LimitHit::Pids { .. } => "pids_limit",
            LimitHit::Memory { .. } => "memory_limit",
            LimitHit::CpuTime { .. } => "cpu_time_limit",
        }
    }
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Pids { max } => write!(
                f,
                "the sandbox hit its process limit ({max} processes and threads): a command could not start a process"
            ),
            LimitHit::Memory { max } => write!(
                f,
                "the sandbox hit its memory limit ({}): a process was killed",
                format_size(*max)
            ),
            LimitHit::CpuTime { max } => write!(
                f,
                "a process of the sandbox hit its CPU time limit ({}s) and was killed",
                max.as_secs()
            ),
        }
    }
}

/// How each limit is enforced on this machine, for a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Not asked for.
    Unlimited,
    CgroupV2,
    CgroupV1,
    /// A per-process rlimit (`RLIMIT_NPROC`, `RLIMIT_CPU`).
    Rlimit,
    /// Asked for, but nothing here can enforce it (no writable cgroup, and no usable rlimit).
    NotEnforced,
}

impl std::fmt::Display for Enforcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Enforcement::Unlimited => "no limit",
            Enforcement::CgroupV2 => "cgroup v2",
            Enforcement::CgroupV1 => "cgroup v1",
            Enforcement::Rlimit => "rlimit",
            Enforcement::NotEnforced => "not enforced",
        })
    }
}

/// Parses a size: a number of bytes with an optional unit `K`, `M`, `G`, `T` (powers of 1024,
/// also written `KiB`, `MB`, ...), or `unlimited`.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "`{text}` is not a size: write a number with an optional unit, like 512M, 4G or 1073741824, or `unlimited`"
        )
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    let bytes = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{text}` is too large a size"))?;
    if bytes == 0 {
        return Err(format!(
            "`{text}`: a limit of 0 bytes would stop everything; write `unlimited` for no limit"
        ));
    }
    Ok(Some(bytes))
}

/// Parses a task count: a positive number, or `unlimited`.
pub fn parse_pids(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match t.parse::<u64>() {
        Ok(0) => Err(format!(
            "`{text}`: a limit of 0 processes would stop everything; write `unlimited` for no limit"
        )),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!(
            "`{text}` is not a number of processes: write a positive number like 1024, or `unlimited`"
        )),
    }
}

/// A size for people: `512 MiB`, `4 GiB`, `1000 bytes`.
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64);
    }
    format!("{bytes} bytes")
}

/// One cgroup directory aisys made.
#[derive(Debug)]
struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

/// The limits of one sandbox as applied on this machine: its cgroups, and the rlimits its
/// processes get. Dropping it kills what is left in its cgroups and removes them.
#[derive(Debug)]
pub struct SandboxLimits {
    limits: Limits,
    /// The cgroup that limits tasks (v2: also memory), if any.
    pids: Option<Cgroup>,
    /// The cgroup that limits memory, when it is another one (v1).
    memory: Option<Cgroup>,
    /// Counter values already reported: pids max events, memory kills.
    seen: Mutex<(u64, u64)>,
}

impl SandboxLimits {
    /// Sets up `limits` for a new sandbox: a cgroup where one can be made, rlimits otherwise.
    pub fn create(limits: Limits) -> SandboxLimits {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!(
            "{CGROUP_PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut out = SandboxLimits {
            limits,
            pids: None,
            memory: None,
            seen: Mutex::new((0, 0)),
        };
        if limits.pids.is_none() && limits.memory.is_none() {
            return out;
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if let Some(dir) =
            v2_parent(&own, Path::new(CGROUP_ROOT)).and_then(|p| make_v2(&p, &name, &limits))
        {
            out.pids = Some(Cgroup { dir, v2: true });
            return out;
        }
        if limits.pids.is_some()
            && let Some(parent) = v1_parent(&own, "pids")
        {
            out.pids = make_v1(&parent, &name, |d| {
                write(d, "pids.max", &limits.pids.unwrap_or(0).to_string())
            })
            .map(|dir| Cgroup { dir, v2: false });
        }
        if let Some(max) = limits.memory
            && let Some(parent) = v1_parent(&own, "memory")
        {
            out.memory = make_v1(&parent, &name, |d| {
                write(d, "memory.limit_in_bytes", &max.to_string())?;
                // Without swap limited too, the cgroup would swap instead of being stopped.
                let _ = write(d, "memory.memsw.limit_in_bytes", &max.to_string());
                Ok(())
            })
            .map(|dir| Cgroup { dir, v2: false });
        }
        // A cgroup one may make but not move processes into would fail every exec: prove the
        // move with a throwaway process first, and fall back when it fails.
        if out.cgroups().next().is_some()
            && let Err(e) = out.probe()
        {
            tracing::warn!("cannot move processes into a new cgroup ({e}); using rlimits");
            out.cgroups().for_each(|c| remove_cgroup(&c.dir));
            out.pids = None;
            out.memory = None;
        }
        out.report();
        out
    }

    /// Says how the limits are enforced (`-v`), and warns once when one cannot be.
    fn report(&self) {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let (pids, memory) = self.enforcement();
        let or_unlimited = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
        tracing::info!(
            "sandbox limits: {} tasks ({pids}), {} of memory ({memory}), CPU time {} per process; cgroups: {}",
            or_unlimited(self.limits.pids.map(|n| n.to_string())),
            or_unlimited(self.limits.memory.map(format_size)),
            or_unlimited(self.limits.cpu_time.map(|d| format!("{}s", d.as_secs()))),
            self.cgroups()
                .map(|c| c.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut missing = Vec::new();
        if let (Enforcement::NotEnforced, Some(n)) = (pids, self.limits.pids) {
            missing.push(format!("the process limit ({n})"));
        }
        if let (Enforcement::NotEnforced, Some(m)) = (memory, self.limits.memory) {
            missing.push(format!("the memory limit ({})", format_size(m)));
        }
        if !missing.is_empty() && !WARNED.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "{} of sandboxes cannot be enforced here: no writable cgroup (cgroup v1 as root, or cgroup v2 with the pids and memory controllers delegated, e.g. `systemd-run --user --scope -p Delegate=yes aisys ...`){}",
                missing.join(" and "),
                if is_root() {
                    ""
                } else {
                    "; the process limit falls back to RLIMIT_NPROC"
                }
            );
        }
    }

    /// How the task limit and the memory limit are enforced.
    fn enforcement(&self) -> (Enforcement, Enforcement) {
        let by = |c: &Option<Cgroup>| match c {
            Some(c) if c.v2 => Some(Enforcement::CgroupV2),
            Some(_) => Some(Enforcement::CgroupV1),
            None => None,
        };
        let pids = match (self.limits.pids, by(&self.pids)) {
            (None, _) => Enforcement::Unlimited,
            (Some(_), Some(e)) => e,
            (Some(_), None) if !is_root() => Enforcement::Rlimit,
            (Some(_), None) => Enforcement::NotEnforced,
        };
        let memory_group = match &self.pids {
            Some(c) if c.v2 => by(&self.pids),
            _ => by(&self.memory),
        };
        let memory = match (self.limits.memory, memory_group) {
            (None, _) => Enforcement::Unlimited,
            (Some(_), Some(e)) => e,
            (Some(_), None) => Enforcement::NotEnforced,
        };
        (pids, memory)
    }

    /// Starts and waits for a process that does nothing in the sandbox's cgroups.
    fn probe(&self) -> std::io::Result<()> {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "exit 0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        self.apply(&mut cmd)?;
        // Blocking, but only for a shell's start (about a millisecond), once per sandbox.
        let status = cmd.as_std_mut().status()?;
        match status.success() {
            true => Ok(()),
            false => Err(std::io::Error::other(format!(
                "the probe ended with {status}"
            ))),
        }
    }

    /// [`SandboxLimits::apply`], failing as a spawn of `program` would.
    pub fn prepare(&self, cmd: &mut Command, program: &str) -> Result<(), super::EnvError> {
        self.apply(cmd).map_err(|source| super::EnvError::Spawn {
            program: program.to_string(),
            source,
        })
    }

    /// Makes `cmd`'s process join the sandbox's cgroups and get its rlimits before it execs.
    pub fn apply(&self, cmd: &mut Command) -> std::io::Result<()> {
        // Opened here, before the fork: the child only writes, which is async-signal-safe.
        let procs: Vec<OwnedFd> = self
            .cgroups()
            .map(|c| {
                OpenOptions::new()
                    .write(true)
                    .open(c.dir.join("cgroup.procs"))
                    .map(OwnedFd::from)
            })
            .collect::<std::io::Result<_>>()?;
        let nproc = match (self.limits.pids, self.pids.is_some()) {
            // RLIMIT_NPROC counts every task of the user, so it allows the sandbox's on top.
            (Some(max), false) if !is_root() => Some(max.saturating_add(user_tasks())),
            _ => None,
        };
        let cpu = self.limits.cpu_time.map(|d| d.as_secs().max(1));
        // SAFETY: the closure only calls write(2) and setrlimit(2), both async-signal-safe, and
        // touches nothing but its own captured values.
        unsafe {
            cmd.pre_exec(move || {
                for fd in &procs {
                    // "0" is the writing process itself: the child joins before it execs.
                    if libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if let Some(n) = nproc {
                    set_rlimit(libc::RLIMIT_NPROC, n, n)?;
                }
                if let Some(secs) = cpu {
                    // SIGXCPU at the soft limit, SIGKILL one second later.
                    set_rlimit(libc::RLIMIT_CPU, secs, secs + 1)?;
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// The limits hit since the last call. `last_exit_signal` is the signal that ended the last
    /// process, if one did: SIGXCPU means the CPU time limit.
    pub fn hits(&self, last_exit_signal: Option<i32>) -> Vec<LimitHit> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut hits = Vec::new();
        if let (Some(c), Some(max)) = (&self.pids, self.limits.pids) {
            let n = read_counter(&c.dir.join("pids.events"), "max");
            if n > seen.0 {
                seen.0 = n;
                hits.push(LimitHit::Pids { max });
            }
        }
        let memory = match &self.pids {
            Some(c) if c.v2 => Some(c),
            _ => self.memory.as_ref(),
        };
        if let (Some(c), Some(max)) = (memory, self.limits.memory) {
            let file = if c.v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            let n = read_counter(&c.dir.join(file), "oom_kill");
            if n > seen.1 {
                seen.1 = n;
                hits.push(LimitHit::Memory { max });
            }
        }
        if let (Some(max), Some(libc::SIGXCPU)) = (self.limits.cpu_time, last_exit_signal) {
            hits.push(LimitHit::CpuTime { max });
        }
        hits
    }

    /// Kills every process left in the sandbox's cgroups and removes them; waits up to
    /// [`CGROUP_REMOVE_WAIT`]. Idempotent; processes cannot join a removed cgroup.
    pub async fn release(&self) {
        self.log_peaks();
        let dirs: Vec<PathBuf> = self.cgroups().map(|c| c.dir.clone()).collect();
        let _ =
            tokio::task::spawn_blocking(move || dirs.iter().for_each(|d| remove_cgroup(d))).await;
    }

    /// Logs the most tasks and memory the sandbox used (`-v`): what the defaults are measured by.
    fn log_peaks(&self) {
        if self.cgroups().next().is_none() {
            return;
        }
        let read = |c: &Option<Cgroup>, file: &str| {
            c.as_ref()
                .and_then(|c| std::fs::read_to_string(c.dir.join(file)).ok())
                .map(|v| v.trim().to_string())
        };
        let memory = match &self.pids {
            Some(c) if c.v2 => read(&self.pids, "memory.peak"),
            _ => read(&self.memory, "memory.max_usage_in_bytes"),
        };
        tracing::info!(
            "sandbox peak use: {} tasks, {} bytes of memory",
            read(&self.pids, "pids.peak").unwrap_or_else(|| "?".into()),
            memory.unwrap_or_else(|| "?".into())
        );
    }

    fn cgroups(&self) -> impl Iterator<Item = &Cgroup> {
        [&self.pids, &self.memory].into_iter().flatten()
    }
}

impl Drop for SandboxLimits {
    fn drop(&mut self) {
        self.cgroups().for_each(|c| remove_cgroup(&c.dir));
    }
}

fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads `lim` and changes only this process's limits.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// How many tasks (threads included) this user runs now, as RLIMIT_NPROC counts them.
fn user_tasks() -> u64 {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if field("Uid:") == Some(uid as u64) {
            n += field("Threads:").unwrap_or(1);
        }
    }
    n
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(file), value)
}

/// The `name N` counter of a cgroup events file, 0 when absent.
fn read_counter(file: &Path, name: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// aisys's own cgroup v2 folder, on a pure cgroup v2 machine.
fn v2_parent(own: &str, root: &Path) -> Option<PathBuf> {
    if !root.join("cgroup.controllers").exists() {
        return None;
    }
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = root.join(path.trim_start_matches('/'));
    // Once aisys moved itself into its own leaf (see `make_v2`), the cgroup to use is above it.
    match dir.file_name() == Some(self_leaf().as_ref()) {
        true => dir.parent().map(Path::to_path_buf),
        false => Some(dir),
    }
}

/// The cgroup v2 leaf aisys moves itself into, so that its own cgroup may have children with
/// controllers.
fn self_leaf() -> String {
    format!("{CGROUP_PREFIX}{}-self", std::process::id())
}

/// aisys's own cgroup v1 folder in the hierarchy of `controller`.
fn v1_parent(own: &str, controller: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })?;
    let mount = Path::new(CGROUP_ROOT).join(controller);
    mount
        .join("cgroup.procs")
        .exists()
        .then(|| mount.join(path.trim_start_matches('/')))
}

/// Makes a v2 child cgroup with both controllers, or nothing when that is not allowed here.
fn make_v2(parent: &Path, name: &str, limits: &Limits) -> Option<PathBuf> {
    let enabled = std::fs::read_to_string(parent.join("cgroup.subtree_control")).ok()?;
    let has = |c: &str| enabled.split_whitespace().any(|e| e == c);
    if !(has("pids") && has("memory"))
        && write(parent, "cgroup.subtree_control", "+pids +memory").is_err()
    {
        // cgroup v2 gives children controllers only while the cgroup itself holds no process:
        // aisys moves itself into a leaf of its own (left for the next aisys to remove), which
        // works when its cgroup holds nothing else (e.g. `systemd-run --user --scope -p
        // Delegate=yes aisys ...`).
        let leaf = parent.join(self_leaf());
        let _ = std::fs::create_dir(&leaf);
        write(&leaf, "cgroup.procs", "0").ok()?;
        write(parent, "cgroup.subtree_control", "+pids +memory").ok()?;
    }
    sweep_stale(parent);
    let dir = parent.join(name);
    std::fs::create_dir(&dir).ok()?;
    let set = || -> std::io::Result<()> {
        if let Some(n) = limits.pids {
            write(&dir, "pids.max", &n.to_string())?;
        }
        if let Some(m) = limits.memory {
            write(&dir, "memory.max", &m.to_string())?;
            let _ = write(&dir, "memory.swap.max", "0");
        }
        Ok(())
    };
    match set() {
        Ok(()) => Some(dir),
        Err(e) => {
            tracing::debug!("cgroup v2 {}: {e}", dir.display());
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }
}

/// Makes a v1 child cgroup and sets it up with `set`, or nothing when that is not allowed here.
fn make_v1(
    parent: &Path,
    name: &str,
    set: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Option<PathBuf> {
    sweep_stale(parent);
    let dir = parent.join(name);
    if let Err(e) = std::fs::create_dir(&dir) {
        tracing::debug!("cgroup v1 {}: {e}", dir.display());
        return None;
    }
    match set(&dir) {
        Ok(()) => Some(dir),
        Err(e) => {
            tracing::debug!("cgroup v1 {}: {e}", dir.display());
            let _ = std::fs::remove_dir(&dir);
            None
        }
    }
}

/// Removes the cgroups that aisys processes killed before they could clean up left beside this
/// one's (each new sandbox does it too; this is for a start with none yet).
pub fn sweep_stale_cgroups() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let parents = [
        v2_parent(&own, Path::new(CGROUP_ROOT)),
        v1_parent(&own, "pids"),
        v1_parent(&own, "memory"),
    ];
    parents.iter().flatten().for_each(|p| sweep_stale(p));
}

/// Removes the cgroups left by aisys processes that are gone (killed before they could clean
/// up), so that crashes do not pile them up.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(CGROUP_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let procs = std::fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
        if procs.trim().is_empty() {
            // Also what another pid namespace's aisys owns looks like: try once, never wait.
            let _ = std::fs::remove_dir(e.path());
        } else {
            // What is left inside are the dead aisys's sandbox processes, which die with it
            // anyway (bwrap's --die-with-parent), perhaps not yet.
            remove_cgroup(&e.path());
        }
    }
}

/// Kills every process in a cgroup and removes it once they are gone.
fn remove_cgroup(dir: &Path) {
    let deadline = std::time::Instant::now() + CGROUP_REMOVE_WAIT;
    loop {
        // cgroup v2 kills the whole cgroup at once where the kernel has `cgroup.kill`.
        if write(dir, "cgroup.kill", "1").is_err() {
            for pid in std::fs::read_to_string(dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) sends a signal; no memory is touched.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) if std::time::Instant::now() >= deadline => {
                tracing::warn!("cannot remove cgroup {}: {e}", dir.display());
                return;
            }
            Err(_) => std::thread::sleep(CGROUP_REMOVE_POLL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_size("256M"), Ok(Some(256 << 20)));
        assert_eq!(parse_size("4G"), Ok(Some(4 << 30)));
        assert_eq!(parse_size("4GiB"), Ok(Some(4 << 30)));
        assert_eq!(parse_size("512 mb"), Ok(Some(512 << 20)));
        assert_eq!(parse_size("1024"), Ok(Some(1024)));
        assert_eq!(parse_size("unlimited"), Ok(None));
        for bad in ["", "4X", "G", "-1", "1.5G", "0"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn pids_parse() {
        assert_eq!(parse_pids("64"), Ok(Some(64)));
        assert_eq!(parse_pids("unlimited"), Ok(None));
        assert!(parse_pids("0").is_err());
        assert!(parse_pids("lots").unwrap_err().contains("`lots`"));
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(format_size(256 << 20), "256 MiB");
        assert_eq!(format_size(4 << 30), "4 GiB");
        assert_eq!(format_size(1000), "1000 bytes");
    }

    #[test]
    fn own_cgroups_are_found_per_hierarchy() {
        let own = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n0::/\n";
        if Path::new(CGROUP_ROOT).join("memory/cgroup.procs").exists() {
            assert_eq!(
                v1_parent(own, "memory"),
                Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
            );
        }
        assert_eq!(v1_parent(own, "nonesuch"), None);
    }

    #[test]
    fn the_v2_cgroup_is_aisyss_own_or_the_one_above_its_leaf() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            v2_parent("0::/user.slice/a.scope\n", root.path()),
            None,
            "not v2"
        );
        std::fs::write(root.path().join("cgroup.controllers"), "pids memory\n").unwrap();
        assert_eq!(
            v2_parent("0::/user.slice/a.scope\n", root.path()),
            Some(root.path().join("user.slice/a.scope"))
        );
        let moved = format!("0::/user.slice/a.scope/{}\n", self_leaf());
        assert_eq!(
            v2_parent(&moved, root.path()),
            Some(root.path().join("user.slice/a.scope"))
        );
    }

    #[test]
    fn counters_are_read_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.events");
        std::fs::write(&f, "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(read_counter(&f, "oom_kill"), 1);
        assert_eq!(read_counter(&f, "max"), 12);
        assert_eq!(read_counter(&f, "absent"), 0);
    }
}
