//! `aisys serve`'s clear errors before it serves, through the real binary: each names what is
//! wrong and the fix, with its documented exit status, and leaves nothing half made.

use std::path::Path;
use std::process::{Command, Output};

/// `aisys serve ARGS` on a free port, with a home and config of its own in `dir`, no agent to
/// install and the host sandbox (so that no bubblewrap is needed to get as far as the checks).
fn serve(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisys"))
        .arg("serve")
        .args(["--no-agent-install", "--sandbox", "host"])
        .args(args)
        .env("HOME", dir)
        .env("AISYS_CONFIG_DIR", dir.join("config"))
        .env_remove("AISYS_DATA_DIR")
        .env_remove("AISYS_BIND")
        .env_remove("AISYS_STORE")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_file_given_as_the_data_folder_is_said_to_be_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    let o = serve(dir.path(), &["--data-dir", f, "--bind", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "data folder {f}: it is a file, and a folder is needed"
        )),
        "{e}"
    );
    assert!(e.contains("fix: name a folder with --data-dir DIR"), "{e}");
    assert!(!e.contains("os error"), "{e}");
    // Without --no-agent-install too, as the first start of a server would be.
    let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["serve", "--data-dir", f, "--bind", "127.0.0.1:0"])
        .env("HOME", dir.path())
        .env("AISYS_CONFIG_DIR", dir.path().join("config"))
        .env("AISYS_CLAUDE_BIN", "/nonexistent/claude")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("it is a file, and a folder is needed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_store_file_that_is_no_database_is_named_with_the_fix_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let store = data.join("aisys.db");
    std::fs::write(&store, "these are notes, not a database\n").unwrap();
    let d = data.to_str().unwrap();
    let o = serve(dir.path(), &["--data-dir", d, "--bind", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    let s = store.display().to_string();
    assert!(
        e.contains(&format!("session store {s}: not an SQLite database")),
        "{e}"
    );
    assert!(e.contains("fix: restore it from a backup"), "{e}");
    assert!(e.contains(&format!("{s}.journal")), "{e}");
    // Nothing was made beside it: no token, no journal, no sandbox folder.
    let left: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["aisys.db"]);
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "these are notes, not a database\n"
    );
}

#[test]
fn a_port_in_use_is_a_usage_error_with_the_fix_as_for_docs() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let data = dir.path().join("data");
    let o = serve(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--bind",
            &format!("127.0.0.1:{port}"),
        ],
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{e}"
    );
    assert!(
        e.contains("fix: give another address with --bind ADDR:PORT"),
        "{e}"
    );
    // `aisys docs` says it the same way, with the same status.
    let o = Command::new(env!("CARGO_BIN_EXE_aisys"))
        .args(["docs", "--no-open", "--port", &port.to_string()])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("AISYS_CONFIG_DIR", dir.path().join("config"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("fix: give another port"),
        "{}",
        stderr(&o)
    );
}
