//! What `aisys run --sandbox local` adds to an agent turn: the same `claude -p` turn against the
//! same mock model, run directly and through aisys (bubblewrap sandbox, adapter, runner), in
//! alternation so both see the same machine. Prints the median and p90 of each and the median
//! overhead. `cargo bench --bench run_overhead`; as a test it runs two rounds.

#[path = "../tests/mock_api/mod.rs"]
mod mock_api;
#[path = "support/timing.rs"]
mod timing;

use timing::{CLAUDE_STDIN, pct};

use std::process::Command;
use std::time::Duration;

use mock_api::{Reply, Script, When, claude_bin};

/// Rounds of each command under `cargo bench`.
const ROUNDS: usize = 40;
/// Rounds when run as a test, to prove the bench works.
const SMOKE_ROUNDS: usize = 2;

/// Runs `cmd` once; it must answer.
fn timed(cmd: &mut Command, stdin: Option<&str>) -> Duration {
    timing::timed(cmd, stdin, "answer")
}

fn main() {
    let rounds = if std::env::args().any(|a| a == "--bench") {
        ROUNDS
    } else {
        SMOKE_ROUNDS
    };
    let mock = Script::new()
        .always(When::Always, Reply::text("the answer"))
        .start();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let bin = claude_bin().canonicalize().unwrap();
    let env = [
        ("ANTHROPIC_BASE_URL", mock.base_url()),
        ("ANTHROPIC_API_KEY", "bench".to_string()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("PATH", "/usr/bin:/bin".into()),
    ];
    let direct = || {
        let mut c = Command::new(&bin);
        // Exactly the command line aisys runs, minus the sandbox.
        c.args([
            "-p",
            "--input-format=stream-json",
            "--output-format=stream-json",
            "--verbose",
            "--permission-prompt-tool=stdio",
        ])
        .current_dir(&ws)
        .env_clear()
        .envs(env.iter().cloned())
        .env("HOME", &home)
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"));
        c
    };
    let aisys = |sandbox: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aisys"));
        c.args([
            "run",
            "say something",
            "--format",
            "jsonl",
            "--sandbox",
            sandbox,
            "--workspace",
        ])
        .arg(&ws)
        .env_clear()
        .envs(env.iter().cloned())
        .env("HOME", &home)
        .env("AISYS_CLAUDE_BIN", &bin)
        .env("AISYS_DATA_DIR", dir.path().join("data"))
        .env("AISYS_CONFIG_DIR", dir.path().join("cfg"));
        c
    };
    // Warm the page cache for both, outside the measurement.
    timed(&mut direct(), Some(CLAUDE_STDIN));
    timed(&mut aisys("local"), None);
    timed(&mut aisys("host"), None);
    let (mut d, mut a, mut h) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        d.push(timed(&mut direct(), Some(CLAUDE_STDIN)));
        a.push(timed(&mut aisys("local"), None));
        h.push(timed(&mut aisys("host"), None));
    }
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    println!("rounds: {rounds} each, alternating, same mock, same Claude Code binary");
    println!(
        "claude -p directly          median {:>8.1} ms   p90 {:>8.1} ms",
        ms(pct(&d, 50)),
        ms(pct(&d, 90))
    );
    println!(
        "aisys run --sandbox local   median {:>8.1} ms   p90 {:>8.1} ms",
        ms(pct(&a, 50)),
        ms(pct(&a, 90))
    );
    println!(
        "aisys run --sandbox host    median {:>8.1} ms   p90 {:>8.1} ms",
        ms(pct(&h, 50)),
        ms(pct(&h, 90))
    );
    println!(
        "median overhead, local      {:>8.1} ms",
        ms(pct(&a, 50)) - ms(pct(&d, 50))
    );
    println!(
        "median overhead, host       {:>8.1} ms",
        ms(pct(&h, 50)) - ms(pct(&d, 50))
    );
}
