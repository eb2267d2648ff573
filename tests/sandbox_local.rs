//! The local bubblewrap sandbox, tested with real `bwrap` and plain shell commands: what the
//! sandbox can see, write and keep running.

mod common;

use common::sh;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aisys::runtime::env::{
    BwrapEnvironment, Egress, ExecSpec, ExecutionEnvironment, HostEnvironment, Network, Sandbox,
    SandboxSpec,
};

async fn bwrap() -> BwrapEnvironment {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    BwrapEnvironment::detect(data.path())
        .await
        .unwrap_or_else(|e| {
            panic!("the local sandbox tests need bubblewrap: {e}\n(run scripts/install-test-deps)")
        })
}

/// Test folders live under the target dir, not /tmp: inside the sandbox /tmp is a fresh tmpfs,
/// which would hide whether a write really reached the host.
fn test_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn spec(root: &Path) -> SandboxSpec {
    SandboxSpec {
        workspace: root.join("ws"),
        home: root.join("home"),
        env: BTreeMap::from([("VISIBLE".to_string(), "yes".to_string())]),
        network: Network::Host,
        ..Default::default()
    }
}

/// A bubblewrap sandbox below `root` that reaches only `egress`, through the relay inside it
/// (the aisys binary).
async fn egress_sandbox(root: &Path, egress: Vec<Egress>) -> Box<dyn Sandbox> {
    let mut spec = spec(root);
    spec.network = Network::Egress(egress);
    bwrap()
        .await
        .with_aisys_binary(env!("CARGO_BIN_EXE_aisys").into())
        .create(spec)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_workspace_is_the_only_writable_host_folder() {
    let tmp = test_dir();
    let outside = tmp.path().join("outside.txt");
    let sb = bwrap().await.create(spec(tmp.path())).await.unwrap();
    let ws = sb.workdir().to_string();
    let (code, _, _) = sh(&*sb, "echo hi > inside.txt && pwd").await;
    assert_eq!(code, Some(0));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("ws/inside.txt")).unwrap(),
        "hi\n"
    );
    // What matters is the host: when the test folder lies under /tmp (as in a CI clone), the
    // workspace's parent folders exist on the sandbox's own /tmp, and the write lands there.
    let (_, _, err) = sh(&*sb, &format!("echo x > {}", outside.display())).await;
    assert!(
        !outside.exists(),
        "writing outside the workspace must not reach the host: {err}"
    );
    for path in ["/usr/evil", "/etc/evil"] {
        let (code, _, _) = sh(&*sb, &format!("echo x > {path}")).await;
        assert_ne!(code, Some(0), "{path} must be read-only");
    }
    let (_, out, _) = sh(&*sb, "pwd").await;
    assert_eq!(out.trim(), ws);
}

#[tokio::test]
async fn host_home_secrets_and_environment_are_invisible() {
    let tmp = test_dir();
    // A secret in a folder next to the workspace, standing in for the host's $HOME.
    let secret_dir = tmp.path().join("host-home/.ssh");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("id_ed25519"), "SECRET").unwrap();
    let sb = bwrap().await.create(spec(tmp.path())).await.unwrap();
    let (_, out, _) = sh(
        &*sb,
        &format!(
            "cat {}/id_ed25519; cat /root/.bashrc; ls /root; ls /home; echo HOME=$HOME; echo VISIBLE=$VISIBLE; echo PATHVAR=$CARGO; id -u",
            secret_dir.display()
        ),
    )
    .await;
    assert!(!out.contains("SECRET"), "{out}");
    assert!(out.contains("HOME=/home/agent"), "{out}");
    assert!(
        out.contains("VISIBLE=yes"),
        "allowlisted variables pass: {out}"
    );
    assert!(out.contains("PATHVAR=\n"), "host variables do not: {out}");
    assert!(out.trim_end().ends_with("1000"), "runs unprivileged: {out}");
}

#[tokio::test]
async fn the_check_that_bubblewrap_works_is_remembered_in_the_data_folder_only() {
    let data = test_dir();
    let in_tmp = || -> Vec<_> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("aisys-bwrap-ok")
            })
            .map(|e| e.path())
            .collect()
    };
    for stale in in_tmp() {
        let _ = std::fs::remove_file(stale);
    }
    BwrapEnvironment::detect(data.path()).await.unwrap();
    let markers: Vec<_> = std::fs::read_dir(data.path().join("sandbox"))
        .expect("the marker's folder is in the data folder")
        .collect();
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert!(
        in_tmp().is_empty(),
        "nothing in the shared /tmp: {:?}",
        in_tmp()
    );
}

#[tokio::test]
async fn the_git_folder_is_read_only_and_cannot_be_swapped() {
    let tmp = test_dir();
    let hooks = tmp.path().join("ws/.git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(tmp.path().join("ws/.git/config"), "[core]\n").unwrap();
    let sb = bwrap().await.create(spec(tmp.path())).await.unwrap();
    for attempt in [
        "echo 'curl evil' > .git/hooks/pre-commit",
        "echo '[alias]' >> .git/config",
        "echo ../evil > .git/commondir",
        "mv .git .git_old",
        "rm -rf .git",
    ] {
        let (code, _, _) = sh(&*sb, attempt).await;
        assert_ne!(code, Some(0), "{attempt} must fail");
    }
    assert!(!hooks.join("pre-commit").exists());
    assert!(!tmp.path().join("ws/.git/commondir").exists());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("ws/.git/config")).unwrap(),
        "[core]\n"
    );
    // The rest of the workspace stays writable.
    let (code, _, err) = sh(&*sb, "echo x > file.txt").await;
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test]
async fn terminate_kills_every_process_of_the_sandbox() {
    let tmp = test_dir();
    let sb = bwrap().await.create(spec(tmp.path())).await.unwrap();
    let marker = "aisys-test-sleeper-7731";
    let mut p = sb
        .exec(ExecSpec {
            program: "/bin/bash".into(),
            args: vec![
                "-c".into(),
                format!("(exec -a {marker} sleep 300) & (exec -a {marker} sleep 300) & wait"),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(count_processes(marker) >= 2, "the sleepers started");
    sb.terminate().await.unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), p.control.wait())
        .await
        .expect("the process ends after terminate")
        .unwrap();
    assert!(!exit.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        count_processes(marker),
        0,
        "no process of the sandbox survives"
    );
    assert!(
        sb.exec(ExecSpec::default()).await.is_err(),
        "a terminated sandbox runs nothing"
    );
}

fn count_processes(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test]
async fn files_move_in_and_out_but_not_outside() {
    let tmp = test_dir();
    let sb = bwrap().await.create(spec(tmp.path())).await.unwrap();
    sb.write_file("/home/agent/.config/x.json", b"{}")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("home/.config/x.json")).unwrap(),
        "{}"
    );
    sb.write_file("notes.txt", b"n").await.unwrap();
    assert_eq!(sb.read_file("notes.txt").await.unwrap(), b"n");
    for bad in ["/etc/passwd", "/home/agent/../../etc/x", "../escape"] {
        assert!(sb.write_file(bad, b"x").await.is_err(), "{bad}");
    }
    let (_, out, _) = sh(&*sb, "cat /home/agent/.config/x.json").await;
    assert_eq!(out, "{}");
}

#[tokio::test]
async fn links_the_agent_plants_do_not_lead_host_side_reads_and_writes_outside() {
    let tmp = test_dir();
    let victim = tmp.path().join("host-file.txt");
    std::fs::write(&victim, "the user's own file").unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let sb = bwrap().await.create(spec(tmp.path())).await.unwrap();
    // Inside, the targets do not even exist: the links only mean something on the host.
    let plant = format!(
        "mkdir -p ~/.config && ln -s {} ~/.config/x.json && ln -s {} ~/linked && ln -s {} ws-link",
        victim.display(),
        outside.display(),
        victim.display()
    );
    let (code, _, err) = sh(&*sb, &plant).await;
    assert_eq!(code, Some(0), "{err}");

    // A link at the file itself is replaced by the file.
    sb.write_file("/home/agent/.config/x.json", b"{}")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the user's own file"
    );
    let cfg = tmp.path().join("home/.config/x.json");
    assert!(std::fs::symlink_metadata(&cfg).unwrap().is_file());
    // A linked folder on the way is refused, naming it.
    let err = sb
        .write_file("/home/agent/linked/new.txt", b"x")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linked") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(!outside.join("new.txt").exists());
    // Reads do not follow links either.
    assert!(sb.read_file("ws-link").await.is_err());
    assert!(sb.read_file("/home/agent/linked/x").await.is_err());
}

#[tokio::test]
async fn host_backend_runs_without_isolation_in_the_workspace() {
    let tmp = test_dir();
    let sb = HostEnvironment.create(spec(tmp.path())).await.unwrap();
    let (code, out, _) = sh(&*sb, "pwd; echo $VISIBLE").await;
    assert_eq!(code, Some(0));
    let ws = tmp.path().join("ws").canonicalize().unwrap();
    assert_eq!(out, format!("{}\nyes\n", ws.display()));
}

/// A loopback listener that counts the connections it accepts, and keeps them open.
struct Listener {
    addr: std::net::SocketAddr,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Listener {
    fn start() -> Listener {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut open = Vec::new();
            for conn in l.incoming() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                open.push(conn);
            }
        });
        Listener { addr, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_limited_network_reaches_only_the_allowed_destinations() {
    let (direct, proxied, forbidden) = (Listener::start(), Listener::start(), Listener::start());
    let tmp = test_dir();
    let sb = egress_sandbox(
        tmp.path(),
        vec![
            Egress::Loopback(direct.addr),
            Egress::Remote {
                host: "127.0.0.1".into(),
                port: proxied.addr.port(),
            },
        ],
    )
    .await;
    let connect = |port: u16| {
        format!("(exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected-{port}) 2>/dev/null; ")
    };
    // Through the proxy, by hand: CONNECT host:port, then the proxy's status line.
    let via_proxy = |port: u16| {
        format!(
            "(exec 3<>/dev/tcp/127.0.0.1/${{HTTPS_PROXY##*:}}; printf 'CONNECT 127.0.0.1:{port} HTTP/1.1\\r\\n\\r\\n' >&3; head -c 12 <&3; echo) 2>&1 | sed 's/^/proxy-{port}: /'; "
        )
    };
    let script = [
        connect(direct.addr.port()),
        connect(forbidden.addr.port()),
        via_proxy(proxied.addr.port()),
        via_proxy(forbidden.addr.port()),
    ]
    .concat();
    // /dev/tcp is bash's.
    sb.write_file("probe.sh", script.as_bytes()).await.unwrap();
    let (code, out, err) = sh(&*sb, "bash probe.sh").await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains(&format!("connected-{}", direct.addr.port())),
        "{out}"
    );
    assert!(
        !out.contains(&format!("connected-{}", forbidden.addr.port())),
        "{out}"
    );
    assert!(
        out.contains(&format!("proxy-{}: HTTP/1.1 200", proxied.addr.port())),
        "{out}"
    );
    assert!(
        out.contains(&format!("proxy-{}: HTTP/1.1 403", forbidden.addr.port())),
        "{out}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(forbidden.accepted(), 0, "{out}");
    assert_eq!((direct.accepted(), proxied.accepted()), (1, 1), "{out}");
}

#[tokio::test]
async fn without_a_network_nothing_of_the_host_is_reachable() {
    let listener = Listener::start();
    let tmp = test_dir();
    let mut spec = spec(tmp.path());
    spec.network = Network::None;
    let sb = bwrap().await.create(spec).await.unwrap();
    let port = listener.addr.port();
    let script = format!("(exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected) 2>&1; echo done");
    sb.write_file("probe.sh", script.as_bytes()).await.unwrap();
    let (_, out, _) = sh(&*sb, "bash probe.sh").await;
    assert!(out.contains("done") && !out.contains("connected"), "{out}");
    assert_eq!(listener.accepted(), 0);
}

#[tokio::test]
async fn a_sandbox_cannot_flood_its_destination_with_connections() {
    let model = Listener::start();
    let tmp = test_dir();
    let sb = egress_sandbox(tmp.path(), vec![Egress::Loopback(model.addr)]).await;
    // 600 connections held open at once, well over the relay's limit of 256.
    let script = format!(
        "ulimit -n 2048; for i in $(seq 600); do exec {{fd}}<>/dev/tcp/127.0.0.1/{}; done; sleep 1; echo held",
        model.addr.port()
    );
    sb.write_file("flood.sh", script.as_bytes()).await.unwrap();
    let (_, out, err) = sh(&*sb, "bash flood.sh").await;
    assert!(out.contains("held"), "{out}\n{err}");
    let accepted = model.accepted();
    assert!(
        (1..=256).contains(&accepted),
        "{accepted} connections reached the host's endpoint"
    );
}
