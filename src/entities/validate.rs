//! `entities validate`: checks a plugin, marketplace, skill, command or agent the way its author
//! needs, close to Claude Code's own `claude plugin validate`: invalid JSON or YAML with its line,
//! required fields, name formats, field types, and files a manifest names that do not exist.
//! Stricter than Claude Code 2.1.197 on one point: a documented field of the wrong type (e.g.
//! `background: maybe`) is an error here, where Claude Code's validator lets it pass.
//!
//! Reads only; must not change what it checks.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::frontmatter::{self, Document, json_type};
use super::{EntityError, EntityKind, file, layout, names};

/// Longest skill name the Agent Skills format allows.
pub const MAX_SKILL_NAME: usize = 64;
/// Longest skill description the Agent Skills format allows.
pub const MAX_SKILL_DESCRIPTION: usize = 1024;

/// How bad a finding is: errors make `validate` fail (exit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with the file, line (when known) and field it is about.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {sev}: ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// What was checked, and what was found.
#[derive(Debug, Default)]
pub struct Report {
    /// `kind path` of each thing checked.
    pub checked: Vec<(String, PathBuf)>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// Refuses `what` when the report holds an error, listing every error (warnings do not
    /// refuse); `fix` says what to do.
    pub fn refuse(&self, what: &str, fix: &str) -> Result<(), EntityError> {
        let errors: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("\n  {f}"))
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        Err(EntityError::Invalid(format!(
            "{what} has {} error(s):{}\n  fix: {fix}",
            errors.len(),
            errors.concat()
        )))
    }

    fn add(
        &mut self,
        severity: Severity,
        path: &Path,
        line: Option<usize>,
        field: Option<&str>,
        message: String,
    ) {
        self.findings.push(Finding {
            severity,
            path: path.to_path_buf(),
            line,
            field: field.map(String::from),
            message,
        });
    }
}

/// Checks whatever `path` is: a plugin or marketplace folder, a skill folder, or a Markdown file.
pub fn validate(path: &Path) -> Result<Report, String> {
    let mut r = Report::default();
    if !path.exists() {
        return Err(format!(
            "{}: no such file or folder; give a plugin folder or a skill, command or agent file",
            path.display()
        ));
    }
    if path.is_dir() {
        let plugin = path.join(".claude-plugin/plugin.json");
        let market = path.join(".claude-plugin/marketplace.json");
        if market.exists() {
            check_marketplace(path, &mut r);
        }
        if plugin.exists() || (!market.exists() && has_components(path)) {
            check_plugin(path, &mut r);
        } else if path.join("SKILL.md").exists() {
            check_markdown(&path.join("SKILL.md"), EntityKind::Skill, &mut r);
        } else if !market.exists() {
            return Err(format!(
                "{}: not a plugin (no .claude-plugin/plugin.json), marketplace or skill folder (no SKILL.md)",
                path.display()
            ));
        }
    } else {
        check_markdown(path, kind_of_file(path), &mut r);
    }
    Ok(r)
}

fn has_components(dir: &Path) -> bool {
    ["skills", "commands", "agents", "hooks"]
        .iter()
        .any(|d| dir.join(d).is_dir())
}

/// A file's kind from its name and folder: `SKILL.md`, a file under `agents/`, else a command.
fn kind_of_file(path: &Path) -> EntityKind {
    if path.file_name().is_some_and(|n| n == "SKILL.md") {
        return EntityKind::Skill;
    }
    if path
        .ancestors()
        .skip(1)
        .any(|a| a.file_name().is_some_and(|n| n == "agents"))
    {
        return EntityKind::Agent;
    }
    EntityKind::Command
}

fn read_object(path: &Path, r: &mut Report) -> Option<Map<String, Value>> {
    match layout::read_json(path, file::MAX_ENTITY_FILE) {
        Ok(Some(Value::Object(m))) => Some(m),
        Ok(Some(other)) => {
            r.add(
                Severity::Error,
                path,
                Some(1),
                None,
                format!("must be a JSON object, found {}", json_type(&other)),
            );
            None
        }
        Ok(None) => {
            r.add(Severity::Error, path, None, None, "is empty".into());
            None
        }
        Err(w) => {
            r.add(Severity::Error, path, w.line, None, w.message);
            None
        }
    }
}

/// Kebab-case, as Claude Code asks of plugin, skill and agent names.
fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The checks of a plugin folder and every component file in it: what `install` refuses a plugin
/// for.
pub fn plugin(dir: &Path) -> Report {
    let mut r = Report::default();
    check_plugin(dir, &mut r);
    r
}

fn check_plugin(dir: &Path, r: &mut Report) {
    let path = dir.join(".claude-plugin/plugin.json");
    r.checked.push(("plugin".into(), dir.to_path_buf()));
    let manifest = if path.exists() {
        read_object(&path, r)
    } else {
        r.add(
            Severity::Warning,
            &path,
            None,
            None,
            "missing; Claude Code then names the plugin after its folder".into(),
        );
        Some(Map::new())
    };
    let Some(m) = manifest else { return };
    if path.exists() {
        match m.get("name") {
            Some(Value::String(n)) => {
                if let Err(e) = names::check_name("plugin", n) {
                    r.add(Severity::Error, &path, None, Some("name"), e);
                } else if !is_kebab(n) {
                    r.add(
                        Severity::Warning,
                        &path,
                        None,
                        Some("name"),
                        format!("`{n}` is not kebab-case (e.g. `my-plugin`)"),
                    );
                }
            }
            Some(other) => r.add(
                Severity::Error,
                &path,
                None,
                Some("name"),
                format!("must be text, found {}", json_type(other)),
            ),
            None => r.add(
                Severity::Error,
                &path,
                None,
                Some("name"),
                "is required; add \"name\": \"my-plugin\"".into(),
            ),
        }
        for (key, why) in [
            (
                "version",
                "no version; add one following semver, e.g. \"1.0.0\"",
            ),
            (
                "description",
                "no description; it tells users what the plugin does",
            ),
            ("author", "no author; add {\"name\": ...} for attribution"),
        ] {
            if !m.contains_key(key) {
                r.add(Severity::Warning, &path, None, Some(key), why.into());
            }
        }
        for key in [
            "version",
            "description",
            "homepage",
            "repository",
            "license",
        ] {
            if let Some(v) = m.get(key)
                && !v.is_string()
            {
                r.add(
                    Severity::Error,
                    &path,
                    None,
                    Some(key),
                    format!("must be text, found {}", json_type(v)),
                );
            }
        }
        for key in [
            "commands",
            "agents",
            "skills",
            "hooks",
            "mcpServers",
            "outputStyles",
            "lspServers",
        ] {
            let paths: Vec<&str> = match m.get(key) {
                None => continue,
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => {
                    let mut out = Vec::new();
                    for v in a {
                        match v.as_str() {
                            Some(s) => out.push(s),
                            None => r.add(
                                Severity::Error,
                                &path,
                                None,
                                Some(key),
                                format!("list items must be paths, found {}", json_type(v)),
                            ),
                        }
                    }
                    out
                }
                // Hooks and MCP servers may be written inline.
                Some(Value::Object(_)) if matches!(key, "hooks" | "mcpServers" | "lspServers") => {
                    continue;
                }
                Some(other) => {
                    r.add(
                        Severity::Error,
                        &path,
                        None,
                        Some(key),
                        format!(
                            "must be a path or a list of paths, found {}",
                            json_type(other)
                        ),
                    );
                    continue;
                }
            };
            for p in paths {
                match names::inside(dir, p) {
                    Ok(full) if !full.exists() => r.add(
                        Severity::Error,
                        &path,
                        None,
                        Some(key),
                        format!(
                            "path `{p}` does not exist ({}); fix the path or create it",
                            full.display()
                        ),
                    ),
                    Ok(_) => {}
                    Err(e) => r.add(Severity::Error, &path, None, Some(key), e),
                }
            }
        }
    }
    for link in names::escaping_symlinks(dir) {
        r.add(Severity::Error, dir, None, None, format!("symlink leads outside the plugin: {link}; Claude Code and aisys refuse to install it"));
    }
    let hooks = dir.join("hooks/hooks.json");
    if hooks.exists()
        && let Some(h) = read_object(&hooks, r)
        && !h.get("hooks").is_some_and(Value::is_object)
    {
        r.add(
            Severity::Error,
            &hooks,
            None,
            Some("hooks"),
            "must be an object of events, e.g. {\"hooks\": {\"PostToolUse\": [...]}}".into(),
        );
    }
    let mcp = dir.join(".mcp.json");
    if mcp.exists() {
        read_object(&mcp, r);
    }
    // Every component file, as Claude Code's validate does.
    let mut files = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir.join("skills")) {
        let mut ds: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path().join("SKILL.md"))
            .filter(|p| p.exists())
            .collect();
        ds.sort();
        files.extend(ds.into_iter().map(|p| (p, EntityKind::Skill)));
    }
    collect_md(&dir.join("commands"), EntityKind::Command, &mut files, 8);
    collect_md(&dir.join("agents"), EntityKind::Agent, &mut files, 0);
    for (f, kind) in files {
        check_markdown(&f, kind, r);
    }
}

fn collect_md(dir: &Path, kind: EntityKind, out: &mut Vec<(PathBuf, EntityKind)>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut ps: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    ps.sort();
    for p in ps {
        if p.is_dir() {
            if depth > 0 {
                collect_md(&p, kind, out, depth - 1);
            }
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push((p, kind));
        }
    }
}

fn check_marketplace(dir: &Path, r: &mut Report) {
    let path = dir.join(".claude-plugin/marketplace.json");
    r.checked.push(("marketplace".into(), dir.to_path_buf()));
    let Some(m) = read_object(&path, r) else {
        return;
    };
    marketplace_fields(&path, &m, r);
    // The plugins it holds, where they are folders of it.
    let entries = m.get("plugins").and_then(Value::as_array).into_iter();
    for (i, p) in entries.flatten().enumerate() {
        let Some(rel) = p.get("source").and_then(Value::as_str) else {
            continue;
        };
        let field = format!("plugins[{i}]");
        match names::inside(dir, rel) {
            Ok(full) if full.is_dir() => {
                if full != dir {
                    check_plugin(&full, r);
                }
            }
            Ok(full) => r.add(
                Severity::Error,
                &path,
                None,
                Some(&field),
                format!("source `{rel}` does not exist ({})", full.display()),
            ),
            Err(e) => r.add(
                Severity::Error,
                &path,
                None,
                Some(&field),
                format!("source {e}"),
            ),
        }
    }
}

/// The checks of a marketplace document's own fields (`name`, `owner`, `plugins` and each entry's
/// `name` and kind of `source`), without the plugins it lists: what `marketplace add` and
/// `install` refuse a marketplace for. `path` names the document (a file, or a URL).
pub fn marketplace_fields(path: &Path, m: &Map<String, Value>, r: &mut Report) {
    match m.get("name") {
        Some(Value::String(n)) => {
            if let Err(e) = names::check_name("marketplace", n) {
                r.add(Severity::Error, path, None, Some("name"), e);
            }
        }
        Some(other) => r.add(
            Severity::Error,
            path,
            None,
            Some("name"),
            format!(
                "must be text, found {}; write e.g. \"name\": \"my-marketplace\"",
                json_type(other)
            ),
        ),
        None => r.add(
            Severity::Error,
            path,
            None,
            Some("name"),
            "is required (text); add \"name\": \"my-marketplace\"".into(),
        ),
    }
    if !m
        .get("owner")
        .is_some_and(|o| o.get("name").is_some_and(Value::is_string))
    {
        r.add(
            Severity::Error,
            path,
            None,
            Some("owner"),
            "is required: {\"name\": \"...\"}".into(),
        );
    }
    let described = m.contains_key("description")
        || m.get("metadata")
            .and_then(|x| x.get("description"))
            .is_some();
    if !described {
        r.add(
            Severity::Warning,
            path,
            None,
            Some("description"),
            "no description; it tells users what the marketplace offers".into(),
        );
    }
    let plugins = match m.get("plugins") {
        Some(Value::Array(a)) => a,
        other => {
            let message = match other {
                Some(v) => format!(
                    "must be a list of {{\"name\", \"source\"}}, found {}",
                    json_type(v)
                ),
                None => "is required: a list of {\"name\", \"source\"}".into(),
            };
            r.add(Severity::Error, path, None, Some("plugins"), message);
            return;
        }
    };
    for (i, p) in plugins.iter().enumerate() {
        let field = format!("plugins[{i}]");
        match p.get("name").and_then(Value::as_str) {
            Some(n) => {
                if let Err(e) = names::check_name("plugin", n) {
                    r.add(Severity::Error, path, None, Some(&field), e);
                }
            }
            None => r.add(
                Severity::Error,
                path,
                None,
                Some(&field),
                "`name` is required".into(),
            ),
        }
        match p.get("source") {
            Some(Value::String(_)) => {}
            Some(Value::Object(o)) if o.get("source").is_some_and(Value::is_string) => {}
            Some(other) => r.add(
                Severity::Error,
                path,
                None,
                Some(&field),
                format!(
                    "`source` must be a relative path or {{\"source\": \"github\"|\"url\", ...}}, found {}",
                    json_type(other)
                ),
            ),
            None => r.add(
                Severity::Error,
                path,
                None,
                Some(&field),
                "`source` is required".into(),
            ),
        }
    }
}

/// Field types Claude Code documents, per kind: (field, accepts a list too).
fn text_fields(kind: EntityKind) -> &'static [(&'static str, bool)] {
    match kind {
        EntityKind::Skill => &[
            ("name", false),
            ("description", false),
            ("when_to_use", false),
            ("argument-hint", false),
            ("allowed-tools", true),
            ("model", false),
            ("effort", false),
            ("context", false),
            ("agent", false),
            ("shell", false),
            ("paths", true),
            ("license", false),
            ("version", false),
        ],
        EntityKind::Command => &[
            ("description", false),
            ("argument-hint", false),
            ("allowed-tools", true),
            ("model", false),
        ],
        _ => &[
            ("name", false),
            ("description", false),
            ("tools", true),
            ("disallowedTools", true),
            ("model", false),
            ("permissionMode", false),
            ("color", false),
            ("skills", true),
            ("memory", false),
            ("effort", false),
            ("isolation", false),
            ("initialPrompt", false),
        ],
    }
}

/// Boolean fields Claude Code documents, per kind.
fn bool_fields(kind: EntityKind) -> &'static [&'static str] {
    match kind {
        EntityKind::Skill => &["disable-model-invocation", "user-invocable"],
        EntityKind::Command => &["disable-model-invocation"],
        _ => &["background"],
    }
}

fn check_markdown(path: &Path, kind: EntityKind, r: &mut Report) {
    r.checked.push((kind.to_string(), path.to_path_buf()));
    let text = match file::read_text(path, file::MAX_ENTITY_FILE) {
        Ok(t) => t,
        Err(e) => {
            let what = if e.is_skipped() {
                "skipped"
            } else {
                "cannot read"
            };
            r.add(Severity::Error, path, None, None, format!("{what}: {e}"));
            return;
        }
    };
    let doc = match frontmatter::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            r.add(
                Severity::Error,
                path,
                Some(e.line),
                Some("frontmatter"),
                format!(
                    "{}; Claude Code then loads it with no metadata at all",
                    e.message
                ),
            );
            return;
        }
    };
    let field_line = |d: &Document<'_>, k: &str| d.line_of(k).or(Some(d.yaml_start_line));
    for (key, list_ok) in text_fields(kind) {
        match doc.fields.get(*key) {
            None | Some(Value::String(_)) | Some(Value::Null) => {}
            Some(Value::Array(a)) if *list_ok && a.iter().all(Value::is_string) => {}
            // YAML reads `model: 4` as a number; Claude Code takes it as text.
            Some(Value::Number(_)) | Some(Value::Bool(_)) if !list_ok => {}
            Some(v) => r.add(
                Severity::Error,
                path,
                field_line(&doc, key),
                Some(key),
                format!(
                    "must be text{}, found {}",
                    if *list_ok { " or a list of text" } else { "" },
                    json_type(v)
                ),
            ),
        }
    }
    for key in bool_fields(kind) {
        if let Some(v) = doc.fields.get(*key)
            && !v.is_boolean()
        {
            r.add(
                Severity::Error,
                path,
                field_line(&doc, key),
                Some(key),
                format!("must be true or false, found {}", json_type(v)),
            );
        }
    }
    let description = doc.fields.get("description").and_then(Value::as_str);
    if description.is_none_or(|d| d.trim().is_empty()) {
        r.add(
            Severity::Warning,
            path,
            None,
            Some("description"),
            format!("no description in the frontmatter; it tells Claude when to use this {kind}"),
        );
    }
    let name = doc.fields.get("name").and_then(Value::as_str);
    match kind {
        EntityKind::Skill => {
            if let Some(d) = description
                && d.chars().count() > MAX_SKILL_DESCRIPTION
            {
                r.add(
                    Severity::Error,
                    path,
                    field_line(&doc, "description"),
                    Some("description"),
                    format!("longer than {MAX_SKILL_DESCRIPTION} characters"),
                );
            }
            let folder = path
                .parent()
                .and_then(|p| p.file_name())
                .map(|f| f.to_string_lossy().into_owned());
            if let Some(n) = name {
                if !is_kebab(n) || n.len() > MAX_SKILL_NAME {
                    // A warning: Claude Code 2.1.197 names the skill by its folder either way.
                    r.add(Severity::Warning, path, field_line(&doc, "name"), Some("name"), format!("`{n}` should be lowercase letters, digits and hyphens, at most {MAX_SKILL_NAME} characters (the Agent Skills format)"));
                } else if folder.as_deref().is_some_and(|f| f != n) {
                    r.add(
                        Severity::Warning,
                        path,
                        field_line(&doc, "name"),
                        Some("name"),
                        format!(
                            "`{n}` differs from the folder name `{}`, which is the name Claude Code uses",
                            folder.unwrap_or_default()
                        ),
                    );
                }
            }
        }
        EntityKind::Agent => match name {
            None => r.add(
                Severity::Warning,
                path,
                None,
                Some("name"),
                "no name; Claude Code names the agent after its file".into(),
            ),
            Some(n) if !is_kebab(n) => r.add(
                Severity::Warning,
                path,
                field_line(&doc, "name"),
                Some("name"),
                format!("`{n}` is not lowercase-with-hyphens, e.g. `code-reviewer`"),
            ),
            _ => {}
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_paths() {
        assert_eq!(
            kind_of_file(Path::new("/p/skills/x/SKILL.md")),
            EntityKind::Skill
        );
        assert_eq!(kind_of_file(Path::new("/p/agents/a.md")), EntityKind::Agent);
        assert_eq!(
            kind_of_file(Path::new("/p/commands/sub/c.md")),
            EntityKind::Command
        );
    }

    #[test]
    fn kebab() {
        assert!(is_kebab("code-review2"));
        assert!(!is_kebab("Code Review"));
        assert!(!is_kebab("-x"));
    }
}
