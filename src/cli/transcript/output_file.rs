//! `aisys transcript parse -o FILE`: the file the output goes to. It is written beside its
//! target and renamed over it at the end, so a run that fails leaves the target as it was; a
//! target that is one of the inputs is refused before anything is read.

use std::path::{Path, PathBuf};

use crate::cli::{CommandError, EXIT_FAILURE, EXIT_USAGE};
use crate::converters::Input;

/// The output of one run, until it is complete.
pub(super) struct OutputFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl OutputFile {
    /// A temporary file in the folder of `path`, refused when `path` is one of `inputs`.
    pub fn create(path: &Path, inputs: &[Input]) -> anyhow::Result<OutputFile> {
        let usage =
            |what: String| CommandError::new(EXIT_USAGE, format!("-o {}: {what}", path.display()));
        if let Ok(out) = std::fs::metadata(path)
            && let Some(input) = inputs
                .iter()
                .find(|i| i.path.as_deref().is_some_and(|p| same_file(p, &out)))
        {
            return Err(usage(format!(
                "this is also an input ({}); writing it would replace what is being read\n  fix: give -o another file",
                input.name
            ))
            .into());
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".aisys-transcript-")
            .tempfile_in(dir)
            .map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
        Ok(OutputFile {
            temp,
            target: path.to_path_buf(),
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
        let target = self.target;
        self.temp.persist(&target).map_err(|e| {
            CommandError::new(EXIT_FAILURE, format!("{}: {}", target.display(), e.error))
        })?;
        Ok(())
    }
}

/// Whether `path` is the file `out` describes, however it is spelled (`./`, a link, another
/// hard link): the same device and inode.
fn same_file(path: &Path, out: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.dev() == out.dev() && m.ino() == out.ino())
}
