//! Safe writes of Claude Code's JSON files: a lock against a concurrent aisys, and atomic
//! read-modify-write that keeps every key aisys does not know.
//!
//! A file that is not valid JSON is never overwritten (that would lose what the user wrote); the
//! error names the file and line. Must not decide what to write: callers pass the change.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::frontmatter::json_type;
use super::ordered_json::{Json, Object};
use super::{EntityError, file};

/// How long to wait for another aisys to finish changing the same Claude home before giving up
/// (an install with a clone can take a while; longer than this means a stuck process).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(300);
/// How often to retry a held lock while waiting.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// An exclusive lock on a Claude home's plugin state, released on drop.
#[derive(Debug)]
pub struct HomeLock {
    file: File,
    path: PathBuf,
}

impl Drop for HomeLock {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

impl HomeLock {
    /// Takes the lock at `path` (creating its folder), waiting up to [`LOCK_TIMEOUT`].
    pub fn acquire(path: &Path) -> Result<HomeLock, EntityError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| EntityError::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| EntityError::io(path, e))?;
        let start = Instant::now();
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    return Ok(HomeLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
                Err(fs4::TryLockError::WouldBlock) if start.elapsed() < LOCK_TIMEOUT => {
                    std::thread::sleep(LOCK_POLL)
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(EntityError::Invalid(format!(
                        "another aisys has held {} for {}s; wait for it to finish, or end it",
                        path.display(),
                        LOCK_TIMEOUT.as_secs()
                    )));
                }
                Err(fs4::TryLockError::Error(e)) => return Err(EntityError::io(path, e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads a JSON file of at most `limit` bytes (see [`file`]) for changing it: missing or empty is
/// `default`; invalid, or not a regular file, is an error.
pub fn read_for_update(path: &Path, default: Value, limit: u64) -> Result<Value, EntityError> {
    let text = match file::read_text(path, limit) {
        Ok(t) => t,
        Err(e) if e.is_missing() => return Ok(default),
        Err(source) => {
            return Err(EntityError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(default);
    }
    serde_json::from_str(&text).map_err(|e| EntityError::BadJson {
        path: path.to_path_buf(),
        line: e.line(),
        message: e.to_string(),
    })
}

/// Changes a JSON file in place: read (or `default`), `change`, then write a temporary file in
/// the same folder and rename it over the old one, so a reader sees the old or the new file,
/// never half of one. Unknown keys pass through untouched.
pub fn update_json<T>(
    path: &Path,
    default: Value,
    change: impl FnOnce(&mut Value) -> Result<T, EntityError>,
) -> Result<T, EntityError> {
    let mut doc = read_for_update(path, default, file::MAX_STATE_FILE)?;
    if !doc.is_object() {
        return Err(top_not_object(path));
    }
    let out = change(&mut doc)?;
    write_json(path, &doc)?;
    Ok(out)
}

/// [`update_json`] for a file whose key order is kept (see [`ordered_json`]): `change` gets its
/// top-level object.
pub fn update_ordered<T>(
    path: &Path,
    change: impl FnOnce(&mut Object) -> Result<T, EntityError>,
) -> Result<T, EntityError> {
    let mut doc = read_ordered(path)?;
    let Json::Object(top) = &mut doc else {
        return Err(top_not_object(path));
    };
    let out = change(top)?;
    write_json(path, &doc)?;
    Ok(out)
}

/// The error for a state file whose top is not an object.
pub fn top_not_object(path: &Path) -> EntityError {
    EntityError::Invalid(format!(
        "{}: expected a JSON object at the top; fix or remove the file",
        path.display()
    ))
}

/// A state file read with its key order (missing or empty: an empty object); invalid JSON, or
/// not a regular file, is an error.
pub fn read_ordered(path: &Path) -> Result<Json, EntityError> {
    let text = match file::read_text(path, file::MAX_STATE_FILE) {
        Ok(t) => t,
        Err(e) if e.is_missing() => return Ok(Json::Object(Object::default())),
        Err(source) => {
            return Err(EntityError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok(Json::Object(Object::default()));
    }
    serde_json::from_str(&text).map_err(|e| EntityError::BadJson {
        path: path.to_path_buf(),
        line: e.line(),
        message: e.to_string(),
    })
}

/// Writes a JSON document atomically, pretty and ending in a newline, as Claude Code does.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, doc: &T) -> Result<(), EntityError> {
    let mut text =
        serde_json::to_string_pretty(doc).map_err(|e| EntityError::Invalid(e.to_string()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Writes a file atomically: a temp file in the same folder, fsync, rename. A reader sees the
/// old file or the new one, never a part.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), EntityError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| EntityError::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".aisys-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| EntityError::io(dir, e))?;
    tmp.write_all(data)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| EntityError::io(tmp.path(), e))?;
    // Keep the old file's permissions; a new file gets the usual 0644, as Claude Code's own.
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    std::fs::set_permissions(tmp.path(), mode).map_err(|e| EntityError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| EntityError::io(path, e.error))?;
    Ok(())
}

/// The object at `key` in `doc` (read from `path`), created empty when missing or `null`. A value
/// of another type is refused, not replaced: it is what someone wrote, and replacing it would
/// lose it silently.
pub fn object_at<'a>(
    doc: &'a mut Value,
    key: &str,
    path: &Path,
) -> Result<&'a mut serde_json::Map<String, Value>, EntityError> {
    check_object_at(doc, key, path)?;
    let map = doc
        .as_object_mut()
        .expect("callers check the top is an object");
    let slot = map.entry(key.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Default::default());
    }
    Ok(slot.as_object_mut().expect("checked, or just made"))
}

/// Checks that `key` in `doc` (read from `path`) is an object, absent or `null`, before a change
/// that writes into it: see [`object_at`].
pub fn check_object_at(doc: &Value, key: &str, path: &Path) -> Result<(), EntityError> {
    match doc.get(key) {
        Some(v) if !v.is_object() && !v.is_null() => {
            Err(not_an_object(path, &format!("`{key}`"), v))
        }
        _ => Ok(()),
    }
}

/// The error for a key of `path` (`key` as it should be shown) holding `found`, where an object
/// belongs.
pub fn not_an_object(path: &Path, key: &str, found: &Value) -> EntityError {
    wrong_type(path, key, found, "an object (e.g. {})")
}

/// The error for a key of `path` holding `found` where Claude Code keeps `wanted`: aisys leaves
/// the file as it is, and says so.
pub fn wrong_type(path: &Path, key: &str, found: &Value, wanted: &str) -> EntityError {
    EntityError::Invalid(format!(
        "{}: {key} is {}, but Claude Code keeps {wanted} there; fix the file, or remove the \
         key, then try again (aisys does not overwrite it)",
        path.display(),
        json_type(found)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_unknown_keys_and_refuses_bad_json() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("settings.json");
        std::fs::write(&f, r#"{"theme": "dark", "enabledPlugins": {"a@b": true}}"#).unwrap();
        update_json(&f, json!({}), |doc| {
            object_at(doc, "enabledPlugins", &f)?.insert("c@d".into(), true.into());
            Ok(())
        })
        .unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["enabledPlugins"], json!({"a@b": true, "c@d": true}));

        std::fs::write(&f, r#"{"enabledPlugins": 7}"#).unwrap();
        let e = update_json(&f, json!({}), |doc| {
            object_at(doc, "enabledPlugins", &f)?.insert("c@d".into(), true.into());
            Ok(())
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("`enabledPlugins` is a number"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            r#"{"enabledPlugins": 7}"#
        );

        std::fs::write(&f, "{\n oops").unwrap();
        let e = update_json(&f, json!({}), |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains(":2:"), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "{\n oops");
    }

    #[test]
    fn lock_is_exclusive() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x/.lock");
        let l = HomeLock::acquire(&p).unwrap();
        let f = File::open(&p).unwrap();
        assert!(fs4::FileExt::try_lock(&f).is_err());
        drop(l);
        assert!(fs4::FileExt::try_lock(&f).is_ok());
    }
}
