//! `aisys agents list` through the real binary (installs are in `agents_install.rs`).

use std::path::Path;
use std::process::Command;

/// The environment is kept; only aisys's own folders point into the test's.
fn aisys(args: &[&str], data: &Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(args)
        .env_remove("AISYS_CLAUDE_BIN")
        .env_remove("AISYS_OPENCODE_BIN")
        .env("AISYS_DATA_DIR", data)
        .env("AISYS_CONFIG_DIR", data.join("cfg"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn list_shows_each_agent_with_its_version_or_why_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let claude = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-deps/node_modules/@anthropic-ai/claude-code-linux-x64/claude");
    assert!(claude.exists(), "run scripts/install-test-deps");
    let out = aisys(
        &["agents", "list", "--format", "json"],
        dir.path(),
        &[
            ("AISYS_CLAUDE_BIN", claude.to_str().unwrap()),
            ("PATH", "/usr/bin:/bin"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["agent"], "claude-code");
    assert_eq!(rows[0]["version"], "2.1.197");
    assert_eq!(rows[0]["found_by"], "AISYS_CLAUDE_BIN");
    assert_eq!(rows[1]["agent"], "opencode");
    assert!(rows[1]["path"].is_null());
    assert!(
        rows[1]["problem"]
            .as_str()
            .unwrap()
            .contains("aisys agents install opencode")
    );
}
