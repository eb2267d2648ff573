//! The Modal backend against Modal's real cloud, with the real `modal` package. Not part of CI
//! (it needs an account and costs a little): it is ignored unless asked for, and then it needs
//! `MODAL_TOKEN_ID` and `MODAL_TOKEN_SECRET` (or `~/.modal.toml`):
//!   MODAL_TOKEN_ID=... MODAL_TOKEN_SECRET=... cargo test --test modal_live -- --ignored --nocapture
//! The Python with the SDK is `.test-deps/modal-venv` (from scripts/install-test-deps), or
//! `AISYS_MODAL_PYTHON`.

use std::collections::BTreeMap;

use aisys::runtime::env::{ExecSpec, ModalEnvironment, Sandbox, SandboxSpec};
use tokio::io::AsyncReadExt;

/// A small public image: the live test checks the backend, not the agents' image build.
const LIVE_IMAGE: &str = "python:3.12-slim";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "live Modal cloud: needs MODAL_TOKEN_ID/MODAL_TOKEN_SECRET; run with --ignored"]
async fn a_real_modal_sandbox_runs_a_command_and_keeps_files() {
    assert!(
        std::env::var_os("MODAL_TOKEN_ID").is_some()
            || dirs::home_dir().is_some_and(|h| h.join(".modal.toml").exists()),
        "no Modal credentials: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (modal token new)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = aisys::runtime::launch::modal_config(&dir.path().join("data"));
    config.image = Some(LIVE_IMAGE.into());
    config.app = "aisys-live-test".into();
    if std::env::var_os("AISYS_MODAL_PYTHON").is_none() {
        let venv = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.test-deps/modal-venv/bin/python"
        );
        assert!(
            std::path::Path::new(venv).exists(),
            "{venv} is missing: run scripts/install-test-deps (or set AISYS_MODAL_PYTHON)"
        );
        config.python = Some(venv.into());
    }
    let env = ModalEnvironment::start(config).await.unwrap();
    std::fs::write(dir.path().join("uploaded.txt"), "from the laptop\n").unwrap();
    let sb = env
        .create_modal(SandboxSpec {
            workspace: dir.path().to_path_buf(),
            labels: BTreeMap::from([("aisys.session".into(), "live-test".into())]),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut p = sb
        .exec(ExecSpec {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "cat uploaded.txt && echo made > made.txt".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    drop(p.stdin.take());
    let mut out = String::new();
    p.stdout.read_to_string(&mut out).await.unwrap();
    assert!(p.control.wait().await.unwrap().success());
    assert_eq!(out, "from the laptop\n");
    let made = sb
        .read_file(&format!("{}/made.txt", sb.workdir()))
        .await
        .unwrap();
    assert_eq!(made, b"made\n");
    sb.terminate().await.unwrap();
    let left = env
        .list(&BTreeMap::from([(
            "aisys.session".into(),
            "live-test".into(),
        )]))
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "terminated sandboxes are not listed: {left:?}"
    );
}
