//! The new-session dialog: what the next session `aisys chat` creates gets — agent, model,
//! workspace, sandbox, permission mode and agent profile.
//!
//! Pure state: keys in, a [`SessionSpec`] out (the first message sent then creates the session);
//! `view` draws it. Must not talk to the server.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::types::{AgentKind, PermissionMode, SandboxKind, SessionSpec};

/// Longest text typed into a field (a path or a model name): a guard against a paste gone wrong.
pub const MAX_FIELD_CHARS: usize = 4096;

/// What the dialog starts from besides the current settings: the folder `aisys chat` runs in,
/// and the profile names it knows from its config file.
#[derive(Debug, Clone, Default)]
pub struct FormDefaults {
    pub workspace: Option<String>,
    pub profiles: Vec<String>,
}

/// One row of the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Agent,
    Model,
    Workspace,
    Sandbox,
    PermissionMode,
    Profile,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Agent,
        Field::Model,
        Field::Workspace,
        Field::Sandbox,
        Field::PermissionMode,
        Field::Profile,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Agent => "agent",
            Field::Model => "model",
            Field::Workspace => "workspace",
            Field::Sandbox => "sandbox",
            Field::PermissionMode => "permissions",
            Field::Profile => "profile",
        }
    }

    /// Whether Left/Right pick among choices (else the field is typed).
    pub fn is_choice(self) -> bool {
        matches!(
            self,
            Field::Agent | Field::Sandbox | Field::PermissionMode | Field::Profile
        )
    }
}

const AGENTS: [AgentKind; 2] = [AgentKind::ClaudeCode, AgentKind::Opencode];
const SANDBOXES: [SandboxKind; 3] = [SandboxKind::Local, SandboxKind::Modal, SandboxKind::Host];
const MODES: [PermissionMode; 4] = [
    PermissionMode::Default,
    PermissionMode::AcceptEdits,
    PermissionMode::Plan,
    PermissionMode::BypassPermissions,
];

/// The dialog's state.
#[derive(Debug, Clone)]
pub struct NewSessionForm {
    pub focus: usize,
    pub agent: usize,
    pub sandbox: usize,
    pub mode: usize,
    /// Index into `profiles`; 0 is the server's default.
    pub profile: usize,
    pub profiles: Vec<String>,
    pub model: String,
    pub workspace: String,
}

/// What a key did to the dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Still open.
    Open,
    /// Closed without a change.
    Cancelled,
    /// Closed: the next session gets this.
    Done(SessionSpec),
}

/// The first choice: the server picks.
const SERVER_DEFAULT: &str = "(server default)";

fn index_of<T: PartialEq>(all: &[T], v: Option<T>) -> usize {
    v.and_then(|v| all.iter().position(|x| *x == v))
        .unwrap_or(0)
}

impl NewSessionForm {
    /// A dialog showing `spec` (the settings the next session would get), with `defaults` where
    /// `spec` says nothing.
    pub fn new(spec: &SessionSpec, defaults: &FormDefaults) -> NewSessionForm {
        let mut profiles = vec![SERVER_DEFAULT.to_string()];
        profiles.extend(defaults.profiles.iter().cloned());
        if let Some(p) = &spec.profile
            && !profiles.contains(p)
        {
            profiles.push(p.clone());
        }
        let profile = spec
            .profile
            .as_ref()
            .and_then(|p| profiles.iter().position(|x| x == p))
            .unwrap_or(0);
        NewSessionForm {
            focus: 0,
            agent: index_of(&AGENTS, spec.agent),
            sandbox: index_of(&SANDBOXES, spec.sandbox),
            mode: index_of(&MODES, spec.permission_mode),
            profile,
            profiles,
            model: spec.model.clone().unwrap_or_default(),
            workspace: spec
                .workspace
                .clone()
                .or_else(|| defaults.workspace.clone())
                .unwrap_or_default(),
        }
    }

    pub fn field(&self) -> Field {
        Field::ALL[self.focus]
    }

    /// The value a row shows.
    pub fn value(&self, f: Field) -> String {
        match f {
            Field::Agent => AGENTS[self.agent].as_str().to_string(),
            Field::Sandbox => SANDBOXES[self.sandbox].as_str().to_string(),
            Field::PermissionMode => MODES[self.mode].as_str().to_string(),
            Field::Profile => self.profiles[self.profile].clone(),
            Field::Model if self.model.is_empty() => SERVER_DEFAULT.into(),
            Field::Model => self.model.clone(),
            Field::Workspace if self.workspace.is_empty() => "(a new folder)".into(),
            Field::Workspace => self.workspace.clone(),
        }
    }

    /// The spec the dialog says.
    pub fn spec(&self) -> SessionSpec {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        SessionSpec {
            agent: Some(AGENTS[self.agent]),
            sandbox: Some(SANDBOXES[self.sandbox]),
            permission_mode: Some(MODES[self.mode]),
            model: text(&self.model),
            workspace: text(&self.workspace),
            profile: (self.profile > 0).then(|| self.profiles[self.profile].clone()),
            ..Default::default()
        }
    }

    pub fn key(&mut self, k: KeyEvent) -> Outcome {
        let n = Field::ALL.len();
        match k.code {
            KeyCode::Esc => return Outcome::Cancelled,
            KeyCode::Enter => return Outcome::Done(self.spec()),
            KeyCode::Up | KeyCode::BackTab => self.focus = (self.focus + n - 1) % n,
            KeyCode::Down | KeyCode::Tab => self.focus = (self.focus + 1) % n,
            KeyCode::Left => self.cycle(false),
            KeyCode::Right => self.cycle(true),
            KeyCode::Char(' ') if self.field().is_choice() => self.cycle(true),
            KeyCode::Backspace => {
                if let Some(s) = self.text_mut() {
                    s.pop();
                }
            }
            KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                if let Some(s) = self.text_mut() {
                    s.clear();
                }
            }
            KeyCode::Char(c) if !c.is_control() => {
                if let Some(s) = self.text_mut()
                    && s.chars().count() < MAX_FIELD_CHARS
                {
                    s.push(c);
                }
            }
            _ => {}
        }
        Outcome::Open
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field() {
            Field::Model => Some(&mut self.model),
            Field::Workspace => Some(&mut self.workspace),
            _ => None,
        }
    }

    fn cycle(&mut self, forward: bool) {
        let step = |i: &mut usize, len: usize| {
            *i = if forward {
                (*i + 1) % len
            } else {
                (*i + len - 1) % len
            }
        };
        match self.field() {
            Field::Agent => step(&mut self.agent, AGENTS.len()),
            Field::Sandbox => step(&mut self.sandbox, SANDBOXES.len()),
            Field::PermissionMode => step(&mut self.mode, MODES.len()),
            Field::Profile => step(&mut self.profile, self.profiles.len()),
            Field::Model | Field::Workspace => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_dialog_starts_in_the_current_folder_and_gives_what_was_picked() {
        let defaults = FormDefaults {
            workspace: Some("/home/dev/app".into()),
            profiles: vec!["user".into(), "none".into(), "review".into()],
        };
        let mut f = NewSessionForm::new(&SessionSpec::default(), &defaults);
        assert_eq!(f.value(Field::Workspace), "/home/dev/app");
        f.key(key(KeyCode::Right)); // agent: opencode
        f.key(key(KeyCode::Down)); // model
        for c in "claude-sonnet-4-5".chars() {
            f.key(key(KeyCode::Char(c)));
        }
        for _ in 0..4 {
            f.key(key(KeyCode::Down)); // to profile
        }
        f.key(key(KeyCode::Left)); // wraps to the last: review
        let Outcome::Done(spec) = f.key(key(KeyCode::Enter)) else {
            panic!("Enter closes the dialog")
        };
        assert_eq!(spec.agent, Some(AgentKind::Opencode));
        assert_eq!(spec.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(spec.workspace.as_deref(), Some("/home/dev/app"));
        assert_eq!(spec.profile.as_deref(), Some("review"));
        assert_eq!(
            NewSessionForm::new(&spec, &defaults).spec(),
            spec,
            "reopening shows the same"
        );
        assert_eq!(f.key(key(KeyCode::Esc)), Outcome::Cancelled);
    }

    #[test]
    fn letters_typed_on_a_choice_row_change_nothing() {
        let mut f = NewSessionForm::new(&SessionSpec::default(), &FormDefaults::default());
        let before = f.spec();
        for c in "typed ahead".chars() {
            f.key(key(KeyCode::Char(c)));
        }
        // The space cycles the choice; the letters do nothing.
        assert_eq!(f.spec().agent, Some(AgentKind::Opencode));
        assert_eq!(f.spec().model, before.model);
    }
}
