//! The command-line frame, run through the real binary: help, exit codes, config errors.

use std::process::{Command, Output};

fn aisys(args: &[&str], config_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(args)
        .env("AISYS_CONFIG_DIR", config_dir)
        .env("AISYS_DATA_DIR", config_dir.join("data"))
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_of_every_command_reads_well() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["chat", "--help"],
        vec!["run", "--help"],
        vec!["transcript", "parse", "--help"],
        vec!["transcript", "stats", "--help"],
        vec!["transcript", "list", "--help"],
        vec!["entities", "list", "--help"],
        vec!["entities", "marketplace", "add", "--help"],
        vec!["agents", "install", "--help"],
        vec!["completions", "--help"],
    ] {
        let out = aisys(&args, dir.path());
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Usage: aisys"), "{args:?}: {help}");
        assert!(
            help.contains("Examples:"),
            "{args:?} has no example: {help}"
        );
        // The flags every command takes are listed apart, after the command's own.
        let own = help.find("\nOptions:\n").expect("an options section");
        let global = help
            .find("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("{args:?}: no global options section: {help}"));
        assert!(own < global, "{args:?}: {help}");
        for flag in ["--verbose", "--quiet", "--color <WHEN>", "--config <FILE>"] {
            let at = help.find(flag).unwrap();
            assert!(
                at > global,
                "{args:?}: {flag} is not with the global options"
            );
        }
    }
    let top = text(&aisys(&["--help"], dir.path()).stdout);
    for line in [
        "Exit status:",
        "124",
        "130",
        "NO_COLOR",
        "CLAUDE_CONFIG_DIR",
    ] {
        assert!(top.contains(line), "top-level help lacks {line}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = aisys(&["run", "--agent", "gpt"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("claude-code"),
        "names the valid values"
    );
    let out = aisys(&["frobnicate"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_config_file_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "agent = \"claude-code\"\n[server]\nmax_sesions = 3\n").unwrap();
    let out = aisys(&["chat"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:3:1: key `max_sesions`", cfg.display())),
        "{err}"
    );
    assert!(err.contains("unknown field"), "{err}");

    // --config names a file that must exist.
    let out = aisys(&["--config", "/nonexistent/a.toml", "chat"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/a.toml"));
}

#[test]
fn completions_are_printed_for_every_shell() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef aisys"),
        ("fish", "complete -c aisys"),
        ("elvish", "edit:completion"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = aisys(&["completions", shell], dir.path());
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(
            script.contains("transcript"),
            "{shell} completes subcommands"
        );
    }
}

#[test]
fn command_tree_is_consistent() {
    aisys::cli::command().debug_assert();
}

#[test]
fn a_malformed_server_url_is_said_to_be_one_with_the_expected_form() {
    let dir = tempfile::tempdir().unwrap();
    for (url, why) in [
        ("notaurl", "it does not start with ws:// or wss://"),
        ("http://127.0.0.1:7777/ws", "its scheme is http"),
    ] {
        let out = aisys(&["chat", "--server", url], dir.path());
        assert_eq!(out.status.code(), Some(2), "{url}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("--server {url}: not a WebSocket URL ({why}")),
            "{err}"
        );
        assert!(err.contains("fix: give it as ws://HOST:PORT/ws"), "{err}");
        assert!(!err.contains("aisys serve"), "{err}");
    }
    // The config file's, named by its file.
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[server]\nurl = \"localhost:7777\"\n").unwrap();
    let err = text(&aisys(&["chat"], dir.path()).stderr);
    assert!(
        err.contains(&format!(
            "in {}: localhost:7777: not a WebSocket URL",
            cfg.display()
        )),
        "{err}"
    );
}
