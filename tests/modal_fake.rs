//! The Modal backend end to end against the fake `modal` package (tests/fake_modal), which runs
//! each sandbox's processes locally: aisys, the real bridge program and the SDK calls it makes
//! are all exercised; only Modal's cloud is replaced. Also the errors a user meets first.

mod common;

use common::sh;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aisys::runtime::env::{
    EnvError, ExecSpec, ExecutionEnvironment, ModalConfig, ModalEnvironment, Sandbox, SandboxSpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            dir: tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// A config whose sandbox paths are host folders of this test (the fake runs locally).
    fn config(&self, tag: &str) -> ModalConfig {
        let mut c = aisys::runtime::launch::modal_config(&self.path("data"));
        c.python = Some("python3".into());
        c.workdir = self.path(&format!("remote-{tag}/ws")).display().to_string();
        c.home = self
            .path(&format!("remote-{tag}/home"))
            .display()
            .to_string();
        c.bridge_env = BTreeMap::from([
            (
                "PYTHONPATH".into(),
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake_modal").into(),
            ),
            (
                "FAKE_MODAL_STATE".into(),
                self.path("state").display().to_string(),
            ),
            ("MODAL_TOKEN_ID".into(), "ak-test".into()),
            ("MODAL_TOKEN_SECRET".into(), "as-test".into()),
        ]);
        c
    }

    async fn env(&self, tag: &str) -> ModalEnvironment {
        ModalEnvironment::start(self.config(tag)).await.unwrap()
    }

    fn spec(&self, session: &str) -> SandboxSpec {
        SandboxSpec {
            workspace: self.path("local-ws"),
            env: BTreeMap::from([("ANTHROPIC_API_KEY".into(), "sk-test".into())]),
            labels: BTreeMap::from([("aisys.session".into(), session.into())]),
            ..Default::default()
        }
    }

    /// The fake's record of a sandbox.
    fn record(&self, id: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path(&format!("state/sandboxes/{id}.json")));
        serde_json::from_str(&text.unwrap()).unwrap()
    }
}

#[tokio::test]
async fn a_sandbox_gets_the_workspace_runs_commands_and_syncs_back() {
    let fake = Fake::new();
    std::fs::create_dir_all(fake.path("local-ws/src")).unwrap();
    std::fs::write(fake.path("local-ws/src/main.txt"), "v1\n").unwrap();
    std::fs::write(fake.path("local-ws/keep.txt"), "same\n").unwrap();
    let env = fake.env("a").await;
    let sb = env.create_modal(fake.spec("s1")).await.unwrap();

    // Uploaded, tagged, the key passed as a secret, the home on the session's volume.
    let rec = fake.record(sb.id());
    assert_eq!(rec["tags"]["aisys.session"], "s1");
    assert_eq!(rec["tags"]["aisys.managed"], "true");
    assert_eq!(rec["env"]["ANTHROPIC_API_KEY"], "sk-test");
    assert_eq!(rec["volumes"][sb.home()], "aisys-home-s1");
    // The default memory limit (4 GiB) is a hard limit, above Modal's usual 128 MiB request.
    assert_eq!(rec["memory"], serde_json::json!([128, 4096]));
    let (code, out, _) = sh(&sb, "cat src/main.txt; echo $ANTHROPIC_API_KEY; pwd").await;
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("v1\nsk-test\n{}\n", sb.workdir()));

    // Streamed stdio, both ways, and the exit code.
    let mut p = sb
        .exec(ExecSpec {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "read line; echo \"got $line\"; echo oops >&2; exit 7".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut stdin = p.stdin.take().unwrap();
    stdin.write_all(b"hello\n").await.unwrap();
    stdin.shutdown().await.unwrap();
    let mut out = String::new();
    let mut err = String::new();
    p.stdout.read_to_string(&mut out).await.unwrap();
    p.stderr.read_to_string(&mut err).await.unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("got hello\n", "oops\n"));
    assert_eq!(p.control.wait().await.unwrap().code, Some(7));

    // Files in and out, inside the workspace or home only.
    sb.write_file("notes/a.txt", b"written").await.unwrap();
    assert_eq!(sb.read_file("notes/a.txt").await.unwrap(), b"written");
    let home_file = format!("{}/.claude/x.json", sb.home());
    sb.write_file(&home_file, b"{}").await.unwrap();
    assert!(matches!(
        sb.write_file("../../etc/evil", b"x").await,
        Err(EnvError::OutsideSandbox { .. })
    ));
    let missing = sb.read_file("missing.txt").await;
    assert!(matches!(missing, Err(EnvError::File { .. })), "{missing:?}");

    // The agent edits, adds, and tries to plant links out of the workspace.
    let (code, _, err) = sh(
        &sb,
        "echo v2 > src/main.txt && echo new > added.txt && ln -s /etc/passwd escape && ln -s ../../.. up",
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    let dest = fake.path("local-ws");
    let report = sb.sync_back(&dest).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.join("src/main.txt")).unwrap(),
        "v2\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("added.txt")).unwrap(),
        "new\n"
    );
    assert!(report.written.contains(&PathBuf::from("added.txt")));
    assert!(
        !report.written.contains(&PathBuf::from("keep.txt")),
        "unchanged files are not rewritten"
    );
    let refused: Vec<&str> = report.refused.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        refused.contains(&"./escape") && refused.contains(&"./up"),
        "{refused:?}"
    );
    assert!(!dest.join("escape").exists() && !dest.join("up").exists());

    sb.terminate().await.unwrap();
    sb.terminate().await.unwrap(); // idempotent
    assert_eq!(fake.record(sb.id())["terminated"], true);
    assert!(sh_result(&sb).await.is_err(), "exec after terminate fails");
}

async fn sh_result(sb: &dyn Sandbox) -> Result<(), EnvError> {
    sb.exec(ExecSpec {
        program: "true".into(),
        ..Default::default()
    })
    .await
    .map(|_| ())
}

#[tokio::test]
async fn kill_stops_a_running_process_and_its_children() {
    let fake = Fake::new();
    let env = fake.env("k").await;
    let sb = env.create(fake.spec("k1")).await.unwrap();
    let mut p = sb
        .exec(ExecSpec {
            program: "sh".into(),
            args: vec!["-c".into(), "sleep 60 & echo started; wait".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut buf = [0u8; 8];
    p.stdout.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"started\n");
    let t = std::time::Instant::now();
    p.control.kill();
    let exit = tokio::time::timeout(Duration::from_secs(10), p.control.wait())
        .await
        .expect("killed process ends")
        .unwrap();
    assert!(!exit.success());
    assert!(t.elapsed() < Duration::from_secs(5));
    sb.terminate().await.unwrap();
}

#[tokio::test]
async fn sandboxes_are_listed_by_tag_reattached_by_id_and_pruned() {
    let fake = Fake::new();
    let mut config = fake.config("r");
    config.keep_on_exit = true; // a server that will reattach after its restart
    let env = ModalEnvironment::start(config.clone()).await.unwrap();
    let a = env.create_modal(fake.spec("sa")).await.unwrap();
    let b = env.create_modal(fake.spec("sb")).await.unwrap();
    let all = env.list(&BTreeMap::new()).await.unwrap();
    assert_eq!(all.len(), 2);
    let only_a = env
        .list(&BTreeMap::from([("aisys.session".into(), "sa".into())]))
        .await
        .unwrap();
    assert_eq!(only_a.len(), 1);
    assert_eq!(only_a[0].id, a.id());
    let (a_id, b_id) = (a.id().to_string(), b.id().to_string());
    sh(&a, "echo before > state.txt").await;
    drop((a, b, env)); // the "server" restarts: a new bridge process

    let env = ModalEnvironment::start(config).await.unwrap();
    let a = env.attach(&a_id).await.unwrap();
    let (code, out, _) = sh(&a, "cat state.txt").await;
    assert_eq!((code, out.as_str()), (Some(0), "before\n"));
    let pruned = env.prune(&BTreeMap::new()).await.unwrap();
    assert_eq!(pruned.len(), 2, "{pruned:?}");
    assert!(env.list(&BTreeMap::new()).await.unwrap().is_empty());
    assert!(matches!(env.attach(&b_id).await, Err(EnvError::Terminated)));
}

#[tokio::test]
async fn the_default_image_installs_each_agent_at_its_pinned_version() {
    use aisys::runtime::agent::{PINNED_CLAUDE_CODE, PINNED_OPENCODE};
    let fake = Fake::new();
    let env = fake.env("i").await;
    let sb = env.create_modal(fake.spec("i1")).await.unwrap();
    let layers = fake.record(sb.id())["image"].clone();
    let install = layers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str()?.strip_prefix("run:npm install -g"))
        .collect::<Vec<_>>();
    assert_eq!(install.len(), 1, "{layers}");
    for pkg in [
        format!("@anthropic-ai/claude-code@{PINNED_CLAUDE_CODE}"),
        format!("opencode-ai@{PINNED_OPENCODE}"),
    ] {
        assert!(
            install[0].split_whitespace().any(|w| w == pkg),
            "{pkg} missing from {}",
            install[0]
        );
    }
}

#[tokio::test]
async fn sandboxes_end_with_the_process_that_created_them() {
    // What Ctrl-C or a crash of `aisys run` amounts to for the bridge: its stdin closes.
    let fake = Fake::new();
    let env = fake.env("c").await;
    let sb = env.create_modal(fake.spec("c1")).await.unwrap();
    let id = sb.id().to_string();
    drop((sb, env));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.record(&id)["terminated"] != true {
        assert!(std::time::Instant::now() < deadline, "sandbox left running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sandbox_says_whether_it_still_runs() {
    let fake = Fake::new();
    let env = fake.env("h").await;
    let sb = env.create_modal(fake.spec("h1")).await.unwrap();
    assert_eq!(sb.health_check(), Some(Duration::from_secs(30)));
    assert!(sb.alive().await.unwrap(), "a new sandbox runs");
    // Modal ends it on its own (its record says so; its processes are gone).
    let path = fake.path(&format!("state/sandboxes/{}.json", sb.id()));
    let mut rec = fake.record(sb.id());
    rec["terminated"] = true.into();
    std::fs::write(path.with_extension("tmp"), rec.to_string()).unwrap();
    std::fs::rename(path.with_extension("tmp"), &path).unwrap();
    assert!(!sb.alive().await.unwrap(), "an ended sandbox does not");
    // Gone from Modal's records altogether: not running either, not an error.
    std::fs::remove_file(&path).unwrap();
    assert!(!sb.alive().await.unwrap());
}

#[tokio::test]
async fn the_home_volume_outlives_the_sandbox() {
    let fake = Fake::new();
    let env = fake.env("h").await;
    let sb = env.create_modal(fake.spec("resume-me")).await.unwrap();
    sh(
        &sb,
        "mkdir -p $HOME/.claude && echo transcript > $HOME/.claude/t.jsonl",
    )
    .await;
    sb.terminate().await.unwrap();
    let again = env.create_modal(fake.spec("resume-me")).await.unwrap();
    let (_, out, _) = sh(&again, "cat $HOME/.claude/t.jsonl").await;
    assert_eq!(out, "transcript\n");
    again.terminate().await.unwrap();
}

async fn start_err(config: ModalConfig) -> String {
    match ModalEnvironment::start(config).await {
        Ok(_) => panic!("the bridge started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn no_python_says_what_to_install() {
    let fake = Fake::new();
    let mut c = fake.config("e");
    c.python = Some(Path::new("/nonexistent/python3").into());
    let msg = start_err(c).await;
    assert!(msg.contains("needs Python 3"), "{msg}");
    assert!(msg.contains("pip install 'modal>=1.6,<2'"), "{msg}");
}

#[tokio::test]
async fn no_modal_package_says_what_to_install() {
    let fake = Fake::new();
    let mut c = fake.config("e");
    c.bridge_env.insert("PYTHONPATH".into(), String::new());
    c.bridge_env.insert("PYTHONNOUSERSITE".into(), "1".into());
    let msg = start_err(c).await;
    assert!(msg.contains("pip install 'modal>=1.6,<2'"), "{msg}");
    assert!(msg.contains("modal token new"), "{msg}");
}

#[tokio::test]
async fn no_credentials_says_how_to_authenticate() {
    let fake = Fake::new();
    let mut c = fake.config("e");
    c.bridge_env.insert("MODAL_TOKEN_ID".into(), String::new());
    let msg = start_err(c).await;
    assert!(msg.contains("no Modal credentials"), "{msg}");
    assert!(
        msg.contains("modal token new") && msg.contains("MODAL_TOKEN_ID"),
        "{msg}"
    );
}

#[tokio::test]
async fn modal_errors_carry_their_class_and_a_fix() {
    let fake = Fake::new();
    let mut c = fake.config("e");
    c.bridge_env
        .insert("FAKE_MODAL_FAIL_CREATE".into(), "AuthError".into());
    let env = ModalEnvironment::start(c).await.unwrap();
    let err = env.create(fake.spec("e1")).await.err().unwrap();
    assert!(matches!(&err, EnvError::Modal { class, .. } if class == "AuthError"));
    assert!(err.to_string().contains("modal token new"), "{err}");

    let mut c = fake.config("t");
    c.bridge_env
        .insert("FAKE_MODAL_FAIL_EXEC".into(), "SandboxTimeoutError".into());
    let env = ModalEnvironment::start(c).await.unwrap();
    // The upload is an exec too: creating fails, and the sandbox is not left behind.
    let err = env.create(fake.spec("t1")).await.err().unwrap();
    assert!(
        matches!(&err, EnvError::Modal { class, .. } if class == "SandboxTimeoutError"),
        "{err}"
    );
    assert!(err.to_string().contains("time limit"), "{err}");
    assert!(env.list(&BTreeMap::new()).await.unwrap().is_empty());
}
