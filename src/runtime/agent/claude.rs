//! Claude Code: `claude -p --input-format stream-json --output-format stream-json --verbose`.
//!
//! The user message goes in as a stream-json line; stdin stays open for the control protocol
//! (Claude Code in `-p` mode waits on an open stdin, so it is never left idle without
//! `--input-format stream-json`). Permission prompts arrive through `--permission-prompt-tool
//! stdio` as `control_request` lines with subtype `can_use_tool`, and are answered with a
//! `control_response`; an interrupt is a `control_request` with subtype `interrupt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{AgentAdapter, AgentOptions, flag};
use crate::converters::ClaudeStreamReader;
use crate::runtime::env::ExecSpec;
use crate::types::{AgentKind, PermissionDecision, StreamEvent};

/// What Claude Code reports for a `--resume` of a conversation it has no transcript of.
const NO_CONVERSATION: &str = "No conversation found with session ID";

/// Whether `event` is Claude Code's report that the conversation to resume does not exist.
pub(crate) fn resume_not_found(event: &StreamEvent) -> bool {
    matches!(event, StreamEvent::Result { error: Some(e), .. } if e.contains(NO_CONVERSATION))
}

/// Claude Code's global state file, relative to the home (`$CLAUDE_CONFIG_DIR/.claude.json`).
const GLOBAL_STATE: &str = ".claude/.claude.json";

/// The Claude Code adapter.
pub struct ClaudeCode {
    binary: PathBuf,
    reader: ClaudeStreamReader,
    next_request: u64,
}

impl ClaudeCode {
    pub fn new(binary: PathBuf) -> ClaudeCode {
        ClaudeCode {
            binary,
            reader: ClaudeStreamReader::new(),
            next_request: 1,
        }
    }

    fn request_id(&mut self) -> String {
        let id = format!("aisys_{}", self.next_request);
        self.next_request += 1;
        id
    }
}

impl AgentAdapter for ClaudeCode {
    fn kind(&self) -> AgentKind {
        AgentKind::ClaudeCode
    }

    fn binary(&self) -> &Path {
        &self.binary
    }

    fn home_files(&self, _opts: &AgentOptions) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }

    fn home_json(&self, opts: &AgentOptions) -> Vec<(String, serde_json::Map<String, Value>)> {
        // Claude Code keeps user-scope MCP servers in its global state file, which it also
        // writes itself; set on every turn (empty too), so a server of an earlier profile goes.
        let servers: serde_json::Map<String, Value> = opts
            .mcp_servers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut keys = serde_json::Map::new();
        keys.insert("mcpServers".into(), Value::Object(servers));
        vec![(GLOBAL_STATE.to_string(), keys)]
    }

    fn env(&self, _opts: &AgentOptions, home: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        // The binary is read-only in the sandbox: it cannot update itself.
        env.insert("DISABLE_AUTOUPDATER".into(), "1".into());
        env.insert("CLAUDE_CONFIG_DIR".into(), format!("{home}/.claude"));
        env
    }

    fn command(&self, _prompt: &str, opts: &AgentOptions, _home: &str) -> ExecSpec {
        let mut args: Vec<String> = [
            "-p",
            "--input-format=stream-json",
            "--output-format=stream-json",
            "--verbose",
            "--permission-prompt-tool=stdio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(m) = &opts.model {
            args.push(flag("model", m));
        }
        if let Some(m) = opts.permission_mode {
            args.push(flag("permission-mode", m.as_str()));
        }
        if !opts.allowed_tools.is_empty() {
            args.push(flag("allowedTools", &opts.allowed_tools.join(",")));
        }
        if !opts.disallowed_tools.is_empty() {
            args.push(flag("disallowedTools", &opts.disallowed_tools.join(",")));
        }
        if let Some(n) = opts.max_turns {
            args.push(flag("max-turns", &n.to_string()));
        }
        if let Some(p) = &opts.append_system_prompt {
            args.push(flag("append-system-prompt", p));
        }
        if let Some(id) = &opts.resume {
            args.push(flag("resume", id));
        }
        if opts.partial_messages {
            args.push("--include-partial-messages".into());
        }
        ExecSpec {
            program: self.binary.to_string_lossy().into_owned(),
            args,
            env: BTreeMap::new(),
            cwd: None,
            ..ExecSpec::default()
        }
    }

    fn stdin_lines(&self, prompt: &str) -> Vec<String> {
        vec![
            json!({"type": "control_request", "request_id": "aisys_init",
                   "request": {"subtype": "initialize", "hooks": null}})
            .to_string(),
            json!({"type": "user", "session_id": "",
                   "message": {"role": "user", "content": prompt},
                   "parent_tool_use_id": null})
            .to_string(),
        ]
    }

    fn keeps_stdin_open(&self) -> bool {
        true
    }

    fn read_line(&mut self, line: &str) -> Vec<StreamEvent> {
        // Control requests (permission prompts) and protocol lines are the reader's too.
        self.reader.read_line(line)
    }

    fn permission_reply(
        &self,
        request_id: &str,
        decision: PermissionDecision,
        input: &Value,
        message: Option<&str>,
    ) -> Option<String> {
        let response = match decision {
            PermissionDecision::Allow => json!({"behavior": "allow", "updatedInput": input}),
            PermissionDecision::Deny => json!({"behavior": "deny",
                "message": message.unwrap_or("denied by aisys")}),
        };
        Some(
            json!({"type": "control_response", "response": {
                "subtype": "success", "request_id": request_id, "response": response}})
            .to_string(),
        )
    }

    fn interrupt_line(&mut self) -> Option<String> {
        let id = self.request_id();
        Some(
            json!({"type": "control_request", "request_id": id,
                   "request": {"subtype": "interrupt"}})
            .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_use_the_equals_form() {
        let a = ClaudeCode::new("/bin/claude".into());
        let opts = AgentOptions {
            model: Some("--dangerous".into()),
            resume: Some("abc".into()),
            allowed_tools: vec!["Write".into(), "Bash(git *)".into()],
            max_turns: Some(3),
            ..Default::default()
        };
        let spec = a.command("hi", &opts, "/home/agent");
        assert!(spec.args.contains(&"--model=--dangerous".to_string()));
        assert!(spec.args.contains(&"--resume=abc".to_string()));
        assert!(
            spec.args
                .contains(&"--allowedTools=Write,Bash(git *)".to_string())
        );
        assert!(spec.args.contains(&"--max-turns=3".to_string()));
        assert!(
            !spec.args.iter().any(|a| a == "hi"),
            "the prompt goes on stdin"
        );
    }

    #[test]
    fn can_use_tool_becomes_a_permission_request_and_allow_echoes_the_input() {
        let mut a = ClaudeCode::new("/bin/claude".into());
        let line = r#"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Write","input":{"file_path":"/w/a"},"tool_use_id":"toolu_1"}}"#;
        let ev = a.read_line(line);
        assert_eq!(
            ev,
            vec![StreamEvent::PermissionRequest {
                request_id: "r1".into(),
                tool_name: "Write".into(),
                input: json!({"file_path": "/w/a"}),
                tool_use_id: Some("toolu_1".into()),
            }]
        );
        let reply = a
            .permission_reply(
                "r1",
                PermissionDecision::Allow,
                &json!({"file_path": "/w/a"}),
                None,
            )
            .unwrap();
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["response"]["request_id"], "r1");
        assert_eq!(v["response"]["response"]["behavior"], "allow");
        assert_eq!(
            v["response"]["response"]["updatedInput"]["file_path"],
            "/w/a"
        );
        let deny = a
            .permission_reply("r1", PermissionDecision::Deny, &Value::Null, Some("no"))
            .unwrap();
        assert!(deny.contains(r#""behavior":"deny""#) && deny.contains(r#""message":"no""#));
    }
}
