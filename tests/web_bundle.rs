//! The browser client's committed build (`web/dist`, embedded in the binary) and its generated
//! protocol types (`web/src/protocol.ts`) must be what the sources give today: a test builds
//! them again with the pinned toolchain (installed by scripts/install-test-deps) and compares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn web() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

fn node_modules() -> PathBuf {
    let nm = web().join("node_modules");
    assert!(
        nm.join(".bin/vite").exists(),
        "{} has no web toolchain: run scripts/install-test-deps (npm ci in web/)",
        nm.display()
    );
    nm
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_committed_bundle_is_what_the_sources_build() {
    let nm = node_modules();
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(nm.join(".bin/tsc"))
        .args(["--noEmit", "-p"])
        .arg(web())
        .status()
        .unwrap();
    assert!(status.success(), "the web client does not type-check");
    let build = Command::new(nm.join(".bin/vite"))
        .arg("build")
        .arg("--logLevel")
        .arg("error")
        .arg("--outDir")
        .arg(out.path())
        .arg("--emptyOutDir")
        .current_dir(web())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "vite build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let committed = files(&web().join("dist"));
    let fresh = files(out.path());
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "web/dist is stale: run `npm run build` in web/ and commit web/dist"
    );
    for (name, bytes) in &fresh {
        assert!(
            committed[name] == *bytes,
            "web/dist/{name} is stale: run `npm run build` in web/ and commit web/dist"
        );
    }
}

#[test]
fn the_protocol_types_are_generated_from_the_schemas() {
    node_modules();
    let out = Command::new("node")
        .args(["scripts/gen-types.mjs", "--check"])
        .current_dir(web())
        .output()
        .expect("node is missing: apt-get install nodejs npm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
