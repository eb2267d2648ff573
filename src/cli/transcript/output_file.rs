//! `aisys transcript parse -o FILE`: the file the output goes to. It is written beside its
//! target and renamed over it at the end, so a run that fails leaves the target as it was; it
//! gets the mode `>` would give it (an existing file keeps its own); a symbolic link is
//! followed, so that the file it points to gets the output and the link stays; and a target
//! that is one of the inputs is refused before anything is read.

use std::path::{Path, PathBuf};

use crate::cli::{CommandError, EXIT_FAILURE, EXIT_USAGE};
use crate::converters::Input;

/// Most links followed from `-o`, as the kernel's own limit: more is a loop.
const MAX_LINKS: usize = 40;

/// The output of one run, until it is complete.
pub(super) struct OutputFile {
    temp: tempfile::NamedTempFile,
    /// Where the output goes: `-o` with its links followed.
    target: PathBuf,
    /// `-o` as given, to name it in errors.
    given: PathBuf,
}

impl OutputFile {
    /// A temporary file in the folder of `path`'s target, refused when that target is one of
    /// `inputs`.
    pub fn create(path: &Path, inputs: &[Input]) -> anyhow::Result<OutputFile> {
        let usage =
            |what: String| CommandError::new(EXIT_USAGE, format!("-o {}: {what}", path.display()));
        let target = follow_links(path).map_err(|e| usage(e.to_string()))?;
        let existing = std::fs::metadata(&target).ok();
        if let Some(out) = &existing
            && let Some(input) = inputs
                .iter()
                .find(|i| i.path.as_deref().is_some_and(|p| same_file(p, out)))
        {
            return Err(usage(format!(
                "this is also an input ({}); writing it would replace what is being read\n  fix: give -o another file",
                input.name
            ))
            .into());
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // As `>` would: a new file 0666 less the umask (which the kernel applies), an existing
        // one its own mode.
        use std::os::unix::fs::PermissionsExt;
        let mode = existing
            .as_ref()
            .map_or(0o666, |m| m.permissions().mode() & 0o7777);
        let temp = tempfile::Builder::new()
            .prefix(".aisys-transcript-")
            .permissions(std::fs::Permissions::from_mode(mode))
            .tempfile_in(dir)
            .map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
        if existing.is_some() {
            // The umask may have narrowed it: set as the existing file has it.
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| usage(format!("{}: {e}", temp.path().display())))?;
        }
        Ok(OutputFile {
            temp,
            target,
            given: path.to_path_buf(),
        })
    }

    /// A handle to write the output with.
    pub fn writer(&self) -> anyhow::Result<std::fs::File> {
        self.temp.reopen().map_err(|e| {
            CommandError::new(EXIT_FAILURE, format!("{}: {e}", self.temp.path().display())).into()
        })
    }

    /// Puts the complete output in place of the target.
    pub fn persist(self) -> anyhow::Result<()> {
        let given = self.given;
        self.temp.persist(&self.target).map_err(|e| {
            CommandError::new(EXIT_FAILURE, format!("{}: {}", given.display(), e.error))
        })?;
        Ok(())
    }
}

/// `path` with its symbolic links followed, to a file that may not exist yet (a dangling link
/// names the file to create, as `>` would create it).
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links to follow (a loop?)"
    )))
}

/// Whether `path` is the file `out` describes, however it is spelled (`./`, a link, another
/// hard link): the same device and inode.
fn same_file(path: &Path, out: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.dev() == out.dev() && m.ino() == out.ino())
}
