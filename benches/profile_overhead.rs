//! What an agent profile adds to a sandbox's start: a user's Claude Code home with 50 entities
//! (20 skills with a resource file each, 15 commands, 10 subagents, a plugin with a skill, a
//! command and an agent, and 2 MCP servers), resolved, turned into Claude Code's layout and
//! placed in a bubblewrap sandbox's home.
//!
//! Two measurements, in one run:
//! - the profile's own steps, in process: resolve (discovery of the user's files), materialize
//!   (reading every file), place (staging and mounts) — median and p90 of many rounds;
//! - end to end: `aisys run --profile user` against `aisys run --profile none` for the same turn
//!   of the real Claude Code against the mock model, alternating.
//!
//! `cargo bench --bench profile_overhead`; as a test it runs one round of each.

#[path = "../tests/mock_api/mod.rs"]
mod mock_api;
#[path = "support/timing.rs"]
mod timing;

use timing::{CLAUDE_STDIN, pct};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aisys::config::ConfigFile;
use aisys::entities::Roots;
use aisys::profile::{self, Sources};
use aisys::runtime::env::{BwrapEnvironment, ExecutionEnvironment, SandboxSpec};
use aisys::types::AgentKind;
use mock_api::{Reply, Script, When, claude_bin};

/// In-process rounds under `cargo bench`.
const STEP_ROUNDS: usize = 200;
/// End-to-end rounds of each command under `cargo bench`.
const RUN_ROUNDS: usize = 30;

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A Claude Code home with 50 entities under `home`.
fn populate(home: &Path) {
    let c = home.join(".claude");
    for i in 0..20 {
        let d = c.join(format!("skills/skill-{i}"));
        write(
            &d.join("SKILL.md"),
            &format!(
                "---\nname: skill-{i}\ndescription: Skill number {i}\n---\n{}\n",
                "Do the thing. ".repeat(40)
            ),
        );
        write(&d.join("reference.md"), &"Reference text. ".repeat(200));
    }
    for i in 0..15 {
        write(
            &c.join(format!("commands/cmd-{i}.md")),
            &format!("---\ndescription: Command {i}\n---\nRun step {i} on $ARGUMENTS.\n"),
        );
    }
    for i in 0..10 {
        write(
            &c.join(format!("agents/agent-{i}.md")),
            &format!("---\nname: agent-{i}\ndescription: Agent {i}\n---\nYou are agent {i}.\n"),
        );
    }
    let plugin = c.join("plugins/cache/mk/demo/1.0.0");
    write(
        &plugin.join(".claude-plugin/plugin.json"),
        r#"{"name": "demo", "version": "1.0.0"}"#,
    );
    write(
        &plugin.join("skills/greet/SKILL.md"),
        "---\nname: greet\ndescription: Greet\n---\nHi.\n",
    );
    write(
        &plugin.join("commands/review.md"),
        "---\ndescription: Review\n---\nReview.\n",
    );
    write(
        &plugin.join("agents/tester.md"),
        "---\nname: tester\ndescription: Test\n---\nTest.\n",
    );
    write(
        &c.join("plugins/installed_plugins.json"),
        &serde_json::json!({"version": 2, "plugins": {"demo@mk": [{"scope": "user",
            "installPath": plugin, "version": "1.0.0"}]}})
        .to_string(),
    );
    write(
        &c.join("plugins/known_marketplaces.json"),
        &serde_json::json!({"mk": {"source": {"source": "directory", "path": home.join("mk")},
            "installLocation": home.join("mk")}})
        .to_string(),
    );
    write(
        &c.join("settings.json"),
        r#"{"enabledPlugins": {"demo@mk": true}}"#,
    );
    // Where the user's Claude Code reads them (`~/.claude.json`), and where Claude Code run
    // directly with `CLAUDE_CONFIG_DIR` does: both runs start the same servers.
    let servers = r#"{"mcpServers": {"a": {"command": "true"}, "b": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}"#;
    write(&home.join(".claude.json"), servers);
    write(&c.join(".claude.json"), servers);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn timed_run(cmd: &mut Command) -> Duration {
    timing::timed(cmd, None, "answer")
}

fn timed_with(cmd: &mut Command, stdin: Option<&str>) -> Duration {
    timing::timed(cmd, stdin, "answer")
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (step_rounds, run_rounds) = if bench {
        (STEP_ROUNDS, RUN_ROUNDS)
    } else {
        (1, 1)
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = dir.path().join("home");
    populate(&home);
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let sources = Sources {
        roots: Roots {
            claude_home: home.join(".claude"),
            claude_json: Some(home.join(".claude.json")),
            projects: Roots::project_dirs(&ws),
        },
        config_dir: dir.path().join("cfg"),
    };
    let config = ConfigFile::default();
    let cfg_path = dir.path().join("cfg/config.toml");
    let resolved = profile::resolve("user", &config, &cfg_path, &sources).unwrap();
    let count = resolved
        .entries
        .iter()
        .filter(|e| e.kind != profile::EntryKind::Plugin)
        .count();
    println!("entities in the profile: {count} (and the plugin holding 3 of them)");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = dir.path().join("data");
    let env = rt.block_on(BwrapEnvironment::detect(&data)).unwrap();
    let (mut resolve_t, mut make_t, mut place_t, mut total_t) = (vec![], vec![], vec![], vec![]);
    for i in 0..step_rounds {
        let spec = SandboxSpec {
            workspace: ws.clone(),
            home: data.join(format!("homes/{i}/claude-code")),
            ..Default::default()
        };
        let sandbox = rt.block_on(env.create(spec)).unwrap();
        let t0 = Instant::now();
        let r = profile::resolve("user", &config, &cfg_path, &sources).unwrap();
        let t1 = Instant::now();
        let made = profile::materialize(&r, AgentKind::ClaudeCode, sandbox.home()).unwrap();
        let t2 = Instant::now();
        rt.block_on(sandbox.place_home(&made.trees)).unwrap();
        let t3 = Instant::now();
        resolve_t.push(t1 - t0);
        make_t.push(t2 - t1);
        place_t.push(t3 - t2);
        total_t.push(t3 - t0);
        rt.block_on(sandbox.terminate()).unwrap();
    }
    println!("in process, {step_rounds} rounds:        median      p90");
    for (name, v) in [
        ("resolve", &resolve_t),
        ("materialize", &make_t),
        ("place (stage, mounts)", &place_t),
        ("all three", &total_t),
    ] {
        println!(
            "  {name:<22} {:>8.2} ms {:>8.2} ms",
            ms(pct(v, 50)),
            ms(pct(v, 90))
        );
    }

    let mock = Script::new()
        .always(When::Always, Reply::text("the answer"))
        .start();
    let bin = claude_bin().canonicalize().unwrap();
    let run = |profile: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aisys"));
        c.args([
            "run",
            "say something",
            "--format",
            "jsonl",
            "--profile",
            profile,
            "--workspace",
        ])
        .arg(&ws)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("AISYS_CLAUDE_BIN", &bin)
        .env("AISYS_DATA_DIR", &data)
        .env("AISYS_CONFIG_DIR", dir.path().join("cfg"))
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env("ANTHROPIC_API_KEY", "bench")
        .env("DISABLE_TELEMETRY", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        c
    };
    // Claude Code itself, outside any sandbox, with the same 50 entities in its home and with
    // none: what loading them costs the agent, which aisys cannot save.
    let empty_home = dir.path().join("empty-home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let direct = |home: &Path| {
        let mut c = Command::new(&bin);
        c.args([
            "-p",
            "say something",
            "--output-format",
            "stream-json",
            "--verbose",
        ])
        .current_dir(&ws)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env("ANTHROPIC_API_KEY", "bench")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        c
    };
    timed_run(&mut run("none"));
    timed_run(&mut run("user"));
    timed_with(&mut direct(&empty_home), Some(CLAUDE_STDIN));
    timed_with(&mut direct(&home), Some(CLAUDE_STDIN));
    let (mut none, mut user, mut bare, mut full) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..run_rounds {
        none.push(timed_run(&mut run("none")));
        user.push(timed_run(&mut run("user")));
        bare.push(timed_with(&mut direct(&empty_home), Some(CLAUDE_STDIN)));
        full.push(timed_with(&mut direct(&home), Some(CLAUDE_STDIN)));
    }
    println!("end to end, {run_rounds} rounds each, alternating:   median      p90");
    println!(
        "  aisys run --profile none     {:>8.1} ms {:>8.1} ms",
        ms(pct(&none, 50)),
        ms(pct(&none, 90))
    );
    println!(
        "  aisys run --profile user     {:>8.1} ms {:>8.1} ms",
        ms(pct(&user, 50)),
        ms(pct(&user, 90))
    );
    println!(
        "  claude -p, empty home        {:>8.1} ms {:>8.1} ms",
        ms(pct(&bare, 50)),
        ms(pct(&bare, 90))
    );
    println!(
        "  claude -p, the 50 entities   {:>8.1} ms {:>8.1} ms",
        ms(pct(&full, 50)),
        ms(pct(&full, 90))
    );
    let with_profile = ms(pct(&user, 50)) - ms(pct(&none, 50));
    let agent_own = ms(pct(&full, 50)) - ms(pct(&bare, 50));
    println!("  user - none (aisys)          {with_profile:>8.1} ms");
    println!("  50 entities - empty (claude) {agent_own:>8.1} ms (the agent loading them)");
    println!(
        "  what the profile adds in aisys {:>6.1} ms (the difference of the two)",
        with_profile - agent_own
    );
}
