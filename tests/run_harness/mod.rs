//! `aisys run` as a user starts it, against the scripted mock model: a fresh workspace and data
//! folder per run, only the variables a run needs, and a time limit so a stuck run fails the test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aisys::types::StreamEvent;

use crate::mock_api::{MockAnthropic, claude_bin, opencode_bin};

/// Longest a scripted run may take before the test fails instead of hanging.
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

pub struct Run {
    pub dir: tempfile::TempDir,
    pub workspace: PathBuf,
}

impl Run {
    pub fn new() -> Run {
        // Not under /tmp: inside the sandbox /tmp is a fresh tmpfs.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let workspace = dir.path().join("ws");
        std::fs::create_dir_all(&workspace).unwrap();
        let workspace = workspace.canonicalize().unwrap();
        Run { dir, workspace }
    }

    pub fn command(&self, mock: &MockAnthropic, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisys"));
        cmd.arg("run")
            .args(args)
            .arg("--workspace")
            .arg(&self.workspace)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("AISYS_CONFIG_DIR", self.dir.path().join("cfg"))
            .env("AISYS_DATA_DIR", self.dir.path().join("data"))
            .env("AISYS_CLAUDE_BIN", claude_bin())
            .env("AISYS_OPENCODE_BIN", opencode_bin())
            .env("ANTHROPIC_BASE_URL", mock.base_url())
            .env("ANTHROPIC_API_KEY", "test-key")
            .env("DISABLE_TELEMETRY", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("CLAUDE_CODE_MAX_RETRIES", "0")
            .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, mock: &MockAnthropic, args: &[&str]) -> Output {
        output_within(&mut self.command(mock, args), RUN_LIMIT)
    }
}

/// Runs `cmd` to its end with stdout and stderr captured; it is killed after `limit`, so a hang
/// fails the test instead of stalling the suite.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(limit);
        unsafe { libc::kill(id as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().unwrap();
    drop(killer);
    out
}

pub fn events(out: &Output) -> Vec<StreamEvent> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a StreamEvent: {l}: {e}")))
        .collect()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The names of the tools called, in order.
pub fn tool_calls(ev: &[StreamEvent]) -> Vec<&str> {
    ev.iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

pub fn tool_results(ev: &[StreamEvent]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e {
            StreamEvent::ToolResult { content, .. } => {
                Some(serde_json::to_string(content).unwrap())
            }
            _ => None,
        })
        .collect()
}
