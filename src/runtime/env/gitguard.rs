//! The workspace's git control surface, kept out of the agent's reach in the `local` backend.
//!
//! The host's `git` runs the hooks and config commands (`core.fsmonitor`, `core.hooksPath`) of
//! the repository it finds in the workspace, as the host user. So before each sandboxed process
//! starts, [`survey`] lists what of that surface exists — the `.git` folder or `gitdir:` file, the
//! git folder it names and its `commondir` when they lie in the workspace, and the effective hooks
//! folder — to be mounted read-only over itself (a mount point cannot be renamed or removed, so
//! `.git` cannot be swapped for another). What does not exist yet cannot be mounted without
//! creating it on the host: [`Surface::restore`] moves such a path aside
//! (`<name>.aisys-quarantine-<n>`) when the process created it, before the host's git can see it.
//!
//! Must not run anything from the workspace: the only command it runs is the host's own
//! `git rev-parse`, which reads config but runs no hooks and no fsmonitor.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{EnvError, ExitInfo, ProcessControl};

/// How many `<name>.aisys-quarantine-<n>` names are tried before giving up: more leftovers than
/// this means nobody is cleaning them, and the notice says so.
const QUARANTINE_NAMES: u32 = 1000;

/// What of the git control surface exists in a workspace, and what must not appear.
#[derive(Debug, Default)]
pub(super) struct Surface {
    /// Host paths (equal to their sandbox paths: the workspace is mounted at its own path) to
    /// mount read-only over themselves.
    pub binds: Vec<PathBuf>,
    /// Paths absent before the process; if it creates one, it is moved aside afterwards.
    absent: Vec<PathBuf>,
    /// A `.git` that is a symlink (which no mount can pin): its path and target, restored if the
    /// process replaced it.
    link: Option<(PathBuf, PathBuf)>,
}

/// Surveys `workspace` (canonical) just before a process starts.
pub(super) async fn survey(workspace: &Path) -> Surface {
    let mut s = Surface::default();
    let dotgit = workspace.join(".git");
    match std::fs::symlink_metadata(&dotgit) {
        Err(_) => s.absent.push(dotgit.clone()),
        Ok(m) if m.file_type().is_symlink() => {
            if let Ok(target) = std::fs::read_link(&dotgit) {
                s.link = Some((dotgit.clone(), target));
            }
            if let Ok(real) = dotgit.canonicalize() {
                s.add_git_dir(workspace, &real);
            }
        }
        Ok(m) if m.is_dir() => s.add_git_dir(workspace, &dotgit),
        Ok(_) => {
            // `gitdir: <path>`: the repository lives elsewhere, maybe in the workspace too.
            s.binds.push(dotgit.clone());
            if let Some(dir) = std::fs::read_to_string(&dotgit).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("gitdir:"))
                    .map(|p| workspace.join(p.trim()))
            }) && let Ok(real) = dir.canonicalize()
            {
                s.add_git_dir(workspace, &real);
            }
        }
    }
    if may_move_hooks(workspace)
        && let Some(hooks) = hooks_dir(workspace).await
        && hooks.starts_with(workspace)
        && !s.covers(&hooks)
    {
        match std::fs::symlink_metadata(&hooks) {
            Ok(_) => s.binds.push(hooks),
            Err(_) => s.absent.push(hooks),
        }
    }
    s
}

impl Surface {
    /// Pins a git folder and the `commondir` it names (where config and hooks are read from), when
    /// they lie in the workspace; outside it the sandbox cannot write them anyway.
    fn add_git_dir(&mut self, workspace: &Path, dir: &Path) {
        if dir.starts_with(workspace) && !self.covers(dir) {
            self.binds.push(dir.to_path_buf());
        }
        if let Ok(common) = std::fs::read_to_string(dir.join("commondir"))
            && let Ok(real) = dir.join(common.trim()).canonicalize()
            && real.starts_with(workspace)
            && !self.covers(&real)
        {
            self.binds.push(real);
        }
    }

    fn covers(&self, p: &Path) -> bool {
        self.binds.iter().any(|b| p.starts_with(b))
    }

    /// Whether `p` is, or lies inside, a part of the surface: one that exists, or one that
    /// must not appear. A copy of a sandbox's files written into the workspace leaves these out.
    pub(super) fn holds(&self, p: &Path) -> bool {
        self.covers(p) || self.absent.iter().any(|a| p.starts_with(a))
    }

    /// After the process ended: moves aside what it created where nothing was, and puts back a
    /// `.git` symlink it replaced. Returns one notice per change, for the user.
    pub fn restore(&self) -> Vec<String> {
        let mut notices = Vec::new();
        for p in &self.absent {
            if std::fs::symlink_metadata(p).is_ok() {
                notices.push(quarantine(p));
            }
        }
        if let Some((p, target)) = &self.link
            && std::fs::read_link(p).ok().as_ref() != Some(target)
        {
            if std::fs::symlink_metadata(p).is_ok() {
                notices.push(quarantine(p));
            }
            if let Err(e) = std::os::unix::fs::symlink(target, p) {
                notices.push(format!(
                    "the sandbox replaced the symlink {}, and it could not be put back ({e}): recreate it with ln -s {} {}",
                    p.display(),
                    target.display(),
                    p.display()
                ));
            }
        }
        notices
    }
}

/// Where notices of a sandbox collect until [`super::Sandbox::take_notices`] takes them.
pub(super) type Notices = Arc<Mutex<Vec<String>>>;

/// A process's control that restores the surface when the process has ended.
pub(super) struct Guarded {
    pub inner: Option<Box<dyn ProcessControl>>,
    pub surface: Option<Surface>,
    pub notices: Notices,
}

impl Guarded {
    fn restore(&mut self) {
        if let Some(surface) = self.surface.take() {
            let found = surface.restore();
            for n in &found {
                tracing::warn!("{n}");
            }
            self.notices
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(found);
        }
    }
}

#[async_trait]
impl ProcessControl for Guarded {
    async fn wait(&mut self) -> Result<ExitInfo, EnvError> {
        let Some(inner) = self.inner.as_mut() else {
            return Err(EnvError::Terminated);
        };
        let exit = inner.wait().await;
        self.restore();
        exit
    }

    fn kill(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.kill();
        }
    }
}

impl Drop for Guarded {
    /// A process dropped without `wait` was killed with its handle: restore all the same.
    fn drop(&mut self) {
        // The inner handle goes first: dropping it kills the process.
        drop(self.inner.take());
        self.restore();
    }
}

/// Whether the hooks folder could be elsewhere than `.git/hooks` (already pinned with `.git`):
/// a cheap look at the config files, so that the common case spawns no `git` (3–4 ms a process).
/// Anything unusual (`include`s, config from the environment, a `.git` that is not a plain
/// folder, a repository above the workspace) asks git itself.
fn may_move_hooks(workspace: &Path) -> bool {
    if ["GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return true;
    }
    let dotgit = workspace.join(".git");
    let mut files = match std::fs::symlink_metadata(&dotgit) {
        Ok(m) if m.is_dir() => {
            if dotgit.join("commondir").exists() {
                return true;
            }
            vec![dotgit.join("config"), dotgit.join("config.worktree")]
        }
        Ok(_) => return true,
        Err(_) => {
            return workspace
                .ancestors()
                .skip(1)
                .any(|a| a.join(".git").exists());
        }
    };
    let var = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let home = var("HOME").unwrap_or_default();
    files.extend(var("GIT_CONFIG_GLOBAL"));
    files.extend(var("GIT_CONFIG_SYSTEM"));
    files.push(home.join(".gitconfig"));
    files.push(
        var("XDG_CONFIG_HOME")
            .unwrap_or_else(|| home.join(".config"))
            .join("git/config"),
    );
    files.push(PathBuf::from("/etc/gitconfig"));
    files.iter().any(|f| {
        std::fs::read(f).is_ok_and(|t| {
            let t = t.to_ascii_lowercase();
            [&b"hookspath"[..], b"include"]
                .iter()
                .any(|k| t.windows(k.len()).any(|w| w == *k))
        })
    })
}

/// The hooks folder the host's git would use in `workspace` (`core.hooksPath` or `.git/hooks`),
/// or `None` when git is missing or finds no repository there.
async fn hooks_dir(workspace: &Path) -> Option<PathBuf> {
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["rev-parse", "--path-format=absolute", "--git-path", "hooks"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'));
    // A hooks folder that does not exist yet has no canonical form: its parent has.
    match p.canonicalize() {
        Ok(real) => Some(real),
        Err(_) => {
            let parent = p.parent()?.canonicalize().ok()?;
            Some(parent.join(p.file_name()?))
        }
    }
}

/// Renames `p` to the first free `<name>.aisys-quarantine-<n>` beside it (the rename never
/// follows a symlink, and never replaces an existing name), and says what happened.
fn quarantine(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    let shown = p.display();
    let Ok(from) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return format!("the sandbox created {shown}, and it could not be moved aside");
    };
    for n in 1..=QUARANTINE_NAMES {
        let dest = p.with_file_name(format!("{name}.aisys-quarantine-{n}"));
        let Ok(to) = std::ffi::CString::new(dest.as_os_str().as_bytes()) else {
            break;
        };
        // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return format!(
                "the sandbox created {shown}, which the host's git would have obeyed (hooks, config); it was moved aside to {}",
                dest.display()
            );
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return format!(
                "the sandbox created {shown}, and it could not be moved aside ({err}): remove it before running git there (rm -rf {shown})"
            );
        }
    }
    format!(
        "the sandbox created {shown}, and it could not be moved aside ({QUARANTINE_NAMES} quarantine names are taken): remove it before running git there (rm -rf {shown})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_created_git_folder_is_moved_aside_and_an_existing_one_is_pinned() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().canonicalize().unwrap();
        let s = survey(&ws).await;
        assert!(s.binds.is_empty());
        std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
        std::fs::create_dir(ws.join(".git.aisys-quarantine-1")).unwrap();
        let notices = s.restore();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].contains(".git.aisys-quarantine-2"),
            "{notices:?}"
        );
        assert!(!ws.join(".git").exists());
        assert!(ws.join(".git.aisys-quarantine-2/hooks").is_dir());

        std::fs::create_dir(ws.join(".git")).unwrap();
        let s = survey(&ws).await;
        assert_eq!(s.binds, [ws.join(".git")]);
        assert!(s.restore().is_empty());
    }

    #[tokio::test]
    async fn a_gitdir_file_pins_the_folder_it_names_and_its_commondir() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(ws.join("repo/worktrees/a")).unwrap();
        std::fs::write(ws.join("repo/worktrees/a/commondir"), "../..\n").unwrap();
        std::fs::write(ws.join(".git"), "gitdir: repo/worktrees/a\n").unwrap();
        let s = survey(&ws).await;
        assert_eq!(
            s.binds,
            [
                ws.join(".git"),
                ws.join("repo/worktrees/a"),
                ws.join("repo")
            ]
        );
    }
}
