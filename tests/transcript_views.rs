//! What `aisys transcript parse` shows of each kind of tool call, in HTML, Markdown and terminal
//! text, through the real binary on tests/fixtures/handwritten/tool-views.jsonl: a slash command
//! and its expanded prompt, a Markdown-rich answer, an Edit, a MultiEdit, a Write, a TodoWrite,
//! a Bash call with terminal colours (and a title escape), a long output, a nested Task. And that
//! agent Markdown cannot put active content into an HTML page, checked by parsing the page.

mod common;
mod fixtures;

use std::process::{Command, Output, Stdio};

use fixtures::fixture;

fn parse(args: &[&str], stdin: Option<&str>) -> Output {
    let out = common::run_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["transcript", "parse"])
            .args(args),
        stdin,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn views(format: &str, extra: &[&str]) -> String {
    let f = fixture("handwritten/tool-views.jsonl");
    let mut args = vec![
        f.to_str().unwrap(),
        "--format",
        format,
        "--max-output-lines",
        "8",
    ];
    args.extend_from_slice(extra);
    String::from_utf8(parse(&args, None).stdout).unwrap()
}

#[test]
fn every_tool_view_in_html_markdown_and_text() {
    for format in ["html", "markdown", "text"] {
        let out = views(format, &["--color", "never"]);
        insta::assert_snapshot!(format!("tool_views_{format}"), out);
    }
}

#[test]
fn colour_survives_only_where_it_can_be_shown_and_times_follow_the_zone() {
    let text = views("text", &["--color", "always"]);
    assert!(text.contains("\u{1b}[31m1 failed"), "{text}");
    assert!(
        !text.contains("]0;pwned"),
        "a title escape reached the terminal"
    );
    let md = views("markdown", &[]);
    assert!(md.contains("1 failed, 2 passed") && !md.contains('\u{1b}'));
    let html = views("html", &[]);
    assert!(html.contains("<span style=\"color:#cd3131;\">1 failed</span>"));
    // 10:00:03 UTC is 11:00:03 in Paris in March.
    let paris = views("markdown", &["--tz", "Europe/Paris"]);
    assert!(
        paris.contains("## User · 2026-03-05 11:00:03 Europe/Paris"),
        "{paris}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["transcript", "parse", "--tz", "Mars/Olympus", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--tz: `Mars/Olympus` is not a time zone")
    );
}

/// Agent Markdown that would be active content if it were passed through.
const EVIL_MARKDOWN: &str = "# Done\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
[click](javascript:alert(3)) [mixed](JaVaScRiPt:alert(4)) [spaced]( javascript:alert(5))\n\n\
<a href=\"javascript:alert(6)\" onclick=\"alert(7)\">raw link</a>\n\n![pixel](javascript:alert(8))\n\n\
<iframe src=\"https://evil.example\"></iframe><svg onload=alert(9)></svg>\n\n\
<details open ontoggle=alert(10)>x</details> [data](data:text/html;base64,PHNjcmlwdD4=)\n\n\
**fine** [ok](https://example.com)";

#[test]
fn agent_markdown_cannot_put_active_content_in_the_page() {
    use serde_json::json;
    let sid = "0f9c1e2a-1111-4222-8333-944455550000";
    let lines = [
        json!({"type": "user", "uuid": "u1", "parentUuid": null, "sessionId": sid, "timestamp": "2026-01-01T00:00:00Z", "isSidechain": false,
               "message": {"role": "user", "content": EVIL_MARKDOWN}}),
        json!({"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": sid, "timestamp": "2026-01-01T00:00:01Z", "isSidechain": false,
               "message": {"id": "m1", "role": "assistant", "model": "claude-opus-4-8", "content": [{"type": "text", "text": EVIL_MARKDOWN}]}}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let html = String::from_utf8(parse(&["--format", "html"], Some(&input)).stdout).unwrap();
    assert!(
        html.contains("<strong>fine</strong>"),
        "Markdown is rendered"
    );
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));

    let mut reader = quick_xml::Reader::from_str(&html);
    let (mut links, mut shown) = (Vec::new(), String::new());
    loop {
        let e = match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e)) => e,
            Ok(quick_xml::events::Event::Text(t)) => {
                shown.push_str(&t.decode().unwrap());
                continue;
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => continue,
            Err(e) => panic!("not well-formed: {e}\n{html}"),
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).to_lowercase();
        assert!(
            ![
                "script", "img", "iframe", "svg", "object", "embed", "form", "input", "base"
            ]
            .contains(&name.as_str()),
            "active element <{name}>"
        );
        for a in e.attributes() {
            let a = a.unwrap();
            let key = String::from_utf8_lossy(a.key.as_ref()).to_lowercase();
            let value = a.unescape_value().unwrap().trim().to_lowercase();
            assert!(!key.starts_with("on"), "event attribute {key} on <{name}>");
            if key == "href" || key == "src" {
                assert!(
                    value.starts_with("https:")
                        || value.starts_with("http:")
                        || value.starts_with('#'),
                    "link to {value}"
                );
                links.push(value);
            }
        }
    }
    assert_eq!(
        links,
        ["https://example.com", "https://example.com"],
        "only the safe link, once from the prompt and once from the answer"
    );
    assert!(shown.contains("alert(2)"), "the raw tag is shown as text");
}

#[test]
fn wrapped_text_keeps_the_gutter_of_a_subagent_run() {
    let f = fixture("handwritten/tool-views.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args([
            "transcript",
            "parse",
            "--format",
            "text",
            "--color",
            "never",
        ])
        .arg(&f)
        .env("COLUMNS", "40")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let run: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("◆ Task"))
        .skip(1)
        .take_while(|l| !l.starts_with("Done"))
        .collect();
    assert!(run.len() > 8, "{text}");
    for l in &run {
        assert!(
            l.starts_with('│'),
            "a line of the run lost its gutter: {l:?}"
        );
        assert!(l.chars().count() <= 40, "too wide: {l:?}");
    }
    assert!(
        run.iter()
            .any(|l| l.starts_with("│   ") && l.contains("es)")),
        "a long output line is wrapped behind the gutter and its indent: {run:#?}"
    );
}

#[test]
fn an_output_file_picks_its_format_from_its_extension_and_appears_whole() {
    let f = fixture("handwritten/tool-views.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aisys"))
            .args(["transcript", "parse"])
            .arg(&f)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (name, start) in [
        ("t.md", "- **Agent:**"),
        ("t.html", "<!DOCTYPE html>"),
        ("t.json", "["),
        ("t.jsonl", "{"),
    ] {
        let out = run(&["-o", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "-o writes nothing to stdout");
        let written = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(written.starts_with(start), "{name}: {written:.80}");
    }
    // `md` names Markdown too.
    let md = run(&["--format", "md"]);
    assert!(String::from_utf8_lossy(&md.stdout).starts_with("- **Agent:**"));
    // An unknown extension is refused, and nothing is left behind.
    let bad = run(&["-o", "t.xyz"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("fix: end the name in .md"));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".aisys") || n == "t.xyz")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
