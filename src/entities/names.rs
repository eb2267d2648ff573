//! Names and paths from outside (a command line, a marketplace.json, a plugin.json) checked before
//! they become paths: a plugin or marketplace name is one plain path segment, a relative path
//! stays inside its root, and no symlink in a plugin leads out of it. Any other name that becomes
//! a path segment is made plain here too (`segment_chars`).
//!
//! Only checks and cleans names; must not create or change files.

use std::path::{Component, Path, PathBuf};

/// Longest plugin or marketplace name accepted (it becomes a folder name; 255 bytes is the usual
/// file-name limit, and names this long are mistakes).
pub const MAX_NAME_LEN: usize = 128;

/// Whether `c` may stand in a plain segment: an ASCII letter or digit, `-`, `_` or `.`.
pub fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// `name` with each character a plain segment may not hold replaced by `_`; what an empty
/// result, or one starting with `.`, becomes is the caller's choice.
pub fn segment_chars(name: &str) -> String {
    name.chars()
        .map(|c| if is_segment_char(c) { c } else { '_' })
        .collect()
}

/// Checks a plugin or marketplace name: it becomes a folder under `plugins/cache/` or
/// `plugins/marketplaces/`, so it must be one plain segment.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "{what} name `{name}` {why}; use letters, digits, `-`, `_` and `.` only (e.g. `my-plugin`)"
        ))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad(&format!("is longer than {MAX_NAME_LEN} characters"));
    }
    if name.contains('/') || name.contains('\\') {
        return bad("contains a path separator");
    }
    if name == "." || name == ".." || name.starts_with('.') {
        return bad("starts with `.`");
    }
    if !name.chars().all(is_segment_char) {
        return bad("contains characters other than letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

/// Resolves `rel` (as written in a manifest, e.g. `./plugins/demo`) under `root`, refusing
/// absolute paths, `..`, and symlinks that lead out of `root`.
pub fn inside(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return Err(format!(
            "path `{rel}` is absolute; write it relative to {}, e.g. `./{}`",
            root.display(),
            p.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        ));
    }
    let mut out = root.to_path_buf();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                return Err(format!(
                    "path `{rel}` goes up with `..`, out of {}; keep it inside",
                    root.display()
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("path `{rel}` is absolute; write it relative"));
            }
        }
    }
    if out.exists() {
        let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let real = out
            .canonicalize()
            .map_err(|e| format!("path `{rel}`: {e}"))?;
        if !real.starts_with(&real_root) {
            return Err(format!(
                "path `{rel}` is a symlink to {}, outside {}; refusing to follow it",
                real.display(),
                root.display()
            ));
        }
    }
    Ok(out)
}

/// Every symlink under `root` that points outside it (or nowhere), as `link -> target`.
pub fn escaping_symlinks(root: &Path) -> Vec<String> {
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                let target = std::fs::read_link(&p).unwrap_or_default();
                match p.canonicalize() {
                    Ok(real) if real.starts_with(&real_root) => {}
                    _ => out.push(format!("{} -> {}", p.display(), target.display())),
                }
            } else if ft.is_dir() && p.file_name().is_none_or(|n| n != ".git") {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("plugin", "demo-1.x_y").is_ok());
        for bad in ["", "a/b", "..", ".hidden", "/abs", "a b", "a\\b"] {
            assert!(check_name("plugin", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(inside(d.path(), "./a/b").unwrap(), d.path().join("a/b"));
        assert!(inside(d.path(), "../x").unwrap_err().contains(".."));
        assert!(inside(d.path(), "/etc").unwrap_err().contains("absolute"));
        std::os::unix::fs::symlink("/etc", d.path().join("l")).unwrap();
        assert!(inside(d.path(), "l").unwrap_err().contains("symlink"));
        assert_eq!(escaping_symlinks(d.path()).len(), 1);
    }
}
