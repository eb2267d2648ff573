//! The transcript commands on input no agent should write but anyone can: counts too large to
//! add, escape sequences in text and in file names, paths that are not files. Run through the
//! real binary; each must end with a clear word and its exit status, never a panic.

mod fixtures;

use std::path::Path;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `aisys transcript SUBCOMMAND ARGS` with no Claude Code home to fall back on.
fn transcript(subcommand: &str, args: &[&str]) -> Output {
    fixtures::transcript_in(Path::new("/nonexistent"), subcommand, args)
}

fn write_lines(path: &Path, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// A Claude Code transcript whose one answer reports `tokens` input and output tokens.
fn claude_transcript(path: &Path, tokens: u64) {
    use serde_json::json;
    write_lines(
        path,
        &[
            json!({"type": "user", "uuid": "u1", "parentUuid": null, "sessionId": "s1",
                   "timestamp": "2026-12-02T04:08:21Z", "message": {"role": "user", "content": "hi"}}),
            json!({"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": "s1",
                   "timestamp": "2026-12-02T04:08:22Z",
                   "message": {"id": "m1", "role": "assistant", "model": "claude-sonnet-4-5",
                               "content": [{"type": "text", "text": "hello"}],
                               "usage": {"input_tokens": tokens, "output_tokens": tokens}}}),
        ],
    );
}

#[test]
fn token_counts_too_large_to_add_are_shown_at_the_most_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let claude = dir.path().join("claude.jsonl");
    claude_transcript(&claude, 1 << 63);
    // OpenCode counts thinking as output: u64::MAX output and 1 reasoning token.
    let opencode = dir.path().join("opencode.jsonl");
    write_lines(
        &opencode,
        &[
            serde_json::json!({"type": "step_finish", "timestamp": 1796184514187u64,
            "sessionID": "ses_1", "part": {"id": "p1", "messageID": "msg_1", "sessionID": "ses_1",
            "type": "step-finish", "reason": "stop", "cost": 0,
            "tokens": {"input": 1, "output": u64::MAX, "reasoning": 1,
                       "cache": {"read": 0, "write": 0}}}}),
        ],
    );
    for file in [&claude, &opencode] {
        let f = file.to_str().unwrap();
        for format in ["text", "jsonl", "json", "markdown", "html"] {
            let o = transcript("parse", &[f, "--format", format]);
            assert_eq!(o.status.code(), Some(0), "{f} {format}: {}", stderr(&o));
        }
        let pages = dir.path().join("pages/");
        let o = transcript("parse", &[f, "-o", pages.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{f} -o DIR: {}", stderr(&o));
        let o = transcript("stats", &[f, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{f} stats: {}", stderr(&o));
    }
    let md = transcript("parse", &[claude.to_str().unwrap(), "--format", "md"]);
    assert!(
        stdout(&md).contains("9223372036854775808 in, 9223372036854775808 out"),
        "{}",
        stdout(&md)
    );
    let md = transcript("parse", &[opencode.to_str().unwrap(), "--format", "md"]);
    assert!(
        stdout(&md).contains(&format!("1 in, {} out", u64::MAX)),
        "{}",
        stdout(&md)
    );
}

/// Terminal control sequences anyone may write into a transcript: a clipboard write (OSC 52),
/// a window title, a screen erase, a colour.
const CLIPBOARD: &str = "\x1b]52;c;QQ==\x07";
const TITLE: &str = "\x1b]0;pwned\x07";
const ERASE: &str = "\x1b[2J";
const RED: &str = "\x1b[31m";

/// Whether `bytes` hold anything a terminal would act on: ESC, BEL or a C1 CSI.
fn has_controls(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains(['\x1b', '\x07', '\u{9b}'])
}

#[test]
fn escape_sequences_in_titles_prompts_and_models_never_reach_a_table() {
    use serde_json::json;
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("projects/-home-u-lab");
    std::fs::create_dir_all(&project).unwrap();
    write_lines(
        &project.join("s1.jsonl"),
        &[
            json!({"type": "user", "uuid": "u1", "parentUuid": null, "sessionId": "s1",
                   "cwd": "/home/u/lab", "timestamp": "2026-12-02T04:08:21Z",
                   "message": {"role": "user", "content": format!("hi {CLIPBOARD}there{ERASE}")}}),
            json!({"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": "s1",
                   "timestamp": "2026-12-02T04:08:22Z",
                   "message": {"id": "m1", "role": "assistant", "model": format!("claude{RED}-x"),
                               "content": [{"type": "text", "text": "hello"}],
                               "usage": {"input_tokens": 1, "output_tokens": 2}}}),
            json!({"type": "custom-title", "customTitle": format!("Plan {TITLE}B"), "sessionId": "s1"}),
        ],
    );
    let h = home.path();
    for (subcommand, args) in [
        ("list", &[][..]),
        ("stats", &[][..]),
        ("stats", &["--by", "model"][..]),
        ("stats", &["--by", "project"][..]),
    ] {
        let o = fixtures::transcript_in(h, subcommand, args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{subcommand} {args:?}: {}",
            stderr(&o)
        );
        assert!(
            !has_controls(&o.stdout),
            "{subcommand} {args:?}: {:?}",
            stdout(&o)
        );
        assert!(
            !has_controls(&o.stderr),
            "{subcommand} {args:?}: {:?}",
            stderr(&o)
        );
    }
    // The text is there without its sequences.
    let o = fixtures::transcript_in(h, "stats", &["--by", "model"]);
    assert!(stdout(&o).contains("claude-x"), "{}", stdout(&o));
    let o = fixtures::transcript_in(h, "list", &[]);
    assert!(stdout(&o).contains("hi there"), "{}", stdout(&o));
    // Machine formats keep the text as written, as their docs say.
    let o = fixtures::transcript_in(h, "list", &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["sessions"][0]["first_prompt"],
        format!("hi {CLIPBOARD}there{ERASE}")
    );
    let o = fixtures::transcript_in(h, "stats", &["--by", "model", "--format", "csv"]);
    assert!(
        stdout(&o).contains(&format!("claude{RED}-x")),
        "{:?}",
        stdout(&o)
    );
}

#[test]
fn escape_sequences_in_file_names_never_reach_an_error_or_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // A file that is not there: the error names it without its sequences.
    let missing = dir.path().join(format!("nope{CLIPBOARD}.jsonl"));
    let o = transcript("parse", &[missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!has_controls(&o.stderr), "{:?}", stderr(&o));
    assert!(stderr(&o).contains("nope.jsonl"), "{}", stderr(&o));
    // A bad line of a file so named, in every command that reports bad lines.
    let bad = dir.path().join(format!("bad{TITLE}.jsonl"));
    std::fs::write(&bad, format!("{{not json {ERASE}\n")).unwrap();
    let b = bad.to_str().unwrap();
    for (subcommand, args) in [
        ("parse", vec![b, "--format", "text"]),
        (
            "parse",
            vec![b, "-o", dir.path().join("pages/").to_str().unwrap()],
        ),
        ("stats", vec![b]),
    ] {
        let o = transcript(subcommand, &args);
        assert_eq!(o.status.code(), Some(3), "{subcommand}: {}", stderr(&o));
        assert!(!has_controls(&o.stderr), "{subcommand}: {:?}", stderr(&o));
        assert!(
            stderr(&o).contains("bad.jsonl:1:"),
            "{subcommand}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_path_that_is_not_a_file_is_named_as_such_and_passed_over_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stream.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    for (path, kind) in [
        (fifo.to_str().unwrap(), "a FIFO"),
        ("/dev/null", "a character device"),
    ] {
        for subcommand in ["parse", "stats"] {
            let o = transcript(subcommand, &[path]);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{subcommand} {path}: {}",
                stderr(&o)
            );
            let e = stderr(&o);
            assert!(
                e.contains(&format!("{path}: not a regular file ({kind})")),
                "{e}"
            );
            assert!(
                e.contains("fix: give a transcript file or folder; to read a stream, give `-`"),
                "{e}"
            );
            assert!(!e.contains("no such file"), "{e}");
        }
    }
    // In a folder, the FIFO is not opened (it would block forever): the transcript beside it is read.
    claude_transcript(&dir.path().join("real.jsonl"), 5);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse", "--format", "jsonl"])
        .arg(dir.path())
        .env("CLAUDE_CONFIG_DIR", "/nonexistent")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("a FIFO in a folder was opened and blocked the reader");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("hello"), "{}", stdout(&o));
}
