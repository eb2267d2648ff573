//! `aisys entities mcp` against the real `claude mcp` (Claude Code 2.1.197), both ways: the same
//! servers added by aisys in one world and by Claude Code in another are written the same; Claude
//! Code lists, shows and removes what aisys added; aisys lists and removes what Claude Code added;
//! every other key of `.claude.json` is kept.
//!
//! Servers point at nothing that answers (`/bin/false`, port 1 on loopback), so Claude Code's
//! health checks fail at once and nothing reaches the network.

mod entities_support;
mod mock_api;

use std::process::Output;

use entities_support::*;
use mock_api::claude_bin;
use serde_json::{Value, json};

fn claude(w: &World, args: &[&str]) -> Output {
    w.claude_at(&claude_bin(), &w.project, args, &[])
}

/// The three servers both worlds add: stdio with env (user), http with headers (project), sse
/// (local).
const ADDS: &[&[&str]] = &[
    // Claude Code's -e takes several values: the name goes before it.
    &[
        "mcp",
        "add",
        "--scope",
        "user",
        "files",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "--",
        "/bin/false",
        "--flag",
        "x",
    ],
    &[
        "mcp",
        "add",
        "--scope",
        "project",
        "--transport",
        "http",
        "web",
        "http://127.0.0.1:1/mcp",
        "-H",
        "Authorization: Bearer t0k",
        "-H",
        "X-Team: core",
    ],
    &[
        "mcp",
        "add",
        "--scope",
        "local",
        "--transport",
        "sse",
        "events",
        "http://127.0.0.1:1/sse",
    ],
];

/// The servers of every scope as written, with the project's path made `<project>`.
fn written(w: &World) -> Value {
    let cj = read_json(&w.claude.join(".claude.json"));
    let key = w.project.canonicalize().unwrap().display().to_string();
    json!({
        "user": cj["mcpServers"],
        "local": cj["projects"][key.as_str()]["mcpServers"],
        "project": read_json(&w.project.join(".mcp.json"))["mcpServers"],
    })
}

fn aisys_mcp(w: &World, args: &[&str]) -> Output {
    let mut full = vec!["entities"];
    full.extend_from_slice(args);
    w.aisys(&full)
}

#[test]
fn what_aisys_adds_is_what_claude_writes_lists_and_removes() {
    let by_aisys = World::new();
    let by_claude = World::new();
    // State Claude Code keeps beside the servers must survive aisys's writes.
    write(
        &by_aisys.claude.join(".claude.json"),
        r#"{"userID": "u-1", "projects": {"/elsewhere": {"allowedTools": ["Bash"]}}, "tipsHistory": {"a": 3}}"#,
    );
    for args in ADDS {
        ok(&aisys_mcp(&by_aisys, args), &format!("aisys {args:?}"));
        ok(&claude(&by_claude, args), &format!("claude {args:?}"));
    }
    assert_eq!(written(&by_aisys), written(&by_claude));
    let cj = read_json(&by_aisys.claude.join(".claude.json"));
    assert_eq!(cj["userID"], "u-1");
    assert_eq!(cj["tipsHistory"], json!({"a": 3}));
    assert_eq!(
        cj["projects"]["/elsewhere"],
        json!({"allowedTools": ["Bash"]})
    );

    // Claude Code sees what aisys added, in the right scopes.
    let listed = ok(&claude(&by_aisys, &["mcp", "list"]), "claude mcp list");
    for line in [
        "files: /bin/false --flag x",
        "web: http://127.0.0.1:1/mcp (HTTP)",
        "events: http://127.0.0.1:1/sse (SSE)",
    ] {
        assert!(listed.contains(line), "{line:?} not in:\n{listed}");
    }
    let got = ok(
        &claude(&by_aisys, &["mcp", "get", "files"]),
        "claude mcp get",
    );
    assert!(got.contains("Scope: User config"), "{got}");
    assert!(got.contains("B=two words"), "{got}");
    let got = ok(&claude(&by_aisys, &["mcp", "get", "web"]), "claude mcp get");
    assert!(got.contains("Scope: Project config"), "{got}");
    assert!(got.contains("X-Team: core"), "{got}");
    let got = ok(
        &claude(&by_aisys, &["mcp", "get", "events"]),
        "claude mcp get",
    );
    assert!(got.contains("Scope: Local config"), "{got}");

    // aisys sees what Claude Code added, with the same scopes and entries.
    let out = ok(
        &aisys_mcp(&by_claude, &["mcp", "list", "--format", "json"]),
        "aisys mcp list",
    );
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    let summary: Vec<(String, String)> = list
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["scope"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("events".to_string(), "local".to_string()),
            ("web".to_string(), "project".to_string()),
            ("files".to_string(), "user".to_string()),
        ]
    );
    assert_eq!(
        list[2]["config"]["env"],
        json!({"A": "1", "B": "two words"})
    );

    // Each removes what the other added.
    ok(
        &claude(&by_aisys, &["mcp", "remove", "files"]),
        "claude mcp remove",
    );
    ok(
        &aisys_mcp(&by_claude, &["mcp", "remove", "files"]),
        "aisys mcp remove",
    );
    ok(
        &aisys_mcp(&by_claude, &["mcp", "remove", "web", "--scope", "project"]),
        "aisys mcp remove --scope",
    );
    ok(
        &claude(&by_aisys, &["mcp", "remove", "web", "-s", "project"]),
        "claude mcp remove",
    );
    assert_eq!(written(&by_aisys), written(&by_claude));
    let listed = ok(&claude(&by_claude, &["mcp", "list"]), "claude mcp list");
    assert!(
        !listed.contains("files:") && !listed.contains("web:"),
        "{listed}"
    );
    assert!(listed.contains("events:"), "{listed}");
}

#[test]
fn bad_servers_are_refused_with_the_reason_and_nothing_written() {
    let w = World::new();
    // Each is a mistake on the command line: a usage error (2), as clap's own are.
    let cases: &[(&[&str], &str)] = &[
        (&["mcp", "add", "bad name", "--", "x"], "letters, numbers"),
        (&["mcp", "add", "../x", "--", "x"], "letters, numbers"),
        (
            &[
                "mcp",
                "add",
                "-t",
                "http",
                "-H",
                "nocolon",
                "h",
                "https://x",
            ],
            "\"Name: value\"",
        ),
        (
            &["mcp", "add", "-t", "http", "h", "ftp://x"],
            "http:// or https:// URL",
        ),
        (
            &["mcp", "add", "-H", "X: y", "s", "--", "cmd"],
            "headers (-H) are for http and sse",
        ),
        (
            &["mcp", "add", "-e", "NOEQUALS", "s", "--", "cmd"],
            "KEY=value",
        ),
    ];
    for (args, why) in cases {
        let out = aisys_mcp(&w, args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert!(!w.claude.join(".claude.json").exists());
    ok(&aisys_mcp(&w, &["mcp", "add", "s", "--", "cmd"]), "add");
    let out = aisys_mcp(&w, &["mcp", "add", "s", "--", "cmd"]);
    assert!(text(&out.stderr).contains("already exists in local config"));
    let out = aisys_mcp(&w, &["mcp", "remove", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn an_edit_by_aisys_is_what_claude_reads_and_writes_for_the_same_change() {
    // Both worlds start with Claude Code's own servers, plus a second user server after `files`.
    let by_aisys = World::new();
    let by_claude = World::new();
    let second: &[&str] = &["mcp", "add", "--scope", "user", "zeta", "--", "/bin/true"];
    for w in [&by_aisys, &by_claude] {
        for args in ADDS.iter().chain([&second]) {
            ok(&claude(w, args), &format!("claude {args:?}"));
        }
    }
    // The same changes: aisys edits in place; Claude Code, which has no edit, removes and adds.
    let changes: &[(&[&str], &[&str])] = &[
        (
            &[
                "mcp",
                "edit",
                "files",
                "-e",
                "A=2",
                "--",
                "/bin/false",
                "--other",
            ],
            &[
                "mcp",
                "add",
                "--scope",
                "user",
                "files",
                "-e",
                "A=2",
                "--",
                "/bin/false",
                "--other",
            ],
        ),
        (
            &[
                "mcp",
                "edit",
                "web",
                "--scope",
                "project",
                "-t",
                "http",
                "http://127.0.0.1:1/v2",
                "-H",
                "X-Team: edge",
            ],
            &[
                "mcp",
                "add",
                "--scope",
                "project",
                "--transport",
                "http",
                "web",
                "http://127.0.0.1:1/v2",
                "-H",
                "X-Team: edge",
            ],
        ),
        (
            &["mcp", "edit", "events", "--", "/bin/false", "serve"],
            &[
                "mcp",
                "add",
                "--scope",
                "local",
                "events",
                "--",
                "/bin/false",
                "serve",
            ],
        ),
    ];
    for (mine, theirs) in changes {
        let name = mine[2];
        ok(&aisys_mcp(&by_aisys, mine), &format!("aisys {mine:?}"));
        let scope = theirs[3];
        ok(
            &claude(&by_claude, &["mcp", "remove", name, "-s", scope]),
            "claude mcp remove",
        );
        ok(&claude(&by_claude, theirs), &format!("claude {theirs:?}"));
    }
    assert_eq!(written(&by_aisys), written(&by_claude));

    // Claude Code reads the changed servers, each in the scope it was in.
    let got = ok(
        &claude(&by_aisys, &["mcp", "get", "files"]),
        "claude mcp get",
    );
    assert!(
        got.contains("Scope: User config") && got.contains("A=2") && got.contains("--other"),
        "{got}"
    );
    let got = ok(&claude(&by_aisys, &["mcp", "get", "web"]), "claude mcp get");
    assert!(
        got.contains("Scope: Project config") && got.contains("X-Team: edge"),
        "{got}"
    );
    assert!(
        !got.contains("Authorization"),
        "the old headers went: {got}"
    );
    let listed = ok(&claude(&by_aisys, &["mcp", "list"]), "claude mcp list");
    for line in [
        "files: /bin/false --other",
        "web: http://127.0.0.1:1/v2 (HTTP)",
        "events: /bin/false serve",
        "zeta: /bin/true",
    ] {
        assert!(listed.contains(line), "{line:?} not in:\n{listed}");
    }
    // Unlike a remove and add, the edit kept `files` before `zeta` in the file.
    let text_of = |w: &World| std::fs::read_to_string(w.claude.join(".claude.json")).unwrap();
    let mine = text_of(&by_aisys);
    assert!(
        mine.find("\"files\"").unwrap() < mine.find("\"zeta\"").unwrap(),
        "{mine}"
    );
    let theirs = text_of(&by_claude);
    assert!(
        theirs.find("\"files\"").unwrap() > theirs.find("\"zeta\"").unwrap(),
        "Claude Code's remove and add moved it last: {theirs}"
    );

    // A name no scope has: refused, exit 2, nothing written.
    let before = text_of(&by_aisys);
    let out = aisys_mcp(&by_aisys, &["mcp", "edit", "nope", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no MCP server named nope"),
        "{}",
        text(&out.stderr)
    );
    let out = aisys_mcp(
        &by_aisys,
        &[
            "mcp",
            "edit",
            "zeta",
            "--scope",
            "project",
            "--",
            "/bin/true",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text_of(&by_aisys), before);
}

#[test]
fn wrong_typed_server_maps_are_refused_not_overwritten() {
    let w = World::new();
    let claude_json = w.claude.join(".claude.json");
    let mcp_json = w.project.join(".mcp.json");
    let project = w.project.canonicalize().unwrap().display().to_string();
    let local = json!({"projects": {project.clone(): {"mcpServers": [1]}}, "keep": true});
    let cases: Vec<(&std::path::Path, String, &str, String)> = vec![
        (
            &claude_json,
            r#"{"mcpServers": 5, "keep": true}"#.into(),
            "user",
            "`mcpServers` is a number".into(),
        ),
        (
            &claude_json,
            local.to_string(),
            "local",
            format!("`projects.{project:?}.mcpServers` is a list"),
        ),
        (
            &claude_json,
            r#"{"projects": 1}"#.into(),
            "local",
            "`projects` is a number".into(),
        ),
        (
            &mcp_json,
            r#"{"mcpServers": "x"}"#.into(),
            "project",
            "`mcpServers` is text".into(),
        ),
    ];
    for (file, body, scope, says) in cases {
        write(file, &body);
        let out = aisys_mcp(
            &w,
            &["mcp", "add", "-s", scope, "files", "--", "npx", "foo"],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{scope}: {err}");
        assert!(
            err.contains(&format!("{}: {says}", file.display())),
            "{scope}: {err}"
        );
        assert!(err.contains("fix the file, or remove the key"), "{err}");
        assert_eq!(std::fs::read_to_string(file).unwrap(), body, "{scope}");
        std::fs::remove_file(file).unwrap();
    }
}
