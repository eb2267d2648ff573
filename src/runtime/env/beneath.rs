//! Host-side file access beneath a folder the agent can change (its workspace, its home, a
//! workspace synced back from Modal), never following a symbolic link.
//!
//! aisys runs with the user's permissions, the agent does not: a link the agent plants (say
//! `~/.config/opencode/opencode.json -> /home/user/.bashrc`) must not turn aisys's next write
//! into a write outside. So every path is walked from the trusted root one component at a time
//! with `openat(O_NOFOLLOW | O_DIRECTORY)`; a folder on the way that is a link is refused, and a
//! file is written to a fresh temporary name in the checked folder and renamed over the last
//! component, which replaces a link (or a hard link) there instead of writing through it.
//!
//! Must not be used for paths the agent cannot change: those follow links as the user expects.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of a file aisys creates in an agent's folder when none was there (before the umask).
const NEW_FILE_MODE: u32 = 0o644;
/// Mode of a folder aisys creates in an agent's folder (before the umask).
const NEW_DIR_MODE: u32 = 0o755;

/// What is at a path, looked at without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    Other,
}

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a path component contains a NUL byte",
        )
    })
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The refusal for a link (or non-folder) met on the way, naming it.
fn link_refused(root: &Path, upto: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link or not a folder, and aisys does not follow links in a sandbox's folders\n  fix: remove it (rm {0})",
            root.join(upto).display()
        ),
    )
}

/// The path's components, all of them normal names (no `..`, no root).
fn names(rel: &Path) -> io::Result<Vec<&OsStr>> {
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} leaves its folder", rel.display()),
                ));
            }
        }
    }
    Ok(out)
}

fn open_root(root: &Path) -> io::Result<OwnedFd> {
    let c = cstr(root.as_os_str())?;
    // SAFETY: a valid C string; the returned fd is owned below.
    let fd = check(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the folder `name` in `dir` without following a link, creating it when asked.
fn open_dir_at(dir: &OwnedFd, name: &OsStr, create: bool) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    for _ in 0..2 {
        // SAFETY: a valid fd and C string; the returned fd is owned below.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: `fd` was just opened and nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = io::Error::last_os_error();
        if !(create && err.kind() == io::ErrorKind::NotFound) {
            return Err(err);
        }
        // SAFETY: a valid fd and C string.
        let made = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), NEW_DIR_MODE) };
        if made < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(e);
            }
        }
    }
    Err(io::Error::other(
        "a folder kept disappearing while it was created",
    ))
}

/// Opens the folder holding `rel` (creating missing folders when asked) and returns it with the
/// last component's name. Every folder on the way is opened without following a link.
fn open_parent(root: &Path, rel: &Path, create: bool) -> io::Result<(OwnedFd, OsString)> {
    let names = names(rel)?;
    let Some((last, dirs)) = names.split_last() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an empty path names no file",
        ));
    };
    let mut fd = open_root(root)?;
    let mut upto = PathBuf::new();
    for name in dirs {
        upto.push(name);
        fd = open_dir_at(&fd, name, create).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => link_refused(root, &upto),
            _ => e,
        })?;
    }
    Ok((fd, last.to_os_string()))
}

fn kind_at(dir: &OwnedFd, name: &CString) -> io::Result<Option<(Kind, u32)>> {
    // SAFETY: `st` is plain data fully written by a successful fstatat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd, C string and out-pointer.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::NotFound {
            Ok(None)
        } else {
            Err(e)
        };
    }
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Link,
        _ => Kind::Other,
    };
    Ok(Some((kind, st.st_mode & 0o7777)))
}

/// What is at `root/rel`, without following a link anywhere on the way (`None`: nothing).
pub fn kind(root: &Path, rel: &Path) -> io::Result<Option<Kind>> {
    let (dir, name) = match open_parent(root, rel, false) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(kind_at(&dir, &cstr(&name)?)?.map(|(k, _)| k))
}

/// Writes `root/rel`, creating its folders; `mode` for a new file (an existing file keeps its
/// own). A link at `rel` is replaced, a link on the way is refused: nothing outside is touched.
pub fn write(root: &Path, rel: &Path, data: &[u8], mode: Option<u32>) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (dir, name) = open_parent(root, rel, true)?;
    let target = cstr(&name)?;
    let mode = match kind_at(&dir, &target)? {
        Some((Kind::File, m)) => mode.unwrap_or(m),
        Some((Kind::Dir, _)) => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a folder", root.join(rel).display()),
            ));
        }
        _ => mode.unwrap_or(NEW_FILE_MODE),
    };
    let tmp = cstr(OsStr::new(&format!(
        ".{}.aisys-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )))?;
    // SAFETY: a valid fd and C string; O_EXCL|O_NOFOLLOW: a fresh file, never a planted one.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            tmp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: `fd` was just opened and nothing else owns it.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let written = file
        .write_all(data)
        .and_then(|_| {
            // The umask applied at creation; an existing file's mode is kept exactly.
            // SAFETY: a valid fd.
            check(unsafe { libc::fchmod(file.as_raw_fd(), mode as libc::mode_t) }).map(|_| ())
        })
        .and_then(|_| {
            // SAFETY: a valid fd and C strings, both names in the same checked folder.
            check(unsafe {
                libc::renameat(
                    dir.as_raw_fd(),
                    tmp.as_ptr(),
                    dir.as_raw_fd(),
                    target.as_ptr(),
                )
            })
            .map(|_| ())
        });
    if written.is_err() {
        // SAFETY: a valid fd and C string.
        unsafe { libc::unlinkat(dir.as_raw_fd(), tmp.as_ptr(), 0) };
    }
    written
}

/// Reads the regular file `root/rel`, refusing a link anywhere on the way or at the end (and
/// anything that is not a plain file, such as a FIFO that would block).
pub fn read(root: &Path, rel: &Path) -> io::Result<Vec<u8>> {
    read_capped(root, rel, u64::MAX).map(|(data, _)| data)
}

/// [`read`], but at most `max` bytes; returns them and the file's whole size.
pub fn read_capped(root: &Path, rel: &Path, max: u64) -> io::Result<(Vec<u8>, u64)> {
    let (dir, name) = open_parent(root, rel, false)?;
    let c = cstr(&name)?;
    // SAFETY: a valid fd and C string; O_NONBLOCK so that a FIFO cannot hang the open.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP) => link_refused(root, rel),
            _ => e,
        });
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", root.join(rel).display()),
        ));
    }
    let size = file.metadata()?.len();
    let mut out = Vec::new();
    file.take(max).read_to_end(&mut out)?;
    Ok((out, size))
}

/// Creates the folder `root/rel` and its parents, refusing links on the way.
pub fn create_dir_all(root: &Path, rel: &Path) -> io::Result<()> {
    let (dir, name) = open_parent(root, rel, true)?;
    open_dir_at(&dir, &name, true)
        .map(|_| ())
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => link_refused(root, rel),
            _ => e,
        })
}

/// Creates the symbolic link `root/rel -> target` (the caller checked where it points), with
/// the folders on the way checked like [`write`]'s.
pub fn symlink(root: &Path, rel: &Path, target: &Path) -> io::Result<()> {
    let (dir, name) = open_parent(root, rel, true)?;
    let (t, n) = (cstr(target.as_os_str())?, cstr(&name)?);
    // SAFETY: a valid fd and C strings.
    check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink as ln};

    #[test]
    fn a_planted_link_is_replaced_and_its_target_untouched() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "host file").unwrap();
        std::fs::create_dir_all(root.path().join(".config/opencode")).unwrap();
        let cfg = root.path().join(".config/opencode/opencode.json");
        ln(&victim, &cfg).unwrap();

        write(
            root.path(),
            Path::new(".config/opencode/opencode.json"),
            b"{}",
            None,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host file");
        assert!(std::fs::symlink_metadata(&cfg).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "{}");
    }

    #[test]
    fn a_linked_folder_on_the_way_is_refused_for_writes_and_reads() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host secret").unwrap();
        ln(outside.path(), root.path().join(".config")).unwrap();

        let err = write(root.path(), Path::new(".config/secret"), b"x", None).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "host secret"
        );
        let err = read(root.path(), Path::new(".config/secret")).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        ln(outside.path().join("secret"), root.path().join("direct")).unwrap();
        assert!(read(root.path(), Path::new("direct")).is_err());
        assert!(create_dir_all(root.path(), Path::new(".config/sub")).is_err());
        assert_eq!(
            kind(root.path(), Path::new(".config")).unwrap(),
            Some(Kind::Link)
        );
    }

    #[test]
    fn an_existing_files_mode_is_kept_and_folders_are_made() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("a/b/run.sh");
        write(root.path(), Path::new("a/b/run.sh"), b"1", Some(0o755)).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o755
        );
        write(root.path(), Path::new("a/b/run.sh"), b"2", None).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(read(root.path(), Path::new("a/b/run.sh")).unwrap(), b"2");
        assert!(write(root.path(), Path::new("../x"), b"", None).is_err());
        assert!(write(root.path(), Path::new("a"), b"", None).is_err());
    }
}
