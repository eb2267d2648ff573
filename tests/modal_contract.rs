//! The bridge's contract with the real `modal` package from PyPI (installed into
//! .test-deps/modal-venv by scripts/install-test-deps): every function, method and parameter the
//! bridge uses must exist, with `.aio` where the bridge awaits it. Run after a Modal upgrade to
//! know whether the bridge still fits; no network or Modal account is needed.

mod common;

use common::run_ok;
use std::path::PathBuf;
use std::process::Command;

/// What `bridge.py` calls: (object path, parameters it passes by name, called through `.aio`).
const CALLS: &[(&str, &[&str], bool)] = &[
    ("modal.App.lookup", &["name", "create_if_missing"], true),
    (
        "modal.Sandbox.create",
        &[
            "app",
            "image",
            "timeout",
            "idle_timeout",
            "workdir",
            "tags",
            "env",
            "verbose",
            "cpu",
            "memory",
            "secrets",
            "volumes",
        ],
        true,
    ),
    ("modal.Sandbox.from_id", &["sandbox_id"], true),
    ("modal.Sandbox.list", &["app_id", "tags"], true),
    ("modal.Sandbox.exec", &["workdir", "env", "text"], true),
    ("modal.Sandbox.poll", &[], true),
    ("modal.Sandbox.get_tags", &[], true),
    ("modal.Sandbox.terminate", &[], true),
    ("modal.Image.debian_slim", &[], false),
    ("modal.Image.from_registry", &["tag"], false),
    ("modal.Image.apt_install", &[], false),
    ("modal.Image.run_commands", &[], false),
    ("modal.Secret.from_dict", &["env_dict"], false),
    (
        "modal.Volume.from_name",
        &["name", "create_if_missing"],
        false,
    ),
    ("modal.container_process.ContainerProcess.wait", &[], true),
    ("modal.io_streams.StreamWriter.write", &["data"], false),
    ("modal.io_streams.StreamWriter.write_eof", &[], false),
    ("modal.io_streams.StreamWriter.drain", &[], true),
    ("modal.io_streams.StreamReader.read", &[], true),
    ("modal.config.config.get", &["key"], false),
];

/// Attributes the bridge reads or names.
const ATTRIBUTES: &[&str] = &[
    "modal.enable_output",
    "modal.Sandbox.object_id",
    "modal.App.app_id",
    "modal.container_process.ContainerProcess.stdin",
    "modal.container_process.ContainerProcess.stdout",
    "modal.container_process.ContainerProcess.stderr",
    "modal.io_streams.StreamReader.__aiter__",
    "modal.exception.Error",
    "modal.exception.NotFoundError",
    "modal.exception.AuthError",
    "modal.exception.SandboxTimeoutError",
    "modal.exception.SandboxTerminatedError",
];

const CHECKER: &str = r#"
import importlib, inspect, json, sys
spec = json.loads(sys.argv[1])
import modal
problems = []
def resolve(path):
    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for i, p in enumerate(parts[1:], 1):
        try:
            obj = getattr(obj, p)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj
for path, params, aio in spec["calls"]:
    try:
        fn = resolve(path)
    except Exception as e:
        problems.append(f"{path}: missing ({e})"); continue
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        problems.append(f"{path}: no signature ({e})"); continue
    names = sig.parameters
    var_kw = any(p.kind == p.VAR_KEYWORD for p in names.values())
    for p in params:
        if p not in names and not var_kw:
            problems.append(f"{path}: no parameter {p!r} in {sig}")
    if aio and not hasattr(fn, "aio"):
        problems.append(f"{path}: no .aio variant")
for path in spec["attributes"]:
    try:
        resolve(path)
    except Exception as e:
        problems.append(f"{path}: missing ({e})")
v = tuple(int(x) for x in modal.__version__.split(".")[:2])
if not ((1, 6) <= v < (2, 0)):
    problems.append(f"modal {modal.__version__} is outside >=1.6,<2")
print(json.dumps({"version": modal.__version__, "problems": problems}))
"#;

fn venv_python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".test-deps/modal-venv/bin/python");
    assert!(
        py.exists(),
        "the Modal contract test needs the real `modal` package in {}: run scripts/install-test-deps",
        py.display()
    );
    py
}

#[test]
fn every_sdk_call_of_the_bridge_exists_in_the_installed_modal() {
    let spec = serde_json::json!({ "calls": CALLS, "attributes": ATTRIBUTES });
    let out = run_ok(
        Command::new(venv_python())
            .args(["-c", CHECKER, &spec.to_string()])
            .env_remove("PYTHONPATH"),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems.is_empty(),
        "modal {}: the bridge uses what this version lacks:\n{}",
        report["version"],
        serde_json::to_string_pretty(problems).unwrap()
    );
}

#[test]
fn the_contract_names_every_sdk_call_the_bridge_makes() {
    // A call added to the bridge but not to CALLS would escape the check above.
    let src = include_str!("../src/runtime/env/modal/bridge.py");
    for needle in [
        "App.lookup",
        "Sandbox.create",
        "Sandbox.from_id",
        "Sandbox.list",
        "Image.from_registry",
        "Image.debian_slim",
        "Secret.from_dict",
        "Volume.from_name",
    ] {
        assert!(
            CALLS.iter().any(|(p, _, _)| p.ends_with(needle)),
            "{needle} is missing from CALLS"
        );
        assert!(src.contains(needle), "{needle} is no longer in bridge.py");
    }
    let methods = [
        ".exec.aio(",
        ".poll.aio(",
        ".get_tags.aio(",
        ".terminate.aio(",
        ".wait.aio(",
        ".drain.aio(",
        ".read.aio(",
    ];
    for m in methods
        .iter()
        .chain(&[".apt_install(", ".run_commands(", ".write_eof("])
    {
        assert!(src.contains(m), "{m} is no longer in bridge.py");
    }
    let aio_calls = src.matches(".aio(").count();
    let known = [
        "App.lookup.aio(",
        "Sandbox.create.aio(",
        "Sandbox.from_id.aio(",
        "Sandbox.list.aio(",
    ]
    .iter()
    .chain(methods.iter())
    .map(|m| src.matches(m).count())
    .sum::<usize>();
    assert_eq!(
        aio_calls, known,
        "bridge.py awaits an SDK call this contract does not list"
    );
}
