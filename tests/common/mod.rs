//! Helpers every kind of test needs: running a command (on the host, or as a shell script in a
//! sandbox), and reading its output. (The mock model, the harnesses and the worlds of each area have modules of their own.)
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `cmd` to its end and fails the test, naming the command and showing its streams, unless
/// it exited with 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{:?} {:?} exited with {:?}\nstderr: {}\nstdout: {}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        out.status.code(),
        text(&out.stderr),
        text(&out.stdout)
    );
    out
}

/// Runs `cmd` with `stdin` (if any) as its standard input, to its end; returns its output
/// whatever its exit status.
pub fn run_with_stdin(cmd: &mut Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// Runs `sh -c script` in the sandbox, its stdin closed; returns (exit code, stdout, stderr).
pub async fn sh(
    sb: &dyn aisys::runtime::env::Sandbox,
    script: &str,
) -> (Option<i32>, String, String) {
    use tokio::io::AsyncReadExt;
    let mut p = sb
        .exec(aisys::runtime::env::ExecSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    drop(p.stdin.take());
    let (mut out, mut err) = (String::new(), String::new());
    // Both at once: a script that fills one pipe while the other is read would never end.
    let (a, b) = tokio::join!(
        p.stdout.read_to_string(&mut out),
        p.stderr.read_to_string(&mut err)
    );
    a.unwrap();
    b.unwrap();
    (p.control.wait().await.unwrap().code, out, err)
}

/// Bytes a command wrote, as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
