//! Wall time of `aisys entities list --format json` over a generated Claude home of 5,000 entities
//! (skills, commands and agents) in 50 installed plugins, the process start included. Run with
//! `cargo bench --bench entities_list`; it prints the median and p90 in milliseconds.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

/// Plugins in the benchmark home.
const PLUGINS: usize = 50;
/// Entities per plugin: 40 skills, 40 commands, 20 agents.
const PER_PLUGIN: (usize, usize, usize) = (40, 40, 20);
/// Timed runs under `cargo bench` (after one untimed run that warms the page cache).
const RUNS: usize = 40;
/// Plugins and runs when run as a test (`cargo test --all-targets`), to prove the bench works.
const SMOKE_PLUGINS: usize = 3;
const SMOKE_RUNS: usize = 2;

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A Claude home with `plugins` installed and enabled plugins, as Claude Code records them.
fn generate(home: &Path, plugins: usize) -> usize {
    let (skills, commands, agents) = PER_PLUGIN;
    let mut installed = serde_json::Map::new();
    let mut enabled = serde_json::Map::new();
    for p in 0..plugins {
        let name = format!("plugin{p:02}");
        let root = home.join(format!("plugins/cache/bench-market/{name}/1.0.0"));
        write(
            &root.join(".claude-plugin/plugin.json"),
            &json!({"name": name, "version": "1.0.0", "description": "generated"}).to_string(),
        );
        for i in 0..skills {
            write(
                &root.join(format!("skills/skill{i}/SKILL.md")),
                &format!(
                    "---\nname: skill{i}\ndescription: Does thing {i} when the user asks for it\nallowed-tools: Read, Grep, Glob\n---\n# Skill {i}\n\nSteps.\n"
                ),
            );
        }
        for i in 0..commands {
            write(
                &root.join(format!("commands/group{}/cmd{i}.md", i % 4)),
                &format!(
                    "---\ndescription: Command {i}\nargument-hint: \"[file]\"\nallowed-tools: Bash(git status:*)\nmodel: haiku\n---\nRun $ARGUMENTS.\n"
                ),
            );
        }
        for i in 0..agents {
            write(
                &root.join(format!("agents/agent{i}.md")),
                &format!(
                    "---\nname: agent{i}\ndescription: Agent {i}\ntools: Read, Grep\nmodel: sonnet\ncolor: blue\n---\nYou are agent {i}.\n"
                ),
            );
        }
        let id = format!("{name}@bench-market");
        installed.insert(
            id.clone(),
            json!([{"scope": "user", "installPath": root, "version": "1.0.0",
                    "installedAt": "2026-11-27T00:00:00.000Z", "lastUpdated": "2026-11-27T00:00:00.000Z"}]),
        );
        enabled.insert(id, Value::Bool(true));
    }
    write(
        &home.join("plugins/installed_plugins.json"),
        &json!({"version": 2, "plugins": installed}).to_string(),
    );
    write(
        &home.join("settings.json"),
        &json!({"enabledPlugins": enabled}).to_string(),
    );
    plugins * (skills + commands + agents)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (plugins, runs) = if full {
        (PLUGINS, RUNS)
    } else {
        (SMOKE_PLUGINS, SMOKE_RUNS)
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("claude");
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let entities = generate(&home, plugins);
    let run = || {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["entities", "list", "--format", "json"])
            .current_dir(&project)
            .env("HOME", dir.path())
            .env("CLAUDE_CONFIG_DIR", &home)
            .env("AISYS_CONFIG_DIR", dir.path().join("cfg"))
            .output()
            .unwrap();
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (elapsed, out.stdout)
    };
    let (_, stdout) = run();
    let listed: Vec<Value> = serde_json::from_slice(&stdout).unwrap();
    let counted = listed
        .iter()
        .filter(|e| matches!(e["kind"].as_str(), Some("skill" | "command" | "agent")))
        .count();
    assert_eq!(counted, entities, "every generated entity is listed");
    let mut times: Vec<f64> = (0..runs).map(|_| run().0).collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
    println!(
        "entities list --format json: {entities} entities in {plugins} plugins, {runs} runs: median {median:.1} ms, p90 {p90:.1} ms"
    );
}
