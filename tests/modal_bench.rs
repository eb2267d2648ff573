//! The Modal bridge's own overhead, measured against the fake `modal` package (local processes),
//! so only aisys and the bridge are timed, not Modal's cloud. Not part of the normal run:
//!   cargo test --release --test modal_bench -- --ignored --nocapture
//! Figures go to docs/benchmarks.md (## Modal bridge).

use std::collections::BTreeMap;
use std::time::Instant;

use aisys::runtime::env::{ExecSpec, ModalEnvironment, Sandbox, SandboxSpec};
use tokio::io::AsyncReadExt;

/// Execs timed for the round trip.
const EXECS: u32 = 200;
/// Bytes streamed for the throughput figure.
const STREAM_BYTES: u64 = 256 * 1024 * 1024;

async fn run(sb: &dyn Sandbox, script: &str) -> u64 {
    let mut p = sb
        .exec(ExecSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    drop(p.stdin.take());
    let n = tokio::io::copy(&mut p.stdout, &mut tokio::io::sink())
        .await
        .unwrap();
    let mut err = Vec::new();
    p.stderr.read_to_end(&mut err).await.unwrap();
    assert!(p.control.wait().await.unwrap().success());
    n
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bridge_overhead() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut c = aisys::runtime::launch::modal_config(&dir.path().join("data"));
    c.workdir = dir.path().join("ws").display().to_string();
    c.home = dir.path().join("home").display().to_string();
    c.bridge_env = BTreeMap::from([
        (
            "PYTHONPATH".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake_modal").into(),
        ),
        (
            "FAKE_MODAL_STATE".into(),
            dir.path().join("state").display().to_string(),
        ),
        ("MODAL_TOKEN_ID".into(), "ak".into()),
        ("MODAL_TOKEN_SECRET".into(), "as".into()),
    ]);
    let env = ModalEnvironment::start(c).await.unwrap();
    let sb = env.create_modal(SandboxSpec::default()).await.unwrap();

    // Baseline: the same process spawned directly, which the fake also pays per exec.
    let t = Instant::now();
    for _ in 0..EXECS {
        let s = tokio::process::Command::new("sh")
            .args(["-c", "true"])
            .status()
            .await
            .unwrap();
        assert!(s.success());
    }
    let local = t.elapsed().as_secs_f64() * 1000.0 / EXECS as f64;

    let t = Instant::now();
    for _ in 0..EXECS {
        run(&sb, "true").await;
    }
    let bridged = t.elapsed().as_secs_f64() * 1000.0 / EXECS as f64;

    let t = Instant::now();
    let n = run(&sb, &format!("head -c {STREAM_BYTES} /dev/zero")).await;
    assert_eq!(n, STREAM_BYTES);
    let mbs = n as f64 / (1024.0 * 1024.0) / t.elapsed().as_secs_f64();

    println!(
        "exec round trip through the bridge: {bridged:.2} ms (local spawn alone: {local:.2} ms, bridge overhead: {:.2} ms)",
        bridged - local
    );
    println!(
        "streamed stdout: {mbs:.0} MiB/s ({} MiB)",
        STREAM_BYTES >> 20
    );
    sb.terminate().await.unwrap();
}
