//! A fresh machine, as a new user meets it: `scripts/serve` (the README's first command) installs
//! bubblewrap when it may and otherwise says the one line to run; `aisys serve` installs the
//! pinned agent CLI into its data folder on first start and then runs a first turn.

mod mock_api;
mod serve_harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use aisys::types::{SessionSpec, TurnStatus};
use mock_api::{Reply, Script, When};
use serve_harness::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/serve")
}

/// Writes an executable shell script `name` into `dir`.
fn stub(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A PATH with only the stubs and the few tools the script itself uses: no bwrap, no sudo.
fn stub_path(dir: &Path) -> String {
    for tool in ["dirname", "cat", "chmod"] {
        let _ = std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), dir.join(tool));
    }
    dir.display().to_string()
}

#[test]
fn without_bubblewrap_and_without_rights_the_script_names_the_one_command_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("apt.log");
    stub(dir.path(), "id", "echo 1000");
    stub(
        dir.path(),
        "apt-get",
        &format!("echo \"$@\" >> {}", log.display()),
    );
    let out = Command::new("/bin/bash")
        .arg(script())
        .env_clear()
        .env("PATH", stub_path(dir.path()))
        .env("AISYS_BIN", "/bin/false")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("run 'sudo apt-get install -y bubblewrap'"),
        "{stderr}"
    );
    assert!(!log.exists(), "nothing is installed without the right to");
}

#[test]
fn as_root_the_script_installs_bubblewrap_then_starts_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("apt.log");
    stub(dir.path(), "id", "echo 0");
    // The stand-in apt-get records its arguments and "installs" a bwrap.
    stub(
        dir.path(),
        "apt-get",
        &format!(
            "echo \"$@\" >> {log}\ncase \"$*\" in *install*) printf '#!/bin/sh\\n' > {d}/bwrap; chmod +x {d}/bwrap;; esac",
            log = log.display(),
            d = dir.path().display()
        ),
    );
    let served = dir.path().join("served");
    stub(
        dir.path(),
        "fake-aisys",
        &format!("echo \"$@\" > {}", served.display()),
    );
    let out = Command::new("/bin/bash")
        .arg(script())
        .args(["--bind", "127.0.0.1:7999"])
        .env_clear()
        .env("PATH", stub_path(dir.path()))
        .env("AISYS_BIN", dir.path().join("fake-aisys"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let apt = std::fs::read_to_string(&log).unwrap();
    assert!(apt.contains("update"), "{apt}");
    assert!(apt.contains("install -y -qq bubblewrap"), "{apt}");
    assert_eq!(
        std::fs::read_to_string(&served).unwrap().trim(),
        "serve --bind 127.0.0.1:7999",
        "the script ends by running `aisys serve` with its arguments"
    );
}

#[test]
fn with_bubblewrap_present_nothing_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("apt.log");
    stub(dir.path(), "id", "echo 0");
    stub(dir.path(), "bwrap", "true");
    stub(
        dir.path(),
        "apt-get",
        &format!("echo \"$@\" >> {}", log.display()),
    );
    stub(dir.path(), "fake-aisys", "exit 0");
    let out = Command::new("/bin/bash")
        .arg(script())
        .env_clear()
        .env("PATH", stub_path(dir.path()))
        .env("AISYS_BIN", dir.path().join("fake-aisys"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!log.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_start_installs_the_agent_and_runs_a_first_turn() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("data");
    let mock = Script::new()
        .always(When::Always, Reply::text("hello from a fresh machine"))
        .start();
    let url = mock.base_url();
    let server = Server::start_first_time(
        &data,
        &[
            ("ANTHROPIC_BASE_URL", &url),
            ("ANTHROPIC_API_KEY", "test"),
            ("DISABLE_TELEMETRY", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ],
    );
    // From the npm registry over HTTP, without npm.
    let installed = data.join("agents/claude-code/current/claude");
    assert!(
        installed.is_file(),
        "the pinned Claude Code was installed into the data folder before listening"
    );

    let (client, mut notes) = server.client().await;
    let info = client.create(SessionSpec::default()).await.unwrap();
    client.attach(&info.id, 0).await.unwrap();
    say(&client, &info.id, "hi").await;
    let events = until_result(&mut notes, &info.id).await;
    assert_eq!(result_status(&events), Some(TurnStatus::Success));
    assert!(
        serde_json::to_string(&events)
            .unwrap()
            .contains("hello from a fresh machine")
    );
}
