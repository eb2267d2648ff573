//! `aisys entities validate` through the real binary: what an author must fix (exit 3, with file,
//! line and field) and what is only advice (exit 0), agreeing with Claude Code's own
//! `claude plugin validate` on pass or fail.

mod entities_support;
mod mock_api;

use std::path::Path;

use entities_support::*;
use mock_api::claude_bin;

/// Whether Claude Code's own validator passes `path`.
fn claude_validate_passes(w: &World, path: &Path) -> bool {
    let args = ["plugin", "validate", path.to_str().unwrap()];
    w.claude_at(&claude_bin(), &w.project, &args, &[])
        .status
        .success()
}

fn validate(w: &World, path: &Path) -> (i32, String) {
    let out = w.aisys(&["entities", "validate", path.to_str().unwrap()]);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout) + &text(&out.stderr),
    )
}

#[test]
fn a_good_plugin_and_marketplace_pass_like_claude_code() {
    let w = World::new();
    let m = w.path().join("market");
    write_marketplace(&m, "local-market", &[("demo", Some("1.0.0"))]);
    for p in [m.clone(), m.join("plugins/demo")] {
        let (code, out) = validate(&w, &p);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("0 error(s)"), "{out}");
        assert!(out.contains("author"), "advice is shown: {out}");
        assert!(
            claude_validate_passes(&w, &p),
            "claude disagrees on {}",
            p.display()
        );
    }
}

/// What a broken plugin lacks, how to make it, and what aisys must say.
type Case = (&'static str, fn(&Path), &'static str);

#[test]
fn broken_plugins_fail_with_file_line_and_field_like_claude_code() {
    let w = World::new();
    let cases: Vec<Case> = vec![
        (
            "no name",
            (|d: &Path| {
                write(
                    &d.join(".claude-plugin/plugin.json"),
                    r#"{"version": "1.0.0"}"#,
                );
            }),
            "plugin.json: error: name: is required",
        ),
        (
            "missing commands path",
            (|d: &Path| {
                write(
                    &d.join(".claude-plugin/plugin.json"),
                    r#"{"name": "p", "commands": "./nope"}"#,
                );
            }),
            "commands: path `./nope` does not exist",
        ),
        (
            "bad skill YAML",
            (|d: &Path| {
                write(&d.join(".claude-plugin/plugin.json"), r#"{"name": "p"}"#);
                write(
                    &d.join("skills/x/SKILL.md"),
                    "---\nname: x\ndescription: [oops\n---\nbody\n",
                );
            }),
            "skills/x/SKILL.md:3: error: frontmatter: invalid YAML",
        ),
        (
            "bad JSON",
            (|d: &Path| {
                write(
                    &d.join(".claude-plugin/plugin.json"),
                    "{\n  \"name\": \"p\",\n}\n",
                );
            }),
            "plugin.json:3: error:",
        ),
    ];
    for (what, make, expected) in cases {
        let d = w.path().join(what.replace(' ', "-"));
        make(&d);
        let (code, out) = validate(&w, &d);
        assert_eq!(code, 3, "{what}: {out}");
        assert!(
            out.contains(expected),
            "{what}: expected `{expected}` in {out}"
        );
        assert!(!claude_validate_passes(&w, &d), "{what}: claude passes it");
    }
}

#[test]
fn single_files_are_checked_by_kind() {
    let w = World::new();
    let agent = write(
        &w.path().join("agents/rev.md"),
        "---\nname: rev\ndescription: Reviews\ntools: [Read, 3]\nbackground: maybe\n---\nYou review.\n",
    );
    let (code, out) = validate(&w, &agent);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("rev.md:4: error: tools: must be text or a list of text"),
        "{out}"
    );
    assert!(
        out.contains("rev.md:5: error: background: must be true or false"),
        "{out}"
    );

    let skill = write(
        &w.path().join("skills/pdf-tools/SKILL.md"),
        "---\nname: PDF Tools\ndescription: Read PDFs\n---\n",
    );
    let (code, out) = validate(&w, &skill);
    assert_eq!(code, 0, "Claude Code names it by its folder anyway: {out}");
    assert!(out.contains("SKILL.md:2: warning: name:"), "{out}");

    let cmd = write(&w.path().join("commands/hi.md"), "Say hi.\n");
    let (code, out) = validate(&w, &cmd);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning: description"), "{out}");

    let out = w.aisys(&["entities", "validate", "/nonexistent/plugin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/plugin"));
}

#[test]
fn marketplace_entries_are_checked() {
    let w = World::new();
    let m = w.path().join("m");
    write(
        &m.join(".claude-plugin/marketplace.json"),
        r#"{"name": "m", "owner": {"name": "t"}, "plugins": [
            {"name": "gone", "source": "./plugins/gone"},
            {"name": "out", "source": "../elsewhere"},
            {"source": "./x"}]}"#,
    );
    let (code, out) = validate(&w, &m);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("plugins[0]: source `./plugins/gone` does not exist"),
        "{out}"
    );
    assert!(
        out.contains("plugins[1]: source path `../elsewhere` goes up"),
        "{out}"
    );
    assert!(out.contains("plugins[2]: `name` is required"), "{out}");
}
