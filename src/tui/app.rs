//! The app: the terminal, the event loop and the actions that reach the network.
//!
//! Keys, mouse and resizes come from crossterm's event stream; server notifications from the
//! client's task; answers to requests from small tasks the app spawns. All three feed
//! [`State::update`], and the screen is drawn after each. Requests never run on this loop, so a
//! slow or lost server never freezes the screen.

use std::io::Stdout;
use std::time::Duration;

use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyEventKind,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::state::{Action, Input, State};
use super::view::{self, LayoutCache};
use crate::client::Client;
use crate::types::ClientMessage;

/// How often the status bar's clock redraws during a turn.
const TICK: Duration = Duration::from_millis(250);
/// Answers of spawned requests waiting for the loop.
const ANSWER_QUEUE: usize = 256;

type Term = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal back however the app ends.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let mut out = std::io::stdout();
        let _ = execute!(out, PopKeyboardEnhancementFlags);
        let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen);
    }
}

/// Runs the UI until the person quits.
pub async fn run(
    client: Client,
    mut notes: mpsc::Receiver<crate::client::Notification>,
    mut state: State,
    open: Option<String>,
) -> std::io::Result<()> {
    enable_raw_mode()?;
    let _guard = TerminalGuard;
    let mut out = std::io::stdout();
    execute!(out, EnterAlternateScreen, EnableMouseCapture)?;
    // Lets terminals that support it report Shift-Enter apart from Enter.
    let _ = execute!(
        out,
        PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
    );
    let mut terminal: Term = Terminal::new(CrosstermBackend::new(out))?;
    let mut cache = LayoutCache::default();
    let mut keys = EventStream::new();
    let (answers, mut answer_rx) = mpsc::channel::<Input>(ANSWER_QUEUE);
    let mut tick = tokio::time::interval(TICK);

    state.connection = super::state::Connection::Connected;
    run_actions(&client, &answers, vec![Action::RefreshSessions]);
    if let Some(id) = open {
        // Through the state, so it keeps the session's events that come before the attach's
        // answer.
        let actions = state.open_by_id(id.into());
        run_actions(&client, &answers, actions);
    }
    let size = terminal.size()?;
    state.update(Input::ViewHeight(view::conversation_height(size.height, 1)));
    loop {
        terminal.draw(|f| view::draw(f, &state, &mut cache))?;
        // The highlighter loads once the first frame is out (at once after the first call), so
        // it never competes with that frame; code is drawn plain until it is ready.
        super::markdown::warm_up();
        // Answers first: a session's `Opened` must be seen before its events.
        let input = tokio::select! {
            biased;
            a = answer_rx.recv() => match a { Some(i) => i, None => continue },
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Input::Key(k),
                Some(Ok(Event::Mouse(m))) => Input::Mouse(m.kind),
                Some(Ok(Event::Resize(_, h))) => {
                    Input::ViewHeight(view::conversation_height(h, state.input.lines().len() as u16))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            n = notes.recv() => match n {
                Some(n) => Input::Note(n),
                None => return Ok(()),
            },
            _ = tick.tick() => {
                if state.turn_started.is_none() { continue }
                terminal.draw(|f| view::draw(f, &state, &mut cache))?;
                continue;
            }
        };
        let actions = state.update(input);
        if actions.contains(&Action::Quit) {
            return Ok(());
        }
        let actions = terminal_actions(actions);
        run_actions(&client, &answers, actions);
    }
}

/// Carries out the actions on the terminal itself (clipboard, mouse reporting) and returns the
/// others.
fn terminal_actions(actions: Vec<Action>) -> Vec<Action> {
    let mut rest = Vec::new();
    for action in actions {
        match action {
            Action::Copy(text) => copy_to_clipboard(&text),
            Action::MouseCapture(on) => {
                let mut out = std::io::stdout();
                let _ = if on {
                    execute!(out, EnableMouseCapture)
                } else {
                    execute!(out, DisableMouseCapture)
                };
            }
            other => rest.push(other),
        }
    }
    rest
}

/// Clipboard programs tried after OSC 52, for terminals that ignore it: (program, arguments).
const CLIPBOARD_PROGRAMS: &[(&str, &[&str])] = &[
    ("wl-copy", &[]),
    ("xclip", &["-selection", "clipboard"]),
    ("xsel", &["--clipboard", "--input"]),
    ("pbcopy", &[]),
];

/// Puts `text` on the clipboard: an OSC 52 sequence to the terminal (which reaches the local
/// clipboard over ssh and in tmux with `set-clipboard`), and the first clipboard program found,
/// for terminals that ignore OSC 52.
fn copy_to_clipboard(text: &str) {
    use base64::Engine;
    use std::io::Write;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
    for (program, args) in CLIPBOARD_PROGRAMS {
        let child = std::process::Command::new(program)
            .args(*args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(text.as_bytes());
            }
            // Reaped in the background: some of these stay to serve the selection.
            std::thread::spawn(move || child.wait());
            break;
        }
    }
}

/// Starts each action's requests in a task of its own; answers come back as inputs.
fn run_actions(client: &Client, answers: &mpsc::Sender<Input>, actions: Vec<Action>) {
    for action in actions {
        let client = client.clone();
        let answers = answers.clone();
        tokio::spawn(async move {
            let result: Result<(), String> = async {
                match action {
                    Action::Send(msg) => {
                        client.ack(msg).await.map_err(|e| e.to_string())?;
                    }
                    Action::RefreshSessions => {
                        let list = client.list().await.map_err(|e| e.to_string())?;
                        let _ = answers.send(Input::Sessions(list)).await;
                    }
                    Action::Open(id) => {
                        let info = client.attach(&id, 0).await.map_err(|e| e.to_string())?;
                        let _ = answers.send(Input::Opened(info)).await;
                    }
                    Action::CreateAndSend { spec, text } => {
                        let info = client.create(spec).await.map_err(|e| e.to_string())?;
                        let id = info.id.clone();
                        // `Opened` goes first so the session's events are not dropped as foreign.
                        let _ = answers.send(Input::Opened(info)).await;
                        client.attach(&id, 0).await.map_err(|e| e.to_string())?;
                        client
                            .ack(ClientMessage::Message {
                                session_id: id,
                                text,
                            })
                            .await
                            .map_err(|e| e.to_string())?;
                        if let Ok(list) = client.list().await {
                            let _ = answers.send(Input::Sessions(list)).await;
                        }
                    }
                    Action::Quit | Action::Copy(_) | Action::MouseCapture(_) => {}
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                let _ = answers.send(Input::Failed(e)).await;
            }
        });
    }
}
