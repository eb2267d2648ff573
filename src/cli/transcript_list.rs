//! `aisys transcript list`: the Claude Code sessions on this machine, newest first, as a table
//! or JSON.
//!
//! Finds Claude Code's projects folder (honouring `CLAUDE_CONFIG_DIR`), calls
//! [`crate::converters::sessions::list_sessions`] and prints. Holds no reading logic itself.

use std::io::Write;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use unicode_width::UnicodeWidthStr;

use super::transcript::{ListArgs, TableFormat};
use super::transcript_stats::reader_gone;
use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::converters::sessions::{SessionInfo, list_sessions};

/// Widest first prompt in the table: the rest of a row stays readable on an 80-column terminal
/// only if the prompt gives way.
const TABLE_PROMPT_CHARS: usize = 50;

pub fn run(ctx: &Context, args: ListArgs) -> anyhow::Result<Exit> {
    let projects = super::transcript::claude_projects(
        "set CLAUDE_CONFIG_DIR to Claude Code's home if it is elsewhere",
    )?;
    let list =
        list_sessions(&projects).map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    {
        let mut err = std::io::stderr().lock();
        for b in &list.bad_lines {
            writeln!(err, "{b}")?;
        }
    }
    let printed = (|| {
        let mut out = std::io::stdout().lock();
        match args.format {
            TableFormat::Json => {
                let sessions: Vec<_> = list.sessions.iter().map(session_json).collect();
                serde_json::to_writer_pretty(&mut out, &json!({ "sessions": sessions }))?;
                writeln!(out)?;
            }
            TableFormat::Table => print_table(&mut out, &list.sessions, ctx.out.color)?,
        }
        out.flush()?;
        anyhow::Ok(())
    })();
    match printed {
        Err(e) if reader_gone(&e) => {}
        r => r?,
    }
    if !list.bad_lines.is_empty() {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!(
                "{} bad line(s), reported above; the sessions were listed from the rest",
                list.bad_lines.len()
            ),
        )
        .into());
    }
    Ok(EXIT_OK)
}

fn session_json(s: &SessionInfo) -> serde_json::Value {
    json!({
        "id": s.id,
        "project_dir": s.project_dir,
        "first_prompt": s.first_prompt,
        "started": s.started.map(|t| t.to_string()),
        "last_activity": s.last_activity.map(|t| t.to_string()),
        "messages": s.messages,
        "path": s.path.display().to_string(),
    })
}

/// A time as the reader's wall clock shows it, to the minute.
fn local(t: Option<Timestamp>, tz: &TimeZone) -> String {
    match t {
        Some(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        None => "-".to_string(),
    }
}

fn cut(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn print_table(out: &mut impl Write, sessions: &[SessionInfo], color: bool) -> anyhow::Result<()> {
    if sessions.is_empty() {
        writeln!(out, "No Claude Code sessions.")?;
        return Ok(());
    }
    let tz = TimeZone::system();
    let header = [
        "Last activity",
        "Started",
        "Messages",
        "Session",
        "Project",
        "First prompt",
    ];
    let rows: Vec<[String; 6]> = sessions
        .iter()
        .map(|s| {
            [
                local(s.last_activity, &tz),
                local(s.started, &tz),
                s.messages.to_string(),
                s.id.clone(),
                s.project_dir.clone(),
                cut(s.first_prompt.as_deref().unwrap_or("-"), TABLE_PROMPT_CHARS),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.width());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(c.width()));
            if i == 2 {
                s.push_str(&pad);
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&pad);
            }
        }
        s.trim_end().to_string()
    };
    let (bold, reset) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    writeln!(out, "{bold}{}{reset}", line(&header))?;
    for r in &rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}
