//! Shared by the `entities*` tests: a scratch Claude home and project, the aisys binary run
//! against them, and plugins and marketplaces written as files and git repositories.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A scratch world: `home` (HOME), `claude` (CLAUDE_CONFIG_DIR), `project` (a git repo).
pub struct World {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub claude: PathBuf,
    pub project: PathBuf,
}

impl World {
    pub fn new() -> World {
        World::in_dir(tempfile::tempdir().unwrap())
    }

    /// The world in `dir`: its Claude home made, its project a new git repository.
    pub fn in_dir(dir: tempfile::TempDir) -> World {
        let home = dir.path().join("home");
        let claude = home.join(".claude");
        let project = dir.path().join("project");
        std::fs::create_dir_all(&claude).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        git(&project, &["init", "-q"]);
        World {
            dir,
            home,
            claude,
            project,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs aisys with this world's HOME and Claude home, in the project folder.
    pub fn aisys(&self, args: &[&str]) -> Output {
        self.aisys_cmd(args).output().unwrap()
    }

    pub fn aisys_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aisys"));
        c.args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.claude)
            .env("AISYS_CONFIG_DIR", self.path().join("aisys-config"))
            .env("AISYS_DATA_DIR", self.path().join("aisys-data"))
            .env("GIT_CONFIG_GLOBAL", self.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("NO_COLOR");
        c
    }

    /// Runs aisys like [`World::aisys`], but kills it and fails the test when it has not finished
    /// within `limit`: for inputs that could make it hang (a FIFO, a device).
    pub fn aisys_within(&self, args: &[&str], limit: Duration) -> Output {
        let mut child = self
            .aisys_cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out_pipe = child.stdout.take().unwrap();
        let mut err_pipe = child.stderr.take().unwrap();
        let out_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out_pipe.read_to_end(&mut b);
            b
        });
        let err_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = err_pipe.read_to_end(&mut b);
            b
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`aisys {}` did not finish within {limit:?}", args.join(" "));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: out_t.join().unwrap(),
            stderr: err_t.join().unwrap(),
        }
    }

    /// `entities list --format json`, parsed; fails the test on a non-zero exit.
    pub fn list_json(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["entities", "list", "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.aisys(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }

    pub fn write(&self, rel: &str, body: &str) -> PathBuf {
        write(&self.path().join(rel), body)
    }

    /// Runs the real `claude` (at `bin`) in `cwd` with this world's HOME and Claude home, the
    /// world's git config, and no telemetry or update checks.
    pub fn claude_at(
        &self,
        bin: &Path,
        cwd: &Path,
        args: &[&str],
        extra_env: &[(&str, String)],
    ) -> Output {
        let mut c = Command::new(bin);
        c.args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.claude)
            .env("GIT_CONFIG_GLOBAL", self.path().join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .stdin(Stdio::null());
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

/// Fails the test, showing both streams, unless the command succeeded; returns its stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub fn write(path: &Path, body: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    path.to_path_buf()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

/// Makes `dir` a git repository with everything in it committed.
pub fn commit_all(dir: &Path) {
    if !dir.join(".git").exists() {
        git(dir, &["init", "-q", "-b", "main"]);
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "update"]);
}

/// The one entity of this kind and name (fails if not exactly one).
pub fn one<'a>(list: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = list
        .iter()
        .filter(|e| e["kind"] == kind && e["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{kind}/{name} in {list:#?}");
    found[0]
}

pub fn names(list: &[Value], kind: &str) -> Vec<String> {
    list.iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// A plugin folder `demo` with a skill `greet`, a command `review`, an agent `tester`, a hook and
/// an MCP server.
pub fn write_demo_plugin(dir: &Path, name: &str, version: Option<&str>) {
    let manifest = match version {
        Some(v) => {
            format!(r#"{{"name": "{name}", "version": "{v}", "description": "Demo plugin"}}"#)
        }
        None => format!(r#"{{"name": "{name}", "description": "Demo plugin"}}"#),
    };
    write(&dir.join(".claude-plugin/plugin.json"), &manifest);
    write(
        &dir.join("skills/greet/SKILL.md"),
        "---\nname: greet\ndescription: Say hello to the user\n---\nSay hello.\n",
    );
    write(
        &dir.join("commands/review.md"),
        "---\ndescription: Review the code\nargument-hint: \"[file]\"\n---\nReview $ARGUMENTS.\n",
    );
    write(
        &dir.join("agents/tester.md"),
        "---\nname: tester\ndescription: Runs the tests\ntools: Bash, Read\n---\nYou run tests.\n",
    );
    write(
        &dir.join("hooks/hooks.json"),
        r#"{"hooks": {"PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "true"}]}]}}"#,
    );
    write(
        &dir.join(".mcp.json"),
        r#"{"mcpServers": {"files": {"command": "npx", "args": ["files-server"]}}}"#,
    );
}

/// A marketplace folder `name` holding the given plugins under `plugins/<p>`.
pub fn write_marketplace(dir: &Path, name: &str, plugins: &[(&str, Option<&str>)]) {
    let entries: Vec<Value> = plugins
        .iter()
        .map(|(p, v)| {
            write_demo_plugin(&dir.join("plugins").join(p), p, *v);
            let mut e = serde_json::json!({"name": p, "source": format!("./plugins/{p}"), "description": "Demo plugin"});
            if let Some(v) = v {
                e["version"] = (*v).into();
            }
            e
        })
        .collect();
    let doc = serde_json::json!({"name": name, "owner": {"name": "Tests"}, "plugins": entries});
    write(
        &dir.join(".claude-plugin/marketplace.json"),
        &serde_json::to_string_pretty(&doc).unwrap(),
    );
}

/// Makes a FIFO (named pipe) at `path`: reading one with no writer blocks forever.
pub fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let made = Command::new("mkfifo").arg(path).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "mkfifo {} failed; it is part of coreutils (apt-get install coreutils)",
        path.display()
    );
}

/// A JSON file's content (`null` when it does not exist).
pub fn read_json(path: &Path) -> Value {
    if !path.exists() {
        return Value::Null;
    }
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}
