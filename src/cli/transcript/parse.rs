//! `aisys transcript parse`: agent transcripts and streams as readable conversations (text,
//! Markdown, HTML, JSON), from files, folders, stdin or a session id, whole or followed as they
//! grow. `-o DIR` (a folder of pages) is [`super::pages`].
//!
//! Holds no reading or rendering: both come from the converters.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use std::io::IsTerminal;

use super::output_file::OutputFile;
use super::{claude_projects, read_error, time_flag};
use crate::cli::output::to_stderr;
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit};
use crate::converters::{
    Assembler, BadLine, Clock, ConvertOptions, EventFilter, Follower, Format, HTML_PAGE_END, Input,
    ReadOptions, SessionHeader, Sink, TextStyle, ViewOptions, conversation_title, convert_all,
    expand_inputs, html_page_start, html_session, html_sessions_nav, render_json,
    render_markdown_with, render_text_with,
};
use crate::types::{ConversationBlock, StreamEvent};

/// Turn transcripts and agent output streams into readable conversations.
///
/// Reads Claude Code transcripts (~/.claude/projects/**/*.jsonl), Claude Code stream-json,
/// OpenCode `run --format json` lines and OpenCode exports, and prints the conversation as
/// text, Markdown, HTML or JSON. Lines it does not understand are kept as raw blocks.
///
/// --format jsonl prints one ConversationBlock per line and --format json one array of them
/// (docs/schema/conversation-block.schema.json); with --events, one StreamEvent per line
/// (docs/schema/stream-event.schema.json). Both are stable; block ids are unique within a session.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys transcript parse ~/.claude/projects/-home-me-app/3f2a.jsonl
  claude -p \"hi\" --output-format stream-json --verbose | aisys transcript parse --format markdown
  aisys transcript parse session.jsonl -o session.html
  aisys transcript parse ~/.claude/projects/-home-me-app -o pages/
  aisys transcript parse --session 3f2a1b9c --format md
  aisys transcript parse session.jsonl --format md --tz Europe/Paris
  aisys transcript parse --follow ~/.claude/projects/-home-me-app/3f2a.jsonl")]
pub struct ParseArgs {
    /// Files, folders (every *.jsonl below) or `-` for stdin (the default when stdin is a pipe
    /// and --session is not given).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Input format; auto detects it per file from the first lines.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto, value_name = "FORMAT")]
    pub from: InputFormat,
    /// Output format (default: from the -o file's extension, else text on a terminal, jsonl
    /// otherwise).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ParseFormat>,
    /// Write to this file instead of stdout; its extension (.md, .html, .json, .jsonl, .txt)
    /// picks the format when --format is not given. The file is written whole at the end: an
    /// error, or a bad line with --strict, leaves it as it was; without --strict bad lines are
    /// reported, the rest is written and the exit status is 3. A folder (existing, or a name
    /// ending in `/`) gets one HTML page per session and an index.html that lists them, with a
    /// search.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print StreamEvents instead of conversation blocks, as JSON lines (--format jsonl; other
    /// formats are refused).
    #[arg(long)]
    pub events: bool,
    /// Keep reading as the transcript grows, printing blocks as lines arrive.
    #[arg(long)]
    pub follow: bool,
    /// Only the session with this id, or the one id that starts with it (as `transcript list`
    /// shows it). Without INPUT, the session is looked up in Claude Code's projects folder.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only what happened at or after this time: RFC 3339, or a date (YYYY-MM-DD) meaning its
    /// midnight in the --tz zone.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only what happened before this time: RFC 3339, or a date (YYYY-MM-DD) meaning its
    /// midnight in the --tz zone.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Leave out subagent conversations.
    #[arg(long)]
    pub no_sidechains: bool,
    /// Leave out thinking blocks.
    #[arg(long)]
    pub no_thinking: bool,
    /// Cut tool results longer than this many lines (their start and end are kept).
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_output_lines: usize,
    /// Time zone of the times shown (and dates given to --since/--until are read in): an IANA
    /// name (Europe/Paris), UTC, or local.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
    /// Stop at the first bad line instead of reporting it and going on.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Detect per file from its first lines.
    Auto,
    /// Claude Code session transcript (~/.claude/projects/**/*.jsonl).
    ClaudeTranscript,
    /// `claude -p --output-format stream-json` (or `json`) output.
    ClaudeStreamJson,
    /// `opencode run --format json` output.
    OpencodeJson,
    /// `opencode export` document.
    OpencodeExport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParseFormat {
    /// Readable terminal text, colored on a terminal.
    Text,
    /// One JSON object per line.
    Jsonl,
    /// One JSON document.
    Json,
    /// Markdown, a heading per turn (also `md`).
    #[value(alias = "md")]
    Markdown,
    /// One self-contained HTML page.
    Html,
}

fn input_format(from: InputFormat) -> Option<Format> {
    match from {
        InputFormat::Auto => None,
        InputFormat::ClaudeTranscript => Some(Format::ClaudeTranscript),
        InputFormat::ClaudeStreamJson => Some(Format::ClaudeStreamJson),
        InputFormat::OpencodeJson => Some(Format::OpencodeRun),
        InputFormat::OpencodeExport => Some(Format::OpencodeExport),
    }
}

pub fn run(ctx: &Context, args: ParseArgs) -> anyhow::Result<Exit> {
    use std::cell::RefCell;
    use std::io::Write;

    let pages = args
        .output
        .as_deref()
        .filter(|p| super::pages::is_folder(p))
        .map(std::path::Path::to_path_buf);
    let from_extension = match &pages {
        Some(_) => Some(ParseFormat::Html),
        None => args.output.as_deref().map(format_of_path).transpose()?,
    };
    if pages.is_some() && (args.events || args.format.is_some_and(|f| f != ParseFormat::Html)) {
        return Err(CommandError::new(
            EXIT_USAGE,
            "-o DIR writes a folder of HTML pages; leave --format and --events out (or end the name in .md, .json, ... for one file)",
        )
        .into());
    }
    // The format asked for, and by which flag.
    let asked = match (args.format, &args.output) {
        (Some(f), _) => Some((f, format!("--format {}", format_name(f)))),
        (None, Some(o)) => from_extension.map(|f| (f, format!("-o {}", o.display()))),
        (None, None) => None,
    };
    if args.events
        && let Some((f, by)) = asked
        && f != ParseFormat::Jsonl
    {
        return Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "--events prints StreamEvents as JSON lines, but {by} asks for {}\n  fix: leave --format out or give --format jsonl, and end an -o name in .jsonl",
                format_name(f)
            ),
        )
        .into());
    }
    let format = args.format.or(from_extension).unwrap_or(
        if ctx.out.stdout_is_tty && args.output.is_none() {
            ParseFormat::Text
        } else {
            ParseFormat::Jsonl
        },
    );
    if args.output.is_some() && args.follow {
        return Err(CommandError::new(
            EXIT_USAGE,
            "--follow prints to stdout as lines arrive; leave -o out (redirect stdout instead)",
        )
        .into());
    }
    if args.session.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(CommandError::new(
            EXIT_USAGE,
            "--session: give a session id, or its first characters",
        )
        .into());
    }
    // `--session` without inputs names a session in Claude Code's projects folder, read whole.
    let mut session_filter = args.session.clone();
    let inputs = match (&args.session, args.inputs.is_empty()) {
        (Some(id), true) => {
            session_filter = None;
            vec![Input::file(session_file(id)?)]
        }
        (None, true) => {
            if std::io::stdin().is_terminal() {
                return Err(CommandError::new(
                    EXIT_USAGE,
                    "aisys transcript parse: give files or folders, or pipe a stream into it",
                )
                .into());
            }
            vec![Input::stdin()]
        }
        (_, false) => expand_inputs(&args.inputs).map_err(read_error)?,
    };
    let follow = if args.follow {
        Some(follow_target(&inputs, format, args.events)?)
    } else {
        None
    };
    let clock =
        Clock::named(&args.tz).map_err(|e| CommandError::new(EXIT_USAGE, format!("--tz: {e}")))?;
    let filter_settings = EventFilter {
        session: session_filter,
        since: time_flag("--since", args.since.as_deref(), clock.zone())?,
        until: time_flag("--until", args.until.as_deref(), clock.zone())?,
        no_thinking: args.no_thinking,
        no_sidechains: args.no_sidechains,
        ..EventFilter::default()
    };
    let view = ViewOptions {
        max_output_lines: args.max_output_lines,
        clock,
        width: crate::cli::output::text_width(ctx.out.stdout_is_tty),
    };
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_PARSE_THREADS));
    let mut options = ConvertOptions {
        read: ReadOptions {
            from: input_format(args.from),
            no_sidechains: args.no_sidechains,
        },
        filter: filter_settings.clone(),
        events_only: args.events,
        strict: args.strict,
        session_header: matches!(format, ParseFormat::Markdown | ParseFormat::Html),
        session_entry: false,
    };
    if let Some(dir) = &pages {
        return super::pages::write(ctx, dir, &inputs, options, &view, threads);
    }
    let mut filter = filter_settings.fresh();
    let file = match &args.output {
        Some(path) => Some(OutputFile::create(path, &inputs)?),
        None => None,
    };
    let sink: Box<dyn Write> = match &file {
        Some(f) => Box::new(f.writer()?),
        None => Box::new(crate::cli::output::stdout()),
    };
    let stdout = RefCell::new(std::io::BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, sink));
    let assembler = RefCell::new(Assembler::new());
    let events_only = args.events;
    let mut on_event = |mut ev: StreamEvent| -> std::io::Result<()> {
        if !filter.keep(&mut ev) {
            return Ok(());
        }
        if events_only {
            let mut out = stdout.borrow_mut();
            serde_json::to_writer(&mut *out, &ev)?;
            out.write_all(b"\n")?;
        } else {
            assembler.borrow_mut().push(ev);
        }
        Ok(())
    };
    let mut on_bad = |b: &BadLine| to_stderr(b);
    let mut sink = Sink::new(args.strict, &mut on_event, &mut on_bad);
    let printer = BlockPrinter {
        format,
        color: ctx.out.color,
        view,
    };

    if let Some(path) = follow {
        let mut follower = Follower::new(&path, input_format(args.from));
        let mut printed = 0;
        loop {
            let n = follower.poll(&mut sink).map_err(read_error)?;
            if !events_only {
                let a = assembler.borrow();
                let settled = a.settled_len();
                if settled > printed {
                    printer.write(
                        &mut *stdout.borrow_mut(),
                        &a.blocks()[printed..settled],
                        None,
                    )?;
                    printed = settled;
                }
            }
            stdout.borrow_mut().flush()?;
            if n == 0 {
                std::thread::sleep(FOLLOW_POLL);
            }
        }
    }

    let mut out = stdout.borrow_mut();
    // With --session, the output is held until it is known that the id named one session.
    let mut held = Vec::new();
    let mut done = if options.filter.session.is_some() {
        convert_into(&inputs, &options, threads, &printer, &mut held)
    } else {
        convert_into(&inputs, &options, threads, &printer, &mut *out)
    };
    if let Some(want) = options.filter.session.clone()
        && done.failure.is_none()
    {
        if one_session(&want, &done.matched, "the inputs")? {
            // The whole id is also the start of others: read again for it alone.
            options.filter.session_exact = true;
            held.clear();
            done = convert_into(&inputs, &options, threads, &printer, &mut held);
        }
        out.write_all(&held)?;
    }
    out.flush()?;
    drop(out);
    if let Some(e) = done.failure {
        return Err(e);
    }
    if let Some(f) = file {
        stdout
            .into_inner()
            .into_inner()
            .map_err(|e| e.into_error())?;
        f.persist()?;
    }
    if done.bad > 0 {
        let bad = done.bad;
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!("{bad} bad line(s), reported above; the rest was converted"),
        )
        .into());
    }
    Ok(EXIT_OK)
}

/// What converting every input came to.
pub(super) struct Done {
    /// Bad lines reported.
    pub bad: usize,
    pub failure: Option<anyhow::Error>,
    /// The sessions a `--session` filter kept.
    pub matched: std::collections::BTreeSet<String>,
}

/// Converts `inputs` and writes the output to `out` as one document; bad lines go to stderr.
fn convert_into(
    inputs: &[Input],
    options: &ConvertOptions,
    threads: usize,
    printer: &BlockPrinter,
    out: &mut dyn std::io::Write,
) -> Done {
    let render = |blocks: &[ConversationBlock], header: &SessionHeader, out: &mut Vec<u8>| {
        printer.fragment(out, blocks, header)
    };
    let format = printer.format;
    let mut done = Done {
        bad: 0,
        failure: None,
        matched: Default::default(),
    };
    let (mut started, mut wrote_any) = (false, false);
    let whole_document =
        !options.events_only && matches!(format, ParseFormat::Json | ParseFormat::Html);
    let json_document = whole_document && format == ParseFormat::Json;
    // One HTML page of several sessions: each in a section, listed at the top to jump to.
    let html_page = whole_document && format == ParseFormat::Html && inputs.len() > 1;
    let mut sessions: Vec<String> = Vec::new();
    convert_all(inputs, options, threads, &render, |_input, mut c| {
        for b in &c.bad_lines {
            to_stderr(b);
        }
        done.bad += c.bad_lines.len();
        done.matched.append(&mut c.sessions);
        let written = (|| -> std::io::Result<()> {
            if whole_document && !started {
                printer.document_start(&mut *out, c.title.as_deref())?;
                started = true;
            }
            if !c.output.is_empty() {
                if wrote_any && json_document {
                    out.write_all(b",\n")?;
                }
                if html_page {
                    sessions.push(c.title.clone().unwrap_or_else(|| "transcript".into()));
                    write!(
                        out,
                        "<section class=\"s\" id=\"session-{}\">",
                        sessions.len()
                    )?;
                }
                out.write_all(&c.output)?;
                if html_page {
                    out.write_all(b"</section>\n")?;
                }
                wrote_any = true;
            }
            Ok(())
        })();
        if let Err(e) = written {
            done.failure = Some(e.into());
            return false;
        }
        match c.error {
            Some(e) => {
                done.failure = Some(read_error(e));
                false
            }
            None => true,
        }
    });
    if whole_document && done.failure.is_none() {
        let ended = (|| -> std::io::Result<()> {
            if !started {
                printer.document_start(&mut *out, None)?;
            }
            if sessions.len() > 1 {
                out.write_all(html_sessions_nav(&sessions).as_bytes())?;
            }
            printer.document_end(&mut *out)
        })();
        if let Err(e) = ended {
            done.failure = Some(e.into());
        }
    }
    done
}

/// Most candidates named when a session id prefix is ambiguous: enough to pick from.
const MAX_CANDIDATES_SHOWN: usize = 10;

/// Checks that `--session want` named exactly one of the sessions `matched` in `place`; true
/// when it named several but one of them whole (read again for that one alone).
pub(super) fn one_session(
    want: &str,
    matched: &std::collections::BTreeSet<String>,
    place: &str,
) -> anyhow::Result<bool> {
    match matched.len() {
        0 => Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "--session {want}: no session in {place} has an id starting with it\n  fix: `aisys transcript list` shows the sessions and their ids"
            ),
        )
        .into()),
        1 => Ok(false),
        _ if matched.contains(want) => Ok(true),
        n => Err(ambiguous(want, n, matched.iter().map(|id| id.to_string()))),
    }
}

/// The error of a session id prefix that several sessions start with.
fn ambiguous(want: &str, n: usize, candidates: impl Iterator<Item = String>) -> anyhow::Error {
    let mut listed: Vec<String> = candidates
        .take(MAX_CANDIDATES_SHOWN)
        .map(|c| format!("    {c}"))
        .collect();
    if n > MAX_CANDIDATES_SHOWN {
        listed.push(format!("    ... and {} more", n - MAX_CANDIDATES_SHOWN));
    }
    CommandError::new(
        EXIT_USAGE,
        format!(
            "--session {want}: {n} sessions have an id starting with it:\n{}\n  fix: give more of the id",
            listed.join("\n")
        ),
    )
    .into()
}

/// The transcript of the one session in Claude Code's projects folder whose id is `want` or
/// starts with it.
fn session_file(want: &str) -> anyhow::Result<PathBuf> {
    let projects = claude_projects(
        "give the transcript file, or set CLAUDE_CONFIG_DIR to Claude Code's home if it is elsewhere",
    )?;
    let files = crate::converters::input_files::session_files(&projects)
        .map_err(|e| CommandError::new(EXIT_USAGE, e.to_string()))?;
    let id = |p: &PathBuf| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let Some(exact) = files.iter().find(|p| id(p).as_deref() == Some(want)) {
        return Ok(exact.clone());
    }
    let found: Vec<&PathBuf> = files
        .iter()
        .filter(|p| id(p).is_some_and(|i| i.starts_with(want)))
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(CommandError::new(
            EXIT_USAGE,
            format!(
                "--session {want}: no session in {} has an id starting with it\n  fix: `aisys transcript list` shows the sessions and their ids",
                projects.display()
            ),
        )
        .into()),
        many => Err(ambiguous(
            want,
            many.len(),
            many.iter().map(|p| {
                format!("{}  {}", id(p).unwrap_or_default(), p.display())
            }),
        )),
    }
}

/// Threads converting inputs at once: one per core, up to this many, since output is written
/// by one thread and more workers only queue behind it.
const MAX_PARSE_THREADS: usize = 8;

/// How often a followed file is looked at when nothing new was found: quick enough to feel
/// live, rare enough to cost nothing.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The one file `--follow` reads, after checking that the output can grow line by line.
fn follow_target(inputs: &[Input], format: ParseFormat, events: bool) -> anyhow::Result<PathBuf> {
    if !events && matches!(format, ParseFormat::Json | ParseFormat::Html) {
        return Err(CommandError::new(
            EXIT_USAGE,
            "--follow prints as lines arrive, so it writes text, markdown or jsonl; json and html are whole documents",
        )
        .into());
    }
    match inputs {
        [Input { path: Some(p), .. }] => Ok(p.clone()),
        _ => Err(CommandError::new(
            EXIT_USAGE,
            "--follow takes exactly one file (for a pipe, leave --follow out: stdin is read as it arrives)",
        )
        .into()),
    }
}

/// A format as `--format` names it.
fn format_name(format: ParseFormat) -> String {
    format
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}

/// The output format an -o file's extension names.
fn format_of_path(path: &std::path::Path) -> anyhow::Result<ParseFormat> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    Ok(match ext.as_deref() {
        Some("md" | "markdown") => ParseFormat::Markdown,
        Some("html" | "htm") => ParseFormat::Html,
        Some("json") => ParseFormat::Json,
        Some("jsonl" | "ndjson") => ParseFormat::Jsonl,
        Some("txt" | "text") => ParseFormat::Text,
        _ => {
            return Err(CommandError::new(
                EXIT_USAGE,
                format!(
                    "-o {}: no format for this extension\n  fix: end the name in .md, .html, .json, .jsonl or .txt, or give --format",
                    path.display()
                ),
            )
            .into());
        }
    })
}

/// Writes blocks in the chosen output format.
struct BlockPrinter {
    format: ParseFormat,
    color: bool,
    view: ViewOptions,
}

impl BlockPrinter {
    /// One input's blocks as a piece of the output: for json and html, the inside of the
    /// document that [`Self::document_start`] and [`Self::document_end`] wrap.
    fn fragment(
        &self,
        out: &mut Vec<u8>,
        blocks: &[ConversationBlock],
        header: &SessionHeader,
    ) -> std::io::Result<()> {
        use std::io::Write;
        match self.format {
            ParseFormat::Json => {
                for (i, b) in blocks.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",\n")?;
                    }
                    serde_json::to_writer_pretty(&mut *out, b)?;
                }
                Ok(())
            }
            ParseFormat::Html => {
                out.write_all(html_session(blocks, Some(header), &self.view).as_bytes())
            }
            _ => self.write(out, blocks, Some(header)),
        }
    }

    fn document_start(
        &self,
        out: &mut dyn std::io::Write,
        title: Option<&str>,
    ) -> std::io::Result<()> {
        match self.format {
            ParseFormat::Json => out.write_all(b"[\n"),
            ParseFormat::Html => {
                out.write_all(html_page_start(title.unwrap_or("transcript")).as_bytes())
            }
            _ => Ok(()),
        }
    }

    fn document_end(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self.format {
            ParseFormat::Json => out.write_all(b"\n]\n"),
            ParseFormat::Html => out.write_all(HTML_PAGE_END.as_bytes()),
            _ => Ok(()),
        }
    }

    fn write(
        &self,
        out: &mut dyn std::io::Write,
        blocks: &[ConversationBlock],
        header: Option<&SessionHeader>,
    ) -> std::io::Result<()> {
        match self.format {
            ParseFormat::Jsonl => {
                for b in blocks {
                    serde_json::to_writer(&mut *out, b)?;
                    out.write_all(b"\n")?;
                }
                Ok(())
            }
            ParseFormat::Json => writeln!(out, "{}", render_json(blocks)),
            ParseFormat::Markdown => {
                write!(out, "{}", render_markdown_with(blocks, header, &self.view))
            }
            ParseFormat::Text => write!(
                out,
                "{}",
                render_text_with(
                    blocks,
                    TextStyle {
                        color: self.color,
                        max_output_lines: self.view.max_output_lines,
                    },
                    &self.view
                )
            ),
            ParseFormat::Html => {
                let title = conversation_title(blocks).unwrap_or_else(|| "transcript".into());
                out.write_all(html_page_start(&title).as_bytes())?;
                out.write_all(html_session(blocks, header, &self.view).as_bytes())?;
                out.write_all(HTML_PAGE_END.as_bytes())
            }
        }
    }
}

/// Output buffer: large writes keep the conversion from being bound by system calls.
const OUTPUT_BUFFER_BYTES: usize = 256 * 1024;
