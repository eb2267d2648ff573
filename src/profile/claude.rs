//! A profile in Claude Code's layout, under `.claude/` of the sandbox's home: skills, commands,
//! agents, rules, and each plugin as a local folder marketplace of its own (the form Claude Code
//! loads in place), with `installed_plugins.json`, `known_marketplaces.json` and `settings.json`
//! records pointing inside the sandbox. Checked against what the real Claude Code reports in its
//! `system/init` line (`tests/profiles.rs`).
//!
//! Must not write anything but the files of the profile's entries and those records.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::collect::{Budget, file_at, folder_at, last_of_each_path, safe_name, safe_path};
use super::{EntryKind, Origin, ProfileError, Resolved};
use crate::runtime::env::{HomeFile, HomeTree};

/// The time written into plugin records (Claude Code reads it only to show it).
const RECORD_TIME: &str = "2026-01-01T00:00:00.000Z";

/// The trees of `profile` for Claude Code, whose home inside the sandbox is `home`.
pub fn trees(
    profile: &Resolved,
    home: &str,
    budget: &mut Budget,
) -> Result<Vec<HomeTree>, ProfileError> {
    let mut skills = Vec::new();
    let mut commands = Vec::new();
    let mut agents = Vec::new();
    let mut claude_md = None;
    let mut rules = Vec::new();
    for e in profile
        .entries
        .iter()
        .filter(|e| !matches!(e.origin, Origin::Plugin(_)) || e.kind == EntryKind::Plugin)
    {
        match e.kind {
            EntryKind::Skill => {
                let dir = skill_dir(&e.path);
                let name = safe_name(&dir.file_name().unwrap_or_default().to_string_lossy());
                skills.extend(folder_at(dir, &format!(".claude/skills/{name}"), budget)?);
            }
            EntryKind::Command => {
                let rel = safe_path(&e.name, ':');
                commands.push(file_at(
                    &e.path,
                    format!(".claude/commands/{rel}.md"),
                    budget,
                )?);
            }
            EntryKind::Agent => {
                let file = safe_name(&e.path.file_name().unwrap_or_default().to_string_lossy());
                agents.push(file_at(&e.path, format!(".claude/agents/{file}"), budget)?);
            }
            // The user's rules folder, a rules file of the profile (`rules/NAME.md`), or the
            // CLAUDE.md.
            EntryKind::Rules if e.path.is_dir() => {
                rules.extend(folder_at(&e.path, ".claude/rules", budget)?);
            }
            EntryKind::Rules if e.name == "CLAUDE.md" => {
                claude_md = Some(HomeTree {
                    root: ".claude/CLAUDE.md".into(),
                    files: vec![file_at(&e.path, ".claude/CLAUDE.md".into(), budget)?],
                });
            }
            EntryKind::Rules => {
                let rel = safe_path(&e.name, '/');
                rules.push(file_at(&e.path, format!(".claude/{rel}"), budget)?);
            }
            EntryKind::Plugin | EntryKind::Mcp | EntryKind::Hooks => {}
        }
    }
    let mut out = Vec::new();
    for (root, files) in [
        (".claude/skills", skills),
        (".claude/commands", commands),
        (".claude/agents", agents),
    ] {
        if !files.is_empty() {
            out.push(HomeTree {
                root: root.into(),
                files,
            });
        }
    }
    if !rules.is_empty() {
        out.push(HomeTree {
            root: ".claude/rules".into(),
            files: last_of_each_path(rules),
        });
    }
    out.extend(claude_md);
    let (plugins, enabled) = plugin_tree(profile, home, budget)?;
    if let Some(t) = plugins {
        out.push(t);
    }
    out.push(settings(profile, enabled));
    Ok(out)
}

/// The folder of a skill whose entry names its `SKILL.md` (or the folder itself).
fn skill_dir(path: &Path) -> &Path {
    if path.file_name().is_some_and(|n| n == "SKILL.md") {
        path.parent().unwrap_or(path)
    } else {
        path
    }
}

/// Every plugin, each in a folder marketplace named as its own, and the records that install and
/// enable them; and the ids to enable.
fn plugin_tree(
    profile: &Resolved,
    home: &str,
    budget: &mut Budget,
) -> Result<(Option<HomeTree>, Vec<String>), ProfileError> {
    if profile.plugins.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut files: Vec<HomeFile> = Vec::new();
    let mut by_market: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut installed = serde_json::Map::new();
    let mut enabled = Vec::new();
    for p in &profile.plugins {
        let market = safe_name(&p.marketplace);
        let name = safe_name(&p.name);
        let rel = format!(".claude/plugins/marketplaces/{market}/plugins/{name}");
        files.extend(folder_at(&p.root, &rel, budget)?);
        let mut entry = json!({"name": p.name, "source": format!("./plugins/{name}")});
        if let Some(v) = &p.version {
            entry["version"] = json!(v);
        }
        by_market.entry(&p.marketplace).or_default().push(entry);
        let mut record = json!({
            "scope": "user",
            "installPath": format!("{home}/{rel}"),
            "installedAt": RECORD_TIME,
            "lastUpdated": RECORD_TIME,
        });
        if let Some(v) = &p.version {
            record["version"] = json!(v);
        }
        installed.insert(p.id.clone(), json!([record]));
        enabled.push(p.id.clone());
    }
    let mut known = serde_json::Map::new();
    for (market, plugins) in by_market {
        let dir = format!(".claude/plugins/marketplaces/{}", safe_name(market));
        let manifest = json!({"name": market, "owner": {"name": "aisys"}, "plugins": plugins});
        files.push(json_file(
            format!("{dir}/.claude-plugin/marketplace.json"),
            &manifest,
        ));
        let at = format!("{home}/{dir}");
        known.insert(
            market.to_string(),
            json!({
                "source": {"source": "directory", "path": at},
                "installLocation": at,
                "lastUpdated": RECORD_TIME,
            }),
        );
    }
    files.push(json_file(
        ".claude/plugins/installed_plugins.json".into(),
        &json!({"version": 2, "plugins": installed}),
    ));
    files.push(json_file(
        ".claude/plugins/known_marketplaces.json".into(),
        &Value::Object(known),
    ));
    Ok((
        Some(HomeTree {
            root: ".claude/plugins".into(),
            files,
        }),
        enabled,
    ))
}

/// `settings.json`: the enabled plugins, the user's hooks, and the profile's settings.
fn settings(profile: &Resolved, enabled: Vec<String>) -> HomeTree {
    let mut doc = serde_json::Map::new();
    if !enabled.is_empty() {
        let on: serde_json::Map<String, Value> = enabled
            .into_iter()
            .map(|id| (id, Value::Bool(true)))
            .collect();
        doc.insert("enabledPlugins".into(), Value::Object(on));
    }
    if let Some(h) = &profile.hooks {
        doc.insert("hooks".into(), h.clone());
    }
    let s = &profile.settings;
    if let Some(m) = &s.model {
        doc.insert("model".into(), json!(m));
    }
    let mut permissions = serde_json::Map::new();
    if !s.allowed_tools.is_empty() {
        permissions.insert("allow".into(), json!(s.allowed_tools));
    }
    if !s.denied_tools.is_empty() {
        permissions.insert("deny".into(), json!(s.denied_tools));
    }
    if let Some(m) = s.permission_mode {
        permissions.insert("defaultMode".into(), json!(m.as_str()));
    }
    if !permissions.is_empty() {
        doc.insert("permissions".into(), Value::Object(permissions));
    }
    HomeTree {
        root: ".claude/settings.json".into(),
        files: vec![json_file(
            ".claude/settings.json".into(),
            &Value::Object(doc),
        )],
    }
}

fn json_file(path: String, doc: &Value) -> HomeFile {
    HomeFile {
        path,
        data: serde_json::to_vec_pretty(doc).unwrap_or_default(),
        executable: false,
    }
}
