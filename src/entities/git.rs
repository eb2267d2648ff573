//! Git through the `git` command: clone, update and read the commit of marketplaces and plugins,
//! with a spinner while it runs (hidden when stderr is not a terminal).
//!
//! Never prompts (a URL that needs credentials fails with git's message) and never runs longer
//! than [`GIT_TIMEOUT`]. Must not choose where to clone: callers pass a path inside their root.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::EntityError;

/// Longest a git command may run: Claude Code gives its clones the same 120 s.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a running git is checked on, and the spinner ticks.
const POLL: Duration = Duration::from_millis(100);

/// How to show progress.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub visible: bool,
}

impl Progress {
    pub fn spinner(&self, message: String) -> ProgressBar {
        let pb = if self.visible {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(message);
        pb
    }

    pub fn bar(&self, len: u64, message: String) -> ProgressBar {
        let pb = if self.visible {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        pb.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_message(message);
        pb
    }
}

/// Runs git with `args` in `dir`, returning its stdout.
pub fn run(
    dir: Option<&Path>,
    args: &[&str],
    progress: Progress,
    what: &str,
) -> Result<String, EntityError> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().map_err(|e| {
        EntityError::Git(format!(
            "cannot run git ({e}); install git to use git and GitHub sources"
        ))
    })?;
    // Read both pipes on threads so a chatty git never blocks on a full pipe.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let pb = progress.spinner(what.to_string());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > GIT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                pb.finish_and_clear();
                return Err(EntityError::Git(format!(
                    "{what}: git did not finish within {}s; check the URL and the network",
                    GIT_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => {
                pb.tick();
                std::thread::sleep(POLL);
            }
            Err(e) => {
                pb.finish_and_clear();
                return Err(EntityError::Git(format!("{what}: {e}")));
            }
        }
    };
    pb.finish_and_clear();
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        let msg = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .to_string();
        return Err(EntityError::Git(format!("{what} failed: git said: {msg}")));
    }
    Ok(stdout)
}

/// Clones `url` (at `reference` if given) into `dest`, which must not exist yet.
pub fn clone(
    url: &str,
    reference: Option<&str>,
    dest: &Path,
    progress: Progress,
) -> Result<(), EntityError> {
    let dest_s = dest.to_string_lossy().into_owned();
    let mut args = vec!["clone", "--quiet"];
    if let Some(r) = reference {
        check_ref(r)?;
        args.extend(["--branch", r]);
    }
    args.extend(["--", url, &dest_s]);
    run(None, &args, progress, &format!("Cloning {url}")).map(|_| ())
}

/// Brings a clone to its remote's newest commit (a marketplace clone is a cache: local changes
/// are not kept, as with Claude Code's own update).
pub fn update(dir: &Path, reference: Option<&str>, progress: Progress) -> Result<(), EntityError> {
    let what = format!("Updating {}", dir.display());
    let target = reference.unwrap_or("HEAD");
    check_ref(target)?;
    // `--` ends the options: a ref is never read as one, whatever `check_ref` lets through.
    run(
        Some(dir),
        &["fetch", "--quiet", "--", "origin", target],
        progress,
        &what,
    )?;
    run(
        Some(dir),
        &["reset", "--quiet", "--hard", "FETCH_HEAD"],
        progress,
        &what,
    )?;
    Ok(())
}

/// Refuses a branch, tag or commit that git would read as an option (`--upload-pack=...` runs a
/// command): a marketplace's `ref` comes from a source string or a hand-edited record.
pub fn check_ref(reference: &str) -> Result<(), EntityError> {
    if reference.starts_with('-') {
        return Err(EntityError::Invalid(format!(
            "git ref `{reference}` begins with `-`, which git would read as an option; give a \
             branch, tag or commit name (e.g. `owner/repo#main`)"
        )));
    }
    Ok(())
}

/// The commit checked out in `dir`, when it is a git work tree.
pub fn head(dir: &Path) -> Option<String> {
    if !dir.join(".git").exists() {
        return None;
    }
    run(
        Some(dir),
        &["rev-parse", "HEAD"],
        Progress { visible: false },
        "git rev-parse",
    )
    .ok()
    .map(|s| s.trim().to_string())
    .filter(|s| s.len() == 40)
}
