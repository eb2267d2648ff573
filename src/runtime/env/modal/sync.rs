//! Workspace transfer for remote sandboxes: pack a host folder as a tar, and unpack a tar from
//! the sandbox writing only changed files.
//!
//! The tar from the sandbox is untrusted (the agent controls its workspace): nothing is written
//! outside the destination, whatever the archive says, and no link is followed on this side
//! (see `env::beneath`), nor anything into git's control surface, which the host's git would
//! run (see `env::gitguard`). Refused entries are reported, not fatal.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::super::EnvError;
use super::super::beneath::{self, Kind};
use super::super::gitguard::{self, Surface};

/// What a sync back did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Files written (new or changed), relative to the destination.
    pub written: Vec<PathBuf>,
    /// Entries not written, with why (escaping paths, links, special files).
    pub refused: Vec<(String, String)>,
}

fn sync_err(what: impl std::fmt::Display) -> EnvError {
    EnvError::Backend(format!("workspace sync: {what}"))
}

/// Packs `dir` (symlinks as links, not followed) into a tar of at most `max` bytes.
pub async fn pack(dir: PathBuf, max: u64) -> Result<Vec<u8>, EnvError> {
    tokio::task::spawn_blocking(move || {
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        b.append_dir_all(".", &dir)
            .map_err(|e| sync_err(format!("packing {}: {e}", dir.display())))?;
        let data = b
            .into_inner()
            .map_err(|e| sync_err(format!("packing {}: {e}", dir.display())))?;
        if data.len() as u64 > max {
            return Err(sync_err(format!(
                "{} is {} MiB, more than the {} MiB a Modal upload may be: choose a smaller workspace",
                dir.display(),
                data.len() >> 20,
                max >> 20
            )));
        }
        Ok(data)
    })
    .await
    .map_err(sync_err)?
}

/// A relative path made only of normal components, or why not.
fn safe_relative(p: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path"),
        }
    }
    Ok(out)
}

/// Whether a symlink at `rel` pointing to `target` stays inside the destination.
fn link_stays_inside(rel: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = rel.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Checks that no existing ancestor of `dest/rel` is a symlink: writing through one could land
/// outside `dest`.
fn through_symlink(dest: &Path, rel: &Path) -> bool {
    let mut p = dest.to_path_buf();
    let n = rel.components().count();
    for (i, c) in rel.components().enumerate() {
        p.push(c);
        if i + 1 == n {
            break;
        }
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return true;
        }
    }
    false
}

/// Why an entry in git's control surface is not written: the host's git runs hooks and config
/// commands from there as the host user, so what the sandbox put there would run outside it.
const GIT_SURFACE: &str =
    "part of git's control surface (hooks and config the host's git would run)";

/// Unpacks `tar` into `dest`, writing files whose content differs. Nothing is written into git's
/// control surface: a `.git` at any depth, nor what [`gitguard::survey`] finds in `dest` (the
/// git folder it names and the effective hooks folder).
pub async fn unpack_changed(tar: Vec<u8>, dest: PathBuf) -> Result<SyncReport, EnvError> {
    std::fs::create_dir_all(&dest).map_err(|e| sync_err(format!("{}: {e}", dest.display())))?;
    let dest = dest
        .canonicalize()
        .map_err(|e| sync_err(format!("{}: {e}", dest.display())))?;
    let surface = gitguard::survey(&dest).await;
    tokio::task::spawn_blocking(move || unpack_blocking(&tar, &dest, &surface))
        .await
        .map_err(sync_err)?
}

fn unpack_blocking(data: &[u8], dest: &Path, surface: &Surface) -> Result<SyncReport, EnvError> {
    let mut report = SyncReport::default();
    let mut archive = tar::Archive::new(data);
    let entries = archive.entries().map_err(sync_err)?;
    for entry in entries {
        let mut entry = entry.map_err(|e| sync_err(format!("reading the archive: {e}")))?;
        let raw = entry
            .path()
            .map(|p| p.into_owned())
            .map_err(|e| sync_err(format!("archive path: {e}")))?;
        let shown = raw.display().to_string();
        let rel = match safe_relative(&raw) {
            Ok(r) => r,
            Err(why) => {
                report.refused.push((shown, why.into()));
                continue;
            }
        };
        if rel.as_os_str().is_empty() {
            continue; // the workspace folder itself
        }
        if rel.components().any(|c| c.as_os_str() == ".git") || surface.holds(&dest.join(&rel)) {
            report.refused.push((shown, GIT_SURFACE.into()));
            continue;
        }
        if through_symlink(dest, &rel) {
            report
                .refused
                .push((shown, "a parent folder is a symlink".into()));
            continue;
        }
        // Every write below goes through `beneath`, which follows no link on the way even if
        // one appeared after the check above.
        let target = dest.join(&rel);
        let kind = entry.header().entry_type();
        let io = |e: std::io::Error| sync_err(format!("{}: {e}", target.display()));
        let here = beneath::kind(dest, &rel).map_err(io)?;
        match kind {
            tar::EntryType::Directory => {
                if here == Some(Kind::Link) {
                    report
                        .refused
                        .push((shown, "a symlink on this side is in the way".into()));
                    continue;
                }
                beneath::create_dir_all(dest, &rel).map_err(io)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut content = Vec::new();
                entry.read_to_end(&mut content).map_err(io)?;
                if here.is_some_and(|k| k != Kind::File) {
                    report
                        .refused
                        .push((shown, "something other than a file is in the way".into()));
                    continue;
                }
                if here.is_some() && beneath::read(dest, &rel).ok().as_deref() == Some(&content[..])
                {
                    continue;
                }
                let mode = entry.header().mode().ok().map(|m| m & 0o777);
                beneath::write(dest, &rel, &content, mode).map_err(io)?;
                report.written.push(rel);
            }
            tar::EntryType::Symlink => {
                let link = entry.link_name().ok().flatten().map(|l| l.into_owned());
                let Some(link) = link.filter(|l| link_stays_inside(&rel, l)) else {
                    report
                        .refused
                        .push((shown, "symlink pointing outside the workspace".into()));
                    continue;
                };
                if here == Some(Kind::Link)
                    && std::fs::read_link(&target).ok().as_deref() == Some(link.as_path())
                {
                    continue;
                }
                if here.is_some() {
                    report
                        .refused
                        .push((shown, "something else is in the way".into()));
                    continue;
                }
                beneath::symlink(dest, &rel, &link).map_err(io)?;
                report.written.push(rel);
            }
            _ => report
                .refused
                .push((shown, format!("unsupported entry type {kind:?}"))),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of `files` (path, content), as a sandbox's workspace would come home.
    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, path, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[tokio::test]
    async fn nothing_comes_home_into_gits_control_surface() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("ws");
        std::fs::create_dir_all(&dest).unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .current_dir(&dest)
                .output()
                .expect("git is needed: apt install git");
            assert!(out.status.success(), "{out:?}");
        };
        git(&["init", "-q"]);
        // The repository's hooks live in the workspace, as husky sets them up.
        git(&["config", "core.hooksPath", ".husky"]);
        let tar = tar_of(&[
            ("src/lib.rs", "fn made() {}\n"),
            (".git/hooks/pre-commit", "#!/bin/sh\ntouch /tmp/pwned\n"),
            (".git/config", "[core]\n\tfsmonitor = touch /tmp/pwned\n"),
            ("vendor/dep/.git/config", "[core]\n\tfsmonitor = x\n"),
            (".husky/pre-commit", "#!/bin/sh\ntouch /tmp/pwned\n"),
            ("notes/.gitkeep", ""),
        ]);
        let report = unpack_changed(tar, dest.clone()).await.unwrap();
        let written: Vec<_> = report
            .written
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(written, ["src/lib.rs", "notes/.gitkeep"]);
        let refused: Vec<_> = report.refused.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            refused,
            [
                ".git/hooks/pre-commit",
                ".git/config",
                "vendor/dep/.git/config",
                ".husky/pre-commit"
            ]
        );
        assert!(report.refused.iter().all(|(_, why)| why == GIT_SURFACE));
        assert!(!dest.join(".git/hooks/pre-commit").exists());
        assert!(!dest.join(".husky").exists());
        assert!(!dest.join("vendor").exists());
        let config = std::fs::read_to_string(dest.join(".git/config")).unwrap();
        assert!(!config.contains("fsmonitor"), "{config}");
    }

    #[test]
    fn links_may_not_climb_out() {
        assert!(link_stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("a"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("a"), Path::new("/etc/passwd")));
        assert!(safe_relative(Path::new("../x")).is_err());
        assert!(safe_relative(Path::new("/x")).is_err());
        assert_eq!(safe_relative(Path::new("./a/b")).unwrap(), Path::new("a/b"));
    }
}
