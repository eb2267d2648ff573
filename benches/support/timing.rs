//! Timing one command run for the benches that compare whole runs: its wall time from spawn to
//! exit, with what it is given on stdin, checked to have succeeded and answered.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The stdin aisys gives Claude Code: the control protocol's initialize, then the prompt.
pub const CLAUDE_STDIN: &str = concat!(
    r#"{"type":"control_request","request_id":"aisys_init","request":{"subtype":"initialize","hooks":null}}"#,
    "\n",
    r#"{"type":"user","session_id":"","message":{"role":"user","content":"say something"},"parent_tool_use_id":null}"#,
    "\n"
);

/// Runs `cmd` to its end, feeding it `stdin`; fails unless it succeeded and its stdout holds
/// `answer`.
pub fn timed(cmd: &mut Command, stdin: Option<&str>, answer: &str) -> Duration {
    use std::io::Write;
    let t = Instant::now();
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(answer),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

/// The `p`th percentile of `v`.
pub fn pct(v: &[Duration], p: usize) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[(v.len() - 1) * p / 100]
}
