//! `aisys agents install` over HTTP, through the real binary: against a stand-in registry on
//! 127.0.0.1 (bad integrity, a cut download, proxies, an unreachable registry) and, once, against
//! the real npm registry followed by a real turn of each installed agent against the mock model.

mod http_stand_in;
mod mock_api;
mod run_harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use aisys::runtime::agent::{Platform, agent_package};
use aisys::types::AgentKind;
use http_stand_in::{StandIn, sri};
use mock_api::{Reply, Script, When};
use run_harness::{Run, output_within};

/// Longest one install may take: the real registry's two packages are ~150 MB together.
const INSTALL_LIMIT: Duration = Duration::from_secs(300);

/// `aisys agents ...` with a clean environment: no node or npm on PATH (an empty folder), the
/// registry and proxies only as `env` says.
fn aisys(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Output {
    let empty = data.parent().unwrap().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisys"));
    cmd.args(args)
        .env_clear()
        .env("PATH", &empty)
        .env("HOME", data.parent().unwrap())
        .env("AISYS_DATA_DIR", data)
        .env("AISYS_CONFIG_DIR", data.join("cfg"))
        .envs(env.iter().copied());
    output_within(&mut cmd, INSTALL_LIMIT)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The native package of Claude Code for this machine, as aisys picks it.
fn claude_native() -> String {
    agent_package(AgentKind::ClaudeCode, &Platform::current()).candidates[0].clone()
}

/// A stand-in `claude` that answers `--version` like the real one.
fn fake_claude(version: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho '{version} (Claude Code)'\n").into_bytes()
}

fn publish(reg: &StandIn, version: &str, integrity: Option<&str>, cut: Option<usize>) {
    let body = fake_claude(version);
    reg.publish(
        "@anthropic-ai/claude-code",
        &claude_native(),
        version,
        &[("claude", &body, 0o755), ("package.json", b"{}", 0o644)],
        integrity,
        cut,
    );
}

/// What `current` points at, and every entry of the agent's folder.
fn state(data: &Path) -> (PathBuf, Vec<String>) {
    let root = data.join("agents/claude-code");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    (std::fs::read_link(root.join("current")).unwrap(), names)
}

fn installed_version(data: &Path) -> String {
    let out = Command::new(data.join("agents/claude-code/current/claude"))
        .arg("--version")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_bad_tarball_or_a_cut_download_is_refused_and_the_previous_install_stays() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let reg = StandIn::start();
    let url = reg.url();
    let env = [("npm_config_registry", url.as_str())];
    publish(&reg, "2.1.197", None, None);

    let out = aisys(&["agents", "install", "claude-code"], &data, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("claude-code 2.1.197 installed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let before = state(&data);
    assert_eq!(installed_version(&data), "2.1.197 (Claude Code)");

    // The registry describes one file and serves another: refused before unpacking.
    publish(&reg, "2.1.198", Some(&sri(b"some other file")), None);
    let out = aisys(&["agents", "install", "claude-code@2.1.198"], &data, &env);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("integrity check failed"), "{e}");
    assert!(e.contains("nothing was unpacked"), "{e}");
    assert_eq!(state(&data), before, "no new folder, no leftover stage");
    assert_eq!(installed_version(&data), "2.1.197 (Claude Code)");

    // The connection drops halfway through the tarball, on every try.
    publish(&reg, "2.1.199", None, Some(40));
    let out = aisys(
        &["agents", "install", "claude-code", "--version", "2.1.199"],
        &data,
        &env,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("was cut after 40 of"), "{e}");
    assert!(e.contains("the installed version is unchanged"), "{e}");
    assert_eq!(state(&data), before);
    assert_eq!(installed_version(&data), "2.1.197 (Claude Code)");
    let tries = reg
        .log()
        .iter()
        .filter(|l| l.contains("2.1.199.tgz"))
        .count();
    assert_eq!(
        tries,
        aisys::http::MAX_ATTEMPTS as usize,
        "a cut download is tried again: {:?}",
        reg.log()
    );

    // A good newer version replaces it; the previous one is kept beside it.
    publish(&reg, "2.1.200", None, None);
    let out = aisys(&["agents", "install", "claude-code@2.1.200"], &data, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(installed_version(&data), "2.1.200 (Claude Code)");
    let (current, names) = state(&data);
    assert!(current.to_string_lossy().starts_with("2.1.200-"));
    assert!(names.contains(&before.0.to_string_lossy().to_string()));

    // `agents list` says where it came from.
    let out = aisys(&["agents", "list", "--format", "json"], &data, &env);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["found_by"], "aisys agents install");
    assert_eq!(rows[0]["version"], "2.1.200");
    let from = &rows[0]["installed_from"];
    assert_eq!(from["native_package"], claude_native());
    assert_eq!(from["registry"], url);
    assert!(from["tarball"].as_str().unwrap().ends_with("2.1.200.tgz"));

    // The same version again downloads nothing.
    let before_log = reg.log().len();
    let out = aisys(&["agents", "install", "claude-code@2.1.200"], &data, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed already"));
    assert!(!reg.log()[before_log..].iter().any(|l| l.contains(".tgz")));

    // A version the registry does not have, and an agent aisys does not know.
    let out = aisys(
        &["agents", "install", "claude-code@0.0.0-nope"],
        &data,
        &env,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("has no version `0.0.0-nope`"),
        "{}",
        stderr(&out)
    );
    let out = aisys(&["agents", "install", "codex"], &data, &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give claude-code or opencode"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn proxies_from_the_environment_are_used_and_no_proxy_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    // The stand-in is the proxy here; the registry's name resolves nowhere, so only a request
    // through the proxy can succeed.
    let proxy = StandIn::start();
    let registry = "http://registry.aisys-test.invalid/";
    let base = registry.trim_end_matches('/');
    let body = fake_claude("2.1.197");
    let tgz = http_stand_in::tarball(&[("claude", &body, 0o755)]);
    proxy.json(
        "/@anthropic-ai%2fclaude-code/2.1.197",
        &serde_json::json!({"name": "@anthropic-ai/claude-code", "version": "2.1.197",
            "optionalDependencies": {claude_native(): "2.1.197"},
            "dist": {"tarball": format!("{base}/main.tgz"), "integrity": "sha512-x"}}),
    );
    proxy.json(
        &format!("/{}/2.1.197", claude_native().replacen('/', "%2f", 1)),
        &serde_json::json!({"name": claude_native(), "version": "2.1.197",
            "dist": {"tarball": format!("{base}/native.tgz"), "integrity": sri(&tgz)}}),
    );
    proxy.route(
        "/native.tgz",
        http_stand_in::Route::Body {
            body: tgz,
            content_type: "application/octet-stream".into(),
            etag: None,
        },
    );
    let proxy_url = proxy.url();
    let data = dir.path().join("data");
    let out = aisys(
        &["agents", "install", "claude-code"],
        &data,
        &[
            ("npm_config_registry", registry),
            ("http_proxy", &proxy_url),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let log = proxy.log();
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET http://registry.aisys-test.invalid/native.tgz")),
        "{log:?}"
    );

    // HTTPS goes through the proxy with CONNECT; this proxy refuses it, and the error says the
    // proxy was in the way.
    let data = dir.path().join("data2");
    let out = aisys(
        &["agents", "install", "claude-code"],
        &data,
        &[("HTTPS_PROXY", &proxy_url)],
    );
    assert_eq!(out.status.code(), Some(3));
    let e = stderr(&out);
    assert!(e.contains("through the proxy in HTTPS_PROXY"), "{e}");
    assert!(e.contains("https://registry.npmjs.org/"), "{e}");
    assert!(
        proxy
            .log()
            .iter()
            .any(|l| l.starts_with("CONNECT registry.npmjs.org:443")),
        "{:?}",
        proxy.log()
    );

    // NO_PROXY sends a host around the (dead) proxy.
    let reg = StandIn::start();
    publish(&reg, "2.1.197", None, None);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let data = dir.path().join("data3");
    let out = aisys(
        &["agents", "install", "claude-code"],
        &data,
        &[
            ("npm_config_registry", &reg.url()),
            ("HTTP_PROXY", &dead_url),
            ("NO_PROXY", "127.0.0.1"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn answers_of_5xx_are_tried_again_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let reg = StandIn::start();
    publish(&reg, "2.1.197", None, None);
    // The metadata of the native package fails twice before the registry recovers.
    let path = format!("/{}/2.1.197", claude_native().replacen('/', "%2f", 1));
    let Some(http_stand_in::Route::Body { body, .. }) = reg.take(&path) else {
        panic!("published above")
    };
    reg.route(
        &path,
        http_stand_in::Route::Failing {
            status: 503,
            times: 2,
            then: Box::new(http_stand_in::Route::Body {
                body,
                content_type: "application/json".into(),
                etag: None,
            }),
        },
    );
    let out = aisys(
        &["agents", "install", "claude-code"],
        &data,
        &[("npm_config_registry", &reg.url())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let tries = reg.log().iter().filter(|l| l.contains(&path)).count();
    assert_eq!(tries, 3, "{:?}", reg.log());

    // A registry that keeps failing is reported with its answer.
    reg.route(&path, http_stand_in::Route::Status(502));
    let out = aisys(
        &["agents", "install", "claude-code"],
        &dir.path().join("data2"),
        &[("npm_config_registry", &reg.url())],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("answered 502"), "{}", stderr(&out));
}

#[test]
fn an_unreachable_registry_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", dead.local_addr().unwrap());
    drop(dead);
    let data = dir.path().join("data");
    let out = aisys(
        &["agents", "install", "opencode"],
        &data,
        &[("npm_config_registry", &url)],
    );
    assert_eq!(out.status.code(), Some(3));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "cannot reach the npm registry {url} (chosen by npm_config_registry)"
        )),
        "{e}"
    );
    assert!(e.contains("fix: check the network connection"), "{e}");
    assert!(e.contains("HTTPS_PROXY"), "{e}");
    assert!(!data.join("agents/opencode/current").exists());
}

/// The real registry, the pinned versions, no Node.js: then one real turn with each.
#[test]
fn the_pinned_agents_install_from_the_real_registry_without_node_and_run_a_turn() {
    let run = Run::new();
    let data = run.dir.path().join("data");
    // The machine's way out, if it needs one.
    let through: Vec<(&str, String)> = [
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "npm_config_registry",
    ]
    .into_iter()
    .filter_map(|k| Some((k, std::env::var(k).ok()?)))
    .collect();
    let through: Vec<(&str, &str)> = through.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (agent, version) in [("claude-code", "2.1.197"), ("opencode", "1.18.33")] {
        let out = aisys(&["agents", "install", agent], &data, &through);
        assert!(
            out.status.success(),
            "{agent}: {}\n(needs the npm registry; behind a proxy set HTTPS_PROXY)",
            stderr(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("{agent} {version} installed")),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let mock = Script::new()
        .always(When::Always, Reply::text("hello from an installed agent"))
        .start();
    for agent in ["claude-code", "opencode"] {
        let mut cmd = run.command(&mock, &["say hello", "--agent", agent, "--format", "jsonl"]);
        cmd.env_remove("AISYS_CLAUDE_BIN")
            .env_remove("AISYS_OPENCODE_BIN");
        let out = output_within(&mut cmd, run_harness::RUN_LIMIT);
        assert_eq!(out.status.code(), Some(0), "{agent}: {}", stderr(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("hello from an installed agent"),
            "{agent}"
        );
    }
    let out = aisys(&["agents", "list", "--format", "json"], &data, &through);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["found_by"], "aisys agents install", "{row}");
        assert_eq!(
            row["installed_from"]["registry"],
            "https://registry.npmjs.org/"
        );
    }
}
