//! Permission policy for runs without a person at the keyboard (`aisys run`): which tool requests
//! are allowed, denied, or must be asked.
//!
//! Rules are Claude Code's spelling: `Tool` matches the tool by name; `Tool(pattern)` also needs
//! the tool's main argument (a Bash command, a file path, a URL) to match `pattern`, where `*`
//! matches anything. Deny rules win over allow rules.

use serde_json::Value;

use crate::types::PermissionDecision;

/// What to do when no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Allow: the sandbox is the boundary (the default of `aisys run`).
    Allow,
    /// Deny: only what is allowed by a rule runs.
    Deny,
    /// Ask the person (`--ask`).
    Ask,
}

/// The rules of one run.
#[derive(Debug, Clone)]
pub struct PermissionPolicy {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub fallback: Fallback,
}

impl PermissionPolicy {
    /// `aisys run`'s policy: allow everything unless narrowed. Naming tools to allow means only
    /// those run; `--ask` asks for whatever no rule decides.
    pub fn for_run(allow: Vec<String>, deny: Vec<String>, ask: bool) -> PermissionPolicy {
        let fallback = if ask {
            Fallback::Ask
        } else if allow.is_empty() {
            Fallback::Allow
        } else {
            Fallback::Deny
        };
        PermissionPolicy {
            allow,
            deny,
            fallback,
        }
    }

    /// The decision for a request, or `None` when a person must be asked.
    pub fn decide(&self, tool: &str, input: &Value) -> Option<PermissionDecision> {
        if self.deny.iter().any(|r| rule_matches(r, tool, input)) {
            return Some(PermissionDecision::Deny);
        }
        if self.allow.iter().any(|r| rule_matches(r, tool, input)) {
            return Some(PermissionDecision::Allow);
        }
        match self.fallback {
            Fallback::Allow => Some(PermissionDecision::Allow),
            Fallback::Deny => Some(PermissionDecision::Deny),
            Fallback::Ask => None,
        }
    }
}

/// The argument a rule's pattern is matched against.
fn main_argument(input: &Value) -> Option<&str> {
    ["command", "file_path", "filePath", "path", "url", "pattern"]
        .iter()
        .find_map(|k| input.get(*k).and_then(Value::as_str))
}

fn rule_matches(rule: &str, tool: &str, input: &Value) -> bool {
    match rule.split_once('(') {
        None => rule.eq_ignore_ascii_case(tool),
        Some((name, rest)) => {
            let pattern = rest.strip_suffix(')').unwrap_or(rest);
            name.eq_ignore_ascii_case(tool)
                && main_argument(input).is_some_and(|arg| glob(pattern, arg))
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_allows_and_deny_wins() {
        let p = PermissionPolicy::for_run(vec![], vec!["Bash(rm *)".into()], false);
        assert_eq!(
            p.decide("Bash", &json!({"command": "ls"})),
            Some(PermissionDecision::Allow)
        );
        assert_eq!(
            p.decide("Bash", &json!({"command": "rm -rf /"})),
            Some(PermissionDecision::Deny)
        );
    }

    #[test]
    fn naming_allowed_tools_denies_the_rest() {
        let p =
            PermissionPolicy::for_run(vec!["Write".into(), "Bash(git *)".into()], vec![], false);
        assert_eq!(
            p.decide("Write", &json!({})),
            Some(PermissionDecision::Allow)
        );
        assert_eq!(
            p.decide("Bash", &json!({"command": "git status"})),
            Some(PermissionDecision::Allow)
        );
        assert_eq!(
            p.decide("Bash", &json!({"command": "curl x"})),
            Some(PermissionDecision::Deny)
        );
        assert_eq!(p.decide("Edit", &json!({})), Some(PermissionDecision::Deny));
    }

    #[test]
    fn ask_leaves_undecided_requests_to_a_person() {
        let p = PermissionPolicy::for_run(vec![], vec!["Bash".into()], true);
        assert_eq!(p.decide("Write", &json!({})), None);
        assert_eq!(p.decide("Bash", &json!({})), Some(PermissionDecision::Deny));
    }

    #[test]
    fn glob_matching() {
        assert!(glob("git *", "git status"));
        assert!(glob("*.rs", "src/main.rs"));
        assert!(glob("a*b*c", "a123b456c"));
        assert!(!glob("a*b*c", "a123c"));
        assert!(!glob("git *", "gitk"));
        assert!(glob("exact", "exact"));
    }
}
