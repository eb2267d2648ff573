//! `aisys transcript parse -o DIR` through the real binary: a page per session and an index that
//! links each one, with its search driven in the real Chromium (file:// pages, the index's
//! Content-Security-Policy in force); a failed run leaves the folder as it was.

mod browser;
mod fixtures;

use std::path::Path;
use std::process::{Command, Output};

use browser::Browser;
use fixtures::fixture;
use serde_json::json;

fn parse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The sessions the folder is made from: the hand-written shapes and the recorded session.
const PAGES: [&str; 6] = [
    "b7e21c04-5a93-4f6d-8e12-9c0d4a6f3e58.html",
    "rewind-compact.html",
    "sidechain-1.0.html",
    "sidechain-first-1.0.html",
    "tool-views.html",
    "transcript-tool-run.html",
];

/// Writes the pages of the fixtures into `dir`.
fn write_pages(dir: &Path) {
    let o = parse(&[
        fixture("handwritten").to_str().unwrap(),
        fixture("claude-code-2.1.197/transcript-tool-run.jsonl")
            .to_str()
            .unwrap(),
        "-o",
        &format!("{}/", dir.display()),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

/// Every `(element, attribute, value)` of a page, checked to be well-formed on the way.
fn attributes(html: &str) -> Vec<(String, String, String)> {
    let mut reader = quick_xml::Reader::from_str(html);
    let mut found = Vec::new();
    loop {
        let e = match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e)) => e,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => continue,
            Err(e) => panic!("not well-formed: {e}\n{html}"),
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).to_lowercase();
        for a in e.attributes() {
            let a = a.unwrap();
            found.push((
                name.clone(),
                String::from_utf8_lossy(a.key.as_ref()).to_lowercase(),
                a.unescape_value().unwrap().into_owned(),
            ));
        }
        if e.attributes().next().is_none() {
            found.push((name, String::new(), String::new()));
        }
    }
    found
}

#[test]
fn a_folder_gets_a_page_per_session_and_an_index_that_links_each() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pages");
    write_pages(&dir);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    want.extend(["index.html".into(), "search.js".into()]);
    want.sort();
    assert_eq!(files, want);

    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let attrs = attributes(&index);
    let links: Vec<&str> = attrs
        .iter()
        .filter(|(e, k, _)| e == "a" && k == "href")
        .map(|(_, _, v)| v.as_str())
        .collect();
    let mut sorted = links.clone();
    sorted.sort();
    assert_eq!(sorted, PAGES, "one link per page");
    // Newest first: the recorded session (2026-12-02) before the 1.0.x ones (2025-07-10).
    assert_eq!(links[0], "transcript-tool-run.html");
    // The only script is the folder's own file; no inline script, no event attribute.
    let scripts: Vec<(&str, &str)> = attrs
        .iter()
        .filter(|(e, _, _)| e == "script")
        .map(|(_, k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(scripts, [("src", "search.js"), ("defer", "defer")]);
    assert_eq!(index.matches("<script").count(), 1);
    assert!(index.contains("<script src=\"search.js\" defer=\"defer\"></script>"));
    assert!(attrs.iter().all(|(_, k, _)| !k.starts_with("on")));
    assert!(
        index.contains("script-src 'self'") && index.contains("default-src 'none'"),
        "the policy allows the folder's script only"
    );
    // Title, start, first prompt (beside a summary title), tokens and cost of a session.
    assert!(
        index.contains(">Forecast page shows yesterday&#39;s date</a>"),
        "{index}"
    );
    assert!(index.contains(">Why does the forecast page show yesterday&#39;s date?</td>"));
    assert!(index.contains(">2025-07-10 09:00</td>"));
    assert!(index.contains(">690</td>"), "the recorded session's tokens");

    // Each page links back and runs no script.
    for p in PAGES {
        let page = std::fs::read_to_string(dir.join(p)).unwrap();
        let attrs = attributes(&page);
        assert!(
            attrs.contains(&("a".into(), "href".into(), "index.html".into())),
            "{p} links to the index"
        );
        assert!(attrs.iter().all(|(e, _, _)| e != "script"), "{p}");
        assert!(page.contains("default-src 'none'") && !page.contains("script-src"));
    }
}

#[test]
fn a_failed_run_leaves_the_folder_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pages");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.join("index.html"), "old").unwrap();
    let bad = tmp.path().join("broken.jsonl");
    std::fs::write(&bad, "{\"type\":\"user\",\"message\n").unwrap();
    let o = parse(&[
        fixture("handwritten/tool-views.jsonl").to_str().unwrap(),
        bad.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
        "--strict",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("index.html")).unwrap(),
        "old"
    );
    assert!(!dir.join("tool-views.html").exists());
    let o = parse(&[
        fixture("handwritten/tool-views.jsonl").to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("tool-views.html").exists());
    assert_ne!(
        std::fs::read_to_string(dir.join("index.html")).unwrap(),
        "old"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".aisys-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let o = parse(&[
        fixture("handwritten/tool-views.jsonl").to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
        "--format",
        "markdown",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("-o DIR writes a folder of HTML pages"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_search_finds_a_session_by_its_text_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pages");
    write_pages(&dir);
    let url = format!("file://{}/index.html", dir.display());
    let browser = Browser::launch().await;
    let page = browser.page(1100, 800, false).await;
    page.goto(&url).await;
    // The script ran (the policy let it): the box is shown and every row counted.
    page.wait_for("!document.getElementById('q').hidden").await;
    let shown = "Array.from(document.querySelectorAll('#sessions tbody tr')).filter(r => !r.hidden).map(r => r.querySelector('a').getAttribute('href'))";
    assert_eq!(page.eval(&format!("{shown}.length")).await, json!(6));
    assert_eq!(
        page.eval("document.getElementById('count').textContent")
            .await,
        json!("6 sessions")
    );

    // Words from a subagent's answer find its session alone, whatever their case and order.
    page.type_text("#q", "SPELT rye", false).await;
    page.wait_for("document.getElementById('count').textContent === '1 of 6 sessions'")
        .await;
    assert_eq!(
        page.eval(shown).await,
        json!(["b7e21c04-5a93-4f6d-8e12-9c0d4a6f3e58.html"])
    );

    // A linked search (?q=) fills the box: both forecast sessions, nothing else.
    page.goto(&format!("{url}?q=forecast")).await;
    page.wait_for("document.getElementById('count').textContent === '2 of 6 sessions'")
        .await;
    assert_eq!(
        page.eval(shown).await,
        json!(["sidechain-1.0.html", "sidechain-first-1.0.html"])
    );
    page.goto(&format!("{url}?q=no-such-words-anywhere")).await;
    page.wait_for("document.getElementById('count').textContent === '0 of 6 sessions'")
        .await;
}
