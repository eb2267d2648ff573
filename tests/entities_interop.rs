//! Interop with the real Claude Code CLI (2.1.197, from the test dependencies), both ways: the
//! same marketplace installed with `claude plugin ...` in one home and with `aisys entities ...`
//! in another gives the same records; Claude Code run against the mock model loads what aisys
//! installed (and stops after `disable`); `aisys entities list` shows what Claude Code installed.
//!
//! Claude Code's `marketplace add` refuses `file://` URLs, so git sources are given as
//! `https://git.example/...git` and a test-only git config rewrites that prefix to the local
//! `file://` repositories (`url.<base>.insteadOf`): no network, real git on both sides.

mod entities_support;
mod mock_api;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use entities_support::*;
use mock_api::{Reply, Script, When, claude_bin};
use serde_json::{Value, json};

/// Runs the real `claude` with this world's HOME and Claude home, in the project.
fn claude(w: &World, args: &[&str], extra_env: &[(&str, String)]) -> Output {
    claude_in(w, &w.project, args, extra_env)
}

fn claude_in(w: &World, cwd: &Path, args: &[&str], extra_env: &[(&str, String)]) -> Output {
    w.claude_at(&claude_bin(), cwd, args, extra_env)
}

/// Makes `<shared>/repos/<name>` git repositories reachable as `https://git.example/<name>.git`
/// for both worlds.
fn git_rewrite(worlds: &[&World], repos: &Path) {
    for w in worlds {
        write(
            &w.path().join("gitconfig"),
            &format!(
                "[url \"file://{}/\"]\n\tinsteadOf = https://git.example/\n",
                repos.display()
            ),
        );
    }
}

/// The records that must agree, with timestamps dropped and paths made relative to the home.
fn normalized(w: &World) -> Value {
    let strip = |v: &Value| -> Value {
        let s = serde_json::to_string(v).unwrap();
        let s = s.replace(&w.claude.display().to_string(), "<home>");
        let s = s.replace(&w.project.display().to_string(), "<project>");
        let mut v: Value = serde_json::from_str(&s).unwrap();
        fn drop_times(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.remove("lastUpdated");
                    m.remove("installedAt");
                    m.values_mut().for_each(drop_times);
                }
                Value::Array(a) => a.iter_mut().for_each(drop_times),
                _ => {}
            }
        }
        drop_times(&mut v);
        v
    };
    let settings = read_json(&w.claude.join("settings.json"));
    let project_settings = read_json(&w.project.join(".claude/settings.json"));
    let local_settings = read_json(&w.project.join(".claude/settings.local.json"));
    json!({
        "installed": strip(&read_json(&w.claude.join("plugins/installed_plugins.json"))),
        "known": strip(&read_json(&w.claude.join("plugins/known_marketplaces.json"))),
        "enabled": settings["enabledPlugins"],
        "extraKnownMarketplaces": strip(&settings["extraKnownMarketplaces"]),
        "projectEnabled": project_settings["enabledPlugins"],
        "localEnabled": local_settings["enabledPlugins"],
        "projectExtraKnownMarketplaces": strip(&project_settings["extraKnownMarketplaces"]),
        "localExtraKnownMarketplaces": strip(&local_settings["extraKnownMarketplaces"]),
    })
}

/// Files of a plugin copy in the cache, relative, without git's own files.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" || name == ".in_use" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Two worlds, one for Claude Code to change and one for aisys, and what they share: a temporary
/// folder, its `repos` folder for git repositories (still empty), and in it the folder
/// marketplace `local-market` with demo 1.0.0.
fn twin_worlds() -> (World, World, tempfile::TempDir, PathBuf, PathBuf) {
    let by_claude = World::new();
    let by_aisys = World::new();
    let shared = tempfile::tempdir().unwrap();
    let repos = shared.path().join("repos");
    let folder = shared.path().join("folder-market");
    write_marketplace(&folder, "local-market", &[("demo", Some("1.0.0"))]);
    (by_claude, by_aisys, shared, repos, folder)
}

#[test]
fn same_records_as_claude_plugin_for_folder_and_git_marketplaces() {
    let (by_claude, by_aisys, _shared, repos, folder) = twin_worlds();
    // And a git marketplace whose plugins are a relative folder, an unversioned one, and one in
    // its own git repository.
    let gm = repos.join("market.git");
    write_marketplace(
        &gm,
        "git-market",
        &[("demo", Some("2.0.0")), ("nover", None)],
    );
    let own = repos.join("own.git");
    write_demo_plugin(&own, "own", Some("0.3.0"));
    commit_all(&own);
    let mut doc = read_json(&gm.join(".claude-plugin/marketplace.json"));
    doc["plugins"].as_array_mut().unwrap().push(json!({
        "name": "own", "source": {"source": "url", "url": "https://git.example/own.git"}
    }));
    write(
        &gm.join(".claude-plugin/marketplace.json"),
        &doc.to_string(),
    );
    commit_all(&gm);
    git_rewrite(&[&by_claude, &by_aisys], &repos);

    let folder_s = folder.display().to_string();
    let url = "https://git.example/market.git";
    for args in [
        vec!["plugin", "marketplace", "add", &folder_s],
        vec!["plugin", "marketplace", "add", url],
        vec!["plugin", "install", "demo@local-market"],
        vec!["plugin", "install", "demo@git-market"],
        vec!["plugin", "install", "nover@git-market"],
        vec!["plugin", "install", "own@git-market"],
        vec!["plugin", "install", "demo@git-market", "--scope", "project"],
        vec!["plugin", "install", "demo@local-market", "--scope", "local"],
        vec!["plugin", "disable", "nover@git-market"],
    ] {
        ok(&claude(&by_claude, &args, &[]), &format!("claude {args:?}"));
    }
    for args in [
        vec!["entities", "marketplace", "add", &folder_s],
        vec!["entities", "marketplace", "add", url],
        vec!["entities", "install", "demo@local-market"],
        vec!["entities", "install", "demo@git-market"],
        vec!["entities", "install", "nover@git-market"],
        vec!["entities", "install", "own@git-market"],
        vec![
            "entities",
            "install",
            "demo@git-market",
            "--scope",
            "project",
        ],
        vec![
            "entities",
            "install",
            "demo@local-market",
            "--scope",
            "local",
        ],
        vec!["entities", "disable", "nover@git-market"],
    ] {
        ok(&by_aisys.aisys(&args), &format!("aisys {args:?}"));
    }
    let a = normalized(&by_claude);
    let b = normalized(&by_aisys);
    assert_eq!(a, b, "claude:\n{a:#}\naisys:\n{b:#}");
    // The unversioned plugin is named by its commit, as Claude Code does.
    let nover = &a["installed"]["plugins"]["nover@git-market"][0];
    assert_eq!(nover["version"].as_str().unwrap().len(), 12);
    // The copies hold the same files.
    for rel in [
        "plugins/cache/local-market/demo/1.0.0",
        "plugins/cache/git-market/own/0.3.0",
    ] {
        assert_eq!(
            files(&by_claude.claude.join(rel)),
            files(&by_aisys.claude.join(rel)),
            "{rel}"
        );
    }

    // The other way: what Claude Code wrote, aisys lists.
    let list = by_claude.list_json(&[]);
    for id in ["demo@local-market", "demo@git-market", "own@git-market"] {
        assert_eq!(one(&list, "plugin", id)["enabled"], true, "{id}");
    }
    assert_eq!(one(&list, "plugin", "nover@git-market")["enabled"], false);
    assert_eq!(names(&list, "marketplace"), ["git-market", "local-market"]);
    let skills = names(&list, "skill");
    assert!(skills.contains(&"own:greet".to_string()), "{skills:?}");

    // And what aisys wrote, Claude Code lists.
    let out = claude(&by_aisys, &["plugin", "list", "--json"], &[]);
    ok(&out, "claude plugin list");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    for id in ["demo@local-market", "own@git-market", "nover@git-market"] {
        assert!(ids.contains(&id), "{id} in {listed:#}");
    }

    // Uninstalling and removing a marketplace leave the same records too.
    for args in [
        vec!["plugin", "uninstall", "own@git-market"],
        vec![
            "plugin",
            "uninstall",
            "demo@git-market",
            "--scope",
            "project",
        ],
        vec!["plugin", "enable", "nover@git-market"],
        vec!["plugin", "marketplace", "remove", "local-market"],
    ] {
        ok(&claude(&by_claude, &args, &[]), &format!("claude {args:?}"));
    }
    for args in [
        vec!["entities", "uninstall", "own@git-market"],
        vec![
            "entities",
            "uninstall",
            "demo@git-market",
            "--scope",
            "project",
        ],
        vec!["entities", "enable", "nover@git-market"],
        vec!["entities", "marketplace", "remove", "local-market"],
    ] {
        ok(&by_aisys.aisys(&args), &format!("aisys {args:?}"));
    }
    let a = normalized(&by_claude);
    let b = normalized(&by_aisys);
    assert_eq!(a, b, "after removals, claude:\n{a:#}\naisys:\n{b:#}");
    assert!(a["installed"]["plugins"].get("own@git-market").is_none());
}

/// The `system/init` line of `claude -p --output-format stream-json --verbose`.
#[test]
fn marketplaces_declared_for_a_project_agree_with_claude_plugin_and_go_with_remove() {
    let (by_claude, by_aisys, _shared, repos, folder) = twin_worlds();
    let gm = repos.join("market.git");
    write_marketplace(&gm, "git-market", &[("demo", Some("2.0.0"))]);
    commit_all(&gm);
    git_rewrite(&[&by_claude, &by_aisys], &repos);
    let folder_s = folder.display().to_string();
    let url = "https://git.example/market.git";
    let adds = [
        [
            "marketplace",
            "add",
            folder_s.as_str(),
            "--scope",
            "project",
        ],
        ["marketplace", "add", url, "--scope", "local"],
    ];
    for a in &adds {
        let mut args = vec!["plugin"];
        args.extend(a);
        ok(&claude(&by_claude, &args, &[]), &format!("claude {args:?}"));
        let mut args = vec!["entities"];
        args.extend(a);
        ok(&by_aisys.aisys(&args), &format!("aisys {args:?}"));
    }
    let a = normalized(&by_claude);
    let b = normalized(&by_aisys);
    assert_eq!(a, b, "claude:\n{a:#}\naisys:\n{b:#}");
    // Declared where asked, and not in the user's settings.
    assert!(
        a["projectExtraKnownMarketplaces"]["local-market"].is_object(),
        "{a:#}"
    );
    assert!(
        a["localExtraKnownMarketplaces"]["git-market"].is_object(),
        "{a:#}"
    );
    assert!(a["extraKnownMarketplaces"].is_null(), "{a:#}");
    for name in ["local-market", "git-market"] {
        ok(
            &claude(&by_claude, &["plugin", "marketplace", "remove", name], &[]),
            "claude remove",
        );
        ok(
            &by_aisys.aisys(&["entities", "marketplace", "remove", name]),
            "aisys remove",
        );
    }
    let a = normalized(&by_claude);
    let b = normalized(&by_aisys);
    assert_eq!(a, b, "claude:\n{a:#}\naisys:\n{b:#}");
    assert_eq!(a["projectExtraKnownMarketplaces"], json!({}), "{a:#}");
}

fn init_line(w: &World) -> Value {
    init_line_in(w, &w.project)
}

fn init_line_in(w: &World, cwd: &Path) -> Value {
    let mock = Script::new()
        .always(When::Always, Reply::text("ok"))
        .start();
    let out = claude_in(
        w,
        cwd,
        &["-p", "hi", "--output-format", "stream-json", "--verbose"],
        &[
            ("ANTHROPIC_BASE_URL", mock.base_url()),
            ("ANTHROPIC_API_KEY", "test".into()),
        ],
    );
    ok(&out, "claude -p");
    text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .expect("a system/init line")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other["name"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn claude_code_loads_what_aisys_installed_and_not_after_disable() {
    let w = World::new();
    let market = w.path().join("market");
    write_marketplace(&market, "local-market", &[("demo", Some("1.0.0"))]);
    let market_s = market.display().to_string();
    ok(
        &w.aisys(&["entities", "marketplace", "add", &market_s]),
        "marketplace add",
    );
    ok(
        &w.aisys(&["entities", "install", "demo@local-market"]),
        "install",
    );

    let init = init_line(&w);
    let skills = strings(&init["skills"]);
    let commands = strings(&init["slash_commands"]);
    let agents = strings(&init["agents"]);
    let plugins = strings(&init["plugins"]);
    assert!(skills.contains(&"demo:greet".into()), "skills: {skills:?}");
    assert!(
        commands.contains(&"demo:review".into()),
        "slash_commands: {commands:?}"
    );
    assert!(agents.contains(&"demo:tester".into()), "agents: {agents:?}");
    assert!(plugins.contains(&"demo".into()), "plugins: {plugins:?}");
    // MCP servers and hooks are named as aisys lists them.
    let list = w.list_json(&[]);
    let servers = strings(&init["mcp_servers"]);
    assert_eq!(names(&list, "mcp"), ["plugin:demo:files"]);
    for n in names(&list, "mcp") {
        assert!(
            servers.contains(&n),
            "aisys lists mcp/{n}; Claude Code: {servers:?}"
        );
    }

    ok(
        &w.aisys(&["entities", "disable", "demo@local-market"]),
        "disable",
    );
    let init = init_line(&w);
    let all = [
        strings(&init["skills"]),
        strings(&init["slash_commands"]),
        strings(&init["agents"]),
        strings(&init["plugins"]),
    ]
    .concat();
    assert!(
        !all.iter().any(|n| n.starts_with("demo")),
        "still loaded after disable: {all:?}"
    );
}

#[test]
fn names_agree_with_what_claude_code_loads() {
    let w = World::new();
    // A skill whose folder and `name` differ, a command in a sub-folder, an agent whose file and
    // `name` differ: in the user scope, the project scope, and an installed plugin.
    write(
        &w.claude.join("skills/folder-name/SKILL.md"),
        "---\nname: front-name\ndescription: A skill\n---\nDo it.\n",
    );
    write(
        &w.project.join(".claude/commands/frontend/lint.md"),
        "---\ndescription: Lint\n---\nLint.\n",
    );
    write(
        &w.project.join(".claude/agents/file-name.md"),
        "---\nname: agent-name\ndescription: An agent\n---\nYou help.\n",
    );
    let market = w.path().join("market");
    write_marketplace(&market, "local-market", &[("demo", Some("1.0.0"))]);
    let plugin = market.join("plugins/demo");
    write(
        &plugin.join("skills/plugin-folder/SKILL.md"),
        "---\nname: plugin-front\ndescription: A plugin skill\n---\nDo it.\n",
    );
    write(
        &plugin.join("commands/sub/deep.md"),
        "---\ndescription: Deep\n---\nDeep.\n",
    );
    ok(
        &w.aisys(&["entities", "marketplace", "add", market.to_str().unwrap()]),
        "marketplace add",
    );
    ok(
        &w.aisys(&["entities", "install", "demo@local-market"]),
        "install",
    );

    let init = init_line(&w);
    let list = w.list_json(&[]);
    let loaded = [
        ("skill", strings(&init["skills"])),
        ("command", strings(&init["slash_commands"])),
        ("agent", strings(&init["agents"])),
    ];
    for (kind, by_claude) in &loaded {
        for n in names(&list, kind) {
            assert!(
                by_claude.contains(&n),
                "aisys lists {kind}/{n}; Claude Code loads {loaded:?}"
            );
        }
    }
    for (kind, n) in [
        ("skill", "folder-name"),
        ("command", "frontend:lint"),
        ("agent", "agent-name"),
        ("skill", "demo:plugin-folder"),
        ("command", "demo:sub:deep"),
    ] {
        one(&list, kind, n);
    }
}

/// Which body Claude Code loads when the model calls the Skill tool for `name`.
fn body_claude_loads(w: &World, name: &str) -> String {
    let mock = Script::new()
        .on(
            When::UserSays("use it".into()),
            Reply::tool("Skill", json!({"skill": name})),
        )
        .always(When::Always, Reply::text("done"))
        .start();
    let out = claude(
        w,
        &[
            "-p",
            "use it",
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Skill",
        ],
        &[
            ("ANTHROPIC_BASE_URL", mock.base_url()),
            ("ANTHROPIC_API_KEY", "test".into()),
        ],
    );
    ok(&out, "claude -p");
    serde_json::to_string(&mock.requests()).unwrap()
}

#[test]
fn precedence_agrees_with_what_claude_code_runs() {
    let w = World::new();
    write(
        &w.claude.join("skills/pdf/SKILL.md"),
        "---\ndescription: user one\n---\nBODY-OF-USER-SKILL\n",
    );
    write(
        &w.project.join(".claude/skills/pdf/SKILL.md"),
        "---\ndescription: project one\n---\nBODY-OF-PROJECT-SKILL\n",
    );
    write(
        &w.project.join(".claude/skills/deploy/SKILL.md"),
        "---\ndescription: skill\n---\nBODY-OF-DEPLOY-SKILL\n",
    );
    write(
        &w.project.join(".claude/commands/deploy.md"),
        "---\ndescription: command\n---\nBODY-OF-DEPLOY-COMMAND\n",
    );
    let list = w.list_json(&["--kind", "skill"]);
    let active_pdf = list
        .iter()
        .find(|e| e["name"] == "pdf" && e["hidden_by"].is_null())
        .unwrap();
    let seen = body_claude_loads(&w, "pdf");
    let (wins, loses) = if active_pdf["scope"] == "user" {
        ("BODY-OF-USER-SKILL", "BODY-OF-PROJECT-SKILL")
    } else {
        ("BODY-OF-PROJECT-SKILL", "BODY-OF-USER-SKILL")
    };
    assert!(
        seen.contains(wins) && !seen.contains(loses),
        "aisys says {} wins; Claude Code loaded: {seen}",
        active_pdf["scope"]
    );

    let seen = body_claude_loads(&w, "deploy");
    assert!(
        seen.contains("BODY-OF-DEPLOY-SKILL") && !seen.contains("BODY-OF-DEPLOY-COMMAND"),
        "aisys says the skill hides the command; Claude Code loaded: {seen}"
    );
    let list = w.list_json(&[]);
    assert!(!one(&list, "command", "deploy")["hidden_by"].is_null());
}

#[test]
fn agent_precedence_agrees_with_what_claude_code_runs() {
    let w = World::new();
    write(
        &w.claude.join("agents/reviewer.md"),
        "---\nname: reviewer\ndescription: user one\n---\nPROMPT-OF-USER-AGENT\n",
    );
    write(
        &w.project.join(".claude/agents/reviewer.md"),
        "---\nname: reviewer\ndescription: project one\n---\nPROMPT-OF-PROJECT-AGENT\n",
    );
    let mock = Script::new()
        .on(
            When::UserSays("delegate".into()),
            Reply::tool(
                "Agent",
                json!({"description": "review", "prompt": "review it", "subagent_type": "reviewer"}),
            ),
        )
        .always(When::Always, Reply::text("done"))
        .start();
    let out = claude(
        &w,
        &[
            "-p",
            "delegate",
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Agent",
        ],
        &[
            ("ANTHROPIC_BASE_URL", mock.base_url()),
            ("ANTHROPIC_API_KEY", "test".into()),
        ],
    );
    ok(&out, "claude -p");
    let seen = serde_json::to_string(&mock.requests()).unwrap();
    let list = w.list_json(&["--kind", "agent"]);
    let active = list.iter().find(|e| e["hidden_by"].is_null()).unwrap();
    let (wins, loses) = if active["scope"] == "project" {
        ("PROMPT-OF-PROJECT-AGENT", "PROMPT-OF-USER-AGENT")
    } else {
        ("PROMPT-OF-USER-AGENT", "PROMPT-OF-PROJECT-AGENT")
    };
    assert!(
        seen.contains(wins) && !seen.contains(loses),
        "aisys says the {} agent wins; Claude Code sent: {seen}",
        active["scope"]
    );
}

#[test]
fn project_scope_from_a_sub_folder_agrees_with_claude_code() {
    let w = World::new();
    write(
        &w.project.join(".claude/skills/at-root/SKILL.md"),
        "---\ndescription: at the git root\n---\nx\n",
    );
    let sub = w.project.join("pkg/inner");
    write(
        &sub.join(".claude/skills/in-sub/SKILL.md"),
        "---\ndescription: in the sub-folder\n---\nx\n",
    );
    let out = w
        .aisys_cmd(&["entities", "list", "--format", "json", "--kind", "skill"])
        .current_dir(&sub)
        .output()
        .unwrap();
    ok(&out, "aisys list in a sub-folder");
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ours = names(&list, "skill");
    assert_eq!(ours, ["at-root", "in-sub"]);
    let init = init_line_in(&w, &sub);
    let theirs = strings(&init["skills"]);
    for n in ["at-root", "in-sub"] {
        assert_eq!(
            ours.contains(&n.to_string()),
            theirs.contains(&n.to_string()),
            "{n}: aisys {ours:?}, Claude Code {theirs:?}"
        );
    }
}

/// Claude Code 2.1.197 loads a plugin of a local folder marketplace from that folder (so edits
/// show at once), and a plugin of a git marketplace from its copy in the cache.
#[test]
fn plugins_are_read_from_where_claude_code_loads_them() {
    let w = World::new();
    let folder = w.path().join("folder-market");
    write_marketplace(&folder, "local-market", &[("demo", Some("1.0.0"))]);
    let repo = w.path().join("repo");
    write_marketplace(&repo, "git-market", &[("gdemo", Some("1.0.0"))]);
    commit_all(&repo);
    for args in [
        vec!["entities", "marketplace", "add", folder.to_str().unwrap()],
        vec!["entities", "install", "demo@local-market"],
        vec![
            "entities",
            "marketplace",
            "add",
            &format!("file://{}", repo.display()),
        ],
        vec!["entities", "install", "gdemo@git-market"],
    ] {
        ok(&w.aisys(&args), &format!("{args:?}"));
    }
    let skill = "---\ndescription: added after install\n---\nx\n";
    write(
        &folder.join("plugins/demo/skills/in-folder/SKILL.md"),
        skill,
    );
    write(
        &w.claude
            .join("plugins/cache/local-market/demo/1.0.0/skills/in-folder-cache/SKILL.md"),
        skill,
    );
    write(
        &w.claude
            .join("plugins/marketplaces/git-market/plugins/gdemo/skills/in-clone/SKILL.md"),
        skill,
    );
    write(
        &w.claude
            .join("plugins/cache/git-market/gdemo/1.0.0/skills/in-cache/SKILL.md"),
        skill,
    );
    let theirs = strings(&init_line(&w)["skills"]);
    let ours = names(&w.list_json(&["--kind", "skill"]), "skill");
    for n in [
        "demo:in-folder",
        "demo:in-folder-cache",
        "gdemo:in-clone",
        "gdemo:in-cache",
    ] {
        assert_eq!(
            ours.contains(&n.to_string()),
            theirs.contains(&n.to_string()),
            "{n}: aisys {ours:?}, Claude Code {theirs:?}"
        );
    }
    assert!(ours.contains(&"demo:in-folder".to_string()), "{ours:?}");
    assert!(ours.contains(&"gdemo:in-cache".to_string()), "{ours:?}");
}

/// Two plugins named `demo` from two marketplaces share the `demo:` namespace: the one aisys says
/// is active is the one Claude Code runs.
#[test]
fn same_plugin_name_twice_agrees_with_claude_code() {
    let w = World::new();
    for market in ["b-market", "a-market"] {
        let m = w.path().join(market);
        write_marketplace(&m, market, &[("demo", Some("1.0.0"))]);
        write(
            &m.join("plugins/demo/skills/greet/SKILL.md"),
            &format!("---\ndescription: from {market}\n---\nBODY-FROM-{market}\n"),
        );
        ok(
            &w.aisys(&["entities", "marketplace", "add", m.to_str().unwrap()]),
            "add",
        );
        ok(
            &w.aisys(&["entities", "install", &format!("demo@{market}")]),
            "install",
        );
    }
    let list = w.list_json(&["--kind", "skill"]);
    let active = list
        .iter()
        .find(|e| e["name"] == "demo:greet" && e["hidden_by"].is_null())
        .unwrap();
    let winner = active["source"]
        .as_str()
        .unwrap()
        .trim_start_matches("demo@");
    let loser = if winner == "a-market" {
        "b-market"
    } else {
        "a-market"
    };
    let seen = body_claude_loads(&w, "demo:greet");
    assert!(
        seen.contains(&format!("BODY-FROM-{winner}"))
            && !seen.contains(&format!("BODY-FROM-{loser}")),
        "aisys says demo@{winner} is active; Claude Code loaded: {seen}"
    );
}

/// Which scope `claude mcp get NAME` says the server comes from.
fn claude_mcp_scope(w: &World, name: &str) -> String {
    let out = claude(w, &["mcp", "get", name], &[]);
    let t = text(&out.stdout);
    let line = t
        .lines()
        .find(|l| l.trim_start().starts_with("Scope:"))
        .unwrap_or_else(|| panic!("no scope in: {t}{}", text(&out.stderr)));
    line.to_lowercase()
}

#[test]
fn mcp_precedence_agrees_with_claude_mcp_get() {
    let w = World::new();
    write(
        &w.claude.join(".claude.json"),
        r#"{"mcpServers": {"db": {"command": "user-db"}}}"#,
    );
    write(
        &w.project.join(".mcp.json"),
        r#"{"mcpServers": {"db": {"type": "http", "url": "http://127.0.0.1:9/project"}}}"#,
    );
    let active_scope = |w: &World| {
        let list = w.list_json(&["--kind", "mcp"]);
        let active: Vec<_> = list
            .iter()
            .filter(|e| e["hidden_by"].is_null() && e["enabled"] == true)
            .collect();
        assert_eq!(active.len(), 1, "{list:#?}");
        active[0].clone()
    };
    // The project's server is not approved yet: the user's runs.
    assert!(claude_mcp_scope(&w, "db").contains("user"));
    assert_eq!(active_scope(&w)["scope"], "user");
    // Approved, the project's wins over the user's.
    write(
        &w.claude.join("settings.json"),
        r#"{"enableAllProjectMcpServers": true}"#,
    );
    assert!(claude_mcp_scope(&w, "db").contains("project"));
    let a = active_scope(&w);
    assert_eq!(a["scope"], "project");
    assert!(a["path"].as_str().unwrap().ends_with(".mcp.json"));
    // A local one (in ~/.claude.json for this project) wins over both.
    let project = w.project.canonicalize().unwrap();
    write(
        &w.claude.join(".claude.json"),
        &json!({"mcpServers": {"db": {"command": "user-db"}},
                "projects": {project.display().to_string(): {"mcpServers": {"db": {"command": "local-db"}}}}})
        .to_string(),
    );
    assert!(claude_mcp_scope(&w, "db").contains("local"));
    let a = active_scope(&w);
    assert_eq!(a["description"], "local-db");
}

fn head_of(dir: &Path) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    text(&out.stdout).trim().to_string()
}

#[test]
fn git_subdir_and_pinned_sources_give_the_same_records_as_claude_plugin() {
    let by_claude = World::new();
    let by_aisys = World::new();
    let shared = tempfile::tempdir().unwrap();
    let repos = shared.path().join("repos");
    // A monorepo holding an unversioned plugin in a sub-folder.
    let mono = repos.join("mono.git");
    write_demo_plugin(&mono.join("tools/sub"), "sub", None);
    write(&mono.join("README.md"), "monorepo\n");
    commit_all(&mono);
    // A plugin repository with two commits; the marketplace pins the first.
    let own = repos.join("own.git");
    write_demo_plugin(&own, "pinned", None);
    commit_all(&own);
    let first = head_of(&own);
    write(
        &own.join("commands/later.md"),
        "---\ndescription: later\n---\n",
    );
    commit_all(&own);
    let market = repos.join("market.git");
    write(
        &market.join(".claude-plugin/marketplace.json"),
        &json!({"name": "git-market", "owner": {"name": "t"}, "plugins": [
            {"name": "sub", "source": {"source": "git-subdir", "url": "https://git.example/mono.git", "path": "tools/sub"}},
            {"name": "pinned", "source": {"source": "url", "url": "https://git.example/own.git", "sha": first}}
        ]})
        .to_string(),
    );
    commit_all(&market);
    git_rewrite(&[&by_claude, &by_aisys], &repos);
    let url = "https://git.example/market.git";
    for (w, cmd) in [(&by_claude, "plugin"), (&by_aisys, "entities")] {
        let base: Vec<&str> = if cmd == "plugin" {
            vec!["plugin"]
        } else {
            vec!["entities"]
        };
        for rest in [
            vec!["marketplace", "add", url],
            vec!["install", "sub@git-market"],
            vec!["install", "pinned@git-market"],
        ] {
            let args: Vec<&str> = base.iter().copied().chain(rest).collect();
            let out = if cmd == "plugin" {
                claude(w, &args, &[])
            } else {
                w.aisys(&args)
            };
            ok(&out, &format!("{args:?}"));
        }
    }
    let a = normalized(&by_claude);
    let b = normalized(&by_aisys);
    assert_eq!(a, b, "claude:\n{a:#}\naisys:\n{b:#}");
    let pinned = &b["installed"]["plugins"]["pinned@git-market"][0];
    assert_eq!(pinned["gitCommitSha"], first.as_str());
    let list = by_aisys.list_json(&["--kind", "command"]);
    assert!(!names(&list, "command").contains(&"pinned:later".to_string()));
    one(&list, "command", "sub:review");
}
