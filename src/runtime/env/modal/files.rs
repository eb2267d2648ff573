//! A Modal sandbox's workspace as a reader browses it while the sandbox runs: the listing of
//! [`watch`](super::watch) and one file read inside the sandbox, where the agent's changes are
//! (the host folder holds what was uploaded).
//!
//! The read refuses a link anywhere on the path, as the host-side reader does: the shell checks
//! that the path resolves to itself. The agent could swap a folder for a link between that check
//! and the read, but all it could show that way is a file of its own sandbox, which it can copy
//! into the workspace anyway.
//!
//! Must not write anything.

use std::io;

use super::{EnvError, ModalSandbox};

/// Reads the file `$3` below the workspace `$2`, at most `$1` bytes, after printing its size and
/// a newline; exits with [`NOT_FOUND`], [`LINK`] or [`NOT_A_FILE`] instead.
const READ_SCRIPT: &str = r#"w=$(realpath -e -- "$2") || exit 10
p=$(realpath -e -- "$2/$3") || exit 10
[ "$p" = "$w/$3" ] || exit 11
[ -f "$p" ] || exit 12
stat -c %s -- "$p" && head -c "$1" -- "$p""#;
const NOT_FOUND: i32 = 10;
const LINK: i32 = 11;
const NOT_A_FILE: i32 = 12;
/// What the script prints before the file: its size, up to 20 digits, and a newline.
const SIZE_LINE_MAX: u64 = 21;

impl ModalSandbox {
    /// Up to `max` bytes of the workspace file `rel` and its whole size.
    pub(super) async fn read_in_workspace(
        &self,
        rel: &str,
        max: u64,
    ) -> Result<(Vec<u8>, u64), EnvError> {
        let max_arg = max.to_string();
        let argv = [
            "sh",
            "-c",
            READ_SCRIPT,
            "sh",
            &max_arg,
            &self.config.workdir,
            rel,
        ];
        let (code, out, err) = self.run(&argv, None, max + SIZE_LINE_MAX).await?;
        let refused = |kind: io::ErrorKind, why: &str| EnvError::File {
            path: rel.to_string(),
            source: io::Error::new(kind, why.to_string()),
        };
        match code {
            Some(0) => {}
            Some(NOT_FOUND) => return Err(refused(io::ErrorKind::NotFound, "no such file")),
            Some(LINK) => {
                return Err(refused(
                    io::ErrorKind::InvalidInput,
                    "a link is on the path: links in the workspace are not followed",
                ));
            }
            Some(NOT_A_FILE) => {
                return Err(refused(io::ErrorKind::InvalidInput, "not a regular file"));
            }
            _ => {
                return Err(EnvError::Backend(format!(
                    "reading {rel} in Modal sandbox {}: {}",
                    self.id,
                    String::from_utf8_lossy(&err).trim()
                )));
            }
        }
        let malformed = || {
            EnvError::Backend(format!(
                "reading {rel} in Modal sandbox {}: the size line is missing",
                self.id
            ))
        };
        let newline = out.iter().position(|b| *b == b'\n').ok_or_else(malformed)?;
        let size = std::str::from_utf8(&out[..newline])
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(malformed)?;
        Ok((out[newline + 1..].to_vec(), size))
    }
}
