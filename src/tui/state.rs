//! The TUI's state and how input changes it: a pure `update` from [`Input`] to [`Action`]s,
//! with no terminal and no network, so every screen can be reached in a test.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEventKind};

use super::permission::{Choice, Outcome, PendingPermission};
use crate::client::Notification;
use crate::converters::Assembler;
use crate::types::{
    BlockKind, ClientMessage, ConversationBlock, PermissionDecision, ServerMessage, SessionId,
    SessionInfo, SessionSpec, SessionState, StreamEvent, TokenUsage,
};

/// Lines a PgUp/PgDn moves when the view height is unknown.
const PAGE_FALLBACK: usize = 10;
/// Lines one mouse-wheel notch scrolls.
const WHEEL_LINES: usize = 3;
/// Input history kept per process.
const HISTORY_LIMIT: usize = 200;
/// Said when Enter meets a lost connection.
const DISCONNECTED_DRAFT: &str =
    "not connected: the message stays in the box; press Enter again once reconnected";
/// Said when Enter on an empty message box meets an open permission prompt.
const PERMISSION_HINT: &str = "a tool waits for permission: Tab to choose, Enter to answer";

/// Whether the client is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    Disconnected(String),
}

/// Where the conversation view is scrolled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// `n` lines above the bottom; 0 follows new output.
    FromBottom(usize),
    /// `n` lines below the top (after Home): new output does not move the view.
    FromTop(usize),
}

/// Something the state asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send(ClientMessage),
    /// Attach to a session (detaching from the current one), replaying from the start.
    Open(SessionId),
    /// Create a session, open it, and send it its first message.
    CreateAndSend {
        spec: SessionSpec,
        text: String,
    },
    RefreshSessions,
    /// Put this text on the terminal's clipboard.
    Copy(String),
    /// Turn the terminal's mouse reporting on (scrolling here) or off (the terminal's own
    /// selection works).
    MouseCapture(bool),
    Quit,
}

/// What the status line says while the next message will create a session.
const NEW_SESSION_NOTICE: &str = "new session: type its first message";

/// What happens to the state.
#[derive(Debug, Clone)]
pub enum Input {
    Key(KeyEvent),
    Mouse(MouseEventKind),
    /// The conversation area's height in lines, after a resize.
    ViewHeight(usize),
    Note(Notification),
    Sessions(Vec<SessionInfo>),
    /// The app opened a session.
    Opened(SessionInfo),
    /// A request failed.
    Failed(String),
}

/// One session's conversation as the view needs it.
#[derive(Default)]
pub struct Conversation {
    pub assembler: Assembler,
    pub blocks: Vec<ConversationBlock>,
    /// Bumped when a block changes, so cached layouts of it are dropped.
    pub versions: Vec<u64>,
}

impl Conversation {
    fn push(&mut self, event: StreamEvent) {
        // Only the blocks the assembler says changed are copied: O(1) per event, not O(blocks).
        for i in self.assembler.push(event) {
            let Some(b) = self.assembler.blocks().get(i) else {
                continue;
            };
            if i < self.blocks.len() {
                self.blocks[i] = b.clone();
                self.versions[i] += 1;
            } else {
                self.blocks.push(b.clone());
                self.versions.push(0);
            }
        }
    }
}

pub struct State {
    pub connection: Connection,
    pub sessions: Vec<SessionInfo>,
    pub show_sessions: bool,
    pub selected_session: usize,
    pub current: Option<SessionInfo>,
    pub conversation: Conversation,
    pub scroll: Scroll,
    pub view_height: usize,
    /// Blocks shown expanded (tool calls with input and result, thinking unfolded).
    pub expanded: HashSet<String>,
    /// The block the cursor is on (Alt-Up/Alt-Down), for expanding one; the view keeps it in
    /// sight.
    pub cursor: Option<usize>,
    /// Lines below the conversation's window at the last draw (written by the view), so that
    /// scrolling from a cursor's view goes on from what is on screen.
    pub lines_below: std::cell::Cell<usize>,
    pub input: ratatui_textarea::TextArea<'static>,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    pub permission: Option<PendingPermission>,
    /// Tools the person chose to always allow, per session.
    pub always_allow: HashMap<String, HashSet<String>>,
    pub show_help: bool,
    /// A message for the status bar (errors of requests, hints).
    pub notice: Option<String>,
    pub model: Option<String>,
    pub usage: TokenUsage,
    pub cost: f64,
    pub turn_started: Option<Instant>,
    pub last_turn_ms: Option<u64>,
    /// When Ctrl-C was pressed once: a second press quits.
    pub quit_armed: bool,
    /// Settings of sessions this client creates (agent, sandbox, ...).
    pub new_session: SessionSpec,
    /// The new-session dialog, while open.
    pub form: Option<super::new_session::NewSessionForm>,
    /// What the dialog starts from (the folder chat runs in, the profiles it knows).
    pub form_defaults: super::new_session::FormDefaults,
    /// Indices of user messages sent while a turn ran: the session queued them, and they run
    /// in order, one per turn.
    pub queued: std::collections::VecDeque<usize>,
    /// Whether the mouse scrolls the conversation (on) or selects text in the terminal (off).
    pub mouse_capture: bool,
    /// The session `d` asked to delete; a second `d` deletes it, any other key keeps it.
    pub confirm_delete: Option<SessionId>,
    /// A session asked for by id whose attach has not been answered yet.
    opening: Option<SessionId>,
    /// Its events that came before the answer, shown once it comes. Bounded by the session's own
    /// replay, which the conversation holds anyway.
    early: Vec<StreamEvent>,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    pub fn new() -> State {
        let mut input = ratatui_textarea::TextArea::default();
        input.set_placeholder_text("Type a message · Enter sends · Alt-Enter new line · ? keys");
        State {
            connection: Connection::Connecting,
            sessions: Vec::new(),
            show_sessions: false,
            selected_session: 0,
            current: None,
            conversation: Conversation::default(),
            scroll: Scroll::FromBottom(0),
            view_height: 0,
            expanded: HashSet::new(),
            cursor: None,
            input,
            history: Vec::new(),
            history_pos: None,
            permission: None,
            always_allow: HashMap::new(),
            show_help: false,
            notice: None,
            model: None,
            usage: TokenUsage::default(),
            cost: 0.0,
            turn_started: None,
            last_turn_ms: None,
            quit_armed: false,
            new_session: SessionSpec::default(),
            form: None,
            mouse_capture: true,
            lines_below: std::cell::Cell::new(0),
            form_defaults: Default::default(),
            queued: std::collections::VecDeque::new(),
            confirm_delete: None,
            opening: None,
            early: Vec::new(),
        }
    }

    pub fn session_state(&self) -> Option<SessionState> {
        self.current.as_ref().map(|s| s.state)
    }

    /// Applies one input; returns what the app must do.
    pub fn update(&mut self, input: Input) -> Vec<Action> {
        match input {
            Input::Key(k) => self.key(k),
            Input::Mouse(m) => {
                match m {
                    MouseEventKind::ScrollUp => self.scroll_up(WHEEL_LINES),
                    MouseEventKind::ScrollDown => self.scroll_down(WHEEL_LINES),
                    _ => {}
                }
                vec![]
            }
            Input::ViewHeight(h) => {
                self.view_height = h;
                vec![]
            }
            Input::Note(n) => self.note(n),
            Input::Sessions(list) => {
                self.sessions = list;
                if self.selected_session >= self.sessions.len() {
                    self.selected_session = self.sessions.len().saturating_sub(1);
                }
                vec![]
            }
            Input::Opened(info) => self.opened(info),
            Input::Failed(msg) => {
                self.notice = Some(msg);
                vec![]
            }
        }
    }

    /// Opens a session known only by id (from the command line): its events are kept from now
    /// on, even those that arrive before the server's answer to the attach.
    pub fn open_by_id(&mut self, id: SessionId) -> Vec<Action> {
        self.opening = Some(id.clone());
        self.early.clear();
        vec![Action::Open(id)]
    }

    /// The server answered an attach: the replay may have begun before this answer came, so
    /// events already shown or kept are not thrown away.
    fn opened(&mut self, info: SessionInfo) -> Vec<Action> {
        if self.current.as_ref().is_some_and(|c| c.id == info.id) {
            let seen = self.session_state();
            let replayed = !self.conversation.blocks.is_empty();
            self.current = Some(info);
            // Once replayed events have set the state, they are newer than the answer.
            if let (true, Some(c), Some(st)) = (replayed, self.current.as_mut(), seen) {
                c.state = st;
            }
            return vec![];
        }
        let early = if self.opening.take().as_ref() == Some(&info.id) {
            std::mem::take(&mut self.early)
        } else {
            vec![]
        };
        let id = info.id.clone();
        self.open(info);
        let mut actions = vec![];
        for event in early {
            actions.extend(self.event(id.to_string(), event));
        }
        actions
    }

    /// Starts showing a session (its events arrive next, from seq 1).
    pub fn open(&mut self, info: SessionInfo) {
        if self.notice.as_deref() == Some(NEW_SESSION_NOTICE) {
            self.notice = None;
        }
        self.opening = None;
        self.early.clear();
        self.queued.clear();
        self.model = info.model.clone();
        self.current = Some(info);
        self.conversation = Conversation::default();
        self.scroll = Scroll::FromBottom(0);
        self.expanded.clear();
        self.cursor = None;
        self.permission = None;
        self.usage = TokenUsage::default();
        self.cost = 0.0;
        self.turn_started = None;
        self.last_turn_ms = None;
    }

    fn note(&mut self, n: Notification) -> Vec<Action> {
        match n {
            Notification::Connected => {
                self.connection = Connection::Connected;
                self.notice = (self.notice.as_deref() == Some(DISCONNECTED_DRAFT))
                    .then(|| "connected again: Enter sends your message".into());
                vec![Action::RefreshSessions]
            }
            Notification::Disconnected { reason } => {
                self.connection = Connection::Disconnected(reason);
                vec![]
            }
            Notification::Event {
                session_id, event, ..
            } => {
                if self.current.as_ref().map(|c| c.id.as_str()) != Some(session_id.as_str()) {
                    if self.opening.as_deref() == Some(session_id.as_str()) {
                        self.early.push(event);
                    }
                    return vec![];
                }
                self.event(session_id, event)
            }
            Notification::Server(ServerMessage::State {
                session_id, state, ..
            }) => {
                if let Some(s) = self.sessions.iter_mut().find(|s| s.id == session_id) {
                    s.state = state;
                }
                vec![]
            }
            Notification::Server(_) => vec![],
        }
    }

    fn event(&mut self, session_id: String, event: StreamEvent) -> Vec<Action> {
        let mut actions = vec![];
        match &event {
            StreamEvent::SessionStarted {
                model: Some(model), ..
            } => self.model = Some(model.clone()),
            StreamEvent::StateChanged { from, to, .. } => {
                if let Some(c) = self.current.as_mut() {
                    c.state = *to;
                }
                // A new turn takes the oldest queued message; a stop drops them all.
                if *to == SessionState::Running && !from.is_some_and(|f| f.is_busy()) {
                    self.queued.pop_front();
                }
                if matches!(to, SessionState::Stopped | SessionState::Failed) {
                    self.queued.clear();
                }
                if *to == SessionState::Running && self.turn_started.is_none() {
                    self.turn_started = Some(Instant::now());
                }
                if !to.is_busy() {
                    self.permission = None;
                }
            }
            StreamEvent::Usage { usage, .. } => {
                self.usage.add(usage);
            }
            StreamEvent::Result {
                cost_usd,
                duration_ms,
                ..
            } => {
                self.cost += cost_usd.unwrap_or(0.0);
                self.last_turn_ms = duration_ms
                    .or_else(|| self.turn_started.map(|t| t.elapsed().as_millis() as u64));
                self.turn_started = None;
            }
            StreamEvent::PermissionRequest {
                request_id,
                tool_name,
                input,
                ..
            } => {
                let always = self
                    .always_allow
                    .get(&session_id)
                    .is_some_and(|s| s.contains(tool_name));
                if always {
                    actions.push(Action::Send(ClientMessage::Permission {
                        session_id: session_id.as_str().into(),
                        request_id: request_id.clone(),
                        decision: PermissionDecision::Allow,
                        message: None,
                    }));
                } else {
                    self.permission = Some(PendingPermission::new(
                        session_id.clone(),
                        request_id.clone(),
                        tool_name.clone(),
                        input.clone(),
                    ));
                }
            }
            StreamEvent::PermissionDecision { request_id, .. }
                if self
                    .permission
                    .as_ref()
                    .is_some_and(|p| &p.request_id == request_id) =>
            {
                self.permission = None;
            }
            _ => {}
        }
        let queues = matches!(
            event,
            StreamEvent::UserMessage {
                parent_tool_use_id: None,
                ..
            }
        ) && self.session_state().is_some_and(|s| s.is_busy());
        self.conversation.push(event);
        if queues {
            self.queued
                .push_back(self.conversation.blocks.len().saturating_sub(1));
        }
        actions
    }

    fn key(&mut self, k: KeyEvent) -> Vec<Action> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            if self.quit_armed {
                return vec![Action::Quit];
            }
            self.quit_armed = true;
            self.notice = Some(if self.input_is_empty() {
                "press Ctrl-C again to quit".into()
            } else {
                "your message is not sent: Ctrl-C again quits and loses it, any other key keeps it"
                    .into()
            });
            return vec![];
        }
        if std::mem::take(&mut self.quit_armed) {
            self.notice = None;
        }
        if self.show_help {
            self.show_help = false;
            return vec![];
        }
        if let Some(form) = self.form.as_mut() {
            use super::new_session::Outcome;
            match form.key(k) {
                Outcome::Open => {}
                Outcome::Cancelled => self.form = None,
                Outcome::Done(spec) => {
                    self.form = None;
                    self.new_session = spec;
                    self.start_new_session();
                }
            }
            return vec![];
        }
        if self.permission.is_some() {
            // Keys the prompt does not take are typing: they go to the message box, never to
            // the session list, whose letters act at once.
            return match self.permission_key(k) {
                Some(actions) => actions,
                None => self.compose_key(k),
            };
        }
        if ctrl && k.code == KeyCode::Char('n') {
            self.open_form();
            return vec![];
        }
        if k.code == KeyCode::Tab || (ctrl && k.code == KeyCode::Char('b')) {
            self.show_sessions = !self.show_sessions;
            self.cancel_delete();
            return if self.show_sessions {
                vec![Action::RefreshSessions]
            } else {
                vec![]
            };
        }
        if self.show_sessions {
            return self.sessions_key(k);
        }
        self.compose_key(k)
    }

    /// Keys of the conversation and the message box.
    fn compose_key(&mut self, k: KeyEvent) -> Vec<Action> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        match k.code {
            KeyCode::Esc => self.interrupt(),
            KeyCode::PageUp => {
                self.scroll_up(self.page());
                vec![]
            }
            KeyCode::PageDown => {
                self.scroll_down(self.page());
                vec![]
            }
            KeyCode::Home if ctrl || self.input_is_empty() => {
                self.cursor = None;
                self.scroll = Scroll::FromTop(0);
                vec![]
            }
            KeyCode::End if ctrl || self.input_is_empty() => {
                self.cursor = None;
                self.scroll = Scroll::FromBottom(0);
                vec![]
            }
            KeyCode::Up if alt => {
                self.move_cursor(-1);
                vec![]
            }
            KeyCode::Down if alt => {
                self.move_cursor(1);
                vec![]
            }
            KeyCode::Char('o') if ctrl => {
                self.toggle_expanded();
                vec![]
            }
            KeyCode::Char('y') if ctrl => self.copy_block(),
            KeyCode::Char('m') if alt => {
                self.mouse_capture = !self.mouse_capture;
                self.notice = Some(if self.mouse_capture {
                    "mouse: scrolls the conversation (Alt-M: let the terminal select text)".into()
                } else {
                    "mouse: the terminal selects text (Alt-M: scroll with it again)".into()
                });
                vec![Action::MouseCapture(self.mouse_capture)]
            }
            KeyCode::Char('?') if self.input_is_empty() => {
                self.show_help = true;
                vec![]
            }
            KeyCode::Enter if alt || k.modifiers.contains(KeyModifiers::SHIFT) => {
                self.input.insert_newline();
                vec![]
            }
            KeyCode::Enter => self.submit(),
            KeyCode::Up if self.input.cursor().0 == 0 => {
                self.recall(-1);
                vec![]
            }
            KeyCode::Down if self.history_pos.is_some() => {
                self.recall(1);
                vec![]
            }
            _ => {
                self.input.input(k);
                vec![]
            }
        }
    }

    fn input_is_empty(&self) -> bool {
        self.input.lines().iter().all(|l| l.is_empty())
    }

    fn page(&self) -> usize {
        if self.view_height > 2 {
            self.view_height - 2
        } else {
            PAGE_FALLBACK
        }
    }

    /// Scrolling leaves the block cursor where the screen is.
    fn leave_cursor(&mut self) {
        if self.cursor.take().is_some() {
            self.scroll = Scroll::FromBottom(self.lines_below.get());
        }
    }

    pub fn scroll_up(&mut self, n: usize) {
        self.leave_cursor();
        self.scroll = match self.scroll {
            Scroll::FromBottom(x) => Scroll::FromBottom(x + n),
            Scroll::FromTop(x) => Scroll::FromTop(x.saturating_sub(n)),
        };
    }

    pub fn scroll_down(&mut self, n: usize) {
        self.leave_cursor();
        self.scroll = match self.scroll {
            Scroll::FromBottom(x) => Scroll::FromBottom(x.saturating_sub(n)),
            Scroll::FromTop(x) => Scroll::FromTop(x + n),
        };
    }

    fn move_cursor(&mut self, delta: isize) {
        let n = self.conversation.blocks.len();
        if n == 0 {
            return;
        }
        let blocks = &self.conversation.blocks;
        let shown = |i: isize| !super::blocks::shows_nothing(&blocks[i as usize]);
        // `delta` blocks away, counting only blocks that draw something; at an end, stay there.
        let mut cur = self.cursor.map(|c| c as isize);
        let (mut i, mut left) = (cur.unwrap_or(n as isize), delta.unsigned_abs());
        while left > 0 {
            i += delta.signum();
            if i < 0 || i >= n as isize {
                break;
            }
            if shown(i) {
                cur = Some(i);
                left -= 1;
            }
        }
        if cur.is_none() {
            cur = (0..n as isize).rev().find(|&i| shown(i));
        }
        if let Some(c) = cur {
            self.cursor = Some(c as usize);
        }
    }

    /// Copies the block under the cursor, or the newest answer, as plain text.
    fn copy_block(&mut self) -> Vec<Action> {
        let blocks = &self.conversation.blocks;
        let target = self.cursor.and_then(|i| blocks.get(i)).or_else(|| {
            blocks
                .iter()
                .rev()
                .find(|b| matches!(b.kind, BlockKind::AssistantText { .. }))
        });
        let Some(block) = target else {
            self.notice = Some("nothing to copy yet".into());
            return vec![];
        };
        let text = crate::converters::render_text(
            std::slice::from_ref(block),
            crate::converters::TextStyle {
                color: false,
                max_output_lines: usize::MAX,
            },
        );
        let text = text.trim().to_string();
        self.notice = Some(format!(
            "copied {} characters to the clipboard",
            text.chars().count()
        ));
        vec![Action::Copy(text)]
    }

    /// Expands or folds the block under the cursor, or the newest tool call.
    fn toggle_expanded(&mut self) {
        let blocks = &self.conversation.blocks;
        let target = self.cursor.and_then(|i| blocks.get(i)).or_else(|| {
            blocks.iter().rev().find(|b| {
                matches!(
                    b.kind,
                    BlockKind::ToolCall { .. }
                        | BlockKind::SubagentRun { .. }
                        | BlockKind::Thinking { .. }
                )
            })
        });
        if let Some(b) = target {
            let id = b.id.clone();
            if !self.expanded.remove(&id) {
                self.expanded.insert(id);
            }
        }
    }

    fn recall(&mut self, delta: isize) {
        if self.history.is_empty() {
            return;
        }
        let n = self.history.len() as isize;
        let pos = match self.history_pos {
            None if delta < 0 => n - 1,
            None => return,
            Some(p) => p as isize + delta,
        };
        if pos >= n {
            self.history_pos = None;
            self.set_input("");
            return;
        }
        let pos = pos.clamp(0, n - 1) as usize;
        self.history_pos = Some(pos);
        let text = self.history[pos].clone();
        self.set_input(&text);
    }

    fn set_input(&mut self, text: &str) {
        let mut t = ratatui_textarea::TextArea::from(text.lines().map(str::to_string));
        t.set_placeholder_text("Type a message · Enter sends · Alt-Enter new line · ? keys");
        t.move_cursor(ratatui_textarea::CursorMove::Bottom);
        t.move_cursor(ratatui_textarea::CursorMove::End);
        self.input = t;
    }

    fn submit(&mut self) -> Vec<Action> {
        let text = self.input.lines().join("\n");
        if text.trim().is_empty() {
            return vec![];
        }
        if self.connection != Connection::Connected {
            // Sent now it would be lost: it stays in the box until the connection is back.
            self.notice = Some(DISCONNECTED_DRAFT.into());
            return vec![];
        }
        self.history.push(text.clone());
        if self.history.len() > HISTORY_LIMIT {
            self.history.remove(0);
        }
        self.history_pos = None;
        self.set_input("");
        self.scroll = Scroll::FromBottom(0);
        match &self.current {
            Some(s) => vec![Action::Send(ClientMessage::Message {
                session_id: s.id.clone(),
                text,
            })],
            None => {
                // The first message of a new session creates it.
                let mut spec = self.new_session.clone();
                spec.title = Some(text.lines().next().unwrap_or("").chars().take(60).collect());
                vec![Action::CreateAndSend { spec, text }]
            }
        }
    }

    fn interrupt(&mut self) -> Vec<Action> {
        match &self.current {
            Some(s) if s.state.is_busy() => vec![Action::Send(ClientMessage::Interrupt {
                session_id: s.id.clone(),
            })],
            _ => vec![],
        }
    }

    /// A key while a permission prompt is open: the actions if the prompt took it, `None` if it
    /// is typing for the message box.
    fn permission_key(&mut self, k: KeyEvent) -> Option<Vec<Action>> {
        let p = self.permission.as_mut()?;
        let choice = match p.key(k) {
            Outcome::NotMine => {
                if k.code == KeyCode::Enter && self.input_is_empty() {
                    self.notice = Some(PERMISSION_HINT.into());
                }
                return None;
            }
            Outcome::Handled => return Some(vec![]),
            Outcome::Chosen(c) => c,
        };
        let p = self.permission.take()?;
        if choice == Choice::AlwaysAllow {
            self.always_allow
                .entry(p.session_id.clone())
                .or_default()
                .insert(p.tool_name.clone());
        }
        let decision = if choice == Choice::Deny {
            PermissionDecision::Deny
        } else {
            PermissionDecision::Allow
        };
        Some(vec![Action::Send(ClientMessage::Permission {
            session_id: p.session_id.into(),
            request_id: p.request_id,
            decision,
            message: (decision == PermissionDecision::Deny).then(|| "denied in aisys chat".into()),
        })])
    }

    /// Opens the new-session dialog on the settings the next session would get.
    fn open_form(&mut self) {
        self.show_sessions = false;
        self.form = Some(super::new_session::NewSessionForm::new(
            &self.new_session,
            &self.form_defaults,
        ));
    }

    /// Leaves the open session: the next message creates a new one.
    fn start_new_session(&mut self) {
        self.show_sessions = false;
        self.current = None;
        self.conversation = Conversation::default();
        self.notice = Some(NEW_SESSION_NOTICE.into());
    }

    /// Forgets a pending delete, and the question on the status line with it.
    fn cancel_delete(&mut self) {
        if self.confirm_delete.take().is_some() {
            self.notice = None;
        }
    }

    fn sessions_key(&mut self, k: KeyEvent) -> Vec<Action> {
        let n = self.sessions.len();
        let confirm = self.confirm_delete.clone();
        self.cancel_delete();
        match k.code {
            KeyCode::Up => self.selected_session = self.selected_session.saturating_sub(1),
            KeyCode::Down if n > 0 => {
                self.selected_session = (self.selected_session + 1).min(n - 1)
            }
            KeyCode::Esc => self.show_sessions = false,
            KeyCode::Enter => {
                if let Some(s) = self.sessions.get(self.selected_session).cloned() {
                    self.show_sessions = false;
                    let id = s.id.clone();
                    self.open(s);
                    return vec![Action::Open(id)];
                }
            }
            KeyCode::Char('n') => self.open_form(),
            KeyCode::Char('s') => {
                if let Some(s) = self.sessions.get(self.selected_session) {
                    return vec![
                        Action::Send(ClientMessage::Stop {
                            session_id: s.id.clone(),
                        }),
                        Action::RefreshSessions,
                    ];
                }
            }
            KeyCode::Char('d') => {
                if let Some(s) = self.sessions.get(self.selected_session) {
                    let id = s.id.clone();
                    // Deleting loses the session's record: the first `d` only asks.
                    if confirm.as_deref() != Some(id.as_str()) {
                        self.notice = Some(format!(
                            "delete {}? press d again to delete, any other key keeps it",
                            s.title.as_deref().unwrap_or(&id)
                        ));
                        self.confirm_delete = Some(id);
                        return vec![];
                    }
                    self.notice = None;
                    if self.current.as_ref().is_some_and(|c| c.id == id) {
                        self.current = None;
                        self.conversation = Conversation::default();
                    }
                    return vec![
                        Action::Send(ClientMessage::Delete { session_id: id }),
                        Action::RefreshSessions,
                    ];
                }
            }
            _ => {}
        }
        vec![]
    }
}
