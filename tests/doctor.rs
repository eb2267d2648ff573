//! `aisys doctor` through the real binary, in a controlled environment (a PATH of chosen
//! programs, stand-in agents and Python, a scratch data folder, credentials set or not): every
//! line it prints, present and missing, its exit status, JSON shape, and colors.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod serve_harness;
use serve_harness::Server;

/// A key whose value must never be printed.
const SECRET: &str = "sk-ant-doctor-test-secret-value";

/// A scratch machine: `bin` holds the stand-in programs put on PATH.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        let m = Machine {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(m.bin()).unwrap();
        std::fs::create_dir_all(m.home()).unwrap();
        std::fs::create_dir_all(m.path().join("tmp")).unwrap();
        m
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }
    fn home(&self) -> PathBuf {
        self.path().join("home")
    }
    fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// An executable shell script at `path`.
    fn script(&self, path: &Path, body: &str) -> PathBuf {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_path_buf()
    }

    /// `aisys doctor ARGS` with only the environment given (plus HOME, TMPDIR and aisys's
    /// folders inside this machine); `path` is PATH.
    fn doctor(&self, args: &[&str], path: &str, env: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .current_dir(self.path())
            .arg("doctor")
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home())
            .env("TMPDIR", self.path().join("tmp"))
            .env("AISYS_CONFIG_DIR", self.path().join("config"))
            // bubblewrap's "it worked" marker lives in the data folder: a fresh one makes every
            // run check for real.
            .env("AISYS_DATA_DIR", self.data())
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// `aisys doctor --format json` as [`Machine::doctor`] runs it, which must exit with
    /// `code` (its stdout is the failure message); its report.
    fn report(&self, path: &str, env: &[(&str, &str)], code: i32) -> Value {
        let out = self.doctor(&["--format", "json"], path, env);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        json(&out)
    }

    /// Writes aisys's config.toml with `toml` in it.
    fn config(&self, toml: &str) {
        let dir = self.path().join("config");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), toml).unwrap();
    }

    /// The configured server address, in config.toml.
    fn server_url(&self, addr: &str) {
        self.config(&format!("[server]\nurl = \"ws://{addr}/ws\"\n"));
    }

    /// The configured server token file, in config.toml.
    fn token_file(&self, token: &Path) {
        self.config(&format!("[server]\ntoken_file = \"{}\"\n", token.display()));
    }
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The check named `name`.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {report:#}"))
}

/// [`expect`] for each (name, status, says) of `checks`.
fn expect_all(report: &Value, checks: &[(&str, &str, &str)]) {
    for (name, status, says) in checks {
        expect(report, name, status, says);
    }
}

/// Asserts a check's status, and that its detail (or fix) says `says`.
fn expect(report: &Value, name: &str, status: &str, says: &str) {
    let c = check(report, name);
    assert_eq!(c["status"], status, "{c:#}");
    let text = format!("{} {}", c["detail"], c["fix"]);
    assert!(text.contains(says), "`{says}` in {c:#}");
}

/// The real bubblewrap, which the "ready" case needs.
fn real_bwrap() -> PathBuf {
    let p = PathBuf::from("/usr/bin/bwrap");
    assert!(
        p.is_file(),
        "bubblewrap is missing: apt-get install bubblewrap (or run scripts/install-test-deps)"
    );
    p
}

#[test]
fn a_ready_machine_is_ok_on_every_line_and_exits_0() {
    let m = Machine::new();
    real_bwrap();
    let claude = m.script(
        &m.path().join("agents/claude"),
        "echo '2.1.197 (Claude Code)'",
    );
    // OpenCode where `aisys agents install` puts it, in the data folder.
    m.script(
        &m.data()
            .join("agents/node_modules/opencode-linux-x64/bin/opencode"),
        "echo 1.18.33",
    );
    std::fs::write(m.data().join("token"), "t0ken\n").unwrap();
    std::fs::set_permissions(
        m.data().join("token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let python = m.script(&m.path().join("python"), "echo 1.6.0");
    for tool in ["tmux", "chromium", "chromedriver"] {
        m.script(&m.bin().join(tool), "true");
    }
    // The real server, on this data folder and its token.
    let server = Server::start(&m.data(), &[], &[]);
    let addr = server.http.trim_start_matches("http://").to_string();
    m.server_url(&addr);
    let path = format!("{}:/usr/bin:/bin", m.bin().display());
    let env = [
        ("AISYS_CLAUDE_BIN", claude.to_str().unwrap()),
        ("ANTHROPIC_API_KEY", SECRET),
        ("AISYS_MODAL_PYTHON", python.to_str().unwrap()),
        ("MODAL_TOKEN_ID", "id"),
        ("MODAL_TOKEN_SECRET", SECRET),
    ];

    let r = m.report(&path, &env, 0);
    assert_eq!(r["ready"], true);
    expect_all(
        &r,
        &[
            ("bubblewrap", "ok", "user namespaces allowed"),
            ("agent claude-code", "ok", "2.1.197"),
            ("agent claude-code", "ok", "found by AISYS_CLAUDE_BIN"),
            ("agent opencode", "ok", "found by aisys agents install"),
            ("model credentials", "ok", "ANTHROPIC_API_KEY set"),
            ("data folder", "ok", "is writable"),
            (
                "server",
                "ok",
                format!("aisys serve answers at http://{addr}/healthz").as_str(),
            ),
            ("server token", "ok", "is readable"),
            ("modal sdk", "ok", "modal 1.6.0"),
            (
                "modal credentials",
                "ok",
                "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET set",
            ),
        ],
    );
    for tool in ["tmux", "chromium", "chromedriver"] {
        expect(&r, tool, "ok", &m.bin().join(tool).display().to_string());
    }
    for c in r["checks"].as_array().unwrap() {
        assert_eq!(c["fix"], Value::Null, "{c:#}");
        let required = c["name"] == "bubblewrap" || c["name"] == "agent claude-code";
        assert_eq!(c["required"], required, "{c:#}");
    }

    // Human: one line per item and the verdict, no secret, no color when not on a terminal.
    let out = m.doctor(&[], &path, &env);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(SECRET), "a secret was printed: {text}");
    assert!(!text.contains('\x1b'), "colors off the terminal: {text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13, "{text}");
    assert!(lines[..12].iter().all(|l| l.starts_with("ok ")), "{text}");
    assert!(lines[12].starts_with("ready:"), "{text}");
    // --color always colors the status words; NO_COLOR turns auto off.
    let out = m.doctor(&["--color", "always"], &path, &env);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("\x1b[32mok"));
    let mut with_no_color = env.to_vec();
    with_no_color.push(("NO_COLOR", "1"));
    let out = m.doctor(&[], &path, &with_no_color);
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    drop(server);
}

#[test]
fn a_server_that_refuses_the_token_or_is_not_aisys_is_named() {
    let m = Machine::new();
    let other = tempfile::tempdir().unwrap();
    let server = Server::start(other.path(), &[], &[]);
    let addr = server.http.trim_start_matches("http://").to_string();
    m.server_url(&addr);
    std::fs::create_dir_all(m.data()).unwrap();
    std::fs::write(m.data().join("token"), "not-its-token\n").unwrap();
    let path = m.bin().display().to_string();
    let r = json(&m.doctor(&["--format", "json"], &path, &[]));
    expect(&r, "server", "warn", "refuses the token in");
    expect(&r, "server", "warn", "AISYS_DATA_DIR");

    // Something else listens there: it answers, but not as aisys does.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        }
    });
    m.server_url(&addr);
    let r = json(&m.doctor(&["--format", "json"], &path, &[]));
    expect(&r, "server", "warn", "not an aisys server");
}

#[test]
fn a_bare_machine_says_what_is_missing_and_how_to_fix_it_and_exits_1() {
    let m = Machine::new();
    // The data folder lies under a file: nothing can be written there.
    std::fs::write(m.path().join("file"), "").unwrap();
    let data = m.path().join("file/data");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    m.server_url(&port.to_string());
    let empty_path = m.bin().display().to_string();
    let env = [
        ("AISYS_DATA_DIR", data.to_str().unwrap()),
        ("AISYS_MODAL_PYTHON", "/nonexistent/python3"),
    ];

    let r = m.report(&empty_path, &env, 1);
    assert_eq!(r["ready"], false);
    expect_all(
        &r,
        &[
            ("bubblewrap", "missing", "apt-get install bubblewrap"),
            (
                "agent claude-code",
                "missing",
                "aisys agents install claude-code",
            ),
            ("agent opencode", "missing", "aisys agents install opencode"),
            ("model credentials", "missing", "export ANTHROPIC_API_KEY="),
            ("data folder", "missing", "is not a folder"),
            ("data folder", "missing", "AISYS_DATA_DIR"),
            ("server", "info", "aisys serve"),
            ("server token", "info", "does not exist yet"),
            ("modal sdk", "info", "pip install 'modal>=1.6,<2'"),
            ("modal credentials", "info", "modal token new"),
            ("tmux", "info", "apt-get install tmux"),
            ("chromium", "info", "apt-get install chromium"),
            ("chromedriver", "info", "apt-get install chromium-driver"),
        ],
    );

    // In a checkout where scripts/install-test-deps put Claude Code, the fix names that copy.
    let platform = if cfg!(target_arch = "aarch64") {
        "linux-arm64"
    } else {
        "linux-x64"
    };
    let copy = m.script(
        &m.path().join(format!(
            ".test-deps/node_modules/@anthropic-ai/claude-code-{platform}/claude"
        )),
        "echo 2.1.197",
    );
    let r = json(&m.doctor(&["--format", "json"], &empty_path, &env));
    expect(
        &r,
        "agent claude-code",
        "missing",
        &format!("export AISYS_CLAUDE_BIN={}", copy.display()),
    );

    let out = m.doctor(&[], &empty_path, &env);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let bwrap = text.lines().next().unwrap();
    assert!(
        bwrap.starts_with("missing bubblewrap")
            && bwrap.contains("fix: apt-get install bubblewrap"),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().starts_with("not ready:"),
        "{text}"
    );
}

#[test]
fn broken_bwrap_agent_and_token_are_named_with_their_fix() {
    let m = Machine::new();
    m.script(
        &m.bin().join("bwrap"),
        "echo 'bwrap: setting up uid map: Permission denied' >&2; exit 1",
    );
    let claude = m.script(&m.path().join("agents/claude"), "exit 1");
    // An empty token file; a data folder not made yet.
    let token = m.path().join("token");
    std::fs::write(&token, "").unwrap();
    m.token_file(&token);
    // OpenCode on PATH; Modal's token in ~/.modal.toml.
    m.script(&m.bin().join("opencode"), "echo 1.18.33");
    std::fs::write(m.home().join(".modal.toml"), "[default]\n").unwrap();
    let path = m.bin().display().to_string();
    let env = [
        ("AISYS_CLAUDE_BIN", claude.to_str().unwrap()),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
    ];

    let r = m.report(&path, &env, 1);
    expect_all(
        &r,
        &[
            ("bubblewrap", "missing", "uid map: Permission denied"),
            ("bubblewrap", "missing", "user namespaces"),
            ("agent claude-code", "missing", "--version failed"),
            ("agent opencode", "ok", "found by PATH"),
            ("modal credentials", "ok", ".modal.toml exists"),
            ("model credentials", "ok", "ANTHROPIC_BASE_URL set"),
            ("data folder", "ok", "not made yet"),
        ],
    );
    assert!(!m.data().exists(), "doctor does not make the data folder");
    expect(&r, "server token", "warn", "is empty");
}

#[test]
fn a_token_file_that_cannot_be_read_is_named_with_its_fix() {
    let m = Machine::new();
    // A folder where the token file should be: reading it fails for any user, root included.
    let token = m.path().join("token");
    std::fs::create_dir_all(&token).unwrap();
    m.token_file(&token);
    let out = m.doctor(&["--format", "json"], &m.bin().display().to_string(), &[]);
    let r = json(&out);
    expect(&r, "server token", "warn", &token.display().to_string());
    let fix = check(&r, "server token")["fix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(fix.contains("readable by this user"), "{fix}");
}
