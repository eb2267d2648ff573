//! Agent profiles with the real agent CLIs in bubblewrap, against the scripted mock model: what a
//! user's Claude Code loads (a skill, a plugin installed by `aisys entities install`, an MCP
//! server) reaches the sandboxed agent, which reports it in `session_started`; `--profile none`
//! gives a bare agent; a named profile gives exactly its list; credentials never enter the
//! sandbox; OpenCode gets the same profile in its own layout; and `aisys serve` does the same for
//! `session.create {profile}`. A named profile's rules files and hooks reach the model's request
//! (OpenCode's rules through its `instructions`), and a skill the agent loads shows as loaded.

mod common;
mod mock_api;
mod run_harness;
mod serve_harness;

use common::run_ok;
use std::path::{Path, PathBuf};
use std::process::Command;

use aisys::types::{AgentLoaded, SessionSpec, StreamEvent};
use mock_api::{MockAnthropic, Reply, Script, When, claude_bin, opencode_bin};
use run_harness::{Run, events};
use serde_json::json;
use serve_harness::*;

/// In the credentials file of the user's Claude home: must never be readable in a sandbox.
const CREDENTIALS_MARKER: &str = "CRED-MARKER-5d1e9";
/// The value of the MCP server's `env`: left out of every profile that does not define it.
const MCP_SECRET: &str = "mcp-secret-77ab";
/// In the user skill's resource file: the agent can read the skill's files.
const SKILL_NOTE: &str = "skill-note-3c2f";

/// A tiny stdio MCP server: answers `initialize` and `tools/list`.
const MCP_SERVER: &str = r#"import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    if m["method"] == "initialize":
        r = {"protocolVersion": m["params"]["protocolVersion"], "capabilities": {"tools": {}},
             "serverInfo": {"name": "tiny", "version": "1"}}
    elif m["method"] == "tools/list":
        r = {"tools": [{"name": "ping", "description": "ping", "inputSchema": {"type": "object"}}]}
    else:
        r = {}
    print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}), flush=True)
"#;

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// `aisys` with `home` as the user's home (for `entities`).
fn aisys(home: &Path, args: &[&str]) {
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home)
            .env("AISYS_CONFIG_DIR", home.join("cfg"))
            .env("GIT_CEILING_DIRECTORIES", home),
    );
}

/// In the home folder `home`: a user skill with a resource file, a marketplace with the plugin
/// `demo` (a skill, an agent and a command) installed by `aisys entities install`, a stdio MCP
/// server with a secret in its `env`, and Claude Code credentials.
fn user_setup(home: &Path) -> PathBuf {
    let claude = home.join(".claude");
    write(
        &claude.join("skills/hello/SKILL.md"),
        "---\nname: hello\ndescription: Say hello\n---\nSay hello.\n",
    );
    write(&claude.join("skills/hello/notes.txt"), SKILL_NOTE);
    write(
        &claude.join(".credentials.json"),
        &format!(r#"{{"claudeAiOauth": {{"accessToken": "{CREDENTIALS_MARKER}"}}}}"#),
    );
    let market = home.join("market");
    let plugin = market.join("plugins/demo");
    write(
        &plugin.join(".claude-plugin/plugin.json"),
        r#"{"name": "demo", "version": "1.0.0", "description": "Demo"}"#,
    );
    write(
        &plugin.join("skills/greet/SKILL.md"),
        "---\nname: greet\ndescription: Greet the user\n---\nGreet.\n",
    );
    write(
        &plugin.join("agents/tester.md"),
        "---\nname: tester\ndescription: Runs the tests\n---\nYou run tests.\n",
    );
    write(
        &plugin.join("commands/review.md"),
        "---\ndescription: Review the code\n---\nReview $ARGUMENTS.\n",
    );
    write(
        &market.join(".claude-plugin/marketplace.json"),
        r#"{"name": "mk", "owner": {"name": "Tests"}, "plugins": [{"name": "demo", "source": "./plugins/demo", "version": "1.0.0"}]}"#,
    );
    aisys(
        home,
        &["entities", "marketplace", "add", market.to_str().unwrap()],
    );
    aisys(home, &["entities", "install", "demo@mk"]);
    let script = home.join("mcp/tiny.py");
    write(&script, MCP_SERVER);
    let state = json!({"mcpServers": {"tiny": {"type": "stdio", "command": "python3",
        "args": [script.to_str().unwrap()], "env": {"TOKEN": MCP_SECRET}}}});
    write(&home.join(".claude.json"), &state.to_string());
    script
}

fn loaded(events: &[StreamEvent]) -> AgentLoaded {
    events
        .iter()
        .find_map(|e| match e {
            StreamEvent::SessionStarted {
                loaded: Some(l), ..
            } => Some((**l).clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no session_started with what was loaded in {events:#?}"))
}

fn has(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n == name)
}

fn tool_output(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolResult { content, .. } => {
                Some(serde_json::to_string(content).unwrap())
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The mock runs `command` with the agent's shell tool (`tool`) once, then ends the turn.
fn mock_running(tool: &str, command: &str) -> MockAnthropic {
    Script::new()
        .on(
            When::UserSays("go".into()),
            Reply::tool(tool, json!({"command": command, "description": "look"})),
        )
        .always(When::Always, Reply::text("done"))
        .start()
}

#[test]
fn the_user_profile_gives_the_sandboxed_agent_what_claude_code_loads_and_no_credentials() {
    let run = Run::new();
    user_setup(run.dir.path());
    // The agent reads its skill's file, looks for the credentials by name everywhere and by
    // content in its home, workspace and /tmp, and for the MCP server's secret.
    let probe = format!(
        "cat ~/.claude/skills/hello/notes.txt; echo; \
         find / -name .credentials.json -not -path '/proc/*' 2>/dev/null; \
         grep -rl -e {CREDENTIALS_MARKER} -e {MCP_SECRET} ~ \"$PWD\" /tmp 2>/dev/null; echo searched"
    );
    let mock = mock_running("Bash", &probe);
    let out = run.run(
        &mock,
        &[
            "go",
            "--format",
            "jsonl",
            "--permission-mode",
            "bypassPermissions",
        ],
    );
    let evs = events(&out);
    let l = loaded(&evs);
    assert!(has(&l.skills, "hello"), "{l:#?}");
    assert!(has(&l.skills, "demo:greet"), "{l:#?}");
    assert!(has(&l.agents, "demo:tester"), "{l:#?}");
    assert!(has(&l.slash_commands, "demo:review"), "{l:#?}");
    assert!(
        l.plugins
            .iter()
            .any(|p| p.source.as_deref() == Some("demo@mk")),
        "{l:#?}"
    );
    assert!(
        l.mcp_servers
            .iter()
            .any(|m| m.name == "tiny" && m.status == "connected"),
        "{l:#?}"
    );
    let output = tool_output(&evs);
    assert!(output.contains(SKILL_NOTE), "the skill's file: {output}");
    assert!(output.contains("searched"), "{output}");
    assert!(
        !output.contains(".credentials.json") && !output.contains(CREDENTIALS_MARKER),
        "credentials visible in the sandbox: {output}"
    );
    assert!(
        !output.contains(".claude.json"),
        "the MCP secret reached the sandbox: {output}"
    );
}

#[test]
fn the_pretty_output_says_in_one_line_what_the_agent_loaded() {
    let run = Run::new();
    user_setup(run.dir.path());
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let out = run.run(&mock, &["go", "--format", "pretty"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("loaded "))
        .unwrap_or_else(|| panic!("no summary line in {text}"));
    assert!(line.contains("plugins: demo"), "{line}");
    assert!(line.contains("MCP: tiny (connected)"), "{line}");
}

#[test]
fn profile_none_gives_a_bare_agent() {
    let run = Run::new();
    user_setup(run.dir.path());
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let out = run.run(&mock, &["go", "--format", "jsonl", "--profile", "none"]);
    let l = loaded(&events(&out));
    assert!(!has(&l.skills, "hello"), "{l:#?}");
    assert!(!has(&l.skills, "demo:greet"), "{l:#?}");
    assert!(l.plugins.is_empty() && l.mcp_servers.is_empty(), "{l:#?}");
}

#[test]
fn a_named_profile_gives_exactly_its_list() {
    let run = Run::new();
    let home = run.dir.path();
    let script = user_setup(home);
    write(
        &home.join("cfg/skills/lint/SKILL.md"),
        "---\nname: lint\ndescription: Lint the code\n---\nLint.\n",
    );
    write(
        &home.join("cfg/config.toml"),
        &format!(
            r#"
[profiles.review]
plugins = ["demo@mk"]
skills = ["skills/lint"]

[profiles.review.mcp_servers.checker]
command = "python3"
args = ["{}"]
"#,
            script.display()
        ),
    );
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let out = run.run(&mock, &["go", "--format", "jsonl", "--profile", "review"]);
    let l = loaded(&events(&out));
    assert!(has(&l.skills, "lint"), "{l:#?}");
    assert!(has(&l.skills, "demo:greet"), "{l:#?}");
    assert!(
        !has(&l.skills, "hello"),
        "the user's skill is not in the list: {l:#?}"
    );
    let mcp: Vec<(&str, &str)> = l
        .mcp_servers
        .iter()
        .map(|m| (m.name.as_str(), m.status.as_str()))
        .collect();
    assert_eq!(mcp, vec![("checker", "connected")]);
}

#[test]
fn a_profile_that_names_something_missing_or_wrong_fails_before_any_sandbox_starts() {
    let run = Run::new();
    let home = run.dir.path();
    write(
        &home.join("cfg/config.toml"),
        "[profiles.broken]\nplugins = [\"absent@nowhere\"]\n\n\
         [[profiles.bad.hooks.PreToolUse]]\nmatcher = \"Bash\"\nhooks = [{ type = \"command\" }]\n",
    );
    // No mock model: nothing may start.
    let mock = Script::new().start();
    let out = run.run(&mock, &["go", "--profile", "broken"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "bad input: {err}");
    assert!(
        err.contains("absent@nowhere") && err.contains("aisys entities install absent@nowhere"),
        "{err}"
    );
    let out = run.run(&mock, &["go", "--profile", "bad"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "bad input: {err}");
    assert!(
        err.contains("profile `bad`: hooks: `PreToolUse` matcher 1, hook 1")
            && err.contains("[profiles.bad.hooks]"),
        "{err}"
    );
    let out = run.run(&mock, &["go", "--profile", "nope"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("profile `nope` is not defined"), "{err}");
    assert_eq!(out.status.code(), Some(2), "a usage error: {err}");
    assert!(mock.requests().is_empty());
}

#[test]
fn opencode_gets_the_profile_in_its_own_layout() {
    let run = Run::new();
    user_setup(run.dir.path());
    // OpenCode reports nothing of what it loaded: ask the real CLI, inside the sandbox.
    let oc = opencode_bin();
    let oc = oc.canonicalize().unwrap();
    let probe = format!(
        "{oc} debug skill | grep '\"name\"'; {oc} mcp list; {oc} agent list | grep -i tester; \
         cat ~/.config/opencode/opencode.json; echo searched",
        oc = oc.display()
    );
    let mock = mock_running("bash", &probe);
    let out = run.run(&mock, &["go", "--agent", "opencode", "--format", "jsonl"]);
    let output = tool_output(&events(&out));
    assert!(output.contains("searched"), "{output}");
    assert!(
        output.contains("\\\"hello\\\""),
        "the user's skill: {output}"
    );
    assert!(
        output.contains("demo-greet"),
        "the plugin's skill: {output}"
    );
    assert!(
        output.contains("demo-tester"),
        "the plugin's agent: {output}"
    );
    assert!(
        output.contains("tiny") && output.contains("connected"),
        "{output}"
    );
    assert!(!output.contains(MCP_SECRET), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_gives_a_session_the_profile_it_was_created_with() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    // The server's HOME is its data folder: the user's Claude Code files live there.
    std::fs::create_dir_all(&data).unwrap();
    user_setup(&data);
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let server = Server::with_claude(&data, &claude_bin(), &mock.base_url(), &[]);
    let (client, mut notes) = server.client().await;
    let mut seen = Vec::new();
    for profile in [None, Some("none")] {
        let info = client
            .create(SessionSpec {
                profile: profile.map(str::to_string),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(info.profile.as_deref(), Some(profile.unwrap_or("user")));
        assert!(info.profile_resolved_at.is_some());
        client.attach(&info.id, 0).await.unwrap();
        say(&client, &info.id, "go").await;
        let evs: Vec<StreamEvent> = until_result(&mut notes, &info.id)
            .await
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        seen.push(loaded(&evs));
    }
    assert!(has(&seen[0].skills, "demo:greet"), "{:#?}", seen[0]);
    assert!(
        seen[0]
            .mcp_servers
            .iter()
            .any(|m| m.name == "tiny" && m.status == "connected"),
        "{:#?}",
        seen[0]
    );
    assert!(!has(&seen[1].skills, "demo:greet"), "{:#?}", seen[1]);
    let err = client
        .create(SessionSpec {
            profile: Some("nope".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("profile `nope`"), "{err}");
}

/// `aisys entities profile ...` with `home` as the user's home; stdout as JSON.
fn profile_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let out = run_ok(
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["entities", "profile"])
            .args(args)
            .args(["--format", "json", "--project"])
            .arg(home)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", home)
            .env("AISYS_CONFIG_DIR", home.join("cfg")),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn entities_profile_shows_what_each_profile_resolves_to_and_where_it_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    user_setup(home);
    write(
        &home.join("cfg/config.toml"),
        "[profiles.review]\nplugins = [\"demo@mk\"]\nmodel = \"claude-sonnet-4-5\"\n\n[profiles.broken]\nmcp = [\"absent\"]\n",
    );
    let user = profile_json(home, &["show", "user"]);
    let entries = user["entries"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        entries
            .iter()
            .find(|e| e["kind"] == kind && e["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {user:#}"))
    };
    assert_eq!(find("skill", "hello")["origin"]["type"], "user");
    assert_eq!(find("plugin", "demo@mk")["origin"]["id"], "demo@mk");
    assert_eq!(find("skill", "demo:greet")["origin"]["type"], "plugin");
    assert!(
        find("mcp", "tiny")["note"]
            .as_str()
            .unwrap()
            .contains("not copied")
    );
    let review = profile_json(home, &["show", "review"]);
    let names: Vec<&str> = review["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"demo@mk") && !names.contains(&"hello"),
        "{review:#}"
    );
    assert_eq!(review["settings"]["model"], "claude-sonnet-4-5");
    let list = profile_json(home, &["list"]);
    let row = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("user")["default"], true);
    assert_eq!(row("user")["counts"]["plugins"], 1);
    assert_eq!(row("none")["counts"]["skills"], 0);
    assert!(
        row("broken")["error"]
            .as_str()
            .unwrap()
            .contains("MCP server `absent`"),
        "{list:#}"
    );
}

/// In a profile's rules file: the agent reads it.
const RULE_MARKER: &str = "rule-marker-8e41";
/// What the profile's hook prints: Claude Code adds a `UserPromptSubmit` hook's output to the
/// prompt, so it reaches the model only when the hook ran.
const HOOK_MARKER: &str = "hook-marker-2b7c";

/// A `[profiles.guide]` with a folder of rules files (one in a sub-folder) and a hook.
fn guide_profile(home: &Path) {
    write(
        &home.join("cfg/rules/style.md"),
        &format!("Always write {RULE_MARKER}-style.\n"),
    );
    write(
        &home.join("cfg/rules/lang/rust.md"),
        &format!("In Rust, {RULE_MARKER}-rust.\n"),
    );
    write(
        &home.join("cfg/config.toml"),
        &format!(
            r#"
[profiles.guide]
rules = ["rules"]

[[profiles.guide.hooks.UserPromptSubmit]]
hooks = [{{ type = "command", command = "echo {} | tr A-Z a-z" }}]

[[profiles.guide.hooks.SessionStart]]
hooks = [{{ type = "command", command = "echo session-hook-ran" }}]
"#,
            // The command's own text does not hold the marker: only its output does.
            HOOK_MARKER.to_uppercase()
        ),
    );
}

/// Both of the guide profile's rules files are in `sent`, the model's request.
fn rules_reached(sent: &str) {
    for rule in ["style", "rust"] {
        assert!(
            sent.contains(&format!("{RULE_MARKER}-{rule}")),
            "the rules file {rule}.md reached the model: {sent}"
        );
    }
}

#[test]
fn a_profiles_rules_and_hooks_reach_claude_code() {
    let run = Run::new();
    guide_profile(run.dir.path());
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let out = run.run(&mock, &["go", "--format", "jsonl", "--profile", "guide"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = mock.last_main_request().to_string();
    rules_reached(&sent);
    assert!(sent.contains(HOOK_MARKER), "the hook ran: {sent}");
    // Claude Code reports a session's start hooks: a notice, not raw JSON.
    let evs = events(&out);
    let said = evs.iter().find_map(|e| match e {
        StreamEvent::Notice { kind, text, .. } if kind == "hook" => Some(text.clone()),
        _ => None,
    });
    assert_eq!(
        said.as_deref(),
        Some("SessionStart:startup hook: success: session-hook-ran"),
        "{evs:#?}"
    );
    assert!(
        !evs.iter().any(|e| matches!(e, StreamEvent::Raw { .. })),
        "{evs:#?}"
    );
}

#[test]
fn opencode_reads_a_profiles_rules_as_instructions() {
    let run = Run::new();
    guide_profile(run.dir.path());
    let mock = Script::new()
        .always(When::Always, Reply::text("hi"))
        .start();
    let out = run.run(
        &mock,
        &[
            "go",
            "--agent",
            "opencode",
            "--format",
            "jsonl",
            "--profile",
            "guide",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = mock.last_main_request().to_string();
    rules_reached(&sent);
}

#[test]
fn a_skill_the_agent_loads_is_shown_as_loaded_not_as_the_users_words() {
    let run = Run::new();
    user_setup(run.dir.path());
    // A model that has the agent load the user's skill (once per model).
    let loads_the_skill = || {
        Script::new()
            .on(
                When::UserSays("go".into()),
                Reply::tool("Skill", json!({"skill": "hello"})),
            )
            .always(When::Always, Reply::text("done"))
            .start()
    };
    let out = run.run(&loads_the_skill(), &["go", "--format", "jsonl"]);
    let evs = events(&out);
    let users: Vec<&str> = evs
        .iter()
        .filter_map(|e| match e {
            StreamEvent::UserMessage { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        users.iter().all(|t| !t.contains("Say hello.")),
        "the skill's instructions are not the user's message: {users:?}"
    );
    let loaded = evs.iter().find_map(|e| match e {
        StreamEvent::Notice { kind, text, .. } if kind == "skill_load" => Some(text.clone()),
        _ => None,
    });
    let loaded = loaded.unwrap_or_else(|| panic!("a skill_load notice in {evs:#?}"));
    assert!(
        loaded.starts_with("loaded skill hello from ") && loaded.ends_with(".claude/skills/hello"),
        "{loaded}"
    );
    // The pretty output says so too, in its own line.
    let out = run.run(&loads_the_skill(), &["go", "--format", "pretty"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("loaded skill hello from ")),
        "{text}"
    );
    assert!(!text.contains("Say hello."), "{text}");
}
