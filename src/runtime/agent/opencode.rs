//! OpenCode: `opencode run --format json`, one process per turn.
//!
//! The prompt is the last argument, after `--`, so it can never be read as a flag; `--session`
//! continues a conversation. The model API's address goes into the `opencode.json` that aisys
//! writes into the agent's home (`provider.anthropic.options.baseURL`). OpenCode has no stdin
//! protocol: it asks no permission questions on a pipe, so aisys's policy becomes its
//! `--auto` switch and `permission` rules in that config.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{AgentAdapter, AgentOptions, flag};
use crate::converters::OpencodeRunReader;
use crate::runtime::env::{ExecSpec, ExitInfo};
use crate::types::{AgentKind, PermissionDecision, StreamEvent, TokenUsage, TurnStatus};

/// The config file OpenCode reads from its home, relative to the home.
const CONFIG_PATH: &str = ".config/opencode/opencode.json";

/// The OpenCode adapter.
pub struct OpenCode {
    binary: PathBuf,
    reader: OpencodeRunReader,
    /// Totals of the turn, for the `result` OpenCode does not print itself.
    usage: TokenUsage,
    cost: f64,
    steps: u32,
    session_id: Option<String>,
    last_text: Option<String>,
    errors: Vec<String>,
}

impl OpenCode {
    pub fn new(binary: PathBuf) -> OpenCode {
        OpenCode {
            binary,
            reader: OpencodeRunReader::new(),
            usage: TokenUsage::default(),
            cost: 0.0,
            steps: 0,
            session_id: None,
            last_text: None,
            errors: Vec::new(),
        }
    }
}

/// An MCP server in Claude Code's shape, in OpenCode's (`{"type": "local", "command": [...],
/// "environment"}` or `{"type": "remote", "url", "headers"}`).
fn mcp_server(server: &Value) -> Value {
    let kind = server["type"].as_str().unwrap_or("stdio");
    if kind == "http" || kind == "sse" || server.get("url").is_some() {
        let mut out = json!({"type": "remote", "enabled": true, "url": server["url"]});
        if let Some(h) = server.get("headers").filter(|h| h.is_object()) {
            out["headers"] = h.clone();
        }
        return out;
    }
    let mut command = vec![server["command"].clone()];
    if let Some(args) = server["args"].as_array() {
        command.extend(args.iter().cloned());
    }
    let mut out = json!({"type": "local", "enabled": true, "command": command});
    if let Some(e) = server.get("env").filter(|e| e.is_object()) {
        out["environment"] = e.clone();
    }
    out
}

/// OpenCode names models `provider/model`; a bare Anthropic model name gets the prefix.
fn model_id(model: &str) -> String {
    if model.contains('/') {
        model.to_string()
    } else {
        format!("anthropic/{model}")
    }
}

impl AgentAdapter for OpenCode {
    fn kind(&self) -> AgentKind {
        AgentKind::Opencode
    }

    fn binary(&self) -> &Path {
        &self.binary
    }

    fn home_files(&self, opts: &AgentOptions) -> Vec<(String, Vec<u8>)> {
        let mut config = json!({"$schema": "https://opencode.ai/config.json", "autoupdate": false});
        if let Some(url) = &opts.base_url {
            let url = url.trim_end_matches('/');
            let url = if url.ends_with("/v1") {
                url.to_string()
            } else {
                format!("{url}/v1")
            };
            config["provider"] = json!({"anthropic": {"options": {"baseURL": url}}});
        }
        if let Some(m) = &opts.model {
            config["model"] = Value::String(model_id(m));
        }
        if !opts.disallowed_tools.is_empty() {
            let rules: serde_json::Map<String, Value> = opts
                .disallowed_tools
                .iter()
                .map(|t| (t.to_lowercase(), Value::String("deny".into())))
                .collect();
            config["permission"] = Value::Object(rules);
        }
        if !opts.instructions.is_empty() {
            config["instructions"] = json!(opts.instructions);
        }
        if !opts.mcp_servers.is_empty() {
            let servers: serde_json::Map<String, Value> = opts
                .mcp_servers
                .iter()
                .map(|(name, server)| (name.clone(), mcp_server(server)))
                .collect();
            config["mcp"] = Value::Object(servers);
        }
        let text = serde_json::to_vec_pretty(&config).unwrap_or_default();
        vec![(CONFIG_PATH.to_string(), text)]
    }

    fn env(&self, _opts: &AgentOptions, home: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("OPENCODE_DISABLE_AUTOUPDATE".into(), "1".into());
        env.insert("OPENCODE_CONFIG".into(), format!("{home}/{CONFIG_PATH}"));
        env.insert("XDG_CONFIG_HOME".into(), format!("{home}/.config"));
        env.insert("XDG_DATA_HOME".into(), format!("{home}/.local/share"));
        env.insert("XDG_CACHE_HOME".into(), format!("{home}/.cache"));
        env.insert("XDG_STATE_HOME".into(), format!("{home}/.local/state"));
        env
    }

    fn command(&self, prompt: &str, opts: &AgentOptions, _home: &str) -> ExecSpec {
        let mut args = vec![
            "run".to_string(),
            "--format=json".into(),
            "--thinking".into(),
        ];
        if let Some(m) = &opts.model {
            args.push(flag("model", &model_id(m)));
        }
        if let Some(id) = &opts.resume {
            args.push(flag("session", id));
        }
        // Inside the sandbox the sandbox is the boundary; narrowing rules live in the config.
        let plan = opts.permission_mode == Some(crate::types::PermissionMode::Plan);
        if opts.allowed_tools.is_empty() && !plan {
            args.push("--auto".into());
        }
        if plan {
            args.push(flag("agent", "plan"));
        }
        args.push("--".into());
        args.push(prompt.to_string());
        ExecSpec {
            program: self.binary.to_string_lossy().into_owned(),
            args,
            env: BTreeMap::new(),
            cwd: None,
            ..ExecSpec::default()
        }
    }

    fn stdin_lines(&self, _prompt: &str) -> Vec<String> {
        Vec::new()
    }

    fn keeps_stdin_open(&self) -> bool {
        false
    }

    fn read_line(&mut self, line: &str) -> Vec<StreamEvent> {
        let events = self.reader.read_line(line);
        for ev in &events {
            match ev {
                StreamEvent::Usage {
                    usage, cost_usd, ..
                } => {
                    self.steps += 1;
                    self.usage.add(usage);
                    self.cost += cost_usd.unwrap_or(0.0);
                }
                StreamEvent::SessionStarted {
                    agent_session_id: Some(id),
                    ..
                } => self.session_id = Some(id.clone()),
                StreamEvent::Text {
                    text,
                    parent_tool_use_id: None,
                    ..
                } => self.last_text = Some(text.clone()),
                StreamEvent::Error { message, .. } => self.errors.push(message.clone()),
                _ => {}
            }
        }
        events
    }

    fn result_on_exit(&mut self, exit: Option<&ExitInfo>, duration_ms: u64) -> Option<StreamEvent> {
        let ok = exit.is_some_and(|e| e.success()) && self.errors.is_empty();
        let error = (!ok).then(|| match (self.errors.last(), exit) {
            (Some(e), _) => e.clone(),
            (None, Some(ExitInfo { code: Some(c), .. })) => {
                format!("opencode exited with status {c}")
            }
            _ => "opencode was killed".to_string(),
        });
        Some(StreamEvent::Result {
            status: if ok {
                TurnStatus::Success
            } else {
                TurnStatus::Error
            },
            duration_ms: Some(duration_ms),
            num_turns: Some(self.steps),
            cost_usd: Some(self.cost),
            usage: Some(self.usage),
            text: self.last_text.clone(),
            error,
            agent_session_id: self.session_id.clone(),
        })
    }

    fn permission_reply(
        &self,
        _request_id: &str,
        _decision: PermissionDecision,
        _input: &Value,
        _message: Option<&str>,
    ) -> Option<String> {
        None
    }

    fn interrupt_line(&mut self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_follows_a_double_dash() {
        let a = OpenCode::new("/bin/opencode".into());
        let spec = a.command("--help me", &AgentOptions::default(), "/home/agent");
        let n = spec.args.len();
        assert_eq!(spec.args[n - 2], "--");
        assert_eq!(spec.args[n - 1], "--help me");
    }

    #[test]
    fn config_points_the_provider_at_the_base_url() {
        let a = OpenCode::new("/bin/opencode".into());
        let opts = AgentOptions {
            base_url: Some("http://127.0.0.1:9/".into()),
            model: Some("claude-sonnet-4-5".into()),
            disallowed_tools: vec!["Bash".into()],
            ..Default::default()
        };
        let files = a.home_files(&opts);
        let v: Value = serde_json::from_slice(&files[0].1).unwrap();
        assert_eq!(
            v["provider"]["anthropic"]["options"]["baseURL"],
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(v["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(v["permission"]["bash"], "deny");
    }
}
