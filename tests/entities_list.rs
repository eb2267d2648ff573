//! `aisys entities list` and `show` through the real binary: every kind in every scope,
//! Claude Code's precedence with hidden-by, plugin namespacing, bad files as warnings, and no
//! file's escape sequence reaching a terminal.

mod entities_support;

use entities_support::*;
use serde_json::json;

/// Writes an installed plugin the way Claude Code 2.1.197 records one.
fn install_by_hand(w: &World, plugin: &str, market: &str, enabled: bool) {
    let path = w
        .claude
        .join(format!("plugins/cache/{market}/{plugin}/1.0.0"));
    write_demo_plugin(&path, plugin, Some("1.0.0"));
    let installed = json!({"version": 2, "plugins": {format!("{plugin}@{market}"): [{
        "scope": "user", "installPath": path, "version": "1.0.0",
        "installedAt": "2026-11-27T12:26:49.375Z", "lastUpdated": "2026-11-27T12:26:49.375Z"}]}});
    write(
        &w.claude.join("plugins/installed_plugins.json"),
        &installed.to_string(),
    );
    write(
        &w.claude.join("settings.json"),
        &json!({"enabledPlugins": {format!("{plugin}@{market}"): enabled}}).to_string(),
    );
}

#[test]
fn user_skill_hides_project_skill_and_says_so() {
    let w = World::new();
    let user = write(
        &w.claude.join("skills/pdf/SKILL.md"),
        "---\nname: pdf\ndescription: Mine\n---\nbody\n",
    );
    write(
        &w.project.join(".claude/skills/pdf/SKILL.md"),
        "---\nname: pdf\ndescription: The repo's\n---\nbody\n",
    );
    let list = w.list_json(&["--kind", "skill"]);
    let mine: Vec<_> = list.iter().filter(|e| e["scope"] == "user").collect();
    let repo: Vec<_> = list.iter().filter(|e| e["scope"] == "project").collect();
    assert_eq!(mine[0]["hidden_by"], serde_json::Value::Null);
    assert_eq!(mine[0]["description"], "Mine");
    let by = repo[0]["hidden_by"].as_str().unwrap();
    assert!(by.contains("user skill/pdf"), "{by}");
    assert!(by.contains(&user.display().to_string()), "{by}");
}

#[test]
fn skill_beats_command_and_project_agent_beats_user_agent() {
    let w = World::new();
    write(
        &w.project.join(".claude/skills/deploy/SKILL.md"),
        "---\ndescription: skill\n---\n",
    );
    write(
        &w.project.join(".claude/commands/deploy.md"),
        "---\ndescription: command\n---\n",
    );
    write(
        &w.claude.join("agents/reviewer.md"),
        "---\nname: reviewer\ndescription: user one\n---\n",
    );
    write(
        &w.project.join(".claude/agents/reviewer.md"),
        "---\nname: reviewer\ndescription: project one\n---\n",
    );
    let list = w.list_json(&[]);
    let cmd = one(&list, "command", "deploy");
    assert!(
        cmd["hidden_by"].as_str().unwrap().contains("skill/deploy"),
        "{cmd}"
    );
    assert!(one(&list, "skill", "deploy")["hidden_by"].is_null());
    let agents: Vec<_> = list.iter().filter(|e| e["kind"] == "agent").collect();
    let user = agents.iter().find(|a| a["scope"] == "user").unwrap();
    let project = agents.iter().find(|a| a["scope"] == "project").unwrap();
    assert!(project["hidden_by"].is_null());
    assert!(
        user["hidden_by"]
            .as_str()
            .unwrap()
            .contains("project agent/reviewer")
    );
}

#[test]
/// Claude Code 2.1.197 names a command in a sub-folder `folder:name` (see entities_interop.rs).
fn command_subfolders_are_part_of_the_name() {
    let w = World::new();
    write(
        &w.project.join(".claude/commands/frontend/lint.md"),
        "---\ndescription: Lint it\nallowed-tools: Bash(npm run lint)\nmodel: haiku\n---\nLint.\n",
    );
    let list = w.list_json(&["--kind", "command", "--scope", "project"]);
    assert_eq!(names(&list, "command"), ["frontend:lint"]);
    let lint = one(&list, "command", "frontend:lint");
    assert_eq!(lint["fields"]["allowed-tools"], "Bash(npm run lint)");
    assert_eq!(lint["fields"]["model"], "haiku");
}

#[test]
fn installed_plugin_entities_are_namespaced_and_follow_enabled() {
    let w = World::new();
    install_by_hand(&w, "demo", "local-market", true);
    let list = w.list_json(&[]);
    for (kind, name) in [
        ("skill", "demo:greet"),
        ("command", "demo:review"),
        ("agent", "demo:tester"),
        ("hook", "demo:PostToolUse[Write]"),
        ("mcp", "plugin:demo:files"),
        ("plugin", "demo@local-market"),
    ] {
        let e = one(&list, kind, name);
        assert_eq!(e["enabled"], true, "{e}");
        assert_eq!(e["scope"], "plugin");
        assert_eq!(e["source"], "demo@local-market");
    }
    assert_eq!(
        one(&list, "agent", "demo:tester")["fields"]["tools"],
        "Bash, Read"
    );

    install_by_hand(&w, "demo", "local-market", false);
    let list = w.list_json(&["--scope", "plugin"]);
    assert!(!list.is_empty());
    assert!(list.iter().all(|e| e["enabled"] == false), "{list:#?}");
    let table = text(&w.aisys(&["entities", "list", "--kind", "skill"]).stdout);
    assert!(
        table
            .lines()
            .any(|l| l.contains("demo:greet") && l.contains("disabled")),
        "{table}"
    );
}

#[test]
fn mcp_servers_and_hooks_from_settings_and_mcp_json() {
    let w = World::new();
    write(
        &w.home.join(".claude/settings.json"),
        r#"{"enabledMcpjsonServers": ["db"],
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "echo hi"}]}]}}"#,
    );
    write(
        &w.claude.join(".claude.json"),
        r#"{"mcpServers": {"db": {"command": "user-db"}}}"#,
    );
    write(
        &w.project.join(".mcp.json"),
        r#"{"mcpServers": {"db": {"type": "http", "url": "http://localhost:9/mcp"}}}"#,
    );
    let list = w.list_json(&[]);
    let hook = one(&list, "hook", "PreToolUse[Bash]");
    assert_eq!(hook["description"], "echo hi");
    let dbs: Vec<_> = list.iter().filter(|e| e["kind"] == "mcp").collect();
    assert_eq!(dbs.len(), 2);
    let project = dbs.iter().find(|e| e["scope"] == "project").unwrap();
    let user = dbs.iter().find(|e| e["scope"] == "user").unwrap();
    assert!(project["hidden_by"].is_null());
    assert_eq!(project["description"], "http://localhost:9/mcp");
    assert!(
        user["hidden_by"]
            .as_str()
            .unwrap()
            .contains("project mcp/db"),
        "{user}"
    );

    // Not approved, the project's server does not run, and the user's is the active one.
    write(&w.home.join(".claude/settings.json"), "{}");
    let list = w.list_json(&["--kind", "mcp"]);
    let project = list.iter().find(|e| e["scope"] == "project").unwrap();
    let user = list.iter().find(|e| e["scope"] == "user").unwrap();
    assert_eq!(project["enabled"], false);
    assert!(user["hidden_by"].is_null(), "{user}");
}

#[test]
fn bad_frontmatter_is_a_warning_with_file_and_line_and_strict_fails() {
    let w = World::new();
    let bad = write(
        &w.project.join(".claude/commands/bad.md"),
        "---\ndescription: fine\nallowed-tools: [Read\n---\nbody\n",
    );
    write(
        &w.project.join(".claude/commands/good.md"),
        "---\ndescription: fine\n---\n",
    );
    let out = w.aisys(&["entities", "list", "--format", "json"]);
    assert!(out.status.success());
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        names(&list, "command"),
        ["bad", "good"],
        "the rest is still listed"
    );
    // As Claude Code does, the bad one is loaded without metadata.
    let bad_entity = one(&list, "command", "bad");
    assert!(bad_entity["fields"].is_null(), "{bad_entity}");
    assert_eq!(one(&list, "command", "good")["description"], "fine");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:3:", bad.display())),
        "names file and line: {err}"
    );
    assert!(err.contains("YAML"), "{err}");

    let out = w.aisys(&["entities", "list", "--strict"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--strict"));
}

#[test]
fn broken_settings_json_is_named_with_its_line() {
    let w = World::new();
    let f = write(&w.claude.join("settings.json"), "{\n  \"hooks\": {,\n}\n");
    let out = w.aisys(&["entities", "list"]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains(&format!("{}:2:", f.display())),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn project_flag_and_git_root() {
    let w = World::new();
    write(
        &w.project.join(".claude/skills/root-skill/SKILL.md"),
        "---\ndescription: at the git root\n---\n",
    );
    let sub = w.project.join("pkg/inner");
    write(
        &sub.join(".claude/skills/inner-skill/SKILL.md"),
        "---\ndescription: nearer\n---\n",
    );
    let sub_s = sub.display().to_string();
    let list = w.list_json(&["--project", &sub_s, "--kind", "skill"]);
    assert_eq!(names(&list, "skill"), ["inner-skill", "root-skill"]);

    let out = w.aisys(&["entities", "list", "--project", "/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/x"));
}

#[test]
fn show_prints_frontmatter_path_and_body() {
    let w = World::new();
    let f = write(
        &w.claude.join("skills/pdf/SKILL.md"),
        "---\nname: pdf\ndescription: Read PDFs\nallowed-tools: Read\n---\n# PDF\nUse pdftotext.\n",
    );
    let out = w.aisys(&["entities", "show", "skill/pdf"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains(&f.display().to_string()), "{s}");
    assert!(s.contains("allowed-tools: Read"), "{s}");
    assert!(s.contains("Use pdftotext."), "{s}");

    let out = w.aisys(&["entities", "show", "skill/nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nope"));
    let out = w.aisys(&["entities", "show", "widget/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("skill, command"));
}

#[test]
fn table_lists_kind_name_scope_state() {
    let w = World::new();
    write(
        &w.claude.join("commands/hello.md"),
        "---\ndescription: Say hello\n---\n",
    );
    let out = w.aisys(&["entities", "list"]);
    let s = text(&out.stdout);
    let row = s.lines().find(|l| l.contains("hello")).unwrap();
    for cell in ["command", "user", "active", "Say hello"] {
        assert!(row.contains(cell), "{row}");
    }
    assert!(s.starts_with("KIND"), "{s}");
}

#[test]
fn manifest_paths_add_components_and_escaping_ones_are_warned() {
    let w = World::new();
    install_by_hand(&w, "demo", "local-market", true);
    let root = w.claude.join("plugins/cache/local-market/demo/1.0.0");
    write(
        &root.join(".claude-plugin/plugin.json"),
        r#"{"name": "demo", "version": "1.0.0",
            "commands": ["./extra/cmds"], "agents": "../../../../../outside",
            "hooks": "./config/hooks.json",
            "mcpServers": {"inline": {"command": "srv"}}}"#,
    );
    write(
        &root.join("extra/cmds/ship.md"),
        "---\ndescription: Ship\n---\n",
    );
    write(
        &root.join("config/hooks.json"),
        r#"{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]}}"#,
    );
    let out = w.aisys(&["entities", "list", "--format", "json"]);
    assert!(out.status.success());
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    one(&list, "command", "demo:ship");
    one(&list, "command", "demo:review");
    assert_eq!(one(&list, "hook", "demo:Stop")["description"], "notify");
    one(&list, "mcp", "plugin:demo:inline");
    let err = text(&out.stderr);
    assert!(
        err.contains("plugin.json") && err.contains("`agents`") && err.contains(".."),
        "{err}"
    );
}

#[test]
fn a_profile_no_one_defined_is_a_usage_error() {
    let w = World::new();
    let out = w.aisys(&["entities", "profile", "show", "nope"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("profile `nope` is not defined"), "{err}");
}

/// Escape sequences a hostile file could hold: a colour, clearing the screen, setting the window
/// title, and writing the clipboard (OSC 52).
const ESCAPES: &str = "\x1b[31m\x1b[2J\x1b]0;pwned\x07\x1b]52;c;aGk=\x1b\\";

#[test]
fn escape_sequences_in_files_never_reach_human_output() {
    let w = World::new();
    // A user skill with escapes in its folder name, description and body.
    write(
        &w.claude.join(format!("skills/evil{ESCAPES}/SKILL.md")),
        "---\ndescription: \"red \\e[31mtext\\e]0;title\\a\"\n---\nBody\n",
    );
    write(
        &w.claude.join("skills/greet/SKILL.md"),
        &format!("---\ndescription: Greets\n---\nSay hi {ESCAPES} now.\n"),
    );
    // An installed plugin whose manifest describes it with escapes.
    install_by_hand(&w, "demo", "local-market", true);
    let manifest = w
        .claude
        .join("plugins/cache/local-market/demo/1.0.0/.claude-plugin/plugin.json");
    write(
        &manifest,
        &json!({"name": "demo", "version": "1.0.0", "description": format!("Demo {ESCAPES}")})
            .to_string(),
    );
    // An MCP server whose name and command carry escapes, and a marketplace record.
    let server = format!("files{ESCAPES}");
    let command = format!("npx{ESCAPES}");
    write(
        &w.claude.join(".claude.json"),
        &json!({"mcpServers": {server.clone(): {"type": "stdio", "command": command, "args": [ESCAPES]}}})
            .to_string(),
    );
    write(
        &w.claude.join("plugins/known_marketplaces.json"),
        &json!({"local-market": {"source": {"source": "directory", "path": format!("/m{ESCAPES}")},
            "installLocation": "/m"}})
        .to_string(),
    );
    let plugin_dir = w.claude.join("plugins/cache/local-market/demo/1.0.0");
    let human: &[&[&str]] = &[
        &["entities", "list"],
        &["entities", "show", "skill/greet"],
        &["entities", "show", "plugin/demo@local-market"],
        &["entities", "mcp", "list"],
        &["entities", "profile", "show", "user"],
        &["entities", "profile", "list"],
        &["entities", "marketplace", "list"],
        &["entities", "validate", plugin_dir.to_str().unwrap()],
    ];
    for args in human {
        let out = w.aisys(args);
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
                "{args:?} wrote a control character to {stream}:\n{}",
                text(bytes).escape_debug()
            );
        }
        assert!(!out.stdout.is_empty(), "{args:?} printed something");
    }
    // What the escapes surrounded is still shown.
    let shown = text(&w.aisys(&["entities", "show", "skill/greet"]).stdout);
    assert!(shown.contains("Say hi "), "{shown}");
    assert!(shown.contains(" now."), "{shown}");
    let listed = text(&w.aisys(&["entities", "mcp", "list"]).stdout);
    assert!(listed.contains("npx"), "{listed}");

    // Machine output keeps the exact text.
    let list = w.list_json(&[]);
    assert_eq!(
        one(&list, "plugin", "demo@local-market")["description"],
        format!("Demo {ESCAPES}")
    );
    let out = w.aisys(&["entities", "mcp", "list", "--format", "json"]);
    let servers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(servers[0]["name"], server);
    assert_eq!(servers[0]["config"]["command"], command);
}
