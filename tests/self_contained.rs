//! The repository is whole: no tracked file refers to a folder beside the checkout (a clone has
//! nothing there), so every test, doc and script works from a fresh clone alone.

use std::process::Command;

#[test]
fn no_tracked_file_refers_to_a_folder_outside_the_repository() {
    // Built from parts so that this file does not match itself.
    let needle = format!("{}/{}", "..", "shared");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| {
            panic!("git ls-files in {root}: {e} (install git: apt-get install git)")
        });
    assert!(
        out.status.success(),
        "git ls-files in {root} failed (the tests run from a git checkout): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty())
        .collect();
    assert!(files.len() > 10, "only {} tracked files", files.len());
    let mut hits = Vec::new();
    for f in files {
        // A tracked file deleted in the work tree has nothing to say.
        let Ok(bytes) = std::fs::read(std::path::Path::new(root).join(f)) else {
            continue;
        };
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                hits.push(format!("{f}:{}", n + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "these lines refer to {needle}, a folder outside the repository that a clone does not \
         have; point them at files inside it (test data: tests/fixtures):\n{}",
        hits.join("\n")
    );
}
