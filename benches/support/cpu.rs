//! CPU time of processes, from `/proc/<pid>/stat`: user and system, all their threads; for a
//! process tree (PostgreSQL), its children's too. The benches that report CPU per event share it.

use std::time::Instant;

#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    pub user: f64,
    pub system: f64,
}

impl CpuUse {
    /// Microseconds of user and of system time per event.
    pub fn per_event(&self, events: usize) -> (f64, f64) {
        let n = events.max(1) as f64;
        (self.user * 1e6 / n, self.system * 1e6 / n)
    }
}

/// Whose CPU time is measured.
#[derive(Clone, Copy, Debug)]
pub enum Who {
    /// One process, all its threads.
    One(u32),
    /// A process and its children, those alive and those it has reaped: PostgreSQL's
    /// postmaster and the backends that serve each connection.
    Tree(u32),
}

impl Who {
    /// The process running the bench: its clients.
    pub fn this_bench() -> Who {
        Who::One(std::process::id())
    }
}

/// Fields of `/proc/<pid>/stat` after the command name, which may hold spaces.
fn stat(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Field `i` (numbered as in proc(5)) of a stat's fields, which start at field 3.
fn field(fields: &[String], i: usize) -> f64 {
    fields
        .get(i - 3)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// The CPU use so far, in seconds.
pub fn read(who: Who) -> CpuUse {
    // SAFETY: sysconf has no memory effects.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let (root, tree) = match who {
        Who::One(pid) => (pid, false),
        Who::Tree(pid) => (pid, true),
    };
    let own = stat(root);
    // utime and stime are fields 14 and 15; cutime and cstime (reaped children) 16 and 17.
    let (mut user, mut system) = (field(&own, 14), field(&own, 15));
    if tree {
        user += field(&own, 16);
        system += field(&own, 17);
        let children = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        for entry in children {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let f = stat(pid);
            // The parent's pid is field 4.
            if field(&f, 4) as u32 == root {
                user += field(&f, 14);
                system += field(&f, 15);
            }
        }
    }
    CpuUse {
        user: user / tick,
        system: system / tick,
    }
}

/// The CPU use at `due` (read then), for a measurement that starts when the lines are due.
pub fn at(who: Who, due: Instant) -> tokio::task::JoinHandle<CpuUse> {
    tokio::spawn(async move {
        tokio::time::sleep_until(due.into()).await;
        read(who)
    })
}

/// What the process used since `start`.
pub fn since(who: Who, start: CpuUse) -> CpuUse {
    let now = read(who);
    CpuUse {
        user: now.user - start.user,
        system: now.system - start.system,
    }
}

/// Jiffies the whole machine spent busy, stolen and in all, over every core, from `/proc/stat`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Machine {
    busy: u64,
    stolen: u64,
    total: u64,
}

/// The machine's jiffies so far.
pub fn machine() -> Machine {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // "cpu  user nice system idle iowait irq softirq steal ...": idle and iowait are not busy;
    // steal is time the hypervisor gave this machine's cores to others: not busy here either,
    // and counted apart (in a shared virtual machine it is what makes runs differ).
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total = v.iter().sum();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    let stolen = at(7);
    Machine {
        busy: total - at(3) - at(4) - stolen,
        stolen,
        total,
    }
}

/// The machine's jiffies at `due` (read then).
pub fn machine_at(due: Instant) -> tokio::task::JoinHandle<Machine> {
    tokio::spawn(async move {
        tokio::time::sleep_until(due.into()).await;
        machine()
    })
}

/// The shares of the machine's cores busy, and stolen by the hypervisor, over a load.
#[derive(Clone, Copy, Debug, Default)]
pub struct MachineUse {
    /// Busy (everything on it: the server, agents, clients, a database), from 0 to 1.
    pub busy: f64,
    /// Given to other machines by the hypervisor while this one's threads were ready to run.
    pub stolen: f64,
}

impl std::fmt::Display for MachineUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "machine {:.0} % busy", self.busy * 100.0)?;
        if self.stolen >= 0.005 {
            write!(f, ", {:.0} % stolen by the hypervisor", self.stolen * 100.0)?;
        }
        Ok(())
    }
}

/// The machine's use since `start`.
pub fn machine_busy_since(start: Machine) -> MachineUse {
    let now = machine();
    let total = now.total.saturating_sub(start.total).max(1) as f64;
    MachineUse {
        busy: now.busy.saturating_sub(start.busy) as f64 / total,
        stolen: now.stolen.saturating_sub(start.stolen) as f64 / total,
    }
}
