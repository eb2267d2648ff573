//! The view: draws a [`State`] into a frame. Pure apart from its layout cache, which only
//! remembers what it computed: each block is laid out once per width (and again when it changes),
//! and only the blocks in view are laid out at all.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};

pub use super::blocks::wrap;
use super::blocks::{block_lines, truncate, wrap_words};
use super::permission::{CHOICES, PendingPermission};
use super::state::{Connection, Scroll, State};
use super::tool_lines::prompt_lines;
use crate::converters::summarize_input;
use crate::converters::tool_view::ToolView;
use crate::types::{BlockKind, SessionState, ToolStatus};

/// Width of the session list when it is shown.
const SESSIONS_WIDTH: u16 = 34;
/// Most lines of the input box (it scrolls beyond).
const INPUT_MAX_LINES: u16 = 6;
/// Below this width the session list is not drawn beside the conversation.
const NARROW: u16 = 60;
/// The permission prompt's width: room for the three choices and the hint on one line each.
const PROMPT_WIDTH: u16 = 72;
/// Lines of the call's one-line gist (a path, a pattern) shown in the permission prompt.
const PROMPT_INPUT_LINES: usize = 5;
/// Rows of a call's view (a Write's content, an Edit's diff, a command) the permission prompt
/// keeps even when that leaves no conversation in sight, if the terminal has them.
const PROMPT_VIEW_LINES: usize = 8;
/// Rows of the terminal the permission prompt leaves to the conversation when its view is long.
const PROMPT_MARGIN_ROWS: usize = 4;

/// What a block's layout depends on: (block index, version, width, expanded, under cursor,
/// queued, code highlighter loaded).
type LayoutKey = (usize, u64, u16, bool, bool, bool, bool);

/// Layouts of blocks, by [`LayoutKey`].
#[derive(Default)]
pub struct LayoutCache {
    map: HashMap<LayoutKey, Vec<Line<'static>>>,
}

impl LayoutCache {
    fn lines(&mut self, state: &State, i: usize, width: u16) -> &Vec<Line<'static>> {
        let block = &state.conversation.blocks[i];
        let key = (
            i,
            state.conversation.versions[i],
            width,
            state.expanded.contains(&block.id),
            state.cursor == Some(i),
            state.queued.contains(&i),
            // Code is drawn plain until the highlighter has loaded, then laid out again.
            crate::tui::markdown::highlighter_ready(),
        );
        self.map.entry(key).or_insert_with(|| {
            let mut lines = block_lines(block, width as usize, key.3, key.4, &state.expanded);
            if key.5 {
                lines.push(Line::styled(
                    "  ⧗ queued: runs when the current turn ends",
                    Style::default().fg(Color::DarkGray),
                ));
            }
            lines
        })
    }

    /// Number of cached layouts (for tests and benchmarks).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &State, cache: &mut LayoutCache) {
    let area = frame.area();
    let input_lines = (state.input.lines().len() as u16).clamp(1, INPUT_MAX_LINES);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(1),
            Constraint::Length(input_lines + 2),
            Constraint::Length(1),
        ])
        .split(area);
    let mut main = rows[0];
    if state.show_sessions {
        if area.width < NARROW {
            draw_sessions(frame, state, main);
            main = Rect::default();
        } else {
            let cols = Layout::default()
                .direction(Direction::Horizontal)
                .constraints([Constraint::Length(SESSIONS_WIDTH), Constraint::Min(10)])
                .split(rows[0]);
            draw_sessions(frame, state, cols[0]);
            main = cols[1];
        }
    }
    if main.area() > 0 {
        draw_conversation(frame, state, cache, main);
    }
    let mut input = state.input.clone();
    input.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(Style::default().fg(Color::DarkGray))
            .title(match &state.current {
                Some(s) => match &s.profile {
                    Some(p) => format!(" {} · profile {p} ", s.title.as_deref().unwrap_or(&s.id)),
                    None => format!(" {} ", s.title.as_deref().unwrap_or(&s.id)),
                },
                None => match &state.new_session.profile {
                    Some(p) => format!(" new session · profile {p} "),
                    None => " new session ".into(),
                },
            }),
    );
    frame.render_widget(&input, rows[1]);
    draw_status(frame, state, rows[2]);
    if let Some(p) = &state.permission {
        let workspace = state.current.as_ref().map(|s| s.workspace.as_str());
        draw_permission(frame, p, workspace, area);
    }
    if let Some(form) = &state.form {
        draw_form(frame, form, area);
    }
    if state.show_help {
        draw_help(frame, area);
    }
}

/// The new-session dialog: one row per field, the focused one highlighted; choices show ‹ ›.
fn draw_form(frame: &mut Frame, form: &crate::tui::new_session::NewSessionForm, area: Rect) {
    use crate::tui::new_session::Field;
    let label_w = Field::ALL
        .iter()
        .map(|f| f.label().len())
        .max()
        .unwrap_or(0);
    let title = " new session · ↑↓ field · ←→ choice · Enter start · Esc cancel ";
    let width = area.width.saturating_sub(4).clamp(20, 76);
    let value_w = (width as usize).saturating_sub(label_w + 7);
    let mut lines: Vec<Line> = Vec::new();
    for (i, f) in Field::ALL.iter().enumerate() {
        let focused = i == form.focus;
        let raw = form.value(*f);
        // A long path shows its end, where the folder's own name is.
        let chars: Vec<char> = raw.chars().collect();
        let shown: String = if chars.len() > value_w {
            std::iter::once('…')
                .chain(
                    chars[chars.len() - value_w.saturating_sub(1)..]
                        .iter()
                        .copied(),
                )
                .collect()
        } else {
            raw
        };
        let value = if f.is_choice() && focused {
            format!("‹ {shown} ›")
        } else if focused {
            format!("{shown}▏")
        } else {
            shown
        };
        let style = if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {:<label_w$} ", f.label()),
                Style::default().fg(Color::DarkGray),
            ),
            Span::styled(value, style),
        ]));
    }
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(Style::default().fg(Color::Cyan)),
        ),
        rect,
    );
}

/// The conversation area's height for a terminal of `height` rows with `input_lines` of input.
pub fn conversation_height(height: u16, input_lines: u16) -> usize {
    height.saturating_sub(input_lines.clamp(1, INPUT_MAX_LINES) + 3) as usize
}

fn draw_conversation(frame: &mut Frame, state: &State, cache: &mut LayoutCache, area: Rect) {
    let width = area.width.max(1);
    let height = area.height as usize;
    let n = state.conversation.blocks.len();
    if n == 0 {
        let hint = if state.current.is_some() {
            "No messages yet. Type below and press Enter."
        } else {
            "Welcome to aisys chat. Type a message to start a session · Tab: sessions · ?: keys"
        };
        let p = Paragraph::new(Line::from(Span::styled(
            hint,
            Style::default().fg(Color::DarkGray),
        )))
        .wrap(Wrap { trim: true });
        frame.render_widget(p, area);
        return;
    }
    // Find the window [start, end) in the concatenated lines of blocks first..n, counting
    // heights only (cached), then clone just the visible lines.
    // A block cursor is always in view: the window ends where the cursor's block ends (or shows
    // the block's start, when it is taller than the window).
    let scroll = match state.cursor {
        Some(c) if c < n => {
            let below: usize = (c + 1..n).map(|i| cache.lines(state, i, width).len()).sum();
            let own = cache.lines(state, c, width).len();
            Scroll::FromBottom(below + own.saturating_sub(height))
        }
        _ => state.scroll,
    };
    if let Scroll::FromBottom(up) = scroll {
        state.lines_below.set(up);
    }
    let (first, start, end) = match scroll {
        Scroll::FromBottom(up) => {
            let need = height + up;
            let (mut acc, mut i) = (0, n);
            while i > 0 && acc < need {
                i -= 1;
                acc += cache.lines(state, i, width).len();
            }
            let up = up.min(acc.saturating_sub(height));
            let end = acc - up;
            (i, end.saturating_sub(height), end)
        }
        Scroll::FromTop(down) => {
            let (mut skipped, mut i) = (0, 0);
            while i < n {
                let h = cache.lines(state, i, width).len();
                if skipped + h > down {
                    break;
                }
                skipped += h;
                i += 1;
            }
            let start = down - skipped;
            (i, start, start + height)
        }
    };
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(height);
    let mut pos = 0;
    for i in first..n {
        if pos >= end {
            break;
        }
        for l in cache.lines(state, i, width) {
            if pos >= start && pos < end {
                lines.push(l.clone());
            }
            pos += 1;
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A token count in at most five characters: `950`, `12.3k`, `4.1M`.
fn short_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn draw_sessions(frame: &mut Frame, state: &State, area: Rect) {
    let items: Vec<ListItem> = state
        .sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            // The selected row has a blue background: grey text would vanish on it.
            let dim = if i == state.selected_session {
                Style::default().fg(Color::White)
            } else {
                Style::default().fg(Color::DarkGray)
            };
            let title = s.title.clone().unwrap_or_else(|| s.id.to_string());
            let mut title_line = vec![Span::styled(
                title,
                Style::default().add_modifier(Modifier::BOLD),
            )];
            if state.confirm_delete.as_deref() == Some(s.id.as_str()) {
                title_line.push(Span::styled(
                    " delete? d again",
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            let mut lines = vec![
                Line::from(title_line),
                Line::from(vec![
                    Span::styled(format!("{} ", s.agent), dim),
                    Span::styled(s.state.to_string(), state_style(s.state)),
                    Span::styled(format!(" {}", short_time(s.last_activity)), dim),
                ]),
            ];
            // On a line of its own: the list is a narrow column beside the conversation.
            if let Some(u) = s.usage.as_ref().filter(|u| u.turns > 0) {
                lines.push(Line::styled(
                    format!(
                        "{} tokens · ${:.2}",
                        short_count(u.tokens.total()),
                        u.cost_usd
                    ),
                    dim,
                ));
            }
            ListItem::new(lines)
        })
        .collect();
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" sessions · Enter open · n new · s stop · d delete "),
        )
        .highlight_style(Style::default().bg(Color::Blue).fg(Color::White));
    let mut ls = ListState::default();
    if !state.sessions.is_empty() {
        ls.select(Some(state.selected_session));
    }
    frame.render_widget(Clear, area);
    frame.render_stateful_widget(list, area, &mut ls);
}

/// `HH:MM` in UTC, as the session list shows a time.
fn short_time(at: jiff::Timestamp) -> String {
    at.strftime("%H:%M").to_string()
}

fn state_style(s: SessionState) -> Style {
    Style::default().fg(match s {
        SessionState::Running | SessionState::Provisioning => Color::Yellow,
        SessionState::AwaitingPermission | SessionState::Interrupting => Color::Magenta,
        SessionState::Idle => Color::Green,
        SessionState::Stopped => Color::DarkGray,
        SessionState::Failed => Color::Red,
    })
}

/// One part of the status line: where it shows (`order`), how much it matters when the line is
/// too narrow for all (`rank`, lower stays), and whether it may be shortened to fit.
struct Piece {
    order: u8,
    rank: u8,
    span: Span<'static>,
    shrinks: bool,
}

fn draw_status(frame: &mut Frame, state: &State, area: Rect) {
    let mut pieces = vec![Piece {
        order: 0,
        rank: 0,
        shrinks: false,
        span: match &state.connection {
            Connection::Connected => Span::styled("● connected", Style::default().fg(Color::Green)),
            Connection::Connecting => {
                Span::styled("◌ connecting", Style::default().fg(Color::Yellow))
            }
            Connection::Disconnected(r) => Span::styled(
                format!("○ disconnected ({r}), reconnecting"),
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
        },
    }];
    let mut add = |order: u8, rank: u8, span: Span<'static>| {
        pieces.push(Piece {
            order,
            rank,
            span,
            shrinks: false,
        })
    };
    // What stays when the line is narrow: the state, the cost, then the rest.
    if let Some(s) = &state.current {
        if s.state.is_busy() {
            // A spinner that turns with the clock (the app redraws on its tick during a turn),
            // and what the agent is doing now.
            let ms = state
                .turn_started
                .map_or(0, |t| t.elapsed().as_millis() as usize);
            let frame = SPINNER[(ms / SPINNER_FRAME_MS) % SPINNER.len()];
            add(
                2,
                1,
                Span::styled(format!("{frame} {}", s.state), state_style(s.state)),
            );
            if let Some(tool) = running_tool(state) {
                add(3, 4, Span::styled(tool, Style::default().fg(Color::Yellow)));
            }
        } else {
            add(
                2,
                1,
                Span::styled(s.state.to_string(), state_style(s.state)),
            );
        }
    }
    if state.cost > 0.0 {
        add(6, 2, Span::raw(format!("${:.4}", state.cost)));
    }
    if let Some(m) = &state.model {
        add(4, 7, Span::raw(m.clone()));
    }
    let u = &state.usage;
    if u.input_tokens.saturating_add(u.output_tokens) > 0 {
        add(
            5,
            6,
            Span::raw(format!(
                "{} in · {} out",
                human(
                    u.input_tokens
                        .saturating_add(u.cache_read_tokens)
                        .saturating_add(u.cache_creation_tokens)
                ),
                human(u.output_tokens)
            )),
        );
    }
    let elapsed = state
        .turn_started
        .map(|t| t.elapsed().as_millis() as u64)
        .or(state.last_turn_ms);
    if let Some(ms) = elapsed {
        add(7, 5, Span::raw(format!("{:.1}s", ms as f64 / 1000.0)));
    }
    // A notice is what the person must read now: it shows next to the connection, and is
    // shortened rather than dropped.
    if let Some(n) = &state.notice {
        pieces.push(Piece {
            order: 1,
            rank: 3,
            span: Span::styled(n.clone(), Style::default().fg(Color::Yellow)),
            shrinks: true,
        });
    }
    pieces.sort_by_key(|p| p.rank);
    let mut room = area.width as usize;
    let mut kept = Vec::new();
    let sep_w = STATUS_SEP.chars().count();
    for mut p in pieces {
        let sep = if kept.is_empty() { 0 } else { sep_w };
        let need = p.span.width() + sep;
        if need <= room {
            room -= need;
            kept.push(p);
        } else if p.shrinks && room > STATUS_SHRUNK_MIN + sep {
            let text = truncate(&p.span.content, room - sep);
            p.span = Span::styled(text, p.span.style);
            room = 0;
            kept.push(p);
        }
    }
    kept.sort_by_key(|p| p.order);
    let mut spans = Vec::new();
    for (i, p) in kept.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(
                STATUS_SEP,
                Style::default().fg(Color::DarkGray),
            ));
        }
        spans.push(p.span);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Between the parts of the status line.
const STATUS_SEP: &str = " │ ";
/// A notice shortened below this many columns says too little to be worth showing.
const STATUS_SHRUNK_MIN: usize = 12;

/// The spinner's frames, and how long each shows.
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_FRAME_MS: usize = 250;
/// Blocks looked at from the end for a running tool call: one is always among the last few.
const RUNNING_TOOL_LOOKBACK: usize = 8;
/// Narrowest description column of the help before it puts descriptions under their keys.
const HELP_MIN_DESC: usize = 20;
/// Longest tool summary in the status line.
const RUNNING_TOOL_WIDTH: usize = 40;

/// The tool call that is running now, as `Bash ls -la`.
fn running_tool(state: &State) -> Option<String> {
    state
        .conversation
        .blocks
        .iter()
        .rev()
        .take(RUNNING_TOOL_LOOKBACK)
        .find_map(|b| match &b.kind {
            BlockKind::ToolCall {
                name,
                input,
                status: ToolStatus::Pending,
                ..
            }
            | BlockKind::SubagentRun {
                name,
                input,
                status: ToolStatus::Pending,
                ..
            } => Some(truncate(
                &format!("{name} {}", summarize_input(name, input)),
                RUNNING_TOOL_WIDTH,
            )),
            _ => None,
        })
}

fn human(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{:.1}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// `workspace` is where a command would run: shown for Bash, whose summary is only the command.
fn draw_permission(frame: &mut Frame, p: &PendingPermission, workspace: Option<&str>, area: Rect) {
    let width = PROMPT_WIDTH.min(area.width).saturating_sub(2).max(1) as usize;
    let mut lines = vec![
        Line::from(vec![
            Span::raw("The agent wants to use "),
            Span::styled(
                p.tool_name.clone(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ]),
        Line::raw(""),
    ];
    // What the call would do, as every view shows it (`converters::tool_view`): a command with
    // the folder it runs in, an edit's diff, a written file's first lines, another tool's input.
    let call = &p.call;
    let command = matches!(call.view, ToolView::Command { .. });
    if !command {
        for l in wrap(&call.gist, width).into_iter().take(PROMPT_INPUT_LINES) {
            lines.push(Line::styled(l, Style::default().fg(Color::Cyan)));
        }
    }
    let mut tail = Vec::new();
    if command && let Some(ws) = workspace {
        tail.push(Line::styled(
            truncate(&format!("  in {ws}"), width),
            Style::default().fg(Color::DarkGray),
        ));
    }
    tail.push(Line::raw(""));
    // The highlight is drawn only while the prompt has the keyboard, with brackets too, so it
    // reads without color.
    let spans: Vec<Span> = CHOICES
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let on = p.focused && i == p.choice;
            let (text, style) = if on {
                (
                    format!("[{}]", c.label()),
                    Style::default().bg(Color::Blue).fg(Color::White),
                )
            } else {
                (format!(" {} ", c.label()), Style::default())
            };
            [Span::styled(text, style), Span::raw(" ")]
        })
        .collect();
    tail.push(Line::from(spans));
    tail.push(Line::raw(""));
    let hint = if p.confirming_always {
        Span::styled(
            format!(
                "Enter again: never ask for {} in this session · Esc: back",
                p.tool_name
            ),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )
    } else if p.focused {
        Span::styled(
            "←/→ choose · Enter answer · Esc deny · typing goes to the message",
            Style::default().fg(Color::DarkGray),
        )
    } else {
        Span::styled(
            "Tab: choose an answer · Esc: deny · typing goes to the message",
            Style::default().fg(Color::DarkGray),
        )
    };
    tail.push(Line::from(hint));
    // The view gets the rows the rest leaves (so the choices are never pushed off the screen),
    // up to the terminal's height less a margin of conversation.
    let rows = |ls: &[Line]| -> usize { ls.iter().map(|l| l.width().max(1).div_ceil(width)).sum() };
    let free = (area.height as usize).saturating_sub(rows(&lines) + rows(&tail) + 2);
    let room = free
        .saturating_sub(PROMPT_MARGIN_ROWS)
        .max(PROMPT_VIEW_LINES.min(free));
    lines.extend(prompt_lines(call, width, room));
    lines.extend(tail);
    // As tall as its lines once wrapped, so nothing is cut and no empty rows cover the
    // conversation.
    let rows = rows(&lines);
    let rect = centered(area, PROMPT_WIDTH, rows as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(Color::Magenta))
                .title(" permission "),
        ),
        rect,
    );
}

/// Every key, for `?`.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the message"),
    ("Alt-Enter, Shift-Enter", "new line in the message"),
    ("Up / Down", "recall earlier messages"),
    ("Esc", "interrupt the running turn"),
    ("Tab, Ctrl-B", "show or hide the session list"),
    ("PgUp / PgDn, wheel", "scroll the conversation"),
    ("Home / End", "jump to the start / follow new output"),
    ("Alt-Up / Alt-Down", "move the block cursor"),
    ("Ctrl-O", "expand or fold a tool call or thinking"),
    (
        "Ctrl-Y",
        "copy the block under the cursor (or the last answer)",
    ),
    (
        "Alt-M",
        "mouse: scroll here, or let the terminal select text",
    ),
    (
        "Enter / s / d (sessions)",
        "open, stop, delete (asks first) the selected session",
    ),
    (
        "Ctrl-N, n (sessions)",
        "new session: agent, model, folder, profile, ...",
    ),
    (
        "Tab, ←/→ (prompt)",
        "permission prompt: take the keyboard, pick a choice",
    ),
    (
        "Enter (prompt)",
        "answer; Always allow asks for a second Enter",
    ),
    ("Esc (prompt)", "deny; letters always go to the message"),
    ("Ctrl-C twice", "quit"),
    ("?", "this help"),
];

/// The help's key column: the longest key and two spaces.
fn help_key_width() -> usize {
    KEYS.iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 2
}

/// The help's lines for an inner width: keys in a column, descriptions wrapped beside them.
fn help_lines(width: usize) -> Vec<Line<'static>> {
    let key_w = help_key_width();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    if width < key_w + HELP_MIN_DESC {
        // Too narrow for two columns: each key on its line, its description under it.
        for (k, v) in KEYS {
            lines.push(Line::styled(k.to_string(), bold));
            for l in wrap_words(v, width.saturating_sub(2)) {
                lines.push(Line::raw(format!("  {l}")));
            }
        }
        return lines;
    }
    for (k, v) in KEYS {
        for (i, l) in wrap_words(v, width - key_w).into_iter().enumerate() {
            let key = if i == 0 { k.to_string() } else { String::new() };
            lines.push(Line::from(vec![
                Span::styled(format!("{key:<key_w$}"), bold),
                Span::raw(l),
            ]));
        }
    }
    lines
}

fn draw_help(frame: &mut Frame, area: Rect) {
    // As wide as the longest key and description, or the screen; as tall as the lines once
    // wrapped to that width.
    let key_w = help_key_width();
    let desc_w = KEYS
        .iter()
        .map(|(_, v)| v.chars().count())
        .max()
        .unwrap_or(0);
    let title = " keys · any key closes ";
    let inner = (key_w + desc_w)
        .max(title.len())
        .min(area.width.saturating_sub(2) as usize);
    let lines = help_lines(inner);
    let rect = centered(area, inner as u16 + 2, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}
