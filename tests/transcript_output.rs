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

/// `aisys transcript parse ARGS` in `dir` under `umask`.
fn parse_with_umask(dir: &Path, umask: &str, args: &[&str]) -> Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask} && exec \"$0\" transcript parse \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_aisys"))
        .args(args)
        .current_dir(dir)
        .env("CLAUDE_CONFIG_DIR", "/nonexistent")
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn the_output_gets_the_mode_a_redirection_would_and_a_link_keeps_pointing_at_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = folder_with_transcript();
    let d = dir.path();
    let parse = |umask: &str, out: &str| {
        let o = parse_with_umask(d, umask, &["session.jsonl", "-o", out]);
        assert!(o.status.success(), "-o {out}: {}", stderr(&o));
    };
    // A new file: 0666 less the umask, as `> FILE` makes it.
    parse("022", "new.md");
    assert_eq!(mode(&d.join("new.md")), 0o644);
    parse("027", "narrow.md");
    assert_eq!(mode(&d.join("narrow.md")), 0o640);
    // An existing file keeps its mode, whatever the umask.
    std::fs::write(d.join("kept.md"), "old").unwrap();
    std::fs::set_permissions(d.join("kept.md"), std::fs::Permissions::from_mode(0o604)).unwrap();
    parse("077", "kept.md");
    assert_eq!(mode(&d.join("kept.md")), 0o604);
    assert!(
        std::fs::read_to_string(d.join("kept.md"))
            .unwrap()
            .starts_with("- **Agent:**")
    );
    // A link: the file it points to gets the output, and the link stays a link.
    std::fs::create_dir(d.join("real")).unwrap();
    std::fs::write(d.join("real/target.md"), "old").unwrap();
    std::os::unix::fs::symlink("real/target.md", d.join("link.md")).unwrap();
    parse("022", "link.md");
    assert!(
        std::fs::symlink_metadata(d.join("link.md"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(d.join("real/target.md"))
            .unwrap()
            .starts_with("- **Agent:**")
    );
    // A link to a file not there yet makes that file, as `>` does.
    std::os::unix::fs::symlink("real/later.md", d.join("dangling.md")).unwrap();
    parse("022", "dangling.md");
    assert!(
        std::fs::symlink_metadata(d.join("dangling.md"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(mode(&d.join("real/later.md")), 0o644);
    // Nothing is left behind in either folder.
    for folder in [d.to_path_buf(), d.join("real")] {
        let left: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".aisys"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // A folder of pages is made as `mkdir` would make it.
    let o = parse_with_umask(d, "022", &["session.jsonl", "-o", "pages/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&d.join("pages")), 0o755);
    assert_eq!(mode(&d.join("pages/index.html")), 0o644);
}

#[test]
fn events_go_only_to_json_lines_and_other_formats_are_refused() {
    let dir = folder_with_transcript();
    let d = dir.path();
    for (args, by) in [
        (&["--events", "-o", "ev.html"][..], "-o ev.html"),
        (&["--events", "--format", "html"][..], "--format html"),
        (
            &["--events", "--format", "md", "-o", "ev.jsonl"][..],
            "--format markdown",
        ),
    ] {
        let o = parse_in(d, &[&["session.jsonl"][..], args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "--events prints StreamEvents as JSON lines, but {by}"
            )),
            "{e}"
        );
        assert!(
            e.contains("fix: leave --format out or give --format jsonl"),
            "{e}"
        );
        assert!(o.stdout.is_empty());
    }
    assert!(!d.join("ev.html").exists() && !d.join("ev.jsonl").exists());
    let o = parse_in(d, &["session.jsonl", "--events", "-o", "ev.jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = std::fs::read_to_string(d.join("ev.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(first["type"].is_string(), "{first}");
}

#[test]
fn bad_lines_leave_the_rest_written_but_strict_leaves_the_file_as_it_was() {
    let dir = folder_with_transcript();
    let d = dir.path();
    let mut text = std::fs::read_to_string(d.join("session.jsonl")).unwrap();
    text.push_str("{not json\n");
    std::fs::write(d.join("bad.jsonl"), text).unwrap();
    let line = std::fs::read_to_string(d.join("bad.jsonl"))
        .unwrap()
        .lines()
        .count();
    // As documented for -o: bad lines are reported, the rest written, and the status is 3.
    let o = parse_in(d, &["bad.jsonl", "-o", "out.md"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("bad.jsonl:{line}:")),
        "{}",
        stderr(&o)
    );
    let written = std::fs::read_to_string(d.join("out.md")).unwrap();
    assert!(
        written.contains("create hello.txt with a greeting"),
        "{written}"
    );
    // With --strict, nothing: an existing file is left as it was.
    std::fs::write(d.join("strict.md"), "before").unwrap();
    let o = parse_in(d, &["bad.jsonl", "--strict", "-o", "strict.md"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("strict.md")).unwrap(),
        "before"
    );
    let o = parse_in(d, &["bad.jsonl", "--strict", "-o", "never.md"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!d.join("never.md").exists());
}
