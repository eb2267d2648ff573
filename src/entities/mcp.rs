//! MCP servers, added, listed, changed and removed the way `claude mcp add|list|get|remove --scope`
//! does (checked both ways against Claude Code 2.1.197 in `tests/entities_mcp.rs`):
//!
//! - `local`: `~/.claude.json` (or `.claude.json` in `$CLAUDE_CONFIG_DIR`),
//!   `projects.<project>.mcpServers`, where `<project>` is the git root of the folder (else the
//!   folder itself);
//! - `project`: `.mcp.json` in the folder, `mcpServers`;
//! - `user`: `~/.claude.json`, `mcpServers`.
//!
//! A server is `{"type": "stdio", "command", "args", "env"}` or `{"type": "http"|"sse", "url"}`
//! with `"headers"` when some are given, as Claude Code writes them. Every other key of the file
//! is kept, and the order of keys too (a changed server stays in its place; so do keys of its
//! entry that aisys does not write, such as a hand-added `timeout`). Names are letters, digits,
//! `-` and `_`, as Claude Code requires.
//!
//! Must not write anywhere else; discovery (with precedence and approval) stays in `discover`.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::EntityError;
use super::discover::Roots;
use super::layout::ClaudeHome;
use super::ordered_json::{Json, Object};
use super::store::{self, HomeLock};

/// Where a server is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum McpScope {
    Local,
    Project,
    User,
}

impl McpScope {
    pub const ALL: [McpScope; 3] = [McpScope::Local, McpScope::Project, McpScope::User];

    pub fn as_str(self) -> &'static str {
        match self {
            McpScope::Local => "local",
            McpScope::Project => "project",
            McpScope::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<McpScope> {
        McpScope::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// How Claude Code talks to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Stdio,
    Http,
    Sse,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
            Transport::Sse => "sse",
        }
    }

    pub fn parse(s: &str) -> Option<Transport> {
        [Transport::Stdio, Transport::Http, Transport::Sse]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A server to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSpec {
    pub transport: Transport,
    /// The command (stdio) or the URL (http, sse).
    pub target: String,
    /// The command's arguments (stdio only).
    pub args: Vec<String>,
    /// `KEY=value` environment for a stdio server, in order.
    pub env: Vec<(String, String)>,
    /// HTTP headers for an http or sse server, in order.
    pub headers: Vec<(String, String)>,
}

/// One configured server, as `list` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct McpServer {
    pub name: String,
    pub scope: McpScope,
    /// The file it is kept in.
    pub file: PathBuf,
    /// The entry as written (`type`, `command`, `args`, `env`, `url`, `headers`, ...).
    pub config: Value,
}

/// The files one folder's servers live in.
#[derive(Debug, Clone)]
pub struct McpFiles {
    /// Claude Code's home, whose lock serializes aisys's writers.
    pub claude_home: PathBuf,
    /// `~/.claude.json` or `$CLAUDE_CONFIG_DIR/.claude.json`.
    pub claude_json: PathBuf,
    /// The folder `claude mcp` would run in.
    pub dir: PathBuf,
}

/// Whether `name` is one Claude Code accepts for a server.
pub fn check_name(name: &str) -> Result<(), EntityError> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(());
    }
    Err(EntityError::Usage(format!(
        "MCP server name {name:?}: names can only contain letters, numbers, hyphens and underscores"
    )))
}

/// Checks a spec the way `claude mcp add` does, before anything is written.
pub fn check_spec(spec: &McpSpec) -> Result<(), EntityError> {
    let bad = |m: String| Err(EntityError::Usage(m));
    match spec.transport {
        Transport::Stdio => {
            if spec.target.trim().is_empty() {
                return bad("a stdio server needs a command to run".into());
            }
            if !spec.headers.is_empty() {
                return bad(
                    "headers (-H) are for http and sse servers; give a stdio server env (-e) instead"
                        .into(),
                );
            }
        }
        Transport::Http | Transport::Sse => {
            if !(spec.target.starts_with("http://") || spec.target.starts_with("https://")) {
                return bad(format!(
                    "{:?}: an {} server needs an http:// or https:// URL",
                    spec.target,
                    spec.transport.as_str()
                ));
            }
            if !spec.args.is_empty() {
                return bad(format!(
                    "an {} server takes a URL and no arguments (got {:?})",
                    spec.transport.as_str(),
                    spec.args
                ));
            }
            if !spec.env.is_empty() {
                return bad("env (-e) is for stdio servers; give headers (-H) instead".into());
            }
        }
    }
    for (k, _) in &spec.env {
        if k.is_empty() || k.contains('=') {
            return bad(format!("env name {k:?}: give KEY=value"));
        }
    }
    for (k, _) in &spec.headers {
        if k.is_empty() || k.contains(':') || k.chars().any(char::is_whitespace) {
            return bad(format!("header name {k:?}: give \"Name: value\""));
        }
    }
    Ok(())
}

/// The keys of a server's entry that a spec sets; an edit keeps any other.
const SPEC_KEYS: &[&str] = &["type", "command", "args", "env", "url", "headers"];

/// The entry Claude Code writes for `spec`, its keys in Claude Code's order.
pub fn entry(spec: &McpSpec) -> Value {
    Value::from(&Json::Object(ordered_entry(spec)))
}

fn ordered_entry(spec: &McpSpec) -> Object {
    let pairs = |v: &[(String, String)]| {
        let mut o = Object::default();
        for (k, v) in v {
            o.insert(k, Json::String(v.clone()));
        }
        Json::Object(o)
    };
    let mut m = Object::default();
    m.insert("type", Json::String(spec.transport.as_str().into()));
    match spec.transport {
        Transport::Stdio => {
            m.insert("command", Json::String(spec.target.clone()));
            m.insert(
                "args",
                Json::Array(spec.args.iter().cloned().map(Json::String).collect()),
            );
            m.insert("env", pairs(&spec.env));
        }
        Transport::Http | Transport::Sse => {
            m.insert("url", Json::String(spec.target.clone()));
            if !spec.headers.is_empty() {
                m.insert("headers", pairs(&spec.headers));
            }
        }
    }
    m
}

impl McpFiles {
    /// The project key of local servers: the folder's git root, else the folder.
    pub fn local_key(&self) -> String {
        Roots::project_dirs(&self.dir)
            .last()
            .cloned()
            .unwrap_or_else(|| self.dir.clone())
            .display()
            .to_string()
    }

    fn mcp_json(&self) -> PathBuf {
        self.dir.join(".mcp.json")
    }

    /// The file a scope's servers are kept in.
    pub fn file_of(&self, scope: McpScope) -> PathBuf {
        match scope {
            McpScope::Project => self.mcp_json(),
            McpScope::Local | McpScope::User => self.claude_json.clone(),
        }
    }

    fn lock(&self) -> Result<HomeLock, EntityError> {
        HomeLock::acquire(&ClaudeHome::new(&self.claude_home).lock_file())
    }

    /// The `mcpServers` object of `scope` inside `doc`, created when missing; a key on the way
    /// that holds something else than an object is refused, naming the file and the key.
    fn servers_mut<'a>(
        &self,
        doc: &'a mut Object,
        scope: McpScope,
    ) -> Result<&'a mut Object, EntityError> {
        let file = self.file_of(scope);
        let at = |o: &'a mut Object, key: &str, shown: String| {
            o.object_at(key)
                .map_err(|found| store::not_an_object(&file, &shown, &found))
        };
        match scope {
            McpScope::Project | McpScope::User => at(doc, "mcpServers", "`mcpServers`".into()),
            McpScope::Local => {
                let key = self.local_key();
                let projects = at(doc, "projects", "`projects`".into())?;
                let project = at(projects, &key, format!("`projects.{key:?}`"))?;
                at(
                    project,
                    "mcpServers",
                    format!("`projects.{key:?}.mcpServers`"),
                )
            }
        }
    }

    /// The servers of `scope` in `doc`, in file order.
    fn servers_in(&self, doc: &Json, scope: McpScope) -> Vec<(String, Value)> {
        fn get<'a>(j: Option<&'a Json>, key: &str) -> Option<&'a Json> {
            match j {
                Some(Json::Object(o)) => o.get(key),
                _ => None,
            }
        }
        let servers = match scope {
            McpScope::Project | McpScope::User => get(Some(doc), "mcpServers"),
            McpScope::Local => get(
                get(get(Some(doc), "projects"), &self.local_key()),
                "mcpServers",
            ),
        };
        match servers {
            Some(Json::Object(o)) => o.iter().map(|(k, v)| (k.to_string(), v.into())).collect(),
            _ => Vec::new(),
        }
    }

    fn has(&self, doc: &Json, scope: McpScope, name: &str) -> bool {
        self.servers_in(doc, scope).iter().any(|(n, _)| n == name)
    }

    fn read(&self, scope: McpScope) -> Result<Json, EntityError> {
        store::read_ordered(&self.file_of(scope))
    }

    /// Every server of every scope, local first, then project, then user (Claude Code's order).
    pub fn list(&self) -> Result<Vec<McpServer>, EntityError> {
        let mut out = Vec::new();
        for scope in McpScope::ALL {
            let doc = self.read(scope)?;
            for (name, config) in self.servers_in(&doc, scope) {
                out.push(McpServer {
                    name,
                    scope,
                    file: self.file_of(scope),
                    config,
                });
            }
        }
        Ok(out)
    }

    /// Adds a server; a name already in that scope is refused, as Claude Code does. Returns the
    /// file written.
    pub fn add(&self, name: &str, scope: McpScope, spec: &McpSpec) -> Result<PathBuf, EntityError> {
        check_name(name)?;
        check_spec(spec)?;
        let _lock = self.lock()?;
        let file = self.file_of(scope);
        store::update_ordered(&file, |doc| {
            let servers = self.servers_mut(doc, scope)?;
            if servers.contains_key(name) {
                return Err(EntityError::Invalid(format!(
                    "MCP server {name} already exists in {} config ({}); remove it first",
                    scope.as_str(),
                    file.display()
                )));
            }
            servers.insert(name, Json::Object(ordered_entry(spec)));
            Ok(())
        })?;
        Ok(file)
    }

    /// Changes an existing server to `spec`, in `scope` or in the one scope that has it. The
    /// server keeps its place in the file, and keys of its entry that a spec does not set.
    /// Returns the scope and the file written.
    pub fn edit(
        &self,
        name: &str,
        scope: Option<McpScope>,
        spec: &McpSpec,
    ) -> Result<(McpScope, PathBuf), EntityError> {
        check_name(name)?;
        check_spec(spec)?;
        let _lock = self.lock()?;
        let scope = self.scope_of(name, scope)?;
        let file = self.file_of(scope);
        store::update_ordered(&file, |doc| {
            let servers = self.servers_mut(doc, scope)?;
            let mut changed = match servers.get(name) {
                Some(Json::Object(old)) => old.clone(),
                _ => Object::default(),
            };
            let new = ordered_entry(spec);
            for key in SPEC_KEYS {
                if !new.contains_key(key) {
                    changed.remove(key);
                }
            }
            for (key, value) in new.iter() {
                changed.insert(key, value.clone());
            }
            servers.insert(name, Json::Object(changed));
            Ok(())
        })?;
        Ok((scope, file))
    }

    /// The scope that holds `name`: `scope` when given (it must have it), else the only one
    /// that does.
    fn scope_of(&self, name: &str, scope: Option<McpScope>) -> Result<McpScope, EntityError> {
        if let Some(s) = scope {
            if !self.has(&self.read(s)?, s, name) {
                return Err(EntityError::NotFound(format!(
                    "no MCP server named {name} in {} config ({}); list them with `aisys entities mcp list`",
                    s.as_str(),
                    self.file_of(s).display()
                )));
            }
            return Ok(s);
        }
        let mut found = Vec::new();
        for s in McpScope::ALL {
            if self.has(&self.read(s)?, s, name) {
                found.push(s);
            }
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(EntityError::NotFound(format!(
                "no MCP server named {name} (list them with `aisys entities mcp list`)"
            ))),
            many => {
                let scopes: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                Err(EntityError::Usage(format!(
                    "MCP server {name} exists in several scopes ({}); give one with --scope",
                    scopes.join(", ")
                )))
            }
        }
    }

    /// Removes a server from `scope`, or from the one scope that has it when none is given
    /// (a name in several scopes must be given one, as Claude Code asks). Returns the scope.
    pub fn remove(&self, name: &str, scope: Option<McpScope>) -> Result<McpScope, EntityError> {
        check_name(name)?;
        let _lock = self.lock()?;
        let scope = self.scope_of(name, scope)?;
        store::update_ordered(&self.file_of(scope), |doc| {
            self.servers_mut(doc, scope)?.remove(name);
            Ok(())
        })?;
        Ok(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn files(dir: &Path) -> McpFiles {
        std::fs::create_dir_all(dir.join("home/.claude")).unwrap();
        std::fs::create_dir_all(dir.join("proj")).unwrap();
        McpFiles {
            claude_home: dir.join("home/.claude"),
            claude_json: dir.join("home/.claude.json"),
            dir: dir.join("proj"),
        }
    }

    fn stdio(cmd: &str) -> McpSpec {
        McpSpec {
            transport: Transport::Stdio,
            target: cmd.into(),
            args: vec!["-m".into(), "srv".into()],
            env: vec![("A".into(), "1".into())],
            headers: vec![],
        }
    }

    #[test]
    fn every_scope_keeps_the_rest_of_its_file() {
        let d = tempfile::tempdir().unwrap();
        let f = files(d.path());
        std::fs::write(
            &f.claude_json,
            r#"{"userID": "u", "projects": {"/x": {"a": 1}}}"#,
        )
        .unwrap();
        f.add("loc", McpScope::Local, &stdio("python3")).unwrap();
        f.add("usr", McpScope::User, &stdio("node")).unwrap();
        let http = McpSpec {
            transport: Transport::Http,
            target: "https://example.com/mcp".into(),
            args: vec![],
            env: vec![],
            headers: vec![("Authorization".into(), "Bearer x".into())],
        };
        f.add("web", McpScope::Project, &http).unwrap();
        let cj: Value =
            serde_json::from_str(&std::fs::read_to_string(&f.claude_json).unwrap()).unwrap();
        assert_eq!(cj["userID"], "u");
        assert_eq!(cj["projects"]["/x"], json!({"a": 1}));
        assert_eq!(
            cj["mcpServers"]["usr"],
            json!({"type": "stdio", "command": "node", "args": ["-m", "srv"], "env": {"A": "1"}})
        );
        assert_eq!(
            cj["projects"][f.local_key()]["mcpServers"]["loc"]["command"],
            "python3"
        );
        let mj: Value =
            serde_json::from_str(&std::fs::read_to_string(f.dir.join(".mcp.json")).unwrap())
                .unwrap();
        assert_eq!(
            mj["mcpServers"]["web"],
            json!({"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}})
        );
        let names: Vec<_> = f
            .list()
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.scope))
            .collect();
        assert_eq!(
            names,
            [
                ("loc".to_string(), McpScope::Local),
                ("web".to_string(), McpScope::Project),
                ("usr".to_string(), McpScope::User)
            ]
        );
        assert!(f.add("usr", McpScope::User, &stdio("x")).is_err());
        f.add("usr", McpScope::Local, &stdio("x")).unwrap();
        assert!(
            f.remove("usr", None)
                .unwrap_err()
                .to_string()
                .contains("several scopes")
        );
        assert_eq!(
            f.remove("usr", Some(McpScope::User)).unwrap(),
            McpScope::User
        );
        assert_eq!(f.remove("usr", None).unwrap(), McpScope::Local);
        assert!(matches!(
            f.remove("usr", None),
            Err(EntityError::NotFound(_))
        ));
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_written() {
        let d = tempfile::tempdir().unwrap();
        let f = files(d.path());
        assert!(f.add("bad name", McpScope::User, &stdio("x")).is_err());
        let mut s = stdio("x");
        s.transport = Transport::Http;
        assert!(f.add("h", McpScope::User, &s).is_err());
        assert!(!f.claude_json.exists());
    }

    #[test]
    fn an_edit_keeps_the_server_in_its_place_and_the_file_in_its_order() {
        let d = tempfile::tempdir().unwrap();
        let f = files(d.path());
        let before = r#"{
  "zebra": true,
  "mcpServers": {
    "first": {"type": "stdio", "command": "a", "args": [], "env": {}},
    "db": {"type": "stdio", "command": "old", "args": ["x"], "env": {"K": "v"}, "timeout": 5},
    "last": {"type": "http", "url": "https://last.example"}
  },
  "alpha": 1
}"#;
        std::fs::write(&f.claude_json, before).unwrap();
        let http = McpSpec {
            transport: Transport::Http,
            target: "https://db.example/mcp".into(),
            args: vec![],
            env: vec![],
            headers: vec![("X-Key".into(), "k".into())],
        };
        assert_eq!(
            f.edit("db", None, &http).unwrap(),
            (McpScope::User, f.claude_json.clone())
        );
        let after = std::fs::read_to_string(&f.claude_json).unwrap();
        let order: Vec<usize> = [
            "\"zebra\"",
            "\"first\"",
            "\"db\"",
            "\"timeout\"",
            "\"url\": \"https://db.example/mcp\"",
            "\"X-Key\"",
            "\"last\"",
            "\"alpha\"",
        ]
        .iter()
        .map(|k| after.find(k).unwrap_or_else(|| panic!("{k} in {after}")))
        .collect();
        assert!(order.is_sorted(), "{after}");
        let v: Value = serde_json::from_str(&after).unwrap();
        assert_eq!(
            v["mcpServers"]["db"],
            json!({"type": "http", "url": "https://db.example/mcp", "headers": {"X-Key": "k"}, "timeout": 5}),
            "the stdio keys went, the hand-added one stayed"
        );
        // A name that is not there is refused, and nothing is written.
        let missing = f.edit("nope", None, &http).unwrap_err();
        assert!(matches!(missing, EntityError::NotFound(_)), "{missing}");
        assert!(
            matches!(
                f.edit("db", Some(McpScope::Project), &http),
                Err(EntityError::NotFound(_))
            ),
            "not in that scope"
        );
        assert!(!f.dir.join(".mcp.json").exists());
        assert_eq!(std::fs::read_to_string(&f.claude_json).unwrap(), after);
        // A bad spec is refused before anything is written.
        let mut bad = http.clone();
        bad.target = "not a url".into();
        assert!(matches!(
            f.edit("db", None, &bad),
            Err(EntityError::Usage(_))
        ));
        assert_eq!(std::fs::read_to_string(&f.claude_json).unwrap(), after);
    }
}
