//! The one way `entities` reads a file: a regular file only, within a size limit, so that a FIFO,
//! a device or a huge file put in a Claude home, a project or a plugin cannot hang aisys or
//! exhaust its memory. Everything in `entities` that reads a file's content goes through here.
//!
//! Reads only; must not write, and must not open anything but a regular file (a device is
//! refused before it is opened: opening some devices has side effects).

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest skill, command or agent file, and plugin or marketplace JSON file, read: these are
/// prompt text and small manifests (Claude Code puts a skill's text into the model's context, and
/// 1 MiB is about 250,000 tokens, more than a context window holds), so a larger one is a mistake.
pub const MAX_ENTITY_FILE: u64 = 1024 * 1024;

/// Largest of Claude Code's own state files read (`~/.claude.json`, settings, the plugin and
/// marketplace records): `~/.claude.json` keeps every project's history and grows to several MB
/// on a machine used for long.
pub const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A FIFO, device, socket or folder: reading it could block forever or never end.
    #[error(
        "not a regular file but {0}; aisys reads only regular files: replace it with a file or remove it"
    )]
    NotRegular(&'static str),
    #[error("{size} bytes, over the limit of {limit} bytes for this file; shorten it or remove it")]
    TooLarge { size: u64, limit: u64 },
    /// Read whole, but its bytes are not text.
    #[error("not UTF-8 text ({0}); save it as UTF-8")]
    NotUtf8(std::string::FromUtf8Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ReadError {
    /// The file (or a folder on its path) does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, ReadError::Io(e) if matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ))
    }

    /// Left unread for what the file is (its type or size), not for a failure to read it.
    pub fn is_skipped(&self) -> bool {
        matches!(self, ReadError::NotRegular(_) | ReadError::TooLarge { .. })
    }

    /// The file is there but is not what it should be (skipped, or not text): bad input, where
    /// the other errors are failures to read.
    pub fn is_bad_content(&self) -> bool {
        self.is_skipped() || matches!(self, ReadError::NotUtf8(_))
    }
}

/// A file type in words, for messages.
pub fn describe(ft: FileType) -> &'static str {
    if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symlink"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a file"
    }
}

/// Opens `path` (following symlinks) for reading when it is a regular file. Checked before
/// opening, so a device is never opened; opened non-blocking, so a FIFO swapped in after the check
/// cannot block the open or a read.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), ReadError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(describe(meta.file_type())));
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    Ok((f, meta))
}

/// Reads a regular text file of at most `limit` bytes (see [`read_bytes`]).
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path, limit)?).map_err(ReadError::NotUtf8)
}

/// Reads a regular file of at most `limit` bytes, in as few system calls as possible: a short
/// read of a regular file is its end. Thousands of files are read per listing.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (mut f, meta) = open_regular(path)?;
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    // One byte more than the size: a file that grew since shows it, and is read on.
    let mut buf = vec![0u8; meta.len() as usize + 1];
    let mut len = 0;
    loop {
        let n = match f.read(&mut buf[len..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        len += n;
        if n == 0 || len < buf.len() {
            break;
        }
        if len as u64 > limit {
            return Err(ReadError::TooLarge {
                size: len as u64,
                limit,
            });
        }
        let grown = (buf.len() * 2).min(limit as usize + 1);
        buf.resize(grown, 0);
    }
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_and_refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.md");
        std::fs::write(&f, "hello").unwrap();
        assert_eq!(read_text(&f, 5).unwrap(), "hello");
        assert!(matches!(
            read_text(&f, 4),
            Err(ReadError::TooLarge { size: 5, limit: 4 })
        ));
        assert!(
            read_text(&dir.path().join("none"), 5)
                .unwrap_err()
                .is_missing()
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "mkfifo (coreutils) is needed"
        );
        let e = read_text(&fifo, 5).unwrap_err();
        assert!(e.is_skipped() && e.to_string().contains("FIFO"), "{e}");
        let e = read_text(Path::new("/dev/zero"), 5).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        assert!(matches!(
            read_text(dir.path(), 5),
            Err(ReadError::NotRegular("a folder"))
        ));
    }
}
