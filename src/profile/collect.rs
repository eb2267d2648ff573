//! Reading a profile's files from the host: folders walked without following links, regular files
//! only (through `entities::file`), every byte counted against one budget.
//!
//! Must not read anything a profile entry does not name.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ProfileError;
use crate::entities::{file, names};
use crate::runtime::env::{HomeFile, HomeTree};

/// Most bytes of one file copied into a sandbox: skills and plugins carry scripts and small
/// assets beside their text, but a larger file is a build output or a data set put there by
/// mistake, and every byte is copied at each sandbox start.
pub const MAX_PROFILE_FILE: u64 = 8 * 1024 * 1024;
/// Most bytes of a whole profile: a sandbox start reads and writes them all (and uploads them, on
/// Modal), so the start stays quick.
pub const MAX_PROFILE_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest folder level copied from a skill or plugin (bounds a walk into a huge tree).
const MAX_DEPTH: usize = 12;
/// Where MCP servers' own files (a local server's script) go, relative to the home.
pub const MCP_DIR: &str = ".aisys/mcp";
/// Host folders a sandbox sees anyway, at the same path: a command there is not copied.
const SYSTEM_PREFIXES: &[&str] = &["/usr/", "/bin/", "/sbin/", "/lib", "/etc/", "/opt/"];

/// Bytes left for the rest of a profile.
pub struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget { left: limit, limit }
    }

    fn take(&mut self, n: u64) -> Result<(), ProfileError> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(ProfileError::TooLarge { limit: self.limit })?;
        Ok(())
    }
}

/// One host file as a home file at `dest`.
pub fn file_at(host: &Path, dest: String, budget: &mut Budget) -> Result<HomeFile, ProfileError> {
    let data = file::read_bytes(host, MAX_PROFILE_FILE).map_err(|e| ProfileError::Read {
        path: host.to_path_buf(),
        why: e.to_string(),
    })?;
    budget.take(data.len() as u64)?;
    let executable = std::fs::metadata(host)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    Ok(HomeFile {
        path: dest,
        data,
        executable,
    })
}

/// Every regular file under the host folder `dir`, as home files under `dest` (links and other
/// special files are left out: a link could point anywhere on the host).
pub fn folder_at(
    dir: &Path,
    dest: &str,
    budget: &mut Budget,
) -> Result<Vec<HomeFile>, ProfileError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), dest.to_string(), 0usize)];
    while let Some((host, at, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&host).map_err(|e| ProfileError::Read {
            path: host.clone(),
            why: e.to_string(),
        })?;
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(ft) = entry.file_type() else { continue };
            let path = entry.path();
            let dest = format!("{at}/{name}");
            if ft.is_dir() && depth < MAX_DEPTH && name != ".git" {
                stack.push((path, dest, depth + 1));
            } else if ft.is_file() {
                out.push(file_at(&path, dest, budget)?);
            }
        }
    }
    Ok(out)
}

/// The Markdown files a profile's `commands` or `agents` entry names: the file itself, or every
/// `.md` under the folder, with the name the agent gives each (sub-folders joined with `:`).
pub fn markdown_files(path: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_file() {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        return Ok(vec![(path.to_path_buf(), stem.unwrap_or_default())]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(path.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let Ok(ft) = entry.file_type() else { continue };
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if ft.is_dir() && depth < MAX_DEPTH {
                stack.push((p, format!("{prefix}{name}:"), depth + 1));
            } else if ft.is_file()
                && let Some(stem) = name.strip_suffix(".md")
            {
                out.push((p, format!("{prefix}{stem}")));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err("no .md files in this folder".into());
    }
    Ok(out)
}

/// The MCP servers as the agent gets them: a local server's own files (an absolute path to a host
/// file among its command and arguments, outside the system folders a sandbox sees anyway) are
/// copied under [`MCP_DIR`] and the path rewritten to the copy.
pub fn mcp_files(
    servers: &BTreeMap<String, Value>,
    home: &str,
    budget: &mut Budget,
) -> Result<(BTreeMap<String, Value>, Option<HomeTree>), ProfileError> {
    let mut files = Vec::new();
    let mut out = BTreeMap::new();
    for (name, server) in servers {
        let mut server = server.clone();
        let mut rewrite = |v: &mut Value| -> Result<(), ProfileError> {
            let Some(s) = v.as_str() else { return Ok(()) };
            let p = Path::new(s);
            let copy = p.is_absolute()
                && !SYSTEM_PREFIXES.iter().any(|pre| s.starts_with(pre))
                && p.is_file();
            if copy {
                let base = p.file_name().map(|n| n.to_string_lossy().into_owned());
                let dest = format!("{MCP_DIR}/{}/{}", safe_name(name), base.unwrap_or_default());
                files.push(file_at(p, dest.clone(), budget)?);
                *v = Value::String(format!("{home}/{dest}"));
            }
            Ok(())
        };
        if let Some(c) = server.get_mut("command") {
            rewrite(c)?;
        }
        if let Some(args) = server.get_mut("args").and_then(Value::as_array_mut) {
            for a in args {
                rewrite(a)?;
            }
        }
        out.insert(name.clone(), server);
    }
    let tree = (!files.is_empty()).then(|| HomeTree {
        root: MCP_DIR.to_string(),
        files,
    });
    Ok((out, tree))
}

/// An entry's name (`demo:greet`, `rules/lang/rust.md`), its parts split at `sep`, as a
/// relative path of safe names.
pub fn safe_path(name: &str, sep: char) -> String {
    name.split(sep).map(safe_name).collect::<Vec<_>>().join("/")
}

/// A name usable as one path component.
pub fn safe_name(name: &str) -> String {
    let s = names::segment_chars(name);
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "_".into()
    } else {
        s
    }
}

/// `files` with one file per path: the last given wins (a profile's own rules file over the
/// user's of the same name, as the profile lists it after).
pub fn last_of_each_path(files: Vec<HomeFile>) -> Vec<HomeFile> {
    let mut by_path: BTreeMap<String, HomeFile> = BTreeMap::new();
    for f in files {
        by_path.insert(f.path.clone(), f);
    }
    by_path.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_two_files_for_one_path_the_later_is_kept() {
        let f = |path: &str, data: &str| HomeFile {
            path: path.into(),
            data: data.into(),
            executable: false,
        };
        let kept = last_of_each_path(vec![
            f(".claude/rules/style.md", "the user's"),
            f(".claude/rules/go.md", "go"),
            f(".claude/rules/style.md", "the profile's"),
        ]);
        let kept: Vec<(&str, &[u8])> = kept
            .iter()
            .map(|f| (f.path.as_str(), f.data.as_slice()))
            .collect();
        assert_eq!(
            kept,
            vec![
                (".claude/rules/go.md", &b"go"[..]),
                (".claude/rules/style.md", &b"the profile's"[..]),
            ]
        );
    }
}
