//! `transcript stats` checks the lines that cannot carry usage (most of a transcript) with its own
//! JSON validator, which skips string contents with memchr. This bench weighs it against what
//! serde_json offers for the same question, parsing into `IgnoredAny`, on the real line shapes
//! of the recorded transcripts in tests/fixtures (repeated to a corpus of `CORPUS_BYTES`), in
//! alternating rounds, and checks that both give the same answer on every line. A second corpus
//! has the same lines with every long string made `LONG_FACTOR` times longer, as a transcript
//! with large tool outputs and file contents has them.
//!
//! `cargo bench --bench json_check`; as a test it runs one round on a small corpus.

use std::path::Path;
use std::time::{Duration, Instant};

use aisys::converters::usage::is_json;

/// Corpus of a real run: large enough that a round takes a good fraction of a second.
const CORPUS_BYTES: usize = 64 * 1024 * 1024;
/// Corpus as a test: every line shape once or a few times.
const SMOKE_CORPUS_BYTES: usize = 256 * 1024;
/// Rounds of each checker in a real run, alternating; the median is reported.
const ROUNDS: usize = 7;
/// Strings longer than this are stretched in the second corpus.
const LONG_STRING: usize = 40;
/// How many times longer they get: tool outputs of a few KB.
const LONG_FACTOR: usize = 20;

fn fixture_lines(dir: &Path, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fixture_lines(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read(&path).unwrap();
            for line in text.split(|&b| b == b'\n') {
                let line = line.trim_ascii();
                // The lines the validator sees: objects that do not mention usage.
                if line.first() == Some(&b'{') && memchr::memmem::find(line, b"\"usage\"").is_none()
                {
                    out.push(line.to_vec());
                }
            }
        }
    }
}

/// `line` with each string longer than [`LONG_STRING`] repeated [`LONG_FACTOR`] times.
fn stretched(line: &[u8]) -> Vec<u8> {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.len() > LONG_STRING => *s = s.repeat(LONG_FACTOR),
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::Object(o) => o.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(line).unwrap();
    walk(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn round(lines: &[Vec<u8>], check: impl Fn(&[u8]) -> bool) -> (Duration, usize) {
    let t = Instant::now();
    let ok = lines.iter().filter(|l| check(l)).count();
    (t.elapsed(), ok)
}

fn serde_check(b: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let mut shapes = Vec::new();
    fixture_lines(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut shapes,
    );
    assert!(!shapes.is_empty(), "no fixture lines under tests/fixtures");
    let target = if full {
        CORPUS_BYTES
    } else {
        SMOKE_CORPUS_BYTES
    };
    let rounds = if full { ROUNDS } else { 1 };
    if !full {
        println!("a smoke run: the figures are not the benchmark's");
    }
    compare("recorded lines", &shapes, target, rounds);
    let long: Vec<Vec<u8>> = shapes.iter().map(|l| stretched(l)).collect();
    compare("long strings", &long, target, rounds);
}

/// Both checkers over `shapes` repeated to `target` bytes, in alternating rounds.
fn compare(name: &str, shapes: &[Vec<u8>], target: usize, rounds: usize) {
    let mut lines = Vec::new();
    let mut bytes = 0;
    while bytes < target {
        for l in shapes {
            bytes += l.len();
            lines.push(l.clone());
        }
    }
    for l in shapes {
        assert_eq!(
            is_json(l),
            serde_check(l),
            "the checkers disagree on {}",
            String::from_utf8_lossy(l)
        );
    }
    let (mut own, mut serde) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (t, a) = round(&lines, is_json);
        own.push(t);
        let (t, b) = round(&lines, serde_check);
        serde.push(t);
        assert_eq!(a, b, "the checkers disagree on the corpus");
    }
    let mb = bytes as f64 / 1e6;
    let (own, serde) = (median(own), median(serde));
    println!(
        "{name}: {} lines, {mb:.1} MB, {:.0} bytes a line",
        lines.len(),
        bytes as f64 / lines.len() as f64
    );
    println!(
        "  own validator (memchr)   {:>8.1} ms  {:>7.0} MB/s",
        own.as_secs_f64() * 1e3,
        mb / own.as_secs_f64()
    );
    println!(
        "  serde_json IgnoredAny    {:>8.1} ms  {:>7.0} MB/s",
        serde.as_secs_f64() * 1e3,
        mb / serde.as_secs_f64()
    );
    println!(
        "  the validator runs at {:.2}x serde_json's speed",
        serde.as_secs_f64() / own.as_secs_f64()
    );
}
