//! The browser client that `aisys serve` serves, in the real Chromium, against the real Claude
//! Code and the scripted mock model: the token trade, a whole conversation with a permission
//! request at desktop and phone widths, a reload, agent output that tries to run script, a
//! page without a token, and two tabs beside `aisys chat` (in tmux) on one session.
//!
//! Screenshots go to a temporary folder; with `AISYS_UPDATE_SCREENSHOTS=1` they replace the ones
//! in `docs/screenshots/` that the README shows.

mod browser;
mod mock_api;
mod serve_harness;
mod tmux_support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use browser::{Browser, Page};
use mock_api::{MockAnthropic, Reply, Script, When, claude_bin};
use serde_json::json;
use serve_harness::Server;
use tmux_support::Pane;

/// The mock model playing `script`, and a server whose Claude Code talks to it; the server's
/// data lives in the temporary folder, which is dropped last.
fn start(script: Script) -> (tempfile::TempDir, MockAnthropic, Server) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = script.start();
    let server = Server::with_claude(
        &dir.path().join("data"),
        &claude_bin(),
        &mock.base_url(),
        &[],
    );
    (dir, mock, server)
}

/// A plain HTTP/1.1 GET on the server; returns the status, the header block and the body.
fn http_get(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let addr = server.http.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

/// A session whose tools run without asking, `client` attached to it from its first event.
async fn bypassing_session(client: &aisys::client::Client) -> aisys::types::SessionInfo {
    let spec = aisys::types::SessionSpec {
        permission_mode: Some(aisys::types::PermissionMode::BypassPermissions),
        ..Default::default()
    };
    serve_harness::attached(client, spec).await
}

/// Opens session `id` on `page`, the token traded for the cookie first (the list shows then).
async fn open_session(page: &Page<'_>, server: &Server, id: &str) {
    page.goto(&format!("{}/?token={}", server.http, server.token))
        .await;
    page.wait_for("document.querySelector('[data-screen=sessions]')")
        .await;
    page.goto(&format!("{}/sessions/{}", server.http, id)).await;
}

fn shots_dir() -> PathBuf {
    if std::env::var_os("AISYS_UPDATE_SCREENSHOTS").is_some() {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&d).unwrap();
        d
    } else {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

async fn blocks_count(page: &Page<'_>) -> u64 {
    page.eval("document.querySelectorAll('.blocks [data-block-id]').length")
        .await
        .as_u64()
        .unwrap()
}

/// The ids of the top-level blocks a page shows, in order.
async fn block_ids(page: &Page<'_>) -> Vec<String> {
    serde_json::from_value(
        page.eval(
            "[...document.querySelectorAll('.blocks [data-block-id]')].map(e => e.dataset.blockId)",
        )
        .await,
    )
    .unwrap()
}

/// Opens the app with the token, starts a session, asks for a file, approves the Write, sees the
/// answer, reloads and sees the same conversation.
async fn conversation_at(width: u32, height: u32, mobile: bool, name: &str) {
    let (_dir, _mock, server) = start(
        Script::new()
            .on(
                When::UserSays("make notes".into()),
                Reply::write("notes.md", "# Notes\n"),
            )
            .always(
                When::Always,
                Reply::text("**Done**: wrote `notes.md`.\n\n```rust\nfn main() {}\n```"),
            ),
    );
    let browser = Browser::launch().await;
    let page = browser.page(width, height, mobile).await;
    let shots = shots_dir();

    page.goto(&format!("{}/?token={}", server.http, server.token))
        .await;
    page.wait_for("document.querySelector('[data-screen=sessions]')")
        .await;
    assert_eq!(
        page.eval("location.search").await,
        json!(""),
        "the token is taken out of the address bar"
    );
    assert_eq!(
        page.eval("document.cookie").await,
        json!(""),
        "the token cookie is HttpOnly: no script reads it"
    );

    page.click("[data-action=new-session]").await;
    page.type_text("input[name=title]", "Notes for the team", false)
        .await;
    page.screenshot(&shots.join(format!("new-session-{name}.png")))
        .await;
    page.click("[data-action=create]").await;
    page.wait_for("document.querySelector('[data-screen=conversation]')")
        .await;
    let id = page
        .eval("location.pathname.split('/')[2]")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("s_"), "{id}");

    page.type_text("textarea", "make notes", true).await;
    page.wait_for("document.querySelector('[data-banner=permission]')")
        .await;
    assert!(
        page.eval("document.querySelector('[data-banner=permission]').innerText")
            .await
            .as_str()
            .unwrap()
            .contains("notes.md"),
        "the banner shows what is asked"
    );
    page.screenshot(&shots.join(format!("permission-{name}.png")))
        .await;
    page.click("[data-banner=permission] [data-action=allow]")
        .await;
    page.wait_for("[...document.querySelectorAll('.md strong')].some(e => e.innerText === 'Done')")
        .await;
    page.wait_for("document.querySelector('[data-kind=turn_summary]')")
        .await;
    assert!(
        page.eval("!!document.querySelector('.md pre code.hljs, .md pre code.language-rust')")
            .await
            == json!(true),
        "code fences are rendered as code"
    );
    assert_eq!(
        page.eval("[...document.querySelectorAll('[data-kind=tool_call] .dl-add')].map(e => e.innerText).join('|')")
            .await,
        json!("+# Notes"),
        "a Write shows the file it creates as added lines"
    );
    assert!(
        page.eval("document.querySelector('[data-usage]').innerText")
            .await
            .as_str()
            .unwrap()
            .starts_with("1 turn · "),
        "the header sums the session's usage"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('[data-kind=raw]').length")
            .await,
        json!(0),
        "an ordinary turn shows no unrecognized line"
    );
    page.screenshot(&shots.join(format!("conversation-{name}.png")))
        .await;

    // The events inspector: every raw event, and the blocks as they stood after the first.
    page.click("a[href$='/events']").await;
    page.wait_for("document.querySelectorAll('.event-list button').length > 5")
        .await;
    page.screenshot(&shots.join(format!("events-{name}.png")))
        .await;
    page.click(".event-list button[data-seq='1']").await;
    page.wait_for("document.querySelector('.blocks[data-upto=\"1\"]') && document.querySelectorAll('.inspector .blocks > .block').length <= 1")
        .await;
    page.eval("history.back()").await;
    page.wait_for("document.querySelector('[data-screen=conversation]')")
        .await;
    page.wait_for("document.querySelector('[data-kind=turn_summary]')")
        .await;

    let (client, _notes) = server.client().await;
    let info = client
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(Path::new(&info.workspace).join("notes.md")).unwrap(),
        "# Notes\n",
        "the approved Write happened"
    );

    // The workspace panel lists the new file as changed in this session and shows its text.
    page.click("[data-action=files]").await;
    page.wait_for("document.querySelector('[data-path=\"notes.md\"][data-changed=yes]')")
        .await;
    page.click("[data-path=\"notes.md\"] button").await;
    page.wait_for("document.querySelector('.file-view[data-file=\"notes.md\"] pre')?.innerText === '# Notes\\n'")
        .await;
    page.screenshot(&shots.join(format!("files-{name}.png")))
        .await;
    page.click("[data-action=files]").await;

    let before = blocks_count(&page).await;
    page.reload().await;
    page.wait_for("document.querySelector('[data-kind=turn_summary]')")
        .await;
    assert_eq!(
        blocks_count(&page).await,
        before,
        "a reload shows the same conversation"
    );

    page.goto(&format!("{}/", server.http)).await;
    page.wait_for("document.body.innerText.includes('Notes for the team')")
        .await;
    // The list shows what the session used, as the server summed it when the turn ended.
    let (tokens, cost) = {
        let u = client
            .list()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id == id)
            .and_then(|s| s.usage)
            .expect("a new session counts its usage");
        assert_eq!(u.turns, 1);
        let t = &u.tokens;
        (
            t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_creation_tokens,
            u.cost_usd,
        )
    };
    assert!(
        tokens > 0 && tokens < 1000 && cost > 0.0 && cost < 1.0,
        "the mock model's turn is small: {tokens} tokens, ${cost}"
    );
    let shown = page
        .eval(&format!(
            "document.querySelector('[data-usage=\"{id}\"]').innerText"
        ))
        .await;
    assert_eq!(
        shown,
        json!(format!("{tokens} tokens · ${cost:.4}")),
        "tokens and cost in the list"
    );
    page.screenshot(&shots.join(format!("sessions-{name}.png")))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_with_a_permission_request_on_a_desktop() {
    conversation_at(1280, 800, false, "desktop").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conversation_with_a_permission_request_on_a_phone() {
    conversation_at(390, 844, true, "phone").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_output_that_tries_to_run_script_is_shown_as_text() {
    let payload = "Look: <img src=x onerror=\"window.__pwned=1\"> and <script>window.__pwned=2</script> and [a link](javascript:window.__pwned=3) end";
    let (_dir, _mock, server) = start(Script::new().always(When::Always, Reply::text(payload)));
    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    page.goto(&format!("{}/?token={}", server.http, server.token))
        .await;
    page.click("[data-action=new-session]").await;
    // A workspace outside the server's allowed roots is refused, and the form says why.
    page.type_text("input[name=workspace]", "/etc", false).await;
    page.click("[data-action=create]").await;
    page.wait_for("document.querySelector('[data-form=new-session] [role=alert]')")
        .await;
    assert_eq!(page.eval("location.pathname").await, json!("/"));
    // Clear the field as a user would, through the input event React listens to.
    page.eval("(() => { const i = document.querySelector('input[name=workspace]'); const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set; set.call(i, ''); i.dispatchEvent(new Event('input', {bubbles: true})); })()").await;
    page.click("[data-action=create]").await;
    page.wait_for("document.querySelector('[data-screen=conversation]')")
        .await;
    page.type_text("textarea", "hello", true).await;
    page.wait_for("document.querySelector('[data-kind=turn_summary]')")
        .await;
    page.wait_for("document.querySelector('[data-kind=assistant_text]')")
        .await;
    // Whatever the payload did has had its chance: follow the link as a user would.
    page.eval("[...document.querySelectorAll('.md a')].forEach(a => a.click())")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A link the sanitizer emptied points at the page itself: following it loads the page again.
    page.wait_for("document.querySelector('[data-kind=assistant_text]')")
        .await;
    assert_eq!(
        page.eval("typeof window.__pwned").await,
        json!("undefined"),
        "no payload ran"
    );
    let text = page
        .eval("document.querySelector('[data-kind=assistant_text]').innerText")
        .await;
    let text = text.as_str().unwrap();
    assert!(text.contains("<script>window.__pwned=2</script>"), "{text}");
    assert!(text.contains("<img src=x"), "{text}");
    assert_eq!(
        page.eval("document.querySelectorAll('.blocks img, .blocks script, .blocks a[href^=\"javascript:\"]').length")
            .await,
        json!(0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_token_the_page_shows_how_to_get_one_and_no_data() {
    let (_dir, _mock, server) = start(Script::new());
    let (client, _notes) = server.client().await;
    let info = client
        .create(aisys::types::SessionSpec::default())
        .await
        .unwrap();

    let (status, head, body) = http_get(&server, "/", &[]);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'self'; script-src 'self'"),
        "{head}"
    );
    assert!(!body.contains(info.id.as_str()));
    let (status, _, body) = http_get(&server, "/api/sessions", &[]);
    assert_eq!(status, 401);
    assert!(!body.contains(info.id.as_str()));
    let (status, _, _) = http_get(&server, &format!("/api/sessions/{}/blocks", info.id), &[]);
    assert_eq!(status, 401);
    let (status, _, _) = http_get(
        &server,
        "/ws",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
    );
    assert_eq!(status, 401);
    let cookie = format!("aisys_token={}", server.token);
    let (status, _, body) = http_get(&server, "/api/sessions", &[("Cookie", &cookie)]);
    assert_eq!(status, 200, "the cookie the page is given opens the API");
    assert!(body.contains(info.id.as_str()));
    let (status, _, _) = http_get(&server, "/api/sessions", &[("Cookie", "aisys_token=wrong")]);
    assert_eq!(status, 401);

    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    page.goto(&format!("{}/sessions/{}", server.http, info.id))
        .await;
    page.wait_for("document.querySelector('[data-screen=no-token]')")
        .await;
    let text = page.eval("document.body.innerText").await;
    assert!(text.as_str().unwrap().contains("?token="), "{text}");
    assert!(!text.as_str().unwrap().contains(&info.workspace));
    page.goto(&format!("{}/?token=wrong", server.http)).await;
    page.wait_for("document.querySelector('[data-screen=no-token]')")
        .await;
}

/// Where each of `markers` first appears in `text`, after the one before it; `None` when one is
/// missing or out of order.
fn positions_in_order(text: &str, markers: &[&str]) -> Option<Vec<usize>> {
    let mut from = 0;
    let mut out = Vec::new();
    for m in markers {
        let at = from + text[from..].find(m)?;
        out.push(at);
        from = at + m.len();
    }
    Some(out)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_and_aisys_chat_see_the_same_blocks_in_the_same_order() {
    let (dir, _mock, server) = start(
        Script::new()
            .on(
                When::UserSays("list".into()),
                Reply::tool("Bash", json!({"command": "echo one; echo two"})),
            )
            .always(When::Always, Reply::text("Listed *both*.")),
    );
    let (client, mut notes) = server.client().await;
    let info = bypassing_session(&client).await;

    let browser = Browser::launch().await;
    let one = browser.page(1280, 800, false).await;
    let two = browser.page(390, 844, true).await;
    for page in [&one, &two] {
        open_session(page, &server, &info.id).await;
        page.wait_for("document.querySelector('[data-screen=conversation] [data-state]')")
            .await;
    }
    // The terminal client on the same session sends the message.
    let home = dir.path().join("chat-home");
    std::fs::create_dir_all(&home).unwrap();
    let chat = Pane::start(
        format!("aisys-web-chat-{}", std::process::id()),
        120,
        50,
        &format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} AISYS_CONFIG_DIR={home}/cfg AISYS_DATA_DIR={home}/data {bin} chat --server {url} --token {token} --session {id}",
            home = home.display(),
            bin = env!("CARGO_BIN_EXE_aisys"),
            url = server.url,
            token = server.token,
            id = info.id,
        ),
    );
    chat.wait_for("connected");
    chat.keys(&["list them", "Enter"]);
    let events = serve_harness::until_result(&mut notes, &info.id).await;
    let expected: Vec<String> =
        aisys::converters::Assembler::assemble(events.into_iter().map(|(_, e)| e))
            .into_iter()
            .map(|b| b.id)
            .collect();
    // What each block shows, in the order the blocks come: the message, the agent's start, the
    // command, the answer and the turn's summary.
    let shown = [
        "list them",
        "claude-code",
        "echo one; echo two",
        "Listed both.",
        "success",
    ];
    assert_eq!(expected.len(), shown.len(), "{expected:?}");
    for page in [&one, &two] {
        page.wait_for("document.querySelector('[data-kind=turn_summary]')")
            .await;
        assert_eq!(
            block_ids(page).await,
            expected,
            "each tab shows the blocks the server's assembler makes, in order"
        );
        let text = page
            .eval("document.querySelector('.blocks').innerText")
            .await;
        let text = text.as_str().unwrap();
        assert!(positions_in_order(text, &shown).is_some(), "{text}");
    }
    let screen = chat.wait_for("Listed both.");
    assert!(
        positions_in_order(&screen, &shown).is_some(),
        "the terminal shows the same blocks in the same order:\n{screen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn always_allow_asks_twice_then_answers_that_tools_requests() {
    let (_dir, _mock, server) = start(
        Script::new()
            .on(When::UserSays("first".into()), Reply::write("a.txt", "a\n"))
            .on(
                When::UserSays("second".into()),
                Reply::write("b.txt", "b\n"),
            )
            .always(When::Always, Reply::text("written")),
    );
    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    page.goto(&format!("{}/?token={}", server.http, server.token))
        .await;
    page.click("[data-action=new-session]").await;
    page.click("[data-action=create]").await;
    page.wait_for("document.querySelector('[data-screen=conversation]')")
        .await;
    let id = page.eval("location.pathname.split('/')[2]").await;
    let (client, _notes) = server.client().await;
    let ws = client
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|s| json!(s.id) == id)
        .unwrap()
        .workspace;
    let ws = Path::new(&ws);

    page.type_text("textarea", "first", true).await;
    page.click("[data-banner=permission] [data-action=always]")
        .await;
    // The first click only asks again; nothing is answered yet.
    page.wait_for("document.querySelector('[data-action=confirm-always]')")
        .await;
    assert!(!ws.join("a.txt").exists());
    page.click("[data-action=confirm-always]").await;
    page.wait_for("document.querySelectorAll('[data-kind=turn_summary]').length === 1")
        .await;
    assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "a\n");

    // The next Write is answered by the page without a click.
    page.type_text("textarea", "second", true).await;
    page.wait_for("document.querySelectorAll('[data-kind=turn_summary]').length === 2")
        .await;
    assert_eq!(std::fs::read_to_string(ws.join("b.txt")).unwrap(), "b\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_says_the_connection_is_lost_and_reconnects_when_the_server_is_back() {
    let (_dir, _mock, mut server) = start(
        Script::new()
            .on(
                When::UserSays("before".into()),
                Reply::text("answer from before"),
            )
            .always(When::Always, Reply::text("answer from after")),
    );
    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    page.goto(&format!("{}/?token={}", server.http, server.token))
        .await;
    page.click("[data-action=new-session]").await;
    page.click("[data-action=create]").await;
    page.wait_for("document.querySelector('[data-screen=conversation]')")
        .await;
    page.type_text("textarea", "before", true).await;
    page.wait_for("document.body.innerText.includes('answer from before')")
        .await;

    server.kill9();
    page.wait_for("document.querySelector('[data-connection=lost]')")
        .await;
    page.screenshot(&shots_dir().join("connection-lost-desktop.png"))
        .await;
    server.restart();
    page.wait_for("!document.querySelector('[data-connection=lost]')")
        .await;
    assert_eq!(
        page.eval("document.body.innerText.split('answer from before').length - 1")
            .await,
        json!(1),
        "the conversation came back once, not twice"
    );
    // The new connection carries the next message and its answer.
    page.type_text("textarea", "after", true).await;
    page.wait_for("document.body.innerText.includes('answer from after')")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_files_panel_follows_the_workspace_without_a_reload_or_a_turn() {
    let (_dir, _mock, server) = start(Script::new().always(When::Always, Reply::text("ok")));
    let (client, mut notes) = server.client().await;
    let info = serve_harness::attached(&client, Default::default()).await;
    // One turn, so that the session has its sandbox (whose watch reports changes).
    serve_harness::say(&client, &info.id, "hello").await;
    serve_harness::until_result(&mut notes, &info.id).await;
    let ws = Path::new(&info.workspace);

    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    open_session(&page, &server, &info.id).await;
    page.wait_for("document.querySelector('[data-kind=turn_summary]')")
        .await;
    page.click("[data-action=files]").await;
    page.wait_for(
        "document.querySelector('[data-panel=files] .file-list, [data-panel=files] .empty')",
    )
    .await;

    // Written from outside the agent, with no turn running: only the notices can tell the page.
    std::fs::create_dir_all(ws.join("docs")).unwrap();
    std::fs::write(ws.join("docs/live.md"), "one\n").unwrap();
    page.wait_for("document.querySelector('[data-path=\"docs/live.md\"][data-live=created][data-changed=yes]') && document.querySelector('[data-path=\"docs\"].kind-dir')")
        .await;
    page.click("[data-path=\"docs/live.md\"] button").await;
    page.wait_for("document.querySelector('.file-view[data-file=\"docs/live.md\"] pre')?.innerText === 'one\\n'")
        .await;
    std::fs::write(ws.join("docs/live.md"), "one\ntwo\n").unwrap();
    page.wait_for("document.querySelector('.file-view[data-file=\"docs/live.md\"] pre')?.innerText === 'one\\ntwo\\n'")
        .await;
    page.screenshot(&shots_dir().join("files-live-desktop.png"))
        .await;
    std::fs::remove_file(ws.join("docs/live.md")).unwrap();
    page.wait_for("!document.querySelector('[data-path=\"docs/live.md\"]') && document.querySelector('.file-view').innerText.includes('(deleted)')")
        .await;
    assert_eq!(
        page.eval("document.querySelectorAll('[data-kind=turn_summary]').length")
            .await,
        json!(1),
        "no turn ended meanwhile"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subagents_run_opens_on_a_page_of_its_own() {
    let (_dir, _mock, server) = start(Script::new()
        .on(
            When::UserSays("delegate".into()),
            Reply::tool(
                "Agent",
                json!({"description": "survey the files", "prompt": "Look around the workspace", "subagent_type": "general-purpose"}),
            ),
        )
        .on(
            When::UserSays("Look around the workspace".into()),
            Reply::tool("Bash", json!({"command": "echo from-the-subagent"})),
        )
        .always(When::Always, Reply::text("Found **one** thing.")));
    let (client, mut notes) = server.client().await;
    let info = bypassing_session(&client).await;
    serve_harness::say(&client, &info.id, "delegate this").await;
    serve_harness::until_result(&mut notes, &info.id).await;

    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    open_session(&page, &server, &info.id).await;
    page.wait_for("document.querySelector('[data-kind=subagent_run] [data-action=open-subagent]')")
        .await;
    page.click("[data-kind=subagent_run] [data-action=open-subagent]")
        .await;
    page.wait_for("document.querySelector('[data-screen=subagent] [data-part=result] .md')")
        .await;
    assert!(
        page.eval("location.pathname")
            .await
            .as_str()
            .unwrap()
            .starts_with(&format!("/sessions/{}/agents/", info.id)),
        "the run has an address of its own"
    );
    let part = |name: &str| format!("document.querySelector('[data-part={name}]').innerText");
    assert!(
        page.eval(&part("prompt"))
            .await
            .as_str()
            .unwrap()
            .contains("Look around the workspace"),
        "the prompt it was given"
    );
    let calls = page.eval(&part("calls")).await;
    assert!(
        calls.as_str().unwrap().contains("Bash")
            && calls.as_str().unwrap().contains("echo from-the-subagent"),
        "its tool calls: {calls}"
    );
    assert!(
        page.eval(&part("result"))
            .await
            .as_str()
            .unwrap()
            .contains("Found one thing."),
        "the result it handed back"
    );
    assert!(
        page.eval(&part("steps"))
            .await
            .as_str()
            .unwrap()
            .contains("from-the-subagent"),
        "the tool's output among its steps"
    );
    page.screenshot(&shots_dir().join("subagent-desktop.png"))
        .await;
    // A reload (or a shared link) opens the same run.
    page.reload().await;
    page.wait_for("document.querySelector('[data-screen=subagent] [data-part=result] .md')")
        .await;
}

/// Sets a `<select>` to `value` as a user's choice would, through the change event React
/// listens to.
async fn choose(page: &Page<'_>, selector: &str, value: &str) {
    let sel = serde_json::to_string(selector).unwrap();
    let value = serde_json::to_string(value).unwrap();
    page.wait_for(&format!("document.querySelector({sel})"))
        .await;
    page.eval(&format!(
        "(() => {{ const s = document.querySelector({sel}); const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set; set.call(s, {value}); s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"
    ))
    .await;
}

/// A model that answers slowly enough for a person to act while the turn runs.
fn slow_script() -> Script {
    Script::new().always(
        When::Always,
        Reply::slow_text(
            "one two three four five six",
            std::time::Duration::from_secs(3),
        ),
    )
}

/// The session `id` as the server lists it, if it does.
async fn listed(client: &aisys::client::Client, id: &str) -> Option<aisys::types::SessionInfo> {
    client
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_interrupts_a_turn_and_stops_the_session() {
    let (_dir, _mock, server) = start(slow_script());
    let (client, _notes) = server.client().await;
    let info = serve_harness::attached(&client, Default::default()).await;
    let browser = Browser::launch().await;
    let page = browser.page(1280, 800, false).await;
    open_session(&page, &server, &info.id).await;
    page.wait_for("document.querySelector('[data-state]')")
        .await;
    assert_eq!(
        page.eval("!!document.querySelector('[data-action=interrupt]')")
            .await,
        json!(false),
        "nothing to interrupt before a turn runs"
    );

    page.type_text("textarea", "talk slowly", true).await;
    page.wait_for(
        "document.querySelector('[data-state=running] ~ .session-actions [data-action=interrupt]')",
    )
    .await;
    page.screenshot(&shots_dir().join("session-controls-desktop.png"))
        .await;
    page.click("[data-action=interrupt]").await;
    page.wait_for("document.querySelector('[data-kind=turn_summary].status-interrupted') && document.querySelector('[data-state=idle]')")
        .await;
    assert_eq!(
        page.eval("!!document.querySelector('[data-action=interrupt]')")
            .await,
        json!(false),
        "the button goes with the turn"
    );
    assert_eq!(
        listed(&client, &info.id).await.unwrap().state,
        aisys::types::SessionState::Idle,
        "an interrupt ends the turn, not the session"
    );

    page.type_text("textarea", "talk again", true).await;
    page.wait_for("document.querySelector('[data-state=running]')")
        .await;
    page.click("[data-action=stop]").await;
    page.wait_for("document.querySelector('[data-state=stopped]') && document.querySelectorAll('[data-kind=turn_summary].status-interrupted').length === 2")
        .await;
    assert_eq!(
        page.eval("[...document.querySelectorAll('.session-actions button')].map(b => b.dataset.action).join(' ')")
            .await,
        json!("ask-delete"),
        "a stopped session can only be deleted from here (a message starts it again)"
    );
    page.screenshot(&shots_dir().join("session-stopped-desktop.png"))
        .await;
    let stopped = listed(&client, &info.id)
        .await
        .expect("a stopped session stays");
    assert_eq!(stopped.state, aisys::types::SessionState::Stopped);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_asks_first_then_the_session_is_gone_on_a_phone() {
    let (_dir, _mock, server) = start(slow_script());
    let (client, _notes) = server.client().await;
    let titled = |t: &str| aisys::types::SessionSpec {
        title: Some(t.into()),
        ..Default::default()
    };
    let doomed = serve_harness::attached(&client, titled("Doomed draft")).await;
    let listed_one = client.create(titled("Listed draft")).await.unwrap();
    let kept = client.create(titled("Kept session")).await.unwrap();

    let browser = Browser::launch().await;
    // A second tab on the same session, on a desktop, left open while the phone deletes it.
    let other = browser.page(1280, 800, false).await;
    open_session(&other, &server, &doomed.id).await;
    other
        .wait_for("document.querySelector('[data-state]')")
        .await;
    let page = browser.page(390, 844, true).await;
    open_session(&page, &server, &doomed.id).await;
    // Deleted while its turn runs: the agent is stopped and the session goes all the same.
    page.type_text("textarea", "talk slowly", true).await;
    page.wait_for("document.querySelector('[data-action=interrupt]')")
        .await;
    page.screenshot(&shots_dir().join("session-controls-phone.png"))
        .await;
    assert_eq!(
        page.eval("document.querySelector('header.bar').scrollWidth <= window.innerWidth")
            .await,
        json!(true),
        "the header fits the phone's width"
    );
    page.click("[data-action=ask-delete]").await;
    page.wait_for("document.querySelector('[data-action=confirm-delete]')")
        .await;
    page.screenshot(&shots_dir().join("delete-confirm-phone.png"))
        .await;
    assert!(
        listed(&client, &doomed.id).await.is_some(),
        "the first click only asks"
    );
    // Cancel keeps it; asking again and confirming deletes it.
    page.click("[data-action=cancel-delete]").await;
    page.wait_for("!document.querySelector('[data-action=confirm-delete]')")
        .await;
    page.click("[data-action=ask-delete]").await;
    page.click("[data-action=confirm-delete]").await;
    page.wait_for("location.pathname === '/' && document.querySelector('[data-screen=sessions]') && document.body.innerText.includes('Kept session')")
        .await;
    assert!(
        !page
            .eval("document.body.innerText")
            .await
            .as_str()
            .unwrap()
            .contains("Doomed draft"),
        "the list no longer shows it"
    );
    assert!(listed(&client, &doomed.id).await.is_none());

    // The other tab learns it from the server's answer, shown where the page shows errors.
    other.click("[data-action=ask-delete]").await;
    other.click("[data-action=confirm-delete]").await;
    other
        .wait_for("document.querySelector('[data-screen=conversation] > .error')?.innerText.includes('no session')")
        .await;
    assert_eq!(
        other.eval("location.pathname").await,
        json!(format!("/sessions/{}", doomed.id)),
        "a failed delete stays on the page"
    );
    other
        .screenshot(&shots_dir().join("delete-error-desktop.png"))
        .await;

    // From the list: the same question, then the row goes.
    let ask = format!("[data-action=\"ask-delete-{}\"]", listed_one.id);
    let confirm = format!("[data-action=\"confirm-delete-{}\"]", listed_one.id);
    page.click(&ask).await;
    page.wait_for(&format!("document.querySelector('{confirm}')"))
        .await;
    page.screenshot(&shots_dir().join("sessions-delete-phone.png"))
        .await;
    assert!(listed(&client, &listed_one.id).await.is_some());
    page.click(&confirm).await;
    page.wait_for("!document.body.innerText.includes('Listed draft') && document.body.innerText.includes('Kept session')")
        .await;
    assert!(listed(&client, &listed_one.id).await.is_none());
    assert!(
        listed(&client, &kept.id).await.is_some(),
        "only the one asked for goes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_new_session_form_offers_the_servers_profiles() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let config = dir.path().join("data/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[profiles.review]\nallowed_tools = [\"Read\"]\n\n[[profiles.review.hooks.SessionStart]]\nhooks = [{ type = \"command\", command = \"echo review-hook-ran\" }]\n\n[profiles.broken]\nplugins = [\"absent@nowhere\"]\n",
    )
    .unwrap();
    let mock = Script::new()
        .always(When::Always, Reply::text("ok"))
        .start();
    let server = Server::with_claude(
        &dir.path().join("data"),
        &claude_bin(),
        &mock.base_url(),
        &[],
    );
    let browser = Browser::launch().await;
    let options = "[...document.querySelectorAll('select[name=profile] option')].map(o => o.textContent).join('|')";
    for (width, height, mobile, name) in [(390, 844, true, "phone"), (1280, 800, false, "desktop")]
    {
        let page = browser.page(width, height, mobile).await;
        page.goto(&format!("{}/?token={}", server.http, server.token))
            .await;
        page.click("[data-action=new-session]").await;
        page.wait_for("document.querySelectorAll('select[name=profile] option').length > 1")
            .await;
        assert_eq!(
            page.eval(options).await,
            json!("server default|user|none|broken|review"),
            "the server's default first, then the profiles its welcome names"
        );
        page.screenshot(&shots_dir().join(format!("new-session-profiles-{name}.png")))
            .await;
        if mobile {
            continue;
        }
        // A profile the server cannot resolve: its error, and no session.
        choose(&page, "select[name=profile]", "broken").await;
        page.click("[data-action=create]").await;
        page.wait_for("document.querySelector('[data-form=new-session] [role=alert]')?.innerText.includes('absent@nowhere')")
            .await;
        assert_eq!(page.eval("location.pathname").await, json!("/"));
        choose(&page, "select[name=profile]", "review").await;
        page.type_text("input[name=title]", "Reviewed", false).await;
        page.click("[data-action=create]").await;
        page.wait_for("document.querySelector('[data-screen=conversation]')")
            .await;
        // The profile's start hook runs in the sandbox; its notice names itself once.
        page.type_text("textarea", "hello", true).await;
        page.wait_for("[...document.querySelectorAll('[data-kind=system_notice]')].some(n => n.innerText.includes('review-hook-ran'))")
            .await;
        let notice = page
            .eval("[...document.querySelectorAll('[data-kind=system_notice]')].map(n => n.innerText.trim()).find(t => t.includes('review-hook-ran'))")
            .await;
        assert_eq!(
            notice,
            json!("SessionStart:startup hook: success: review-hook-ran"),
            "the hook's notice, without a second \"hook\" before it"
        );
        page.screenshot(&shots_dir().join("hook-notice-desktop.png"))
            .await;
    }
    let (client, _notes) = server.client().await;
    let sessions = client.list().await.unwrap();
    assert_eq!(sessions.len(), 1, "the broken profile made no session");
    assert_eq!(sessions[0].title.as_deref(), Some("Reviewed"));
    assert_eq!(
        sessions[0].profile.as_deref(),
        Some("review"),
        "the session records the profile chosen"
    );
}
