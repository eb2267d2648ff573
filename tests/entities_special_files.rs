//! FIFOs, devices and oversized files where `aisys entities` expects a skill, a manifest or a
//! plugin file, through the real binary: each command finishes (every run has a time limit, so a
//! hang fails the test rather than stalling it), names the file and says why it was skipped or
//! refused, and installs nothing.

mod entities_support;

use std::time::Duration;

use entities_support::*;

/// Far more than any of these commands needs; a command blocked on a FIFO never ends.
const LIMIT: Duration = Duration::from_secs(20);

/// A skill entry of `list --format json` named `name`.
fn skill<'a>(list: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    one(list, "skill", name)
}

#[test]
fn list_shows_a_fifo_skill_as_skipped_with_its_reason() {
    let w = World::new();
    write(
        &w.claude.join("skills/fine/SKILL.md"),
        "---\ndescription: Fine\n---\n",
    );
    let fifo = w.claude.join("skills/pipe/SKILL.md");
    mkfifo(&fifo);

    let out = w.aisys_within(&["entities", "list", "--format", "json"], LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(skill(&list, "fine")["enabled"], true);
    let pipe = skill(&list, "pipe");
    assert_eq!(pipe["enabled"], false);
    assert!(
        pipe["skipped"].as_str().unwrap().contains("FIFO"),
        "{pipe:#}"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}: skipped: not a regular file", fifo.display())),
        "{err}"
    );

    let out = w.aisys_within(&["entities", "list"], LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = table.lines().find(|l| l.contains("pipe")).unwrap_or("");
    assert!(
        row.contains("skipped") && row.contains("not a regular file but a FIFO"),
        "{table}"
    );
    assert!(text(&out.stderr).contains("FIFO"), "{}", text(&out.stderr));

    // --strict fails on it, as on any warning.
    let out = w.aisys_within(&["entities", "list", "--strict"], LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn list_skips_a_skill_linked_to_dev_zero_and_one_over_the_size_limit() {
    let w = World::new();
    let zero = w.claude.join("skills/zero/SKILL.md");
    std::fs::create_dir_all(zero.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    // One byte over 1 MiB, the limit for a Markdown entity file.
    let big = "x".repeat(1024 * 1024 + 1);
    write(&w.claude.join("skills/big/SKILL.md"), &big);

    let out = w.aisys_within(&["entities", "list", "--format", "json"], LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let reason = skill(&list, "zero")["skipped"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("character device"), "{reason}");
    let reason = skill(&list, "big")["skipped"].as_str().unwrap().to_string();
    assert!(
        reason.contains("over the limit of 1048576 bytes"),
        "{reason}"
    );
}

#[test]
fn validate_reports_a_fifo_skill_as_an_error() {
    let w = World::new();
    let dir = w.path().join("pipe-skill");
    let fifo = dir.join("SKILL.md");
    mkfifo(&fifo);
    for target in [&fifo, &dir] {
        let out = w.aisys_within(&["entities", "validate", target.to_str().unwrap()], LIMIT);
        let all = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{all}");
        assert!(
            all.contains(&format!(
                "{}: error: skipped: not a regular file but a FIFO",
                fifo.display()
            )),
            "{all}"
        );
    }

    let out = w.aisys_within(
        &[
            "entities",
            "validate",
            fifo.to_str().unwrap(),
            "--format",
            "json",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 1, "{report:#}");
    let finding = &report["findings"][0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["path"], fifo.display().to_string());
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("skipped: not a regular file but a FIFO"),
        "{finding:#}"
    );

    // In a plugin, next to good files.
    let plugin = w.path().join("plugin");
    write_demo_plugin(&plugin, "demo", Some("1.0.0"));
    mkfifo(&plugin.join("commands/pipe.md"));
    let out = w.aisys_within(&["entities", "validate", plugin.to_str().unwrap()], LIMIT);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(all.contains("pipe.md: error: skipped"), "{all}");
}

#[test]
fn install_refuses_a_plugin_holding_a_fifo_and_names_it() {
    let w = World::new();
    let m = w.path().join("market");
    write_marketplace(&m, "local-market", &[("demo", Some("1.0.0"))]);
    let fifo = m.join("plugins/demo/scripts/pipe");
    mkfifo(&fifo);
    let add = w.aisys_within(
        &["entities", "marketplace", "add", m.to_str().unwrap()],
        LIMIT,
    );
    assert!(add.status.success(), "{}", text(&add.stderr));

    let out = w.aisys_within(&["entities", "install", "demo@local-market"], LIMIT);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "{}: a FIFO (named pipe), not a regular file",
            fifo.display()
        )),
        "{err}"
    );
    assert!(
        !w.claude.join("plugins/installed_plugins.json").exists(),
        "nothing is recorded"
    );
    assert!(
        !w.claude.join("plugins/cache/local-market/demo").exists(),
        "nothing is copied"
    );
}

#[test]
fn marketplace_add_refuses_a_fifo_marketplace_json() {
    let w = World::new();
    let m = w.path().join("market");
    let fifo = m.join(".claude-plugin/marketplace.json");
    mkfifo(&fifo);
    let out = w.aisys_within(
        &["entities", "marketplace", "add", m.to_str().unwrap()],
        LIMIT,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "{}: not a regular file but a FIFO",
            fifo.display()
        )),
        "{err}"
    );
    assert!(
        !w.claude.join("plugins/known_marketplaces.json").exists(),
        "nothing is recorded"
    );
}
