//! `aisys entities marketplace ...`, `install`, `uninstall`, `enable`, `disable` through the real
//! binary: local folders and `file://` git repositories, every refusal with its exit code, the
//! previous state kept on failure, unknown keys kept, and concurrent installs.

mod entities_support;

use entities_support::*;
use serde_json::json;

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn fails(out: &std::process::Output, code: i32, needle: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A folder marketplace `local-market` with plugins `demo` and `other`, added to `w`.
fn folder_market(w: &World) -> std::path::PathBuf {
    let m = w.path().join("market");
    write_marketplace(
        &m,
        "local-market",
        &[("demo", Some("1.0.0")), ("other", Some("0.1.0"))],
    );
    ok(&w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]));
    m
}

/// Asserts the installed plugins' record is still `record` and demo 1.0.0's copy still has its
/// skill.
fn assert_still_installed(w: &World, record: &str) {
    assert_eq!(
        std::fs::read_to_string(w.claude.join("plugins/installed_plugins.json")).unwrap(),
        record
    );
    assert!(
        w.claude
            .join("plugins/cache/local-market/demo/1.0.0/skills/greet/SKILL.md")
            .is_file()
    );
}

#[test]
fn file_url_git_marketplace_install_update_and_remove() {
    let w = World::new();
    let repo = w.path().join("repo");
    write_marketplace(&repo, "git-market", &[("demo", None)]);
    commit_all(&repo);
    let url = format!("file://{}", repo.display());
    let out = w.aisys(&["entities", "marketplace", "add", &url]);
    ok(&out);
    assert!(
        out.stderr.is_empty(),
        "no progress bar when stderr is not a terminal: {}",
        text(&out.stderr)
    );
    // Adding it again refreshes it.
    ok(&w.aisys(&["entities", "marketplace", "add", &url]));
    let clone = w.claude.join("plugins/marketplaces/git-market");
    assert!(clone.join(".claude-plugin/marketplace.json").is_file());
    let known = read_json(&w.claude.join("plugins/known_marketplaces.json"));
    assert_eq!(
        known["git-market"]["source"],
        json!({"source": "git", "url": url})
    );
    assert_eq!(
        known["git-market"]["installLocation"],
        clone.display().to_string()
    );

    ok(&w.aisys(&["entities", "install", "demo@git-market"]));
    let rec = &read_json(&w.claude.join("plugins/installed_plugins.json"))["plugins"]["demo@git-market"]
        [0];
    let first = rec["version"].as_str().unwrap().to_string();
    assert_eq!(first.len(), 12, "unversioned: named by commit");
    assert!(rec["gitCommitSha"].as_str().unwrap().starts_with(&first));

    // A new commit upstream; update fetches it and a reinstall takes it.
    write(
        &repo.join("plugins/demo/commands/new.md"),
        "---\ndescription: new\n---\n",
    );
    commit_all(&repo);
    ok(&w.aisys(&["entities", "marketplace", "update", "git-market"]));
    assert!(clone.join("plugins/demo/commands/new.md").is_file());
    ok(&w.aisys(&["entities", "install", "demo@git-market"]));
    let list = w.list_json(&["--kind", "command"]);
    one(&list, "command", "demo:new");

    let out = ok(&w.aisys(&["entities", "marketplace", "list", "--format", "json"]));
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["name"], "git-market");

    ok(&w.aisys(&["entities", "marketplace", "remove", "git-market"]));
    assert!(!clone.exists(), "the clone is removed");
    let settings = read_json(&w.claude.join("settings.json"));
    assert_eq!(settings["enabledPlugins"], json!({}));
    assert_eq!(settings["extraKnownMarketplaces"], json!({}));
    assert_eq!(
        read_json(&w.claude.join("plugins/installed_plugins.json"))["plugins"],
        json!({})
    );
    assert!(
        repo.join(".claude-plugin").is_dir(),
        "the source is untouched"
    );
}

#[test]
fn uninstall_enable_disable_and_their_errors() {
    let w = World::new();
    folder_market(&w);
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    ok(&w.aisys(&["entities", "disable", "demo@local-market"]));
    assert_eq!(
        read_json(&w.claude.join("settings.json"))["enabledPlugins"]["demo@local-market"],
        false
    );
    ok(&w.aisys(&["entities", "enable", "demo@local-market"]));
    assert_eq!(
        read_json(&w.claude.join("settings.json"))["enabledPlugins"]["demo@local-market"],
        true
    );
    fails(
        &w.aisys(&[
            "entities",
            "uninstall",
            "demo@local-market",
            "--scope",
            "project",
        ]),
        2,
        "not installed in the project scope",
    );
    ok(&w.aisys(&["entities", "uninstall", "demo@local-market"]));
    assert!(
        read_json(&w.claude.join("settings.json"))["enabledPlugins"]
            .get("demo@local-market")
            .is_none()
    );
    fails(
        &w.aisys(&["entities", "uninstall", "demo@local-market"]),
        2,
        "not installed",
    );
    fails(
        &w.aisys(&["entities", "enable", "demo@local-market"]),
        2,
        "install it first",
    );
}

#[test]
fn project_scope_writes_the_projects_settings() {
    let w = World::new();
    folder_market(&w);
    ok(&w.aisys(&[
        "entities",
        "install",
        "other@local-market",
        "--scope",
        "project",
    ]));
    let p = read_json(&w.project.join(".claude/settings.json"));
    assert_eq!(p["enabledPlugins"]["other@local-market"], true);
    let rec = &read_json(&w.claude.join("plugins/installed_plugins.json"))["plugins"]["other@local-market"]
        [0];
    assert_eq!(rec["scope"], "project");
    assert_eq!(
        rec["projectPath"],
        w.project.canonicalize().unwrap().display().to_string()
    );
    // Another project does not see it.
    let elsewhere = w.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let list = w.list_json(&["--project", elsewhere.to_str().unwrap(), "--kind", "plugin"]);
    assert!(list.is_empty(), "{list:#?}");
    let list = w.list_json(&["--kind", "plugin"]);
    one(&list, "plugin", "other@local-market");
}

#[test]
fn bad_names_and_unknown_things_are_refused() {
    let w = World::new();
    folder_market(&w);
    // A malformed argument is a usage error (2), like a missing thing.
    fails(
        &w.aisys(&["entities", "install", "demo"]),
        2,
        "PLUGIN@MARKETPLACE",
    );
    fails(
        &w.aisys(&["entities", "install", "../x@local-market"]),
        2,
        "path separator",
    );
    fails(&w.aisys(&["entities", "install", "x@.."]), 2, "`..`");
    fails(
        &w.aisys(&["entities", "disable", "noat"]),
        2,
        "PLUGIN@MARKETPLACE",
    );
    fails(
        &w.aisys(&["entities", "marketplace", "remove", "../m"]),
        2,
        "path separator",
    );
    fails(
        &w.aisys(&["entities", "install", "demo@nowhere"]),
        2,
        "marketplace `nowhere` is not known",
    );
    let err = fails(
        &w.aisys(&["entities", "install", "ghost@local-market"]),
        2,
        "no plugin `ghost`",
    );
    assert!(err.contains("demo, other"), "lists what there is: {err}");
    fails(
        &w.aisys(&["entities", "marketplace", "add", "not a source"]),
        2,
        "not a marketplace source",
    );
    fails(
        &w.aisys(&["entities", "marketplace", "add", "./missing"]),
        2,
        "missing",
    );
    let empty = w.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails(
        &w.aisys(&["entities", "marketplace", "add", empty.to_str().unwrap()]),
        2,
        "marketplace.json",
    );
    fails(
        &w.aisys(&["entities", "marketplace", "remove", "nowhere"]),
        2,
        "not known",
    );
    assert!(!w.claude.join("plugins/cache/x").exists());
}

#[test]
fn escaping_paths_and_symlinks_are_refused_and_nothing_is_written() {
    let w = World::new();
    let m = folder_market(&w);
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    let installed =
        std::fs::read_to_string(w.claude.join("plugins/installed_plugins.json")).unwrap();

    // A symlink in the plugin to a file outside it.
    let secret = write(&w.path().join("secret.txt"), "secret");
    std::os::unix::fs::symlink(&secret, m.join("plugins/demo/skills/leak")).unwrap();
    fails(
        &w.aisys(&["entities", "install", "demo@local-market"]),
        3,
        "symlinks that point outside it",
    );
    // A source that climbs out of the marketplace.
    let mut doc = read_json(&m.join(".claude-plugin/marketplace.json"));
    doc["plugins"][1]["source"] = "../../outside".into();
    write(&m.join(".claude-plugin/marketplace.json"), &doc.to_string());
    fails(
        &w.aisys(&["entities", "install", "other@local-market"]),
        3,
        "`..`",
    );
    doc["plugins"][1]["source"] = "/etc".into();
    write(&m.join(".claude-plugin/marketplace.json"), &doc.to_string());
    fails(
        &w.aisys(&["entities", "install", "other@local-market"]),
        3,
        "absolute",
    );
    // A marketplace named so that it would leave plugins/marketplaces/.
    doc["name"] = "../evil".into();
    write(&m.join(".claude-plugin/marketplace.json"), &doc.to_string());
    let repo = w.path().join("evil-repo");
    write(
        &repo.join(".claude-plugin/marketplace.json"),
        &doc.to_string(),
    );
    commit_all(&repo);
    fails(
        &w.aisys(&[
            "entities",
            "marketplace",
            "add",
            &format!("file://{}", repo.display()),
        ]),
        3,
        "path separator",
    );

    // The previous install is intact.
    assert_still_installed(&w, &installed);
    assert!(
        !w.claude
            .join("plugins/cache/local-market/demo/1.0.0/skills/leak")
            .exists()
    );
    assert!(!w.claude.join("plugins/cache/local-market/other").exists());
    assert!(!w.path().join("evil").exists());
    let leftovers: Vec<_> = std::fs::read_dir(w.claude.join("plugins/cache"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".aisys-stage"))
        .collect();
    assert!(leftovers.is_empty(), "staging folders are cleaned up");
}

#[test]
fn failed_clone_keeps_the_previous_state() {
    let w = World::new();
    folder_market(&w);
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    let before = std::fs::read_to_string(w.claude.join("settings.json")).unwrap();
    fails(
        &w.aisys(&[
            "entities",
            "marketplace",
            "add",
            &format!("file://{}/nope.git", w.path().display()),
        ]),
        1,
        "git said",
    );
    assert_eq!(
        std::fs::read_to_string(w.claude.join("settings.json")).unwrap(),
        before
    );
}

#[test]
fn a_ref_that_looks_like_an_option_is_refused_and_never_run() {
    let w = World::new();
    let repo = w.path().join("repo");
    write_marketplace(&repo, "git-market", &[("demo", None)]);
    commit_all(&repo);
    let url = format!("file://{}", repo.display());
    let pwned = w.path().join("pwned");
    let evil = format!("--upload-pack=touch {};git-upload-pack", pwned.display());

    let err = fails(
        &w.aisys(&["entities", "marketplace", "add", &format!("{url}#{evil}")]),
        3,
        "begins with `-`",
    );
    assert!(err.contains(&evil), "names the ref: {err}");

    // A hand-edited record: `update` must neither run it nor pass it to git as an option.
    ok(&w.aisys(&["entities", "marketplace", "add", &url]));
    let known = w.claude.join("plugins/known_marketplaces.json");
    let mut doc = read_json(&known);
    doc["git-market"]["source"]["ref"] = evil.clone().into();
    write(&known, &doc.to_string());
    fails(
        &w.aisys(&["entities", "marketplace", "update", "git-market"]),
        3,
        "begins with `-`",
    );
    assert!(!pwned.exists(), "git ran the ref as --upload-pack");
}

#[test]
fn unknown_keys_are_kept_and_broken_json_is_not_overwritten() {
    let w = World::new();
    write(
        &w.claude.join("settings.json"),
        r#"{"theme": "dark", "permissions": {"allow": ["Bash(ls)"]}, "enabledPlugins": {"x@y": true}}"#,
    );
    folder_market(&w);
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    let s = read_json(&w.claude.join("settings.json"));
    assert_eq!(s["theme"], "dark");
    assert_eq!(s["permissions"]["allow"][0], "Bash(ls)");
    assert_eq!(s["enabledPlugins"]["x@y"], true);
    assert_eq!(s["enabledPlugins"]["demo@local-market"], true);

    let broken = "{\n  \"theme\": \"dark\",\n  oops\n}\n";
    let f = write(&w.claude.join("settings.json"), broken);
    let installed =
        std::fs::read_to_string(w.claude.join("plugins/installed_plugins.json")).unwrap();
    for args in [
        ["entities", "disable", "demo@local-market"],
        ["entities", "install", "other@local-market"],
        ["entities", "uninstall", "demo@local-market"],
    ] {
        fails(&w.aisys(&args), 3, &format!("{}:3:", f.display()));
    }
    assert_eq!(std::fs::read_to_string(&f).unwrap(), broken);
    assert_eq!(
        std::fs::read_to_string(w.claude.join("plugins/installed_plugins.json")).unwrap(),
        installed,
        "no half-done change"
    );
    assert!(!w.claude.join("plugins/cache/local-market/other").exists());
}

#[test]
fn concurrent_installs_lose_nothing() {
    let w = World::new();
    let m = w.path().join("market");
    let plugins: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    let spec: Vec<(&str, Option<&str>)> = plugins
        .iter()
        .map(|p| (p.as_str(), Some("1.0.0")))
        .collect();
    write_marketplace(&m, "local-market", &spec);
    ok(&w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]));
    let children: Vec<_> = plugins
        .iter()
        .map(|p| {
            w.aisys_cmd(&["entities", "install", &format!("{p}@local-market")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let installed = read_json(&w.claude.join("plugins/installed_plugins.json"));
    let enabled = read_json(&w.claude.join("settings.json"))["enabledPlugins"].clone();
    for p in &plugins {
        let id = format!("{p}@local-market");
        assert!(
            installed["plugins"].get(&id).is_some(),
            "{id} lost: {installed:#}"
        );
        assert_eq!(enabled[&id], true, "{id} not enabled: {enabled:#}");
    }
}

#[test]
fn staging_left_by_an_interrupted_install_is_cleaned_up() {
    let w = World::new();
    folder_market(&w);
    // What a killed aisys leaves: a half-copied plugin in a staging folder.
    let stale = w
        .claude
        .join("plugins/cache/.aisys-stage-dead/copy/skills/x/SKILL.md");
    write(&stale, "half");
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    assert!(!w.claude.join("plugins/cache/.aisys-stage-dead").exists());
    let list = w.list_json(&["--kind", "skill"]);
    assert_eq!(names(&list, "skill"), ["demo:greet"]);
}

#[test]
fn same_plugin_name_from_two_marketplaces_says_which_hides_which() {
    let w = World::new();
    for market in ["first-market", "second-market"] {
        let m = w.path().join(market);
        write_marketplace(&m, market, &[("demo", Some("1.0.0"))]);
        ok(&w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]));
        ok(&w.aisys(&["entities", "install", &format!("demo@{market}")]));
    }
    let list = w.list_json(&["--kind", "skill"]);
    let greets: Vec<_> = list.iter().filter(|e| e["name"] == "demo:greet").collect();
    assert_eq!(greets.len(), 2);
    let hidden: Vec<_> = greets
        .iter()
        .filter(|e| !e["hidden_by"].is_null())
        .collect();
    assert_eq!(hidden.len(), 1, "{greets:#?}");
    let active = greets.iter().find(|e| e["hidden_by"].is_null()).unwrap();
    let by = hidden[0]["hidden_by"].as_str().unwrap();
    assert!(
        by.contains(&format!("from {}", active["source"].as_str().unwrap())),
        "{by}"
    );
}

#[test]
fn an_older_installed_plugins_json_is_not_rewritten() {
    let w = World::new();
    folder_market(&w);
    let old = r#"{"version": 1, "plugins": {"x@y": {"version": "1.0.0", "installPath": "/p"}}}"#;
    let f = write(&w.claude.join("plugins/installed_plugins.json"), old);
    fails(
        &w.aisys(&["entities", "install", "demo@local-market"]),
        3,
        "version 1",
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), old);
    assert!(
        !w.claude.join("plugins/cache/local-market").exists(),
        "nothing copied"
    );
}

#[test]
fn an_install_killed_half_way_leaves_the_previous_install() {
    let w = World::new();
    let m = folder_market(&w);
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    let before = std::fs::read_to_string(w.claude.join("plugins/installed_plugins.json")).unwrap();
    // Version 2 is big enough that its copy takes a while.
    let plugin = m.join("plugins/demo");
    write(
        &plugin.join(".claude-plugin/plugin.json"),
        r#"{"name": "demo", "version": "2.0.0"}"#,
    );
    for i in 0..4000 {
        write(&plugin.join(format!("data/d{}/f{i}.txt", i % 40)), "x");
    }
    let mut child = w
        .aisys_cmd(&["entities", "install", "demo@local-market"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cache = w.claude.join("plugins/cache");
    let staging_seen = (0..2000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        std::fs::read_dir(&cache).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".aisys-stage")
                && e.path().join("copy").exists()
        })
    });
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(staging_seen, "the copy was never seen under way");
    assert!(!status.success(), "killed before it finished");
    assert_still_installed(&w, &before);
    assert!(
        !w.claude
            .join("plugins/cache/local-market/demo/2.0.0")
            .exists()
    );
    // The next install finishes the job and clears the leftovers.
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    assert!(
        w.claude
            .join("plugins/cache/local-market/demo/2.0.0/data")
            .is_dir()
    );
    let leftovers = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".aisys-stage"))
        .count();
    assert_eq!(leftovers, 0);
}

/// The files an install writes, or `None` where one is absent: what must not change when a
/// change is refused.
fn state_files(w: &World) -> Vec<Option<String>> {
    [
        "settings.json",
        "plugins/installed_plugins.json",
        "plugins/known_marketplaces.json",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(w.claude.join(f)).ok())
    .collect()
}

#[test]
fn a_plugin_that_validate_rejects_is_not_installed() {
    let w = World::new();
    let m = w.path().join("market");
    write_marketplace(&m, "local-market", &[("demo", Some("1.0.0"))]);
    let bad = m.join("plugins/badtypes");
    let manifest = write(
        &bad.join(".claude-plugin/plugin.json"),
        r#"{"name":5,"version":["x"],"commands":42,"hooks":"nofile.json"}"#,
    );
    let mut doc = read_json(&m.join(".claude-plugin/marketplace.json"));
    doc["plugins"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "badtypes", "source": "./plugins/badtypes"}));
    write(&m.join(".claude-plugin/marketplace.json"), &doc.to_string());
    ok(&w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]));
    let before = state_files(&w);

    // `validate` and `install` find the same four errors.
    let v = w.aisys(&["entities", "validate", bad.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(3));
    let err = fails(
        &w.aisys(&["entities", "install", "badtypes@local-market"]),
        3,
        "has 4 error(s)",
    );
    for field in ["name", "version", "commands", "hooks"] {
        let line = format!("{}: error: {field}: ", manifest.display());
        assert!(err.contains(&line), "names {field}: {err}");
    }
    assert!(
        err.contains(&format!("aisys entities validate {}", bad.display())),
        "{err}"
    );
    assert!(!err.contains("warning"), "warnings are not listed: {err}");
    assert_eq!(state_files(&w), before, "nothing recorded or enabled");
    assert!(
        !w.claude
            .join("plugins/cache/local-market/badtypes")
            .exists()
    );
    let list = w.list_json(&[]);
    assert!(names(&list, "plugin").is_empty(), "{list:#?}");

    // Warnings alone do not stop an install: the demo plugin has no author.
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
}

#[test]
fn a_bad_marketplace_json_is_refused_at_add_with_what_is_wrong() {
    let w = World::new();
    let m = w.path().join("m");
    let file = m.join(".claude-plugin/marketplace.json");
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty; write a JSON object"),
        (b"  \n", "empty; write a JSON object"),
        (b"[1]", "must be a JSON object, found a list"),
        (b"{\"name\":5}", "error: name: must be text, found a number"),
        (
            b"{\"name\":\"m4\",\"owner\":{\"name\":\"o\"},\"plugins\":5}",
            "error: plugins: must be a list of {\"name\", \"source\"}, found a number",
        ),
        (
            b"{\"name\":\"m4\",\"owner\":{\"name\":\"o\"},\"plugins\":[{\"name\":\"a\"}]}",
            "error: plugins[0]: `source` is required",
        ),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ];
    for (body, says) in cases {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, body).unwrap();
        let err = fails(
            &w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]),
            3,
            says,
        );
        assert!(err.contains(&file.display().to_string()), "{err}");
    }
    assert_eq!(state_files(&w), vec![None, None, None], "nothing recorded");

    // A folder marketplace is read again at install: one broken since is refused as such, not
    // reported as having no such plugin.
    write_marketplace(&m, "m4", &[("a", Some("1.0.0"))]);
    ok(&w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]));
    std::fs::write(&file, r#"{"name":"m4","owner":{"name":"o"},"plugins":5}"#).unwrap();
    let err = fails(
        &w.aisys(&["entities", "install", "a@m4"]),
        3,
        "plugins: must be a list",
    );
    assert!(!err.contains("has no plugin"), "{err}");
}

#[test]
fn wrong_typed_keys_in_claude_codes_files_are_refused_not_overwritten() {
    let w = World::new();
    folder_market(&w);
    ok(&w.aisys(&["entities", "install", "demo@local-market"]));
    let settings = w.claude.join("settings.json");
    let installed = w.claude.join("plugins/installed_plugins.json");

    // `enabledPlugins` that is not an object: every change that writes it is refused first.
    write(&settings, r#"{"theme": "dark", "enabledPlugins": 7}"#);
    let before = state_files(&w);
    for args in [
        ["entities", "disable", "demo@local-market"],
        ["entities", "enable", "demo@local-market"],
        ["entities", "install", "other@local-market"],
        ["entities", "uninstall", "demo@local-market"],
    ] {
        let err = fails(
            &w.aisys(&args),
            3,
            &format!("{}: `enabledPlugins` is a number", settings.display()),
        );
        assert!(err.contains("fix the file, or remove the key"), "{err}");
        assert_eq!(state_files(&w), before, "{args:?} wrote nothing");
    }
    assert!(!w.claude.join("plugins/cache/local-market/other").exists());

    // `extraKnownMarketplaces`, which `marketplace add` declares the marketplace in.
    write(&settings, r#"{"extraKnownMarketplaces": ["x"]}"#);
    let other = w.path().join("other-market");
    write_marketplace(&other, "other-market", &[("p", None)]);
    let before = state_files(&w);
    fails(
        &w.aisys(&["entities", "marketplace", "add", other.to_str().unwrap()]),
        3,
        "`extraKnownMarketplaces` is a list",
    );
    assert_eq!(state_files(&w), before);

    // A plugin's install records that are not a list.
    write(&settings, "{}");
    let mut doc = read_json(&installed);
    doc["plugins"]["demo@local-market"] = json!({"scope": "user"});
    write(&installed, &doc.to_string());
    let before = state_files(&w);
    for args in [
        ["entities", "install", "demo@local-market"],
        ["entities", "uninstall", "demo@local-market"],
    ] {
        fails(
            &w.aisys(&args),
            3,
            "`plugins.\"demo@local-market\"` is a mapping",
        );
        assert_eq!(state_files(&w), before, "{args:?} wrote nothing");
    }
}
