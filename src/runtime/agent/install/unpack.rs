//! Unpacking a verified npm tarball (gzip'd tar, every path under one top folder, `package/`)
//! into an empty folder, refusing anything that would land outside it.
//!
//! Paths must be relative with no `..`; only files, folders and symlinks are made; a symlink must
//! stay inside the folder without passing through another symlink (checked before any is made,
//! and symlinks are made last, so no file is ever written through one). Modes keep their
//! permission bits only (no setuid). Must not be given a tarball whose integrity was not checked.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

/// Largest total size of the unpacked files: the biggest agent package (a single ~250 MB
/// binary) fits many times; a tarball that inflates past it is refused as a decompression bomb.
pub const MAX_UNPACKED_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Most entries a tarball may hold: agent packages have a handful.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a tarball was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("{tarball}: entry `{entry}` {why}; refusing to unpack it")]
    Unsafe {
        tarball: String,
        entry: String,
        why: String,
    },
    #[error("{tarball}: not a readable gzip'd tar: {detail}")]
    Corrupt { tarball: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Unpacks `tarball` into `dest` (which must exist and be empty), dropping each path's first
/// component. Returns the number of bytes written.
pub fn unpack(tarball: &Path, dest: &Path) -> Result<u64, UnpackError> {
    let name = tarball.display().to_string();
    let corrupt = |e: std::io::Error| UnpackError::Corrupt {
        tarball: name.clone(),
        detail: e.to_string(),
    };
    let unsafe_entry = |entry: &str, why: String| UnpackError::Unsafe {
        tarball: name.clone(),
        entry: entry.to_string(),
        why,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Io { path, source }
    };
    let file = std::fs::File::open(tarball).map_err(io(tarball))?;
    let mut archive =
        tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut written = 0u64;
    let mut links: Vec<(PathBuf, PathBuf, String)> = Vec::new();
    let mut count = 0usize;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(unsafe_entry(
                "(all)",
                format!("makes the tarball hold more than {MAX_ENTRIES} entries"),
            ));
        }
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let shown = raw.display().to_string();
        let Some(rel) = inner_path(&raw) else {
            return Err(unsafe_entry(
                &shown,
                "is absolute or goes up with `..`".into(),
            ));
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        match entry.header().entry_type() {
            EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(io(&target))?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size().map_err(corrupt)?;
                written += size;
                if written > MAX_UNPACKED_BYTES {
                    return Err(unsafe_entry(
                        &shown,
                        format!("makes the package larger than {MAX_UNPACKED_BYTES} bytes"),
                    ));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777 | 0o600;
                write_file(&mut entry, &target, mode).map_err(io(&target))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| unsafe_entry(&shown, "is a symlink with no target".into()))?
                    .into_owned();
                links.push((rel, link, shown));
            }
            // pax and GNU long-name headers are read by the tar crate itself.
            EntryType::XGlobalHeader | EntryType::XHeader => {}
            other => {
                return Err(unsafe_entry(
                    &shown,
                    format!("is a {other:?} entry; only files, folders and symlinks are unpacked"),
                ));
            }
        }
    }
    let link_paths: BTreeSet<PathBuf> = links.iter().map(|(p, _, _)| p.clone()).collect();
    for (rel, link, shown) in &links {
        check_link(rel, link, &link_paths).map_err(|why| unsafe_entry(shown, why))?;
    }
    for (rel, link, _) in &links {
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::os::unix::fs::symlink(link, &target).map_err(io(&target))?;
    }
    Ok(written)
}

/// The entry's path without its first component, or `None` when it is absolute or has `..`.
fn inner_path(raw: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    let mut first = true;
    for c in raw.components() {
        match c {
            Component::Normal(part) => {
                if first {
                    first = false;
                } else {
                    out.push(part);
                }
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// A symlink at `rel` pointing to `link` must stay inside the root, and must not pass through
/// another symlink on the way (a `x -> .` would make `..` counts lie).
fn check_link(rel: &Path, link: &Path, links: &BTreeSet<PathBuf>) -> Result<(), String> {
    if link.is_absolute() {
        return Err(format!(
            "is a symlink to the absolute path {}",
            link.display()
        ));
    }
    let mut at: Vec<&std::ffi::OsStr> = rel
        .parent()
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let parts: Vec<Component> = link.components().collect();
    for (i, c) in parts.iter().enumerate() {
        match c {
            Component::Normal(s) => {
                at.push(s);
                let so_far: PathBuf = at.iter().collect();
                if i + 1 < parts.len() && links.contains(&so_far) {
                    return Err(format!(
                        "is a symlink to {} through another symlink",
                        link.display()
                    ));
                }
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if at.pop().is_none() {
                    return Err(format!(
                        "is a symlink to {}, outside the package",
                        link.display()
                    ));
                }
            }
            _ => return Err(format!("is a symlink to {}", link.display())),
        }
    }
    Ok(())
}

fn write_file(from: &mut impl Read, to: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(to)?;
    std::io::copy(from, &mut f)?;
    // `mode` at creation is masked by the umask; the package's bits are what it asks for.
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzip'd tar with the given entries: (path, symlink target or None, contents).
    fn tarball(dir: &Path, entries: &[(&str, Option<&str>, &[u8])]) -> PathBuf {
        let path = dir.join("t.tgz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for (name, link, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            match link {
                Some(l) => {
                    h.set_entry_type(EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, name, l).unwrap();
                }
                None => {
                    h.set_size(data.len() as u64);
                    // `append_data` refuses `..`; write the raw name to test what a hostile
                    // tarball can hold.
                    let bytes = name.as_bytes();
                    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
                    h.set_cksum();
                    b.append(&h, *data).unwrap();
                }
            }
        }
        b.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn a_package_unpacks_without_its_top_folder_and_keeps_exec_bits() {
        let dir = tempfile::tempdir().unwrap();
        let t = tarball(
            dir.path(),
            &[
                ("package/bin/tool", None, b"#!/bin/sh\n"),
                ("package/lib", Some("bin"), b""),
            ],
        );
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        unpack(&t, &out).unwrap();
        let meta = std::fs::metadata(out.join("bin/tool")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o755
        );
        assert!(out.join("lib/tool").is_file());
    }

    #[test]
    fn escaping_paths_and_links_are_refused() {
        for entries in [
            &[("package/../../evil", None, &b"x"[..])][..],
            &[("package/l", Some("../../etc"), &b""[..])][..],
            &[("package/l", Some("/etc/passwd"), &b""[..])][..],
            &[
                ("package/x", Some("."), &b""[..]),
                ("package/y", Some("x/x/.."), &b""[..]),
            ][..],
        ] {
            let dir = tempfile::tempdir().unwrap();
            let t = tarball(dir.path(), entries);
            let out = dir.path().join("out");
            std::fs::create_dir(&out).unwrap();
            let err = unpack(&t, &out).unwrap_err();
            assert!(matches!(err, UnpackError::Unsafe { .. }), "{err}");
            assert!(!dir.path().join("evil").exists());
        }
    }
}
