//! The docs viewer's work on a large docs folder: listing its pages with their titles
//! (`GET /api/docs/tree`) and searching their titles and text (`GET /api/docs/search`), over a
//! generated folder of 2,000 pages of about 4 KB in 40 folders. Run with `cargo bench --bench
//! docs_pages`; it prints the median and p90 in milliseconds. `cargo test --all-targets` runs a
//! small version to prove it works. Figures go in docs/benchmarks.md.

use std::path::Path;
use std::time::{Duration, Instant};

use aisys::docs::pages;

/// Pages in the benchmark folder, and folders they are spread over.
const PAGES: usize = 2_000;
const FOLDERS: usize = 40;
/// Timed runs of each operation (after one untimed run that warms the page cache).
const RUNS: usize = 20;
/// Pages and runs when run as a test.
const SMOKE_PAGES: usize = 50;
const SMOKE_RUNS: usize = 2;

/// A page of about 4 KB: a title, sections, a code block; the word `needle` in every 100th.
fn page(i: usize) -> String {
    let mut s = format!("# Page {i}: how part {i} works\n\n");
    for sec in 0..6 {
        s.push_str(&format!(
            "## Section {sec}\n\nThis section explains step {sec} of part {i}, with the reasons \
             for each choice, what to check before going on, and what to do when a check fails. \
             It links to [the next part](page{}.md) and names the commands to run.\n\n\
             ```sh\nmake check PART={i} STEP={sec}\n```\n\n",
            i + 1
        ));
    }
    if i % 100 == 0 {
        s.push_str("The rare word needle appears here.\n");
    }
    s
}

fn generate(root: &Path, pages: usize) {
    for i in 0..pages {
        let dir = root.join(format!("area{:02}", i % FOLDERS));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("page{i}.md")), page(i)).unwrap();
    }
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {what}: median {:.1} ms, p90 {:.1} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10])
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, runs) = if full {
        (PAGES, RUNS)
    } else {
        (SMOKE_PAGES, SMOKE_RUNS)
    };
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), n);
    let root = dir.path().canonicalize().unwrap();
    let tree = pages::walk(&root);
    assert_eq!(tree.pages.len(), n, "every generated page is listed");
    assert_eq!(
        pages::search(&root, &tree, "needle").len(),
        n.div_ceil(100),
        "the search finds every page with the word"
    );
    let time = |f: &dyn Fn()| -> Vec<Duration> {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect()
    };
    println!("docs folder of {n} pages in {FOLDERS} folders, {runs} runs each:");
    report(
        "tree (walk + titles)",
        time(&|| {
            std::hint::black_box(pages::walk(&root));
        }),
    );
    report(
        "search, a rare word",
        time(&|| {
            let tree = pages::walk(&root);
            std::hint::black_box(pages::search(&root, &tree, "needle"));
        }),
    );
    report(
        "search, a word in every page (stops at the hit limit)",
        time(&|| {
            let tree = pages::walk(&root);
            std::hint::black_box(pages::search(&root, &tree, "section"));
        }),
    );
    report(
        "search, no match",
        time(&|| {
            let tree = pages::walk(&root);
            std::hint::black_box(pages::search(&root, &tree, "zzzqqq"));
        }),
    );
}
