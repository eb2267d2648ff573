//! The permission prompt: which choice is highlighted, whether the prompt has the keyboard, and
//! which keys answer it.
//!
//! Answering must be deliberate. Printable characters never answer the prompt: they belong to
//! the message box, so a person typing ahead ("queued", "always") cannot allow or deny a tool
//! by accident. The prompt takes the keyboard only through its own keys (Tab, arrows), Enter
//! answers only while it has the keyboard, and "always allow" asks for a second Enter. This
//! module must not touch the message box or the network: it says what was chosen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::converters::tool_view::ToolCallView;
use crate::types::ToolStatus;

/// The choices, in the order the prompt shows them.
pub const CHOICES: [Choice; 3] = [Choice::AllowOnce, Choice::AlwaysAllow, Choice::Deny];

/// One answer to a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    AllowOnce,
    /// Allow this tool for the rest of the session without asking again.
    AlwaysAllow,
    Deny,
}

impl Choice {
    pub fn label(self) -> &'static str {
        match self {
            Choice::AllowOnce => "Allow once",
            Choice::AlwaysAllow => "Always allow this tool",
            Choice::Deny => "Deny",
        }
    }
}

/// A permission request waiting for the person.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPermission {
    pub session_id: String,
    pub request_id: String,
    pub tool_name: String,
    pub input: serde_json::Value,
    /// What the call would do, as every view shows it (a diff, a file, a command): made once,
    /// not on each frame the prompt is drawn.
    pub call: ToolCallView,
    /// The highlighted choice, an index into [`CHOICES`].
    pub choice: usize,
    /// Whether the prompt has the keyboard (after Tab or an arrow); until then keys go to the
    /// message box and Enter sends the message.
    pub focused: bool,
    /// "Always allow" was chosen once and waits for a confirming Enter.
    pub confirming_always: bool,
}

/// What a key did to the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The prompt used the key (moved, focused, asked to confirm); nothing to send.
    Handled,
    /// The person answered.
    Chosen(Choice),
    /// Not a prompt key: it goes to the message box.
    NotMine,
}

impl PendingPermission {
    pub fn new(
        session_id: String,
        request_id: String,
        tool_name: String,
        input: serde_json::Value,
    ) -> Self {
        PendingPermission {
            call: ToolCallView::new(&tool_name, &input, None, ToolStatus::Pending, 0),
            session_id,
            request_id,
            tool_name,
            input,
            choice: 0,
            focused: false,
            confirming_always: false,
        }
    }

    pub fn highlighted(&self) -> Choice {
        CHOICES[self.choice % CHOICES.len()]
    }

    /// Applies a key to the prompt.
    pub fn key(&mut self, k: KeyEvent) -> Outcome {
        let plain = !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let n = CHOICES.len();
        match k.code {
            KeyCode::Tab
            | KeyCode::BackTab
            | KeyCode::Left
            | KeyCode::Right
            | KeyCode::Up
            | KeyCode::Down
                if plain =>
            {
                self.confirming_always = false;
                if !self.focused {
                    // The first prompt key only takes the keyboard, so the highlight is seen
                    // before anything can be chosen.
                    self.focused = true;
                    return Outcome::Handled;
                }
                let back = matches!(k.code, KeyCode::BackTab | KeyCode::Left | KeyCode::Up);
                self.choice = if back {
                    (self.choice + n - 1) % n
                } else {
                    (self.choice + 1) % n
                };
                Outcome::Handled
            }
            KeyCode::Enter if self.focused && plain => match self.highlighted() {
                Choice::AlwaysAllow if !self.confirming_always => {
                    self.confirming_always = true;
                    Outcome::Handled
                }
                c => Outcome::Chosen(c),
            },
            // Esc backs out of the confirmation; otherwise it denies: it never types anything,
            // and denying is the safe answer.
            KeyCode::Esc if self.confirming_always => {
                self.confirming_always = false;
                Outcome::Handled
            }
            KeyCode::Esc => Outcome::Chosen(Choice::Deny),
            _ => {
                // Anything else is typing: the message box gets it, and the prompt lets go of the
                // keyboard so a later Enter sends the message rather than answering.
                self.focused = false;
                self.confirming_always = false;
                Outcome::NotMine
            }
        }
    }
}
