//! A profile in OpenCode's layout, under `.config/opencode/` of the sandbox's home (as OpenCode
//! 1.18 reads it: `skills/<name>/SKILL.md`, `commands/<name>.md`, `agents/<name>.md` with `mode:
//! subagent`, `AGENTS.md` for the CLAUDE.md, and the other rules files under `rules/`, each named
//! in its config's `instructions`). OpenCode has no plugins of Claude Code's kind: a
//! plugin's skills, commands and agents are placed as the user's own, named `plugin-name`. Hooks
//! have no OpenCode form and are left out; MCP servers go into its config (the adapter).
//!
//! Must not write anything but the files of the profile's entries.

use super::collect::{Budget, file_at, folder_at, last_of_each_path, safe_path};
use super::{EntryKind, ProfileError, Resolved};
use crate::entities::frontmatter;
use crate::runtime::env::{HomeFile, HomeTree};

/// OpenCode's config folder, relative to the home.
const DIR: &str = ".config/opencode";

/// The trees of `profile` for OpenCode, whose home inside the sandbox is `home`, and the rules
/// files for its config's `instructions` (absolute paths inside the sandbox).
pub fn trees(
    profile: &Resolved,
    home: &str,
    budget: &mut Budget,
) -> Result<(Vec<HomeTree>, Vec<String>), ProfileError> {
    let mut skills = Vec::new();
    let mut commands = Vec::new();
    let mut agents = Vec::new();
    let mut agents_md = None;
    let mut rules = Vec::new();
    for e in &profile.entries {
        let name = opencode_name(&e.name);
        match e.kind {
            EntryKind::Skill => {
                let dir = if e.path.file_name().is_some_and(|n| n == "SKILL.md") {
                    e.path.parent().unwrap_or(&e.path)
                } else {
                    &e.path
                };
                let root = format!("{DIR}/skills/{name}");
                for mut f in folder_at(dir, &root, budget)? {
                    // OpenCode wants a skill's `name` to be its folder's.
                    if f.path == format!("{root}/SKILL.md") {
                        f.data = renamed_skill(&f.data, &name);
                    }
                    skills.push(f);
                }
            }
            EntryKind::Command => {
                commands.push(file_at(
                    &e.path,
                    format!("{DIR}/commands/{name}.md"),
                    budget,
                )?);
            }
            EntryKind::Agent => {
                let f = file_at(&e.path, format!("{DIR}/agents/{name}.md"), budget)?;
                agents.push(HomeFile {
                    data: subagent(&f.data),
                    ..f
                });
            }
            EntryKind::Rules if e.path.is_file() && e.name == "CLAUDE.md" => {
                agents_md = Some(file_at(&e.path, format!("{DIR}/AGENTS.md"), budget)?);
            }
            EntryKind::Rules if e.path.is_dir() => {
                rules.extend(folder_at(&e.path, &format!("{DIR}/rules"), budget)?);
            }
            EntryKind::Rules => {
                let rel = safe_path(&e.name, '/');
                rules.push(file_at(&e.path, format!("{DIR}/{rel}"), budget)?);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (root, files) in [
        ("skills", skills),
        ("commands", commands),
        ("agents", agents),
    ] {
        if !files.is_empty() {
            out.push(HomeTree {
                root: format!("{DIR}/{root}"),
                files,
            });
        }
    }
    if let Some(f) = agents_md {
        out.push(HomeTree {
            root: f.path.clone(),
            files: vec![f],
        });
    }
    // Each file by its own path: OpenCode globs only the last part of an absolute one.
    let rules = last_of_each_path(rules);
    let instructions = rules
        .iter()
        .filter(|f| f.path.ends_with(".md"))
        .map(|f| format!("{home}/{}", f.path))
        .collect();
    if !rules.is_empty() {
        out.push(HomeTree {
            root: format!("{DIR}/rules"),
            files: rules,
        });
    }
    Ok((out, instructions))
}

/// A name OpenCode accepts for a skill, command or agent: lowercase letters, digits and `-`
/// (`demo:greet` becomes `demo-greet`).
pub fn opencode_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "unnamed".into() } else { s }
}

/// A `SKILL.md` whose frontmatter `name` is `name`.
fn renamed_skill(data: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    match frontmatter::parse(&text) {
        Ok(doc) if doc.has_frontmatter => {
            let mut fields = doc.fields.clone();
            fields.insert("name".into(), name.into());
            with_frontmatter(&fields, doc.body)
        }
        _ => data.to_vec(),
    }
}

/// A Claude Code subagent file as an OpenCode one: its description and prompt, as a subagent
/// (its `tools` and `model` are in Claude Code's terms, which OpenCode does not share).
fn subagent(data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    let (description, body) = match frontmatter::parse(&text) {
        Ok(doc) => (
            doc.fields
                .get("description")
                .and_then(|d| d.as_str())
                .map(str::to_string),
            doc.body.to_string(),
        ),
        Err(_) => (None, text.to_string()),
    };
    let mut fields = serde_json::Map::new();
    fields.insert(
        "description".into(),
        description.unwrap_or_else(|| "A subagent".into()).into(),
    );
    fields.insert("mode".into(), "subagent".into());
    with_frontmatter(&fields, &body)
}

/// `---\n<fields as YAML>---\n<body>`; JSON strings are valid YAML scalars.
fn with_frontmatter(fields: &serde_json::Map<String, serde_json::Value>, body: &str) -> Vec<u8> {
    let mut out = String::from("---\n");
    for (k, v) in fields {
        let value = match v {
            serde_json::Value::String(_)
            | serde_json::Value::Number(_)
            | serde_json::Value::Bool(_) => v.to_string(),
            other => serde_json::to_string(other).unwrap_or_default(),
        };
        out.push_str(&format!("{k}: {value}\n"));
    }
    out.push_str("---\n");
    out.push_str(body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_what_opencode_accepts() {
        assert_eq!(opencode_name("demo:greet"), "demo-greet");
        assert_eq!(opencode_name("Front End::Lint"), "front-end-lint");
        assert_eq!(opencode_name("::"), "unnamed");
    }

    #[test]
    fn a_skill_takes_its_folder_name_and_an_agent_becomes_a_subagent() {
        let skill = renamed_skill(
            b"---\nname: Hello There\ndescription: hi\n---\nBody\n",
            "hello",
        );
        let text = String::from_utf8(skill).unwrap();
        assert!(text.contains("name: \"hello\""), "{text}");
        assert!(text.ends_with("---\nBody\n"), "{text}");
        let agent =
            subagent(b"---\nname: t\ndescription: Runs tests\ntools: Bash\n---\nYou test.\n");
        let text = String::from_utf8(agent).unwrap();
        assert!(
            text.contains("mode: \"subagent\"") && text.contains("Runs tests"),
            "{text}"
        );
        assert!(!text.contains("tools"), "{text}");
    }
}
