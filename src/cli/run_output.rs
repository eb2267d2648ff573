//! How `aisys run` prints a turn: `pretty` for people, `jsonl` StreamEvents for programs, or the
//! whole conversation at the end as `json` blocks or `markdown` (through the converters'
//! assembler and renderers).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::Output;
use super::run::RunFormat;
use crate::converters::ansi;
use crate::converters::{Assembler, render_json, render_markdown, result_text, summarize_input};
use crate::types::{DecidedBy, PermissionDecision, StreamEvent, TurnStatus};

/// How often the waiting spinner redraws.
const SPINNER_TICK: Duration = Duration::from_millis(100);

/// Prints the events of one turn in the chosen format.
pub struct Printer {
    format: RunFormat,
    out: Output,
    /// Pending tool calls (id -> one-line summary), printed with their outcome.
    calls: HashMap<String, String>,
    /// For `json` and `markdown`: the conversation so far.
    assembler: Assembler,
    spinner: Option<indicatif::ProgressBar>,
    /// Whether the last thing printed was streamed text without its newline.
    mid_line: bool,
    started: Instant,
}

impl Printer {
    pub fn new(format: RunFormat, out: Output) -> Printer {
        let spinner = (format == RunFormat::Pretty && out.stderr_is_tty && !out.quiet).then(|| {
            let s = indicatif::ProgressBar::new_spinner();
            s.set_message("waiting for the agent");
            s.enable_steady_tick(SPINNER_TICK);
            s
        });
        Printer {
            format,
            out,
            calls: HashMap::new(),
            assembler: Assembler::new(),
            spinner,
            mid_line: false,
            started: Instant::now(),
        }
    }

    pub fn event(&mut self, ev: &StreamEvent) -> std::io::Result<()> {
        match self.format {
            RunFormat::Jsonl => {
                let mut stdout = crate::cli::output::stdout();
                serde_json::to_writer(&mut stdout, ev)?;
                stdout.write_all(b"\n")?;
                stdout.flush()
            }
            RunFormat::Json | RunFormat::Markdown => {
                self.assembler.push(ev.clone());
                Ok(())
            }
            RunFormat::Pretty => {
                let spinner = self.spinner.take();
                let res = match &spinner {
                    Some(s) => s.suspend(|| self.pretty(ev)),
                    None => self.pretty(ev),
                };
                self.spinner = spinner;
                res
            }
        }
    }

    /// Runs `f` with the spinner hidden, so that what `f` prints (a question) stays readable.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.spinner {
            Some(s) => s.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.spinner.take() {
            s.finish_and_clear();
        }
        let mut stdout = crate::cli::output::stdout();
        match self.format {
            RunFormat::Json => {
                let blocks = std::mem::take(&mut self.assembler).finish();
                writeln!(stdout, "{}", render_json(&blocks))?;
            }
            RunFormat::Markdown => {
                let blocks = std::mem::take(&mut self.assembler).finish();
                write!(stdout, "{}", render_markdown(&blocks))?;
            }
            _ => {}
        }
        stdout.flush()
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.out.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Agent text as the terminal may show it: SGR colour only when colour is on, no other
    /// control sequence.
    fn safe<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let keep = if self.out.color {
            ansi::Keep::Colour
        } else {
            ansi::Keep::Nothing
        };
        ansi::clean(text, keep)
    }

    fn line(&mut self, text: &str) -> std::io::Result<()> {
        let text = self.safe(text).into_owned();
        let mut stdout = crate::cli::output::stdout();
        if self.mid_line {
            writeln!(stdout)?;
            self.mid_line = false;
        }
        writeln!(stdout, "{text}")?;
        stdout.flush()
    }

    fn pretty(&mut self, ev: &StreamEvent) -> std::io::Result<()> {
        match ev {
            StreamEvent::SessionStarted {
                loaded: Some(loaded),
                ..
            } => {
                let line = self.paint("2", &crate::converters::loaded_summary(loaded));
                self.line(&line)?;
            }
            StreamEvent::TextDelta {
                text,
                parent_tool_use_id: None,
                ..
            } => {
                let shown = self.safe(text).into_owned();
                let mut stdout = crate::cli::output::stdout();
                write!(stdout, "{shown}")?;
                stdout.flush()?;
                self.mid_line = !text.ends_with('\n');
            }
            StreamEvent::Text {
                text,
                parent_tool_use_id: None,
                ..
            } => {
                if !self.mid_line {
                    self.line(text.trim_end())?;
                } else {
                    self.mid_line = false;
                    self.line("")?;
                }
            }
            StreamEvent::ToolCall {
                id, name, input, ..
            } => {
                self.calls.insert(
                    id.clone(),
                    format!("{name} {}", summarize_input(name, input)),
                );
            }
            StreamEvent::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                if let Some(summary) = self.calls.remove(tool_use_id) {
                    let (mark, color) = if *is_error {
                        ("✗", "31")
                    } else {
                        ("✓", "32")
                    };
                    let mut text = format!("{} {summary}", self.paint(color, mark));
                    if *is_error {
                        let result = result_text(content);
                        let first = result.lines().next().unwrap_or("");
                        text.push_str(&self.paint("31", &format!(" — {first}")));
                    }
                    self.line(&text)?;
                }
            }
            StreamEvent::PermissionDecision {
                decision,
                decided_by,
                message,
                ..
            } => {
                let what = match decision {
                    PermissionDecision::Allow => self.paint("32", "allowed"),
                    PermissionDecision::Deny => self.paint("33", "denied"),
                };
                let by = decided_by.unwrap_or(DecidedBy::Policy).as_str();
                let msg = message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                self.line(&self.paint("2", &format!("  permission {what} by {by}{msg}")))?;
            }
            StreamEvent::Error { message, .. } => {
                self.line(&self.paint("31", &format!("error: {message}")))?;
            }
            StreamEvent::Result {
                status,
                duration_ms,
                num_turns,
                cost_usd,
                usage,
                error,
                ..
            } => {
                for (_, summary) in self.calls.drain().collect::<Vec<_>>() {
                    self.line(&format!("{} {summary}", self.paint("33", "…")))?;
                }
                if let Some(e) = error {
                    self.line(&self.paint("31", &format!("error: {e}")))?;
                }
                let ms = duration_ms.unwrap_or(self.started.elapsed().as_millis() as u64);
                let mut parts = vec![
                    match status {
                        TurnStatus::Success => self.paint("32", "done"),
                        TurnStatus::Interrupted => self.paint("33", "interrupted"),
                        TurnStatus::Timeout => self.paint("31", "timed out"),
                        TurnStatus::MaxTurns => self.paint("33", "stopped at --max-turns"),
                        TurnStatus::Error => self.paint("31", "failed"),
                    },
                    format!("{:.1}s", ms as f64 / 1000.0),
                ];
                if let Some(n) = num_turns {
                    parts.push(format!("{n} turns"));
                }
                if let Some(u) = usage {
                    parts.push(format!(
                        "{} in / {} out tokens",
                        u.input_tokens, u.output_tokens
                    ));
                }
                if let Some(c) = cost_usd {
                    parts.push(format!("${c:.4}"));
                }
                self.line(&self.paint("2", &parts.join(" · ")))?;
            }
            StreamEvent::Notice { kind, text, .. } if kind == "sandbox" => {
                self.line(&self.paint("33", &format!("sandbox: {text}")))?;
            }
            // What the agent loaded and what its hooks did, as it happens.
            StreamEvent::Notice { kind, text, .. }
                if kind == crate::converters::SKILL_LOAD || kind == crate::converters::HOOK =>
            {
                self.line(&self.paint("2", text))?;
            }
            StreamEvent::Stderr { line } if self.out.verbose > 0 => {
                self.line(&self.paint("2", &format!("stderr: {line}")))?;
            }
            _ => {}
        }
        Ok(())
    }
}
