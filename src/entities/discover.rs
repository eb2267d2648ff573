//! Discovery: every skill, command, agent, hook, MCP server, plugin and marketplace in the user
//! scope, the project scope and the installed plugins, with Claude Code's precedence applied.
//!
//! Precedence, as Claude Code documents it (code.claude.com docs on skills, sub-agents and MCP):
//! - skills and commands share one name space (commands are skills now): a user (personal) one
//!   wins over a project one, and at the same level a skill wins over a command;
//! - subagents: a project one wins over a user one;
//! - MCP servers: local (`~/.claude.json` `projects.<dir>.mcpServers`) over project (`.mcp.json`)
//!   over user (`~/.claude.json` `mcpServers`), where a `.mcp.json` server counts only once
//!   approved (checked against `claude mcp get` in `tests/entities_interop.rs`);
//! - plugin entities are namespaced (`plugin:name`), so they never collide with the others;
//! - hooks all run: none hides another.
//!
//! Names, as Claude Code 2.1.197 loads them (checked against its `system/init` line in
//! `tests/entities_interop.rs`): a skill is named by its folder, not its `name` field; a command by
//! its path under `commands/`, sub-folders joined with `:` (`frontend/lint.md` is `frontend:lint`);
//! an agent by its `name` field, else its file.
//!
//! Reads only; must not write anything. Each file is read once, plugins are walked in parallel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::file;
use super::frontmatter::{self, Document};
use super::layout::{self, ClaudeHome};
use super::{Entity, EntityKind, Scope, Warning};

/// Deepest folder level searched under `commands/` (sub-folders only group files; this bounds a
/// walk into a symlink loop or a huge tree put there by mistake).
pub const MAX_COMMAND_DEPTH: usize = 8;

/// Where to look.
#[derive(Debug, Clone)]
pub struct Roots {
    /// `~/.claude` or `$CLAUDE_CONFIG_DIR`.
    pub claude_home: PathBuf,
    /// Claude Code's global state file (`~/.claude.json`, or `.claude.json` inside
    /// `$CLAUDE_CONFIG_DIR`): user and local MCP servers.
    pub claude_json: Option<PathBuf>,
    /// Project folders whose `.claude/` is the project scope, nearest first (the working folder,
    /// then its parents up to the git root).
    pub projects: Vec<PathBuf>,
}

impl Roots {
    /// The project folders for `dir`: it, then each parent up to and including its git root (none
    /// above `dir` when it is not in a git repository).
    pub fn project_dirs(dir: &Path) -> Vec<PathBuf> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let git_root = dir.ancestors().find(|a| a.join(".git").exists());
        match git_root {
            Some(root) => dir
                .ancestors()
                .take_while(|a| a.starts_with(root))
                .map(Path::to_path_buf)
                .collect(),
            None => vec![dir],
        }
    }
}

/// Everything found, and what could not be read.
#[derive(Debug, Default, Clone)]
pub struct Inventory {
    pub entities: Vec<Entity>,
    pub warnings: Vec<Warning>,
}

/// A folder of skills/commands/agents to scan, and what its entities belong to.
#[derive(Debug, Clone)]
struct Source {
    scope: Scope,
    /// 0 for the nearest project folder, larger for parents; 0 for user and plugins.
    depth: usize,
    root: PathBuf,
    /// For plugin sources: the namespace and the `plugin@marketplace` id.
    plugin: Option<PluginCtx>,
}

#[derive(Debug, Clone)]
struct PluginCtx {
    namespace: String,
    id: String,
    enabled: bool,
    manifest: Map<String, Value>,
}

/// Finds every entity under `roots`.
pub fn discover(roots: &Roots) -> Inventory {
    let mut inv = Inventory::default();
    let home = ClaudeHome::new(&roots.claude_home);

    // Settings, nearest wins: project local, project, then user.
    let mut settings_docs: Vec<(Scope, usize, PathBuf, Value)> = Vec::new();
    for (depth, p) in roots.projects.iter().enumerate() {
        for f in layout::project_settings(p) {
            if let Some(v) = read_json_warn(&f, &mut inv.warnings) {
                settings_docs.push((Scope::Project, depth, f, v));
            }
        }
    }
    if let Some(v) = read_json_warn(&home.settings(), &mut inv.warnings) {
        settings_docs.push((Scope::User, 0, home.settings(), v));
    }
    let mut enabled: HashMap<String, bool> = HashMap::new();
    for (_, _, _, doc) in &settings_docs {
        for (id, on) in layout::enabled_plugins(doc) {
            enabled.entry(id).or_insert(on);
        }
    }

    let mut sources = vec![Source {
        scope: Scope::User,
        depth: 0,
        root: roots.claude_home.clone(),
        plugin: None,
    }];
    for (depth, p) in roots.projects.iter().enumerate() {
        sources.push(Source {
            scope: Scope::Project,
            depth,
            root: p.join(".claude"),
            plugin: None,
        });
    }
    let known = read_marketplaces(&home, &mut inv.warnings);
    sources.extend(plugin_sources(roots, &home, &known, &enabled, &mut inv));

    let scanned = scan_parallel(&sources);
    let mut ranked: Vec<(Entity, Rank)> = Vec::new();
    for (src, (es, ws)) in sources.iter().zip(scanned) {
        inv.warnings.extend(ws);
        for e in es {
            let r = rank_of(&e, src.depth);
            ranked.push((e, r));
        }
    }

    // Hooks and MCP servers from settings and MCP files.
    for (scope, depth, path, doc) in &settings_docs {
        push_hooks(doc, *scope, path, None, &mut ranked, *depth);
        push_mcp(
            doc,
            *scope,
            path,
            None,
            &mut ranked,
            mcp_rank(*scope, false, *depth),
        );
    }
    let claude_json = roots
        .claude_json
        .as_ref()
        .and_then(|cj| Some((cj, read_json_warn(cj, &mut inv.warnings)?)));
    // A project's .mcp.json servers run only once approved (Claude Code asks, and keeps the
    // answer in settings or in ~/.claude.json); an unapproved one is listed as disabled.
    let mut approval_docs: Vec<&Value> = settings_docs.iter().map(|(_, _, _, d)| d).collect();
    if let Some((_, doc)) = &claude_json
        && let Some(projects) = doc.get("projects").and_then(Value::as_object)
    {
        for p in &roots.projects {
            if let Some(pd) = projects.get(&p.to_string_lossy().into_owned()) {
                approval_docs.push(pd);
            }
        }
    }
    for (depth, p) in roots.projects.iter().enumerate() {
        let f = p.join(".mcp.json");
        if let Some(doc) = read_json_warn(&f, &mut inv.warnings) {
            let first = ranked.len();
            push_mcp(
                &doc,
                Scope::Project,
                &f,
                None,
                &mut ranked,
                mcp_rank(Scope::Project, false, depth),
            );
            for (e, _) in &mut ranked[first..] {
                e.enabled = mcp_json_approved(&approval_docs, &e.name);
            }
        }
    }
    if let Some((cj, doc)) = &claude_json {
        push_mcp(
            doc,
            Scope::User,
            cj,
            None,
            &mut ranked,
            mcp_rank(Scope::User, false, 0),
        );
        if let Some(projects) = doc.get("projects").and_then(Value::as_object) {
            for (depth, p) in roots.projects.iter().enumerate() {
                if let Some(pd) = projects.get(&p.to_string_lossy().into_owned()) {
                    push_mcp(
                        pd,
                        Scope::Project,
                        cj,
                        None,
                        &mut ranked,
                        mcp_rank(Scope::Project, true, depth),
                    );
                }
            }
        }
    }

    apply_precedence(&mut ranked);
    // The plugin entities themselves were added while reading installed_plugins.json.
    inv.entities.extend(ranked.into_iter().map(|(e, _)| e));
    inv.entities.extend(known.iter().map(Known::entity));
    inv.entities.sort_by(|a, b| {
        (a.kind, &a.name, a.scope, &a.path).cmp(&(b.kind, &b.name, b.scope, &b.path))
    });
    inv
}

/// What one source gave: its entities and its warnings.
type Scanned = (Vec<Entity>, Vec<Warning>);

/// Most threads the walk uses: files are small, so more threads than cores only contend.
const MAX_WALK_THREADS: usize = 8;

/// Scans every source on a few threads that take the next source from a shared counter; results
/// come back in the sources' order. Plain threads, not a pool: a pool's idle spinning costs more
/// CPU than this walk on a busy machine.
fn scan_parallel(sources: &[Source]) -> Vec<Scanned> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_WALK_THREADS)
        .min(sources.len());
    if threads <= 1 {
        return sources.iter().map(scan_source).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Scanned>>> = sources.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(src) = sources.get(i) else { break };
                    let r = scan_source(src);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().ok().flatten().unwrap_or_default())
        .collect()
}

fn read_json_warn(path: &Path, warnings: &mut Vec<Warning>) -> Option<Value> {
    match layout::read_json(path, file::MAX_STATE_FILE) {
        Ok(v) => v,
        Err(w) => {
            warnings.push(w);
            None
        }
    }
}

/// The installed plugins that apply here: user-scope records, and project-scope records of one of
/// the project folders.
fn plugin_sources(
    roots: &Roots,
    home: &ClaudeHome,
    known: &[Known],
    enabled: &HashMap<String, bool>,
    inv: &mut Inventory,
) -> Vec<Source> {
    let path = home.installed_plugins();
    let Some(doc) = read_json_warn(&path, &mut inv.warnings) else {
        return Vec::new();
    };
    let (records, warnings) = layout::installed_records(&doc, &path);
    inv.warnings.extend(warnings);
    let mut out = Vec::new();
    for (id, recs) in records {
        let applies = recs.iter().find(|r| match r.scope.as_str() {
            "project" | "local" => r
                .project_path
                .as_ref()
                .is_some_and(|pp| roots.projects.iter().any(|p| same_dir(p, pp))),
            _ => true,
        });
        let Some(rec) = applies else { continue };
        let (plugin_name, market) = layout::split_plugin_id(&id).unwrap_or((&id, ""));
        let root = known
            .iter()
            .find(|k| k.name == market)
            .and_then(|k| k.load_root(plugin_name))
            .unwrap_or_else(|| rec.install_path.clone());
        let manifest_path = root.join(".claude-plugin/plugin.json");
        let manifest = match layout::read_json(&manifest_path, file::MAX_ENTITY_FILE) {
            Ok(Some(Value::Object(m))) => m,
            Ok(Some(_)) => {
                inv.warnings.push(Warning {
                    path: manifest_path.clone(),
                    line: Some(1),
                    message: "plugin.json must be a JSON object".into(),
                });
                Map::new()
            }
            Ok(None) => Map::new(),
            Err(w) => {
                inv.warnings.push(w);
                Map::new()
            }
        };
        if !root.is_dir() {
            inv.warnings.push(Warning {
                path: root.clone(),
                line: None,
                message: format!(
                    "plugin `{id}` is recorded in {} but its folder is missing; reinstall it with `aisys entities install {id}`",
                    path.display()
                ),
            });
        }
        let namespace = manifest
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(plugin_name)
            .to_string();
        let on = enabled.get(&id).copied().unwrap_or(false);
        let mut fields = manifest.clone();
        if let Some(v) = &rec.version {
            fields.entry("version").or_insert(Value::String(v.clone()));
        }
        inv.entities.push(Entity {
            name: id.clone(),
            kind: EntityKind::Plugin,
            scope: Scope::Plugin,
            source: id.clone(),
            path: root.clone(),
            description: manifest
                .get("description")
                .and_then(Value::as_str)
                .map(String::from),
            enabled: on,
            hidden_by: None,
            skipped: None,
            fields,
        });
        out.push(Source {
            scope: Scope::Plugin,
            depth: 0,
            root,
            plugin: Some(PluginCtx {
                namespace,
                id,
                enabled: on,
                manifest,
            }),
        });
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || a.canonicalize().ok() == b.canonicalize().ok()
}

/// The folders (or files) a plugin manifest adds for one component, besides the default folder.
fn manifest_paths(manifest: &Map<String, Value>, key: &str) -> Vec<String> {
    match manifest.get(key) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Scans one source: its skills, commands, agents, and (for plugins) hooks and MCP servers.
fn scan_source(src: &Source) -> (Vec<Entity>, Vec<Warning>) {
    let mut es = Vec::new();
    let mut ws = Vec::new();
    let mut dirs: Vec<(EntityKind, PathBuf)> = vec![
        (EntityKind::Skill, src.root.join("skills")),
        (EntityKind::Command, src.root.join("commands")),
        (EntityKind::Agent, src.root.join("agents")),
    ];
    if let Some(p) = &src.plugin {
        for (kind, key) in [
            (EntityKind::Skill, "skills"),
            (EntityKind::Command, "commands"),
            (EntityKind::Agent, "agents"),
        ] {
            for rel in manifest_paths(&p.manifest, key) {
                match super::names::inside(&src.root, &rel) {
                    Ok(path) => dirs.push((kind, path)),
                    Err(e) => ws.push(Warning {
                        path: src.root.join(".claude-plugin/plugin.json"),
                        line: None,
                        message: format!("`{key}`: {e}"),
                    }),
                }
            }
        }
    }
    for (kind, dir) in dirs {
        match kind {
            EntityKind::Skill => scan_skills(src, &dir, &mut es, &mut ws),
            EntityKind::Command => {
                scan_markdown(src, kind, &dir, "", MAX_COMMAND_DEPTH, &mut es, &mut ws)
            }
            _ => scan_markdown(src, kind, &dir, "", 0, &mut es, &mut ws),
        }
    }
    if let Some(p) = &src.plugin {
        let mut ranked = Vec::new();
        let hooks_file = src.root.join("hooks/hooks.json");
        let manifest_file = src.root.join(".claude-plugin/plugin.json");
        match layout::read_json(&hooks_file, file::MAX_ENTITY_FILE) {
            Ok(Some(doc)) => push_hooks(&doc, Scope::Plugin, &hooks_file, Some(p), &mut ranked, 0),
            Ok(None) => {}
            Err(w) => ws.push(w),
        }
        match p.manifest.get("hooks") {
            Some(Value::Object(_)) => {
                let doc = Value::Object(p.manifest.clone());
                push_hooks(&doc, Scope::Plugin, &manifest_file, Some(p), &mut ranked, 0);
            }
            // A path to another hooks file, besides hooks/hooks.json.
            Some(Value::String(rel)) => match super::names::inside(&src.root, rel) {
                Ok(f) if f != hooks_file => match layout::read_json(&f, file::MAX_ENTITY_FILE) {
                    Ok(Some(doc)) => push_hooks(&doc, Scope::Plugin, &f, Some(p), &mut ranked, 0),
                    Ok(None) => {}
                    Err(w) => ws.push(w),
                },
                Ok(_) => {}
                Err(e) => ws.push(Warning {
                    path: manifest_file.clone(),
                    line: None,
                    message: format!("`hooks`: {e}"),
                }),
            },
            _ => {}
        }
        let mcp_file = src.root.join(".mcp.json");
        match layout::read_json(&mcp_file, file::MAX_ENTITY_FILE) {
            Ok(Some(doc)) => push_mcp(
                &doc,
                Scope::Plugin,
                &mcp_file,
                Some(p),
                &mut ranked,
                PLUGIN_RANK,
            ),
            Ok(None) => {}
            Err(w) => ws.push(w),
        }
        match p.manifest.get("mcpServers") {
            Some(Value::Object(_)) => {
                let doc = Value::Object(p.manifest.clone());
                push_mcp(
                    &doc,
                    Scope::Plugin,
                    &manifest_file,
                    Some(p),
                    &mut ranked,
                    PLUGIN_RANK,
                );
            }
            Some(Value::String(rel)) => match super::names::inside(&src.root, rel) {
                Ok(f) => match layout::read_json(&f, file::MAX_ENTITY_FILE) {
                    Ok(Some(doc)) => {
                        push_mcp(&doc, Scope::Plugin, &f, Some(p), &mut ranked, PLUGIN_RANK)
                    }
                    Ok(None) => {}
                    Err(w) => ws.push(w),
                },
                Err(e) => ws.push(Warning {
                    path: manifest_file.clone(),
                    line: None,
                    message: format!("`mcpServers`: {e}"),
                }),
            },
            _ => {}
        }
        es.extend(ranked.into_iter().map(|(e, _)| e));
    }
    (es, ws)
}

fn scan_skills(src: &Source, dir: &Path, es: &mut Vec<Entity>, ws: &mut Vec<Warning>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    // One folder: comparing names is enough, and cheaper than whole paths.
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for d in entries {
        // No check here: a folder without SKILL.md is skipped when the reader finds nothing.
        let file = d.join("SKILL.md");
        let stem = d
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(e) = read_entity(src, EntityKind::Skill, &file, &stem, ws) {
            es.push(e);
        }
    }
}

/// `prefix` is the sub-folder path so far, as Claude Code 2.1.197 names a command in a
/// sub-folder: `commands/frontend/lint.md` is `frontend:lint`.
fn scan_markdown(
    src: &Source,
    kind: EntityKind,
    dir: &Path,
    prefix: &str,
    max_depth: usize,
    es: &mut Vec<Entity>,
    ws: &mut Vec<Warning>,
) {
    if dir.is_file() {
        // A manifest may name a single file.
        let stem = dir
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(e) = read_entity(src, kind, dir, &stem, ws) {
            es.push(e);
        }
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(PathBuf, bool)> = rd
        .filter_map(|e| e.ok())
        .map(|e| {
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            (e.path(), is_dir)
        })
        .collect();
    entries.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    for (p, is_dir) in entries {
        if is_dir {
            if max_depth > 0 {
                let sub = p
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let prefix = format!("{prefix}{sub}:");
                scan_markdown(src, kind, &p, &prefix, max_depth - 1, es, ws);
            }
            continue;
        }
        if p.extension().is_none_or(|x| x != "md") {
            continue;
        }
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!("{prefix}{stem}");
        if let Some(e) = read_entity(src, kind, &p, &name, ws) {
            es.push(e);
        }
    }
}

/// Reads one skill, command or agent file; bad frontmatter is a warning.
fn read_entity(
    src: &Source,
    kind: EntityKind,
    file: &Path,
    default_name: &str,
    ws: &mut Vec<Warning>,
) -> Option<Entity> {
    let text = match file::read_text(file, file::MAX_ENTITY_FILE) {
        Ok(t) => t,
        Err(e) if e.is_missing() => return None,
        // Listed, so that it is seen, and as a warning, so that `--strict` fails on it.
        Err(e) if e.is_skipped() => {
            let reason = e.to_string();
            ws.push(Warning {
                path: file.into(),
                line: None,
                message: format!("skipped: {reason}"),
            });
            let mut skipped =
                make_entity(src, kind, default_name.to_string(), file, None, Map::new());
            skipped.enabled = false;
            skipped.skipped = Some(reason);
            return Some(skipped);
        }
        Err(e) => {
            ws.push(Warning {
                path: file.into(),
                line: None,
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    // Claude Code loads a file whose frontmatter does not parse with no metadata at all; so is it
    // listed here, with a warning.
    let doc = match frontmatter::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            ws.push(Warning {
                path: file.into(),
                line: Some(e.line),
                message: format!("{}; Claude Code loads it with no metadata", e.message),
            });
            Document::default()
        }
    };
    let mut warn = |e: frontmatter::FrontmatterError| {
        ws.push(Warning {
            path: file.into(),
            line: Some(e.line),
            message: e.message,
        })
    };
    // As Claude Code 2.1.197 loads them: a command is named by its path, a skill by its folder
    // (its `name` field does not rename it), an agent by `name`, else its file.
    let name = match kind {
        EntityKind::Command | EntityKind::Skill => default_name.to_string(),
        _ => doc
            .string("name")
            .unwrap_or_else(|e| {
                warn(e);
                None
            })
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| default_name.to_string()),
    };
    let description = doc.string("description").unwrap_or_else(|e| {
        warn(e);
        None
    });
    let description = description.or_else(|| first_paragraph(&doc));
    Some(make_entity(src, kind, name, file, description, doc.fields))
}

/// Claude Code falls back to the first line of the body when a skill or command has no
/// description.
fn first_paragraph(doc: &Document<'_>) -> Option<String> {
    doc.body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.trim_start_matches('#').trim().to_string())
}

fn make_entity(
    src: &Source,
    kind: EntityKind,
    name: String,
    path: &Path,
    description: Option<String>,
    fields: Map<String, Value>,
) -> Entity {
    let (name, source, enabled) = match &src.plugin {
        Some(p) => (format!("{}:{}", p.namespace, name), p.id.clone(), p.enabled),
        None => (name, path.display().to_string(), true),
    };
    Entity {
        name,
        kind,
        scope: src.scope,
        source,
        path: path.to_path_buf(),
        description,
        enabled,
        hidden_by: None,
        skipped: None,
        fields,
    }
}

/// Sort key among entities of one name: the smallest wins.
type Rank = (u8, usize, u8);

/// Plugin entities are namespaced, so their rank only orders them after everything else.
const PLUGIN_RANK: Rank = (3, 0, 0);

/// `depth` is that of the source the entity was read from.
fn rank_of(e: &Entity, depth: usize) -> Rank {
    let kind = u8::from(e.kind == EntityKind::Command);
    match (e.kind, e.scope) {
        (EntityKind::Agent, Scope::Project) => (0, depth, 0),
        (EntityKind::Agent, Scope::User) => (1, 0, 0),
        (_, Scope::User) => (0, 0, kind),
        (_, Scope::Project) => (1, depth, kind),
        (_, Scope::Plugin) => (2, 0, kind),
    }
}

fn mcp_rank(scope: Scope, local: bool, depth: usize) -> Rank {
    match (scope, local) {
        (Scope::Project, true) => (0, depth, 0),
        (Scope::Project, false) => (1, depth, 0),
        (Scope::User, _) => (2, 0, 0),
        (Scope::Plugin, _) => (3, 0, 0),
    }
}

fn push_hooks(
    doc: &Value,
    scope: Scope,
    path: &Path,
    plugin: Option<&PluginCtx>,
    out: &mut Vec<(Entity, Rank)>,
    depth: usize,
) {
    let Some(events) = doc.get("hooks").and_then(Value::as_object) else {
        return;
    };
    for (event, groups) in events {
        let Some(groups) = groups.as_array() else {
            continue;
        };
        for g in groups {
            let matcher = g.get("matcher").and_then(Value::as_str).unwrap_or("");
            let base = if matcher.is_empty() {
                event.clone()
            } else {
                format!("{event}[{matcher}]")
            };
            let commands: Vec<String> = g
                .get("hooks")
                .and_then(Value::as_array)
                .map(|hs| {
                    hs.iter()
                        .filter_map(|h| {
                            h.get("command")
                                .or_else(|| h.get("prompt"))
                                .or_else(|| h.get("url"))
                                .and_then(Value::as_str)
                                .map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let (name, source, enabled) = match plugin {
                Some(p) => (format!("{}:{base}", p.namespace), p.id.clone(), p.enabled),
                None => (base, path.display().to_string(), true),
            };
            out.push((
                Entity {
                    name,
                    kind: EntityKind::Hook,
                    scope,
                    source,
                    path: path.to_path_buf(),
                    description: (!commands.is_empty()).then(|| commands.join("; ")),
                    enabled,
                    hidden_by: None,
                    skipped: None,
                    fields: g.as_object().cloned().unwrap_or_default(),
                },
                (0, depth, 0),
            ));
        }
    }
}

fn push_mcp(
    doc: &Value,
    scope: Scope,
    path: &Path,
    plugin: Option<&PluginCtx>,
    out: &mut Vec<(Entity, Rank)>,
    rank: Rank,
) {
    let Some(servers) = doc.get("mcpServers").and_then(Value::as_object) else {
        return;
    };
    for (name, cfg) in servers {
        let desc = match (
            cfg.get("command").and_then(Value::as_str),
            cfg.get("url").and_then(Value::as_str),
        ) {
            (Some(c), _) => {
                let args: Vec<&str> = cfg
                    .get("args")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                Some(std::iter::once(c).chain(args).collect::<Vec<_>>().join(" "))
            }
            (None, Some(u)) => Some(u.to_string()),
            _ => None,
        };
        let (name, source, enabled) = match plugin {
            // Claude Code names a plugin's MCP server `plugin:<plugin>:<server>`.
            Some(p) => (
                format!("plugin:{}:{name}", p.namespace),
                p.id.clone(),
                p.enabled,
            ),
            None => (name.clone(), path.display().to_string(), true),
        };
        out.push((
            Entity {
                name,
                kind: EntityKind::Mcp,
                scope,
                source,
                path: path.to_path_buf(),
                description: desc,
                enabled,
                hidden_by: None,
                skipped: None,
                fields: cfg.as_object().cloned().unwrap_or_default(),
            },
            rank,
        ));
    }
}

/// Whether a `.mcp.json` server is approved: named in `enabledMcpjsonServers` or covered by
/// `enableAllProjectMcpServers`, and not named in `disabledMcpjsonServers`, in any settings file
/// or in the project's entry of `~/.claude.json`.
fn mcp_json_approved(docs: &[&Value], name: &str) -> bool {
    let listed = |key: &str| {
        docs.iter().any(|d| {
            d.get(key)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(name)))
        })
    };
    let all = docs.iter().any(|d| {
        d.get("enableAllProjectMcpServers")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    });
    !listed("disabledMcpjsonServers") && (all || listed("enabledMcpjsonServers"))
}

/// Marks every entity that loses to another of the same name; hooks never hide each other.
fn apply_precedence(ranked: &mut [(Entity, Rank)]) {
    // Skills and commands share a name space; everything else is per kind.
    let group = |k: EntityKind| match k {
        EntityKind::Command => EntityKind::Skill,
        k => k,
    };
    let mut winners: HashMap<(EntityKind, String), usize> = HashMap::new();
    for i in 0..ranked.len() {
        let (e, r) = &ranked[i];
        if matches!(e.kind, EntityKind::Hook) || !e.enabled {
            continue;
        }
        let key = (group(e.kind), e.name.clone());
        match winners.get(&key) {
            Some(&w) if (ranked[w].1, &ranked[w].0.path) <= (*r, &e.path) => {}
            _ => {
                winners.insert(key, i);
            }
        }
    }
    let described: Vec<(usize, String)> = ranked
        .iter()
        .enumerate()
        .filter(|(_, (e, _))| !matches!(e.kind, EntityKind::Hook) && e.enabled)
        .filter_map(|(i, (e, _))| {
            let w = *winners.get(&(group(e.kind), e.name.clone()))?;
            (w != i).then(|| (i, ranked[w].0.describe()))
        })
        .collect();
    for (i, by) in described {
        ranked[i].0.hidden_by = Some(by);
    }
}

/// A known marketplace: its record in `known_marketplaces.json` and its `marketplace.json`.
struct Known {
    name: String,
    record: Value,
    location: PathBuf,
    manifest: Map<String, Value>,
}

impl Known {
    /// Where Claude Code 2.1.197 loads `plugin` from when it is in this marketplace: a plugin of a
    /// local folder marketplace is used in place (edits there show at once), others from their
    /// copy in the cache.
    fn load_root(&self, plugin: &str) -> Option<PathBuf> {
        if self
            .record
            .pointer("/source/source")
            .and_then(Value::as_str)
            != Some("directory")
        {
            return None;
        }
        let rel = self
            .manifest
            .get("plugins")?
            .as_array()?
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(plugin))?
            .get("source")?
            .as_str()?;
        super::names::inside(&self.location, rel)
            .ok()
            .filter(|p| p.is_dir())
    }

    fn entity(&self) -> Entity {
        let description = self
            .manifest
            .get("description")
            .or_else(|| {
                self.manifest
                    .get("metadata")
                    .and_then(|m| m.get("description"))
            })
            .and_then(Value::as_str)
            .map(String::from);
        let mut fields = self.record.as_object().cloned().unwrap_or_default();
        if let Some(plugins) = self.manifest.get("plugins") {
            fields.insert("plugins".into(), plugins.clone());
        }
        Entity {
            name: self.name.clone(),
            kind: EntityKind::Marketplace,
            scope: Scope::User,
            source: self
                .record
                .get("source")
                .map(|s| super::source::Source::from_value(s).to_string())
                .unwrap_or_default(),
            path: self.location.clone(),
            description,
            enabled: true,
            hidden_by: None,
            skipped: None,
            fields,
        }
    }
}

/// The known marketplaces, from `known_marketplaces.json`, each with its manifest.
fn read_marketplaces(home: &ClaudeHome, warnings: &mut Vec<Warning>) -> Vec<Known> {
    let path = home.known_marketplaces();
    let Some(Value::Object(map)) = read_json_warn(&path, warnings) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, record) in map {
        let location = record
            .get("installLocation")
            .and_then(Value::as_str)
            .map(PathBuf::from)
            .unwrap_or_default();
        // A hosted marketplace is cached as the file itself.
        let manifest_path = if location.is_file() {
            location.clone()
        } else {
            location.join(".claude-plugin/marketplace.json")
        };
        let manifest = match layout::read_json(&manifest_path, file::MAX_ENTITY_FILE) {
            Ok(Some(Value::Object(m))) => m,
            Ok(_) => Map::new(),
            Err(w) => {
                warnings.push(w);
                Map::new()
            }
        };
        out.push(Known {
            name,
            record,
            location,
            manifest,
        });
    }
    out
}
