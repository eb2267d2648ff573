//! A terminal program in a detached tmux pane, for tests that read its screen as a person would:
//! keys go in with `send-keys`, the screen comes back with `capture-pane`.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// How long the test waits for something to appear on screen.
pub const SCREEN_WAIT: Duration = Duration::from_secs(45);

pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("tmux is needed for this test ({e}): run scripts/install-test-deps")
        });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Pane {
    pub name: String,
}

/// Attempts at starting a tmux session: the tmux server of a test that just ended its last
/// session may still be exiting, and then the first attempt is lost.
const START_ATTEMPTS: usize = 5;

impl Pane {
    /// Runs `cmd` in a new detached tmux session of `width` x `height`.
    pub fn start(name: String, width: u16, height: u16, cmd: &str) -> Pane {
        let (w, h) = (width.to_string(), height.to_string());
        for _ in 0..START_ATTEMPTS {
            tmux(&["new-session", "-d", "-s", &name, "-x", &w, "-y", &h, cmd]);
            let alive = Command::new("tmux")
                .args(["has-session", "-t", &name])
                .status()
                .is_ok_and(|s| s.success());
            if alive {
                return Pane { name };
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("tmux session {name} did not start, or its command exited at once: {cmd}");
    }

    pub fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    pub fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + SCREEN_WAIT;
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what:?} on screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        tmux(&args);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.name]);
    }
}
