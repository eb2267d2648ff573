//! A profile's Claude Code hooks: the `[profiles.<name>.hooks]` table read into the JSON shape of
//! Claude Code's settings (`{"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command",
//! "command": "..."}]}]}`), checked so that a mistake is an error naming the place rather than a
//! hook Claude Code silently skips, and added to the user's hooks event by event.
//!
//! Must not run anything: hooks run inside the sandbox, by the agent.

use serde_json::{Map, Value};

/// The hook types Claude Code runs and the text each must have, as its settings' schema says
/// (Claude Code 2.1.197).
const HOOK_TYPES: [(&str, &str); 5] = [
    ("command", "command"),
    ("prompt", "prompt"),
    ("agent", "prompt"),
    ("http", "url"),
    ("mcp_tool", "server"),
];
/// How an unknown `type` is answered.
const TYPES: &str = "\"command\", \"prompt\", \"agent\", \"http\" or \"mcp_tool\"";

/// The table as Claude Code's `hooks` settings, or why it is not that.
pub fn from_table(table: &toml::Table) -> Result<Map<String, Value>, String> {
    let value = serde_json::to_value(table).map_err(|e| e.to_string())?;
    let Value::Object(events) = value else {
        return Err("not a table".into());
    };
    for (event, matchers) in &events {
        let Some(matchers) = matchers.as_array() else {
            return Err(format!(
                "`{event}` must be a list of matchers ([[profiles.NAME.hooks.{event}]])"
            ));
        };
        for (i, m) in matchers.iter().enumerate() {
            let at = format!("`{event}` matcher {}", i + 1);
            let Some(m) = m.as_object() else {
                return Err(format!("{at} must be a table"));
            };
            if m.get("matcher").is_some_and(|v| !v.is_string()) {
                return Err(format!("{at}: `matcher` must be text"));
            }
            let Some(hooks) = m.get("hooks").and_then(Value::as_array) else {
                return Err(format!(
                    "{at} needs `hooks`, a list such as [{{ type = \"command\", command = \"...\" }}]"
                ));
            };
            for (j, h) in hooks.iter().enumerate() {
                check_hook(h).map_err(|why| format!("{at}, hook {}: {why}", j + 1))?;
            }
        }
    }
    Ok(events)
}

fn check_hook(h: &Value) -> Result<(), String> {
    let kind = h
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("needs a `type` ({TYPES})"))?;
    let (_, key) = HOOK_TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .ok_or_else(|| format!("unknown type `{kind}` ({TYPES})"))?;
    if !h.get(*key).is_some_and(Value::is_string) {
        return Err(format!("a `{kind}` hook needs `{key}`, as text"));
    }
    if h.get("timeout")
        .is_some_and(|t| !t.as_f64().is_some_and(|t| t > 0.0))
    {
        return Err("`timeout` must be a number of seconds above 0".into());
    }
    Ok(())
}

/// Adds `more` to `hooks`: an event both have gets the matchers of both, the earlier first.
pub fn add(hooks: &mut Option<Value>, more: Map<String, Value>) {
    let into = hooks.get_or_insert_with(|| Value::Object(Map::new()));
    let Some(into) = into.as_object_mut() else {
        *hooks = Some(Value::Object(more));
        return;
    };
    for (event, matchers) in more {
        match into.get_mut(&event).and_then(Value::as_array_mut) {
            Some(list) => list.extend(matchers.as_array().cloned().unwrap_or_default()),
            None => {
                into.insert(event, matchers);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn a_table_reads_as_claude_codes_settings() {
        let t = table(
            r#"
[[PreToolUse]]
matcher = "Bash"
hooks = [{ type = "command", command = "./check.sh", timeout = 30 }]
"#,
        );
        let hooks = from_table(&t).unwrap();
        assert_eq!(
            Value::Object(hooks),
            json!({"PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "command", "command": "./check.sh", "timeout": 30}]}]})
        );
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        for (text, says) in [
            ("PreToolUse = 5", "`PreToolUse` must be a list of matchers"),
            (
                "[[Stop]]\nmatcher = \"x\"",
                "`Stop` matcher 1 needs `hooks`",
            ),
            (
                "[[Stop]]\nhooks = [{ type = \"command\" }]",
                "`Stop` matcher 1, hook 1: a `command` hook needs `command`",
            ),
            (
                "[[Stop]]\nhooks = [{ type = \"shell\", command = \"x\" }]",
                "unknown type `shell`",
            ),
            (
                "[[Stop]]\nhooks = [{ command = \"x\" }]",
                "hook 1: needs a `type`",
            ),
            (
                "[[Stop]]\nmatcher = 3\nhooks = []",
                "`matcher` must be text",
            ),
            (
                "[[Stop]]\nhooks = [{ type = \"http\", command = \"x\" }]",
                "a `http` hook needs `url`",
            ),
            (
                "[[Stop]]\nhooks = [{ type = \"command\", command = \"x\", timeout = 0 }]",
                "`timeout` must be a number of seconds above 0",
            ),
        ] {
            let err = from_table(&table(text)).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn hooks_of_one_event_from_both_are_kept_in_order() {
        let mut hooks = Some(json!({"Stop": [{"hooks": [{"type": "command", "command": "a"}]}]}));
        let more = json!({
            "Stop": [{"hooks": [{"type": "command", "command": "b"}]}],
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "c"}]}],
        });
        let Value::Object(more) = more else {
            unreachable!()
        };
        add(&mut hooks, more);
        let hooks = hooks.unwrap();
        assert_eq!(hooks["Stop"][0]["hooks"][0]["command"], "a");
        assert_eq!(hooks["Stop"][1]["hooks"][0]["command"], "b");
        assert_eq!(hooks["PreToolUse"][0]["matcher"], "Bash");
        let mut none = None;
        add(&mut none, Map::new());
        assert_eq!(none, Some(json!({})));
    }
}
