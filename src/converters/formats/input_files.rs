//! The transcript files that the paths given to `aisys transcript parse`, `stats` and `list`
//! stand for: one set of rules for every command.
//!
//! - `-` is standard input, and may be given once (it can be read only once).
//! - A file is read as given, whatever its name.
//! - A folder stands for every `*.jsonl` file below it, at any depth, sorted by path so that
//!   output and errors never depend on the file system's order. A link to a folder is not
//!   followed (a loop would never end); a link to a file is taken like the file.
//! - A subagent's transcript found in a folder (`agent-<id>.jsonl`, or any file below a
//!   `subagents` folder) is marked as one: `parse` and `list` read it with its session, never
//!   alone; `stats` counts its tokens, with its session.
//! - A path that does not exist, or a folder that cannot be read, is an error naming it; so is
//!   a path given that is neither a file nor a folder (a FIFO, a device), which could not be
//!   read as a transcript (or would never end). Below a folder, such entries are passed over.
//!
//! Must not open the files: what they hold is their readers' business.

use std::path::{Path, PathBuf};

use super::claude_transcript::agent_file_id;

/// The path that stands for standard input.
pub const STDIN: &str = "-";

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The file, or [`STDIN`].
    pub path: PathBuf,
    /// A subagent's transcript found in a folder: read with its session.
    pub subagent: bool,
}

impl InputFile {
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == STDIN
    }
}

/// Why the inputs cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error(
        "{path}: not a regular file (a {kind}), and transcripts are read from files\n  fix: give a transcript file or folder; to read a stream, give `-` and redirect it to stdin (`- < {path}`)"
    )]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`-` (stdin) can be given once")]
    StdinTwice,
}

/// The files `paths` stand for, in their order (each folder's files sorted).
pub fn find_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>, FindError> {
    let mut out: Vec<InputFile> = Vec::new();
    for p in paths {
        if p.as_os_str() == STDIN {
            if out.iter().any(InputFile::is_stdin) {
                return Err(FindError::StdinTwice);
            }
            out.push(InputFile {
                path: p.clone(),
                subagent: false,
            });
        } else if p.is_dir() {
            let mut found = Vec::new();
            walk(p, false, &mut found)?;
            found.sort_by(|a, b| a.path.cmp(&b.path));
            out.extend(found);
        } else if p.is_file() {
            out.push(InputFile {
                path: p.clone(),
                subagent: false,
            });
        } else {
            return Err(match std::fs::metadata(p) {
                Ok(m) => FindError::NotAFile {
                    path: p.clone(),
                    kind: kind_of(&m.file_type()),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => FindError::Missing(p.clone()),
                Err(source) => FindError::Unreadable {
                    path: p.clone(),
                    source,
                },
            });
        }
    }
    Ok(out)
}

/// What a path that is neither a file nor a folder is, as a person would call it.
fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// The sessions' transcripts below `projects` (Claude Code's projects folder), sorted: its
/// files without the subagents'.
pub fn session_files(projects: &Path) -> Result<Vec<PathBuf>, FindError> {
    Ok(find_inputs(&[projects.to_path_buf()])?
        .into_iter()
        .filter(|f| !f.subagent)
        .map(|f| f.path)
        .collect())
}

/// `*.jsonl` files below `dir`; `in_subagents` when `dir` is (below) a `subagents` folder.
fn walk(dir: &Path, in_subagents: bool, out: &mut Vec<InputFile>) -> Result<(), FindError> {
    let unreadable = |source| FindError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(unreadable)?;
        if kind.is_dir() {
            let subagents = in_subagents || entry.file_name() == "subagents";
            walk(&path, subagents, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl")
            // A file, or a link to one: a FIFO would block the reader forever.
            && (kind.is_file() || (kind.is_symlink() && path.is_file()))
        {
            let subagent = in_subagents || agent_file_id(&path).is_some();
            out.push(InputFile { path, subagent });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_stand_for_their_transcripts_with_subagents_marked() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for f in [
            "p/b.jsonl",
            "p/a.jsonl",
            "p/agent-x.jsonl",
            "p/a/subagents/agent-y.jsonl",
            "p/a/subagents/agent-y.meta.json",
            "p/notes.txt",
        ] {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found: Vec<(String, bool)> = find_inputs(&[root.to_path_buf()])
            .unwrap()
            .into_iter()
            .map(|f| {
                let rel = f.path.strip_prefix(root).unwrap().display().to_string();
                (rel, f.subagent)
            })
            .collect();
        // Sorted by path, component by component (`p/a/...` before `p/a.jsonl`).
        let want = [
            ("p/a/subagents/agent-y.jsonl", true),
            ("p/a.jsonl", false),
            ("p/agent-x.jsonl", true),
            ("p/b.jsonl", false),
        ];
        let want: Vec<(String, bool)> = want.iter().map(|(p, s)| (p.to_string(), *s)).collect();
        assert_eq!(found, want);
        assert_eq!(
            session_files(root).unwrap(),
            [root.join("p/a.jsonl"), root.join("p/b.jsonl")]
        );
        // A file given by name is read alone, whatever its name.
        let one = find_inputs(&[root.join("p/agent-x.jsonl")]).unwrap();
        assert!(!one[0].subagent);
        assert!(matches!(
            find_inputs(&[root.join("nope")]),
            Err(FindError::Missing(_))
        ));
        assert!(matches!(
            find_inputs(&["-".into(), "-".into()]),
            Err(FindError::StdinTwice)
        ));
    }
}
