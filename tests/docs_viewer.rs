//! `aisys docs`, the docs and context viewer, in the real Chromium: a docs folder with a Mermaid
//! diagram and a link (drawn, followed, updated live within a second, searched), the Context tab
//! (a project skill and a plugin's agent with their scopes, live), the Plugins tab (a plugin
//! installed there is loaded by the real `claude -p`; an MCP server added there is listed by the
//! real `claude mcp list`, and edited there, read back by `claude mcp get`), the Transcripts tab
//! (a recorded session with a subagent nested under its call; a growing session's new lines shown
//! within a second, without a reload), and the token: 401 on every `/api/` route without it, a
//! cross-origin write refused.
//!
//! Screenshots, desktop and phone, go to a temporary folder (`<target>/tmp/screenshots`); with
//! `AISYS_UPDATE_SCREENSHOTS=1` they replace the ones in `docs/screenshots/` the README shows.

mod browser;
mod docs_support;
mod entities_support;
mod mock_api;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use browser::{Browser, Page};
use docs_support::*;
use entities_support::{commit_all, write, write_marketplace};
use mock_api::{Reply, Script, When};
use serde_json::{Value, json};

const HOME_PAGE: &str = "# Team handbook

How we work. See [the second page](guide/second.md) for the details.

```mermaid
flowchart LR
  Alpha[Plan the work] --> Beta[Ship the release]
```

```rust
fn main() { println!(\"hi\"); }
```
";

fn docs_world() -> World {
    let w = World::new();
    let docs = w.project.join("docs");
    write(&docs.join("index.md"), HOME_PAGE);
    write(
        &docs.join("guide/second.md"),
        "# Second page\n\nBack [home](../index.md). The word zephyr is only here.\n\n![a dot](img/dot.png)\n",
    );
    // A 1x1 PNG, shown through the API.
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap();
    std::fs::create_dir_all(docs.join("guide/img")).unwrap();
    std::fs::write(docs.join("guide/img/dot.png"), png).unwrap();
    // A link out of the folder must not be listed or read.
    write(&w.dir.path().join("secret.md"), "# Secret\n");
    std::os::unix::fs::symlink(w.dir.path().join("secret.md"), docs.join("leak.md")).unwrap();
    w
}

async fn docs_at(width: u32, height: u32, mobile: bool, name: &str) {
    let w = docs_world();
    let viewer = Viewer::start(&w, &w.project.join("docs"));
    let browser = Browser::launch().await;
    let page = browser.page(width, height, mobile).await;
    let shots = shots_dir();

    page.goto(&viewer.open_url("/docs/")).await;
    page.wait_for("document.querySelector('.md.doc h1')").await;
    assert_eq!(inner_text(&page, ".md.doc h1").await, "Team handbook");
    assert_eq!(
        page.eval("location.pathname").await,
        json!("/docs/index.md")
    );
    assert_eq!(
        page.eval("location.search").await,
        json!(""),
        "the token left the address"
    );
    // The diagram is drawn: an SVG holding the labels, and the Mermaid source is not shown.
    page.wait_for("document.querySelector('.mermaid-diagram svg')")
        .await;
    let svg_text = page
        .eval("document.querySelector('.mermaid-diagram svg').textContent")
        .await;
    let svg_text = svg_text.as_str().unwrap();
    assert!(
        svg_text.contains("Plan the work") && svg_text.contains("Ship the release"),
        "{svg_text}"
    );
    let body = page.eval("document.body.innerText").await;
    let body = body.as_str().unwrap();
    assert!(body.contains("Plan the work"), "the labels are on the page");
    assert!(
        !body.contains("flowchart") && !body.contains("-->"),
        "the raw Mermaid text is not on the page:\n{body}"
    );
    assert!(
        page.eval("!!document.querySelector('.md.doc code.hljs .hljs-keyword')")
            .await
            == json!(true),
        "code is highlighted"
    );
    assert!(
        !body.contains("Secret"),
        "a link out of the folder is not listed"
    );
    page.screenshot(&shots.join(format!("docs-{name}.png")))
        .await;

    // The link opens the second page inside the app: no page load.
    page.eval("window.__stillHere = 'yes'").await;
    page.click("a[data-doc-link='guide/second.md']").await;
    page.wait_for("document.querySelector('.md.doc h1') && document.querySelector('.md.doc h1').innerText === 'Second page'").await;
    assert_eq!(
        page.eval("location.pathname").await,
        json!("/docs/guide/second.md")
    );
    // Headings carry ids, so that `page.md#section` links land on them.
    assert_eq!(
        page.eval("document.querySelector('.md.doc h1').id").await,
        json!("doc-second-page")
    );
    // Its image comes from the docs folder.
    page.wait_for("(() => { const i = document.querySelector('.md.doc img'); return i && i.complete && i.naturalWidth === 1; })()")
        .await;
    assert_eq!(page.eval("window.__stillHere").await, json!("yes"));

    // Editing the file changes the open page within a second, without a reload.
    let started = Instant::now();
    std::fs::write(
        w.project.join("docs/guide/second.md"),
        "# Second page, edited\n\nNew text.\n",
    )
    .unwrap();
    let took = within(
        &page,
        "document.querySelector('.md.doc h1').innerText === 'Second page, edited'",
        LIVE_LIMIT,
    )
    .await;
    eprintln!(
        "the edit showed after {:?} (page poll {took:?})",
        started.elapsed()
    );
    assert!(started.elapsed() <= LIVE_LIMIT + Duration::from_millis(100));
    assert_eq!(
        page.eval("window.__stillHere").await,
        json!("yes"),
        "no reload"
    );

    // A new page appears in the tree; the search finds text.
    write(
        &w.project.join("docs/guide/third.md"),
        "# Third page\n\nzephyr again\n",
    );
    within(
        &page,
        "document.querySelector(\"a[data-page='guide/third.md']\")",
        Duration::from_secs(3),
    )
    .await;
    if mobile {
        page.click(".side-toggle").await;
    }
    page.type_text("input[data-input=doc-search]", "zephyr", false)
        .await;
    page.wait_for("document.querySelectorAll('[data-list=hits] li a').length === 1")
        .await;
    assert!(
        inner_text(&page, "[data-list=hits]")
            .await
            .contains("Third page")
    );
    page.screenshot(&shots.join(format!("docs-search-{name}.png")))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_draw_mermaid_follow_links_and_update_live_on_a_desktop() {
    docs_at(1280, 800, false, "desktop").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_draw_mermaid_follow_links_and_update_live_on_a_phone() {
    docs_at(390, 844, true, "phone").await;
}

#[test]
fn every_api_route_needs_the_token_and_writes_must_come_from_the_page() {
    let w = docs_world();
    let viewer = Viewer::start(&w, &w.project.join("docs"));
    let gets = [
        "/api/docs/tree",
        "/api/docs/content?path=index.md",
        "/api/docs/search?q=handbook",
        "/api/live",
        "/api/context",
        "/api/context/file?kind=skill&name=x&path=y",
        "/api/plugins",
        "/api/transcripts",
        "/api/transcripts/view?file=a/b.jsonl",
        "/api/transcripts/follow?file=a/b.jsonl",
    ];
    let posts = [
        "/api/auth",
        "/api/plugins/install",
        "/api/plugins/marketplace-add",
        "/api/plugins/uninstall",
        "/api/mcp/add",
        "/api/mcp/edit",
        "/api/mcp/remove",
    ];
    for p in gets {
        assert_eq!(http(&viewer.base, "GET", p, &[], "").0, 401, "GET {p}");
        let (s, _) = http(
            &viewer.base,
            "GET",
            p,
            &[("Cookie", "aisys_token=wrong")],
            "",
        );
        assert_eq!(s, 401, "GET {p} with a wrong token");
    }
    for p in posts {
        assert_eq!(http(&viewer.base, "POST", p, &[], "{}").0, 401, "POST {p}");
    }
    // The front page of `aisys docs` is the Docs tab (with the token kept); no sessions here.
    let (s, head) = http_head(&viewer.base, "/?token=abc");
    assert_eq!(s, 303, "{head}");
    assert!(head.contains("location: /docs/?token=abc"), "{head}");
    assert_eq!(http(&viewer.base, "GET", "/sessions/x", &[], "").0, 404);
    // With the token, a page: 200; paths leaving the folder: refused.
    let cookie = format!("aisys_token={TOKEN}");
    let auth: &[(&str, &str)] = &[("Cookie", &cookie)];
    assert_eq!(http(&viewer.base, "GET", "/api/docs/tree", auth, "").0, 200);
    for bad in ["../secret.md", "%2Fetc%2Fpasswd.md", "leak.md"] {
        let (s, body) = http(
            &viewer.base,
            "GET",
            &format!("/api/docs/content?path={bad}"),
            auth,
            "",
        );
        assert!(s == 400 || s == 403, "{bad}: {s} {body}");
        assert!(!body.contains("Secret"), "{bad}: {body}");
    }
    // A write from another origin is refused, and writes nothing.
    let mcp = r#"{"name": "evil", "scope": "user", "target": "/bin/false"}"#;
    let from_elsewhere: &[(&str, &str)] = &[
        ("Cookie", &cookie),
        ("Content-Type", "application/json"),
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ];
    let (s, body) = http(&viewer.base, "POST", "/api/mcp/add", from_elsewhere, mcp);
    assert_eq!(s, 403, "{body}");
    // A page on another port of this machine is the same site to a browser, not the same origin.
    let sibling: &[(&str, &str)] = &[
        ("Cookie", &cookie),
        ("Content-Type", "application/json"),
        ("Origin", "http://127.0.0.1:1"),
        ("Sec-Fetch-Site", "same-site"),
    ];
    assert_eq!(
        http(&viewer.base, "POST", "/api/mcp/add", sibling, mcp).0,
        403
    );
    assert!(
        !w.claude.join(".claude.json").exists(),
        "nothing was written"
    );
    // The socket is refused to another origin too.
    let upgrade: &[(&str, &str)] = &[
        ("Cookie", &cookie),
        ("Origin", "http://evil.example"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    assert_eq!(http(&viewer.base, "GET", "/api/live", upgrade, "").0, 403);
    // From the page's own origin the same write goes through.
    let own_origin = viewer.base.clone();
    let own: &[(&str, &str)] = &[
        ("Cookie", &cookie),
        ("Content-Type", "application/json"),
        ("Origin", &own_origin),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let (s, body) = http(&viewer.base, "POST", "/api/mcp/add", own, mcp);
    assert_eq!(s, 200, "{body}");
    assert!(w.claude.join(".claude.json").exists());
}

/// A project skill and a plugin (with an agent) installed from a local marketplace.
fn context_world() -> World {
    let w = World::new();
    write(
        &w.project.join(".claude/skills/deploy/SKILL.md"),
        "---\nname: deploy\ndescription: Ship the current branch\n---\n# Deploying\n\nRun the **release** script.\n",
    );
    // A user skill of the same name is hidden by nothing; a user agent `tester` is not the plugin's.
    write(
        &w.claude.join("skills/notes/SKILL.md"),
        "---\nname: notes\ndescription: Keep notes\n---\nWrite notes.\n",
    );
    let market = w.dir.path().join("market");
    write_marketplace(&market, "team-market", &[("demo", Some("1.0.0"))]);
    ok(
        &w.aisys(&["entities", "marketplace", "add", market.to_str().unwrap()]),
        "marketplace add",
    );
    ok(
        &w.aisys(&["entities", "install", "demo@team-market"]),
        "install",
    );
    w
}

async fn context_at(width: u32, height: u32, mobile: bool, name: &str) {
    let w = context_world();
    let viewer = Viewer::start(&w, &w.project.join("docs"));
    let browser = Browser::launch().await;
    let page = browser.page(width, height, mobile).await;
    page.goto(&viewer.open_url("/context")).await;
    page.wait_for("document.querySelector('[data-entity=\"skill/deploy\"]')")
        .await;
    assert_eq!(
        page.eval("document.querySelector('[data-entity=\"skill/deploy\"]').dataset.scope")
            .await,
        json!("project")
    );
    page.wait_for(
        "document.querySelector('[data-entity=\"agent/demo:tester\"][data-scope=plugin]')",
    )
    .await;
    assert!(
        inner_text(&page, "[data-entity=\"agent/demo:tester\"]")
            .await
            .contains("demo@team-market")
    );
    assert!(
        inner_text(&page, "[data-kind=skill] h2")
            .await
            .starts_with("Skills")
    );
    // Its file, rendered.
    page.click("[data-entity=\"skill/deploy\"] button").await;
    page.wait_for("document.querySelector('[data-detail=\"skill/deploy\"] h1')")
        .await;
    assert_eq!(
        inner_text(&page, "[data-detail=\"skill/deploy\"] h1").await,
        "Deploying"
    );
    assert!(
        inner_text(&page, "[data-detail=\"skill/deploy\"] strong")
            .await
            .contains("release")
    );
    page.screenshot(&shots_dir().join(format!("context-{name}.png")))
        .await;
    // Live: a new project skill appears without a reload; a user skill of that name hides it.
    page.eval("window.__stillHere = 'yes'").await;
    write(
        &w.project.join(".claude/skills/lint/SKILL.md"),
        "---\nname: lint\ndescription: Lint it\n---\nLint.\n",
    );
    within(
        &page,
        "document.querySelector('[data-entity=\"skill/lint\"]')",
        Duration::from_secs(3),
    )
    .await;
    write(
        &w.claude.join("skills/lint/SKILL.md"),
        "---\nname: lint\ndescription: My lint\n---\nLint mine.\n",
    );
    within(
        &page,
        "[...document.querySelectorAll('[data-entity=\"skill/lint\"]')].some(e => e.dataset.scope === 'project' && e.classList.contains('hidden'))",
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(page.eval("window.__stillHere").await, json!("yes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn context_lists_a_project_skill_and_a_plugin_agent_on_a_desktop() {
    context_at(1280, 800, false, "desktop").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn context_lists_a_project_skill_and_a_plugin_agent_on_a_phone() {
    context_at(390, 844, true, "phone").await;
}

/// How long the stand-in git server waits before it hangs up.
const SLOW_GIT: Duration = Duration::from_millis(1500);

/// Empties the marketplace source field the way React notices.
async fn clear_source(page: &Page<'_>) {
    page.eval("(() => { const i = document.querySelector('input[name=source]'); const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set; set.call(i, ''); i.dispatchEvent(new Event('input', {bubbles: true})); })()").await;
}

/// The `system/init` line of the real `claude -p` in the project.
fn init_line(w: &World) -> Value {
    let mock = Script::new()
        .always(When::Always, Reply::text("ok"))
        .start();
    let out = w.claude(
        &["-p", "hi", "--output-format", "stream-json", "--verbose"],
        &[
            ("ANTHROPIC_BASE_URL", mock.base_url()),
            ("ANTHROPIC_API_KEY", "test".into()),
        ],
    );
    let stdout = ok(&out, "claude -p");
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "system" && v["subtype"] == "init")
        .expect("a system/init line")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plugins_tab_installs_what_claude_loads_and_adds_an_mcp_server_claude_lists() {
    let w = World::new();
    // A git marketplace, reached as https://git.example/... (rewritten to the local repository).
    let repos = w.dir.path().join("repos");
    let repo = repos.join("market.git");
    write_marketplace(&repo, "git-market", &[("demo", Some("2.0.0"))]);
    commit_all(&repo);
    // A git server that takes its time and then hangs up: the clone shows its progress, then
    // fails with git's own words.
    let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_port = slow.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in slow.incoming() {
            let Ok(conn) = conn else { break };
            std::thread::spawn(move || {
                std::thread::sleep(SLOW_GIT);
                drop(conn);
            });
        }
    });
    write(
        &w.dir.path().join("gitconfig"),
        &format!(
            "[url \"file://{}/\"]\n\tinsteadOf = https://git.example/\n[url \"http://127.0.0.1:{slow_port}/\"]\n\tinsteadOf = https://slow.example/\n",
            repos.display()
        ),
    );
    let viewer = Viewer::start(&w, &w.project.join("docs"));
    let browser = Browser::launch().await;
    let page = browser.page(1280, 900, false).await;
    page.goto(&viewer.open_url("/plugins")).await;
    page.wait_for("document.querySelector('[data-form=marketplace-add]')")
        .await;

    page.type_text(
        "input[name=source]",
        "https://slow.example/market.git",
        false,
    )
    .await;
    page.click("[data-action=marketplace-add]").await;
    page.wait_for("document.querySelector('[data-status=busy]')")
        .await;
    assert!(
        inner_text(&page, "[data-status=busy]")
            .await
            .contains("Cloning marketplace https://slow.example/market.git"),
        "the page says what runs"
    );
    page.screenshot(&shots_dir().join("plugins-cloning-desktop.png"))
        .await;
    page.wait_for("document.querySelector('[data-status=error]')")
        .await;
    eprintln!(
        "the slow clone failed with: {}",
        inner_text(&page, "[data-status=error]").await
    );
    clear_source(&page).await;

    // A source that is not a marketplace: the error as entities words it.
    page.type_text("input[name=source]", "/nowhere/at/all", false)
        .await;
    page.click("[data-action=marketplace-add]").await;
    page.wait_for("document.querySelector('[data-status=error]')")
        .await;
    assert!(
        inner_text(&page, "[data-status=error]")
            .await
            .contains("/nowhere/at/all")
    );

    clear_source(&page).await;
    page.type_text(
        "input[name=source]",
        "https://git.example/market.git",
        false,
    )
    .await;
    page.click("[data-action=marketplace-add]").await;
    // While it clones, the page says so.
    page.wait_for("document.querySelector('[data-status=busy]') || document.querySelector('[data-status=done]')").await;
    page.wait_for("document.querySelector('[data-status=done]')")
        .await;
    assert!(
        inner_text(&page, "[data-status=done]")
            .await
            .contains("git-market")
    );
    page.click("[data-action='install-demo@git-market']").await;
    page.wait_for("document.querySelector('[data-installed=\"demo@git-market\"]')")
        .await;
    page.screenshot(&shots_dir().join("plugins-desktop.png"))
        .await;

    let init = init_line(&w);
    let skills: Vec<String> = serde_json::from_value(init["skills"].clone()).unwrap();
    assert!(skills.iter().any(|s| s == "demo:greet"), "{skills:?}");

    // An MCP server, added from the tab, listed by Claude Code.
    page.type_text("input[name=mcp-name]", "disk", false).await;
    page.type_text("input[name=mcp-target]", "/bin/false", false)
        .await;
    page.type_text("textarea[name=mcp-args]", "--root\n.", false)
        .await;
    page.type_text("textarea[name=mcp-env]", "ROOT=/tmp", false)
        .await;
    page.click("[data-action=mcp-add]").await;
    page.wait_for("document.querySelector('[data-mcp=disk][data-scope=local]')")
        .await;
    assert_eq!(
        page.eval("document.querySelector('input[name=mcp-name]').value")
            .await,
        json!(""),
        "the form is emptied for the next one"
    );
    let listed = ok(&w.claude(&["mcp", "list"], &[]), "claude mcp list");
    assert!(listed.contains("disk: /bin/false --root ."), "{listed}");

    // Edited there: the form fills with its settings, keeps its name and scope, and Claude Code
    // reads the change.
    page.click("[data-action='edit-mcp-disk-local']").await;
    page.wait_for("document.querySelector('[data-form=mcp-add][data-editing=disk-local]')")
        .await;
    let filled = page
        .eval("['mcp-name', 'mcp-target', 'mcp-args'].map((n) => document.querySelector(`[name=${n}]`).value).concat([document.querySelector('[name=mcp-env]').value, document.querySelector('[name=mcp-name]').readOnly])")
        .await;
    assert_eq!(
        filled,
        json!(["disk", "/bin/false", "--root\n.", "ROOT=/tmp", true])
    );
    page.eval("document.querySelector('textarea[name=mcp-args]').select()")
        .await;
    page.type_text(
        "textarea[name=mcp-args]",
        "--root\n/srv\n--label\nmy disk",
        false,
    )
    .await;
    page.eval("document.querySelector('textarea[name=mcp-env]').select()")
        .await;
    page.type_text("textarea[name=mcp-env]", "ROOT=/srv", false)
        .await;
    page.screenshot(&shots_dir().join("plugins-mcp-edit-desktop.png"))
        .await;
    page.click("[data-action=mcp-save]").await;
    page.wait_for("document.querySelector('[data-mcp=disk] .desc')?.innerText === '/bin/false --root /srv --label my disk'")
        .await;
    assert!(
        inner_text(&page, "[data-status=done]")
            .await
            .contains("Changed MCP server disk in local config")
    );
    assert_eq!(
        page.eval("document.querySelector('[data-form=mcp-add]').dataset.editing ?? null")
            .await,
        json!(null),
        "the form is back to adding"
    );
    let got = ok(&w.claude(&["mcp", "get", "disk"], &[]), "claude mcp get");
    assert!(
        got.contains("Scope: Local config")
            && got.contains("--root /srv --label my disk")
            && got.contains("ROOT=/srv"),
        "{got}"
    );
    // An argument with a space in it stays one argument.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.claude.join(".claude.json")).unwrap())
            .unwrap();
    let args = doc["projects"]
        .as_object()
        .unwrap()
        .values()
        .find_map(|p| p["mcpServers"]["disk"]["args"].as_array().cloned())
        .expect("the local server in .claude.json");
    assert_eq!(
        args,
        vec![
            json!("--root"),
            json!("/srv"),
            json!("--label"),
            json!("my disk")
        ]
    );

    // Removing asks first.
    page.click("[data-action='ask-remove-mcp-disk-local']")
        .await;
    page.click("[data-action='confirm-remove-mcp-disk-local']")
        .await;
    page.wait_for("!document.querySelector('[data-mcp=disk]')")
        .await;
    let listed = ok(&w.claude(&["mcp", "list"], &[]), "claude mcp list");
    assert!(!listed.contains("disk:"), "{listed}");
    page.click("[data-action='ask-uninstall-demo@git-market']")
        .await;
    page.screenshot(&shots_dir().join("plugins-confirm-desktop.png"))
        .await;
    page.click("[data-action='confirm-uninstall-demo@git-market']")
        .await;
    page.wait_for("!document.querySelector('[data-installed=\"demo@git-market\"]')")
        .await;
    let init = init_line(&w);
    assert!(
        !init["skills"].to_string().contains("demo:greet"),
        "{}",
        init["skills"]
    );
    // At a phone's width (last: a tab in the background takes no screenshots).
    let phone = browser.page(390, 844, true).await;
    phone.goto(&viewer.open_url("/plugins")).await;
    phone
        .wait_for("document.querySelector('[data-form=mcp-add]')")
        .await;
    phone
        .screenshot(&shots_dir().join("plugins-phone.png"))
        .await;
}

/// Two recorded Claude Code sessions, where Claude Code keeps them: one with a subagent (its
/// `subagents/` folder beside it), and one cut before its last answer (the rest is appended later).
fn transcripts_world() -> World {
    let w = World::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    copy_tree(
        &fixtures.join("claude-code-2.1.197/transcript-subagent"),
        &w.claude.join("projects/-home-dev-helper"),
    );
    // The recorded session as it stood before its last answer; the rest is appended later.
    let recorded =
        std::fs::read_to_string(fixtures.join("claude-code-2.1.197/transcript-tool-run.jsonl"))
            .unwrap();
    let (before, _) = split_before_last_answer(&recorded);
    write(
        &w.claude.join("projects/-home-dev-project/recorded.jsonl"),
        before,
    );
    w
}

/// Copies the files of `from` into `to`, folders and all.
fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            write(&dest, &std::fs::read_to_string(e.path()).unwrap());
        }
    }
}

/// A transcript cut before the line holding its final answer.
fn split_before_last_answer(t: &str) -> (&str, &str) {
    let at = t
        .find("Done: hello.txt says good morning.")
        .expect("the recorded session's last answer");
    let line_start = t[..at].rfind('\n').map_or(0, |i| i + 1);
    t.split_at(line_start)
}

async fn transcripts_at(width: u32, height: u32, mobile: bool, name: &str) {
    let w = transcripts_world();
    let viewer = Viewer::start(&w, &w.project.join("docs"));
    let browser = Browser::launch().await;
    let page = browser.page(width, height, mobile).await;
    page.goto(&viewer.open_url("/transcripts")).await;
    page.wait_for("document.querySelectorAll('[data-session]').length === 2")
        .await;
    // Searchable by the text inside.
    page.type_text("input[type=search]", "notes.txt", false)
        .await;
    page.wait_for("document.querySelectorAll('[data-session]').length === 1")
        .await;
    page.click("[data-session] a").await;
    page.wait_for("document.querySelector('.transcript-html details.sub')")
        .await;
    // The subagent's run sits inside its Agent call, with its own tool call (Bash) in it, and its
    // words are nowhere else.
    let nested = page
        .eval("(() => { const sub = document.querySelector('.transcript-html details.sub'); return { call: sub.querySelector('summary').innerText, inner: sub.querySelector('.inner').innerText, bash: sub.querySelector('.inner details.tool summary')?.innerText ?? '', outside: [...document.querySelectorAll('.transcript-html > * > .b, .transcript-html > .b')].filter((b) => !b.closest('details.sub')).map((b) => b.innerText).join('\\n') }; })()")
        .await;
    assert!(
        nested["call"].as_str().unwrap().contains("Agent")
            && nested["call"]
                .as_str()
                .unwrap()
                .contains("Count notes.txt lines"),
        "{nested}"
    );
    let inner = nested["inner"].as_str().unwrap();
    assert!(
        inner.contains("Count the lines of notes.txt and report the number.")
            && inner.contains("notes.txt has 3 lines."),
        "{nested}"
    );
    assert!(
        nested["bash"].as_str().unwrap().contains("wc -l notes.txt"),
        "{nested}"
    );
    let outside = nested["outside"].as_str().unwrap();
    assert!(
        outside.contains("The helper counted 3 lines in notes.txt.")
            && !outside.contains("Counting with wc."),
        "{nested}"
    );
    assert!(
        inner_text(&page, "[data-usage=session]")
            .await
            .contains("total")
    );
    page.screenshot(&shots_dir().join(format!("transcripts-{name}.png")))
        .await;

    // The real recorded session opens the same way, and follows its file as it grows: lines
    // appended to it show within a second, without a reload.
    page.goto(&viewer.open_url("/transcripts/-home-dev-project/recorded.jsonl"))
        .await;
    page.wait_for("document.querySelector('.transcript-html details.tool')")
        .await;
    assert!(
        !inner_text(&page, ".transcript-html")
            .await
            .contains("Done: hello.txt")
    );
    page.eval("window.__stillHere = 'yes'").await;
    let blocks_before = page
        .eval("document.querySelectorAll('.transcript-html > .block').length")
        .await;
    let recorded = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/claude-code-2.1.197/transcript-tool-run.jsonl"),
    )
    .unwrap();
    let (_, rest) = split_before_last_answer(&recorded);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(w.claude.join("projects/-home-dev-project/recorded.jsonl"))
        .unwrap();
    f.write_all(rest.as_bytes()).unwrap();
    drop(f);
    let took = within(
        &page,
        "document.querySelector('.transcript-html').innerText.includes('Done: hello.txt says good morning.')",
        Duration::from_secs(1),
    )
    .await;
    println!(
        "transcripts ({name}): an appended answer showed after {} ms",
        took.as_millis()
    );
    assert_eq!(
        page.eval("window.__stillHere").await,
        json!("yes"),
        "no reload"
    );
    // Only what was appended came in: the blocks shown before are still there, once each.
    let ids = page
        .eval("[...document.querySelectorAll('.transcript-html > .block')].map((b) => b.dataset.block)")
        .await;
    let ids: Vec<&str> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a block shown twice: {ids:?}");
    assert!(
        ids.len() as u64 > blocks_before.as_u64().unwrap(),
        "{blocks_before} blocks before, {ids:?} after"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transcripts_nest_a_subagent_under_its_call_on_a_desktop() {
    transcripts_at(1280, 800, false, "desktop").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transcripts_nest_a_subagent_under_its_call_on_a_phone() {
    transcripts_at(390, 844, true, "phone").await;
}

#[test]
fn the_agent_server_serves_the_viewer_too() {
    let w = docs_world();
    let mut c = Command::new(env!("CARGO_BIN_EXE_aisys"));
    c.args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--no-agent-install",
        "--sandbox",
        "host",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    w.env(&mut c);
    c.env("AISYS_TOKEN", TOKEN);
    let child = c.spawn().unwrap();
    let mut viewer = Viewer {
        child,
        base: String::new(),
    };
    let stdout = viewer.child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("aisys serve printed no address")
            .unwrap();
        if let Some(rest) = line.strip_prefix("aisys serve: listening on ws://") {
            break rest.trim_end_matches("/ws").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    viewer.base = format!("http://{addr}");
    // Started in the project: its docs/ folder is the Docs tab's.
    assert_eq!(http(&viewer.base, "GET", "/api/docs/tree", &[], "").0, 401);
    let bearer = format!("Bearer {TOKEN}");
    let (s, body) = http(
        &viewer.base,
        "GET",
        "/api/docs/tree",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("guide/second.md"), "{body}");
    let (s, body) = http(&viewer.base, "GET", "/docs/guide/second.md", &[], "");
    assert_eq!(s, 200);
    assert!(body.contains("<div id=\"root\">"), "{body}");
    let (s, _) = http(
        &viewer.base,
        "GET",
        "/api/sessions",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(s, 200, "the sessions stay where they were");
}
