//! Commands whose reader stops early (`aisys ... | head -c1`, `aisys serve | true`): each ends
//! quietly with status 0, never with a panic or a "Broken pipe" error. Run through the real
//! binary, with its stdout a pipe that is closed after one byte, or before anything is written.

mod fixtures;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest a command may take to notice its reader has gone: serve and docs would run forever.
const END_WAIT: Duration = Duration::from_secs(30);

/// `aisys ARGS` with a home, config and data folder of its own in `dir`.
fn aisys(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisys"));
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("AISYS_CONFIG_DIR", dir.join("config"))
        .env("AISYS_DATA_DIR", dir.join("data"))
        .env("CLAUDE_CONFIG_DIR", dir.join("claude"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` to end, killing it (and failing) if it does not within [`END_WAIT`].
fn ended(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > END_WAIT {
            let _ = child.kill();
            panic!("{what}: still running {END_WAIT:?} after its reader had gone");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_quiet_success(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(!err.contains("Broken pipe"), "{what}: {err}");
}

/// Runs `cmd`, reads one byte of its output and closes the pipe.
fn read_one_byte(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd.spawn().unwrap();
    let mut byte = [0u8; 1];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut byte)
        .unwrap();
    drop(child.stdout.take());
    ended(child, what)
}

/// Runs `cmd` with its stdout closed before it writes anything.
fn stdout_closed(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    ended(child, what)
}

#[test]
fn a_reader_that_takes_one_byte_ends_a_long_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Each output is far longer than a pipe holds, so writing goes on after the reader left.
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = read_one_byte(aisys(d, &["completions", shell]), shell);
        assert_quiet_success(&o, &format!("completions {shell}"));
    }
    let many = d.join("many");
    std::fs::create_dir(&many).unwrap();
    let f = fixtures::fixture("claude-code-2.1.197/transcript-tool-run.jsonl");
    for i in 0..200 {
        std::fs::copy(&f, many.join(format!("s{i}.jsonl"))).unwrap();
    }
    let m = many.to_str().unwrap();
    for args in [
        &["transcript", "parse", m, "--format", "jsonl"][..],
        &["transcript", "parse", m, "--format", "markdown"][..],
        &["transcript", "parse", m, "--events"][..],
    ] {
        let o = read_one_byte(aisys(d, args), &format!("{args:?}"));
        assert_quiet_success(&o, &format!("{args:?}"));
    }
}

#[test]
fn servers_and_short_reports_end_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-agent-install",
            "--sandbox",
            "host",
        ][..],
        &["docs", "--port", "0", "--no-open"][..],
        &["doctor"][..],
        &["doctor", "--format", "json"][..],
        &["agents", "list"][..],
        &["entities", "list"][..],
        &["entities", "mcp", "list", "--format", "json"][..],
        &["completions", "bash"][..],
    ] {
        let o = stdout_closed(aisys(d, args), &format!("{args:?}"));
        assert_quiet_success(&o, &format!("{args:?}"));
    }
}
