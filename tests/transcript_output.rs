//! `aisys transcript parse -o FILE` through the real binary: what the file gets, when it
//! appears, and what is refused before anything is written.

mod fixtures;

use std::path::Path;
use std::process::Output;

use fixtures::fixture;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `aisys transcript parse ARGS` in `dir`, with no Claude Code home to fall back on.
fn parse_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse"])
        .args(args)
        .current_dir(dir)
        .env("CLAUDE_CONFIG_DIR", "/nonexistent")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A folder holding a copy of a recorded transcript as `session.jsonl`.
fn folder_with_transcript() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("claude-code-2.1.197/transcript-tool-run.jsonl"),
        dir.path().join("session.jsonl"),
    )
    .unwrap();
    dir
}

#[test]
fn an_output_that_is_also_an_input_is_refused_and_the_input_kept() {
    let dir = folder_with_transcript();
    let input = dir.path().join("session.jsonl");
    let before = std::fs::read(&input).unwrap();
    std::os::unix::fs::symlink("session.jsonl", dir.path().join("link.jsonl")).unwrap();
    // The same file however it is named: as given, with `./`, by its absolute path, by a link.
    let absolute = input.to_str().unwrap();
    for (inp, out) in [
        ("session.jsonl", "session.jsonl"),
        ("session.jsonl", "./session.jsonl"),
        ("./session.jsonl", absolute),
        ("session.jsonl", "link.jsonl"),
        (".", "session.jsonl"),
    ] {
        let o = parse_in(dir.path(), &[inp, "-o", out]);
        assert_eq!(o.status.code(), Some(2), "{inp} -o {out}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(&format!("-o {out}")), "{e}");
        assert!(e.contains("also an input"), "{e}");
        assert!(e.contains("fix: give -o another file"), "{e}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "{inp} -o {out}");
    }
    let o = parse_in(dir.path(), &["session.jsonl", "-o", "other.jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
