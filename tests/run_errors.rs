//! `aisys run`'s clear errors before any agent starts: no credentials, no agent binary, no
//! bubblewrap, bad flags. Each names the problem and the fix, with its documented exit status.

use std::process::{Command, Output};

fn aisys(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisys"));
    cmd.arg("run")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", dir.path())
        .env("AISYS_CONFIG_DIR", dir.path().join("cfg"))
        .env("AISYS_DATA_DIR", dir.path().join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn no_credentials_is_a_clear_error_before_any_sandbox() {
    let o = aisys(&["hello", "--agent-bin", "/bin/true"], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("ANTHROPIC_API_KEY"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn a_missing_agent_says_how_to_install_it() {
    let o = aisys(
        &["hello"],
        &[("ANTHROPIC_API_KEY", "k"), ("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("claude-code is not installed"), "{e}");
    assert!(e.contains("aisys agents install claude-code"), "{e}");
    let o = aisys(
        &["hello", "--agent-bin", "/nonexistent/claude"],
        &[("ANTHROPIC_API_KEY", "k")],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("/nonexistent/claude"), "{}", stderr(&o));
}

#[test]
fn a_missing_bwrap_says_how_to_install_it() {
    // A PATH with the tools the check needs but no bwrap.
    let dir = tempfile::tempdir().unwrap();
    let o = aisys(
        &["hello", "--agent-bin", "/bin/true"],
        &[
            ("ANTHROPIC_API_KEY", "k"),
            ("PATH", dir.path().to_str().unwrap()),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("apt-get install bubblewrap"), "{e}");
    assert!(e.contains("--sandbox host"), "{e}");
}

#[test]
fn bad_flags_are_usage_errors() {
    let o = aisys(&["hi", "--timeout", "5 days"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown unit"), "{}", stderr(&o));
    // 307445734561825861m overflows u64 seconds when multiplied by 60.
    let o = aisys(&["hi", "--timeout", "307445734561825861m"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`307445734561825861m` is too long a duration"),
        "{}",
        stderr(&o)
    );
    let o = aisys(&["hi", "--permission-mode", "yolo"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bypassPermissions"));
    let o = aisys(
        &["hi", "--sync-back", "--agent-bin", "/bin/true"],
        &[("ANTHROPIC_API_KEY", "k")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sandbox modal"), "{}", stderr(&o));
}

#[test]
fn an_unknown_env_key_is_named() {
    let o = aisys(
        &[
            "hi",
            "--env",
            "NOT_SET_ANYWHERE",
            "--agent-bin",
            "/bin/true",
        ],
        &[("ANTHROPIC_API_KEY", "k")],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("--env NOT_SET_ANYWHERE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_given_as_the_workspace_is_said_to_be_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    let below = format!("{f}/sub");
    for (workspace, what) in [
        (f, "it is a file".to_string()),
        (below.as_str(), format!("{f} is a file")),
    ] {
        let o = aisys(
            &["hi", "--workspace", workspace, "--agent-bin", "/bin/true"],
            &[("ANTHROPIC_API_KEY", "k")],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "--workspace {workspace}: {what}, and a folder is needed"
            )),
            "{e}"
        );
        assert!(e.contains("fix: give a folder"), "{e}");
        assert!(!e.contains("os error"), "{e}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}
