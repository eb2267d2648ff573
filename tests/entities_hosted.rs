//! Marketplaces hosted as one `marketplace.json` at a URL, served by a stand-in on 127.0.0.1:
//! `aisys entities marketplace add URL` writes the same records and cached file as the real
//! `claude plugin marketplace add URL` (2.1.197), its git plugin installs, the real `claude -p`
//! loads the plugin's skill, and `marketplace update` asks again with the ETag.
//!
//! Plugin sources are `https://git.example/...git`, which a test-only git config rewrites to
//! local repositories (as in `entities_interop.rs`).

mod entities_support;
mod http_stand_in;
mod mock_api;

use std::path::Path;
use std::process::Output;

use entities_support::*;
use http_stand_in::{Route, StandIn};
use mock_api::{Reply, Script, When, claude_bin};
use serde_json::{Value, json};

fn claude(w: &World, args: &[&str], extra_env: &[(&str, String)]) -> Output {
    w.claude_at(&claude_bin(), &w.project, args, extra_env)
}

/// The records both tools write, with times dropped and the home's path replaced.
fn records(w: &World) -> Value {
    let home = w.claude.display().to_string();
    let mut v = json!({
        "known": read_json(&w.claude.join("plugins/known_marketplaces.json")),
        "installed": read_json(&w.claude.join("plugins/installed_plugins.json")),
        "settings": read_json(&w.claude.join("settings.json")),
    });
    fn scrub(v: &mut Value, home: &str) {
        match v {
            Value::Object(m) => {
                m.remove("lastUpdated");
                m.remove("installedAt");
                m.values_mut().for_each(|x| scrub(x, home));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, home)),
            Value::String(s) => *s = s.replace(home, "<home>"),
            _ => {}
        }
    }
    scrub(&mut v, &home);
    v
}

fn cached(w: &World) -> String {
    std::fs::read_to_string(w.claude.join("plugins/marketplaces/hosted-market")).unwrap()
}

/// The marketplace document, as a server would send it: one line, keys not in sorted order.
fn market_doc(plugins: &[&str]) -> Vec<u8> {
    let entries: Vec<String> = plugins
        .iter()
        .map(|p| {
            format!(
                r#"{{"source":{{"url":"https://git.example/{p}.git","source":"url"}},"name":"{p}","description":"Plugin {p}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"name":"hosted-market","owner":{{"name":"Tests"}},"plugins":[{}],"metadata":{{"version":"1"}}}}"#,
        entries.join(",")
    )
    .into_bytes()
}

fn serve_market(reg: &StandIn, plugins: &[&str], etag: &str) {
    reg.route(
        "/team/marketplace.json",
        Route::Body {
            body: market_doc(plugins),
            content_type: "application/json".into(),
            etag: Some(etag.into()),
        },
    );
}

fn init_skills(w: &World) -> (Vec<String>, Vec<String>) {
    let mock = Script::new()
        .always(When::Always, Reply::text("ok"))
        .start();
    let out = claude(
        w,
        &["-p", "hi", "--output-format", "stream-json", "--verbose"],
        &[
            ("ANTHROPIC_BASE_URL", mock.base_url()),
            ("ANTHROPIC_API_KEY", "test".into()),
        ],
    );
    ok(&out, "claude -p");
    let init = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .expect("a system/init line");
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                x.as_str()
                    .or_else(|| x["name"].as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    (names(&init["skills"]), names(&init["plugins"]))
}

fn plugin_repo(repos: &Path, name: &str) {
    let dir = repos.join(format!("{name}.git"));
    write_demo_plugin(&dir, name, Some("1.0.0"));
    commit_all(&dir);
}

#[test]
fn a_hosted_marketplace_is_kept_as_claude_code_keeps_it_and_its_plugin_loads() {
    let by_claude = World::new();
    let by_aisys = World::new();
    let shared = tempfile::tempdir().unwrap();
    let repos = shared.path().join("repos");
    plugin_repo(&repos, "own");
    plugin_repo(&repos, "second");
    for w in [&by_claude, &by_aisys] {
        write(
            &w.path().join("gitconfig"),
            &format!(
                "[url \"file://{}/\"]\n\tinsteadOf = https://git.example/\n",
                repos.display()
            ),
        );
    }
    let reg = StandIn::start();
    serve_market(&reg, &["own"], "\"v1\"");
    let url = format!("{}team/marketplace.json", reg.url());

    ok(
        &claude(&by_claude, &["plugin", "marketplace", "add", &url], &[]),
        "claude marketplace add",
    );
    ok(
        &claude(&by_claude, &["plugin", "install", "own@hosted-market"], &[]),
        "claude install",
    );
    ok(
        &by_aisys.aisys(&["entities", "marketplace", "add", &url]),
        "aisys marketplace add",
    );
    ok(
        &by_aisys.aisys(&["entities", "install", "own@hosted-market"]),
        "aisys install",
    );
    let (a, b) = (records(&by_claude), records(&by_aisys));
    assert_eq!(a, b, "claude:\n{a:#}\naisys:\n{b:#}");
    assert_eq!(
        a["known"]["hosted-market"]["source"],
        json!({"source": "url", "url": url})
    );
    assert_eq!(cached(&by_claude), cached(&by_aisys), "the cached file");

    // Listed, by aisys and by Claude Code.
    let out = by_aisys.aisys(&["entities", "marketplace", "list", "--format", "json"]);
    ok(&out, "marketplace list");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "hosted-market");
    assert_eq!(list[0]["source"]["url"], url);
    let listed = by_aisys.list_json(&[]);
    assert_eq!(names(&listed, "marketplace"), ["hosted-market"]);
    let out = claude(&by_aisys, &["plugin", "marketplace", "list"], &[]);
    ok(&out, "claude marketplace list");
    assert!(text(&out.stdout).contains(&format!("URL ({url})")));

    // The real Claude Code loads the plugin aisys installed.
    let (skills, plugins) = init_skills(&by_aisys);
    assert!(skills.contains(&"own:greet".to_string()), "{skills:?}");
    assert!(plugins.contains(&"own".to_string()), "{plugins:?}");

    // Unchanged on the server: a conditional request, answered 304, and the file stays.
    let before = cached(&by_aisys);
    ok(
        &by_aisys.aisys(&["entities", "marketplace", "update", "hosted-market"]),
        "update",
    );
    let last = reg.log().last().cloned().unwrap();
    assert!(last.contains("[if-none-match: \"v1\"]"), "{last}");
    assert!(
        last.contains("[if-modified-since: Tue, 01 Dec 2026 10:00:00 GMT]"),
        "{last}"
    );
    assert_eq!(cached(&by_aisys), before);

    // Changed: both tools fetch the new file and keep the same copy of it.
    serve_market(&reg, &["own", "second"], "\"v2\"");
    ok(
        &by_aisys.aisys(&["entities", "marketplace", "update"]),
        "update",
    );
    ok(
        &claude(
            &by_claude,
            &["plugin", "marketplace", "update", "hosted-market"],
            &[],
        ),
        "claude update",
    );
    assert_eq!(cached(&by_claude), cached(&by_aisys));
    assert!(cached(&by_aisys).contains("second.git"));
    ok(
        &by_aisys.aisys(&["entities", "install", "second@hosted-market"]),
        "install the new plugin",
    );

    // Removed the same way.
    ok(
        &claude(
            &by_claude,
            &["plugin", "marketplace", "remove", "hosted-market"],
            &[],
        ),
        "claude remove",
    );
    ok(
        &by_aisys.aisys(&["entities", "marketplace", "remove", "hosted-market"]),
        "aisys remove",
    );
    let (a, mut b) = (records(&by_claude), records(&by_aisys));
    // Claude never installed `second`; its removal leaves nothing of it either way.
    b["installed"]["plugins"]
        .as_object_mut()
        .map(|m| m.remove("second@hosted-market"));
    assert_eq!(a, b, "after remove, claude:\n{a:#}\naisys:\n{b:#}");
    assert!(
        !by_aisys
            .claude
            .join("plugins/marketplaces/hosted-market")
            .exists()
    );
}

#[test]
fn a_bad_hosted_marketplace_is_refused_with_the_url_and_the_fix() {
    let w = World::new();
    let reg = StandIn::start();
    reg.json("/no-owner.json", &json!({"name": "m", "plugins": []}));
    reg.json(
        "/relative.json",
        &json!({"name": "rel", "owner": {"name": "T"}, "plugins": [{"name": "p", "source": "./p"}]}),
    );
    reg.route(
        "/broken.json",
        Route::Body {
            body: b"not json".to_vec(),
            content_type: "application/json".into(),
            etag: None,
        },
    );
    let base = reg.url();
    for (path, says) in [
        ("no-owner.json", "owner: is required"),
        ("broken.json", "not JSON"),
        ("missing.json", "answered 404"),
    ] {
        let url = format!("{base}{path}");
        let out = w.aisys(&["entities", "marketplace", "add", &url]);
        assert!(!out.status.success(), "{path}");
        let e = text(&out.stderr);
        assert!(e.contains(says) && e.contains(&url), "{path}: {e}");
    }
    assert!(!w.claude.join("plugins/known_marketplaces.json").exists());

    let url = format!("{base}relative.json");
    ok(&w.aisys(&["entities", "marketplace", "add", &url]), "add");
    let out = w.aisys(&["entities", "install", "p@rel"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("has no folder to find it in"),
        "{}",
        text(&out.stderr)
    );
}
