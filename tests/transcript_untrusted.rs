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
