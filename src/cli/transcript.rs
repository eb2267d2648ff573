//! `aisys transcript`: read, count and list agent transcripts.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use std::io::{IsTerminal, Read};

use super::{CommandError, Context, EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Exit, not_implemented};
use crate::converters::{AnyReader, Assembler, Format, detect, render_json, render_markdown};
use crate::types::StreamEvent;

/// Read agent transcripts and streams: convert them, count their cost, list sessions.
#[derive(Debug, Subcommand)]
pub enum TranscriptCommand {
    Parse(ParseArgs),
    Stats(StatsArgs),
    List(ListArgs),
}

/// Turn transcripts and agent output streams into readable conversations.
///
/// Reads Claude Code transcripts (~/.claude/projects/**/*.jsonl), Claude Code stream-json,
/// OpenCode `run --format json` lines and OpenCode exports, and prints the conversation as
/// text, Markdown, HTML or JSON. Lines it does not understand are kept as raw blocks.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys transcript parse ~/.claude/projects/-home-me-app/3f2a.jsonl
  claude -p \"hi\" --output-format stream-json --verbose | aisys transcript parse --format markdown
  aisys transcript parse session.jsonl --format html > session.html
  aisys transcript parse --follow ~/.claude/projects/-home-me-app/3f2a.jsonl")]
pub struct ParseArgs {
    /// Files, folders (every *.jsonl below) or `-` for stdin (the default when stdin is a pipe).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Input format; auto detects it per file from the first lines.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto, value_name = "FORMAT")]
    pub from: InputFormat,
    /// Output format (default: text on a terminal, jsonl otherwise).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ParseFormat>,
    /// Print StreamEvents instead of conversation blocks (with --format jsonl).
    #[arg(long)]
    pub events: bool,
    /// Keep reading as the transcript grows, printing blocks as lines arrive.
    #[arg(long)]
    pub follow: bool,
    /// Only this session (an agent session id).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Only what happened at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only what happened before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Leave out subagent conversations.
    #[arg(long)]
    pub no_sidechains: bool,
    /// Leave out thinking blocks.
    #[arg(long)]
    pub no_thinking: bool,
    /// Cut tool results longer than this many lines (markdown and text).
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub max_output_lines: usize,
    /// Stop at the first bad line instead of reporting it and going on.
    #[arg(long)]
    pub strict: bool,
}

/// Count tokens and cost in transcripts.
///
/// Each model response is counted once, even where the transcript repeats its usage on several
/// lines. Prices come from a built-in table, or from --pricing.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys transcript stats
  aisys transcript stats --by day --format csv
  aisys transcript stats ~/.claude/projects/-home-me-app --by model --format json")]
pub struct StatsArgs {
    /// Files or folders (default: Claude Code's projects folder).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// How to group the counts.
    #[arg(long, value_enum, default_value_t = GroupBy::Session, value_name = "GROUP")]
    pub by: GroupBy,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table, value_name = "FORMAT")]
    pub format: StatsFormat,
    /// A TOML or JSON file of per-model prices (USD per million tokens) that replaces the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub pricing: Option<PathBuf>,
    /// Only usage at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only usage before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Stop at the first bad line instead of reporting it and going on.
    #[arg(long)]
    pub strict: bool,
}

/// List the Claude Code sessions on this machine, newest first.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aisys transcript list
  aisys transcript list --format json")]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table, value_name = "FORMAT")]
    pub format: TableFormat,
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
    /// Markdown, a heading per turn.
    Markdown,
    /// One self-contained HTML page.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    Session,
    Day,
    Month,
    Model,
    Project,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
}

pub fn run(ctx: &Context, cmd: TranscriptCommand) -> anyhow::Result<Exit> {
    match cmd {
        TranscriptCommand::Parse(args) => parse(ctx, args),
        TranscriptCommand::Stats(args) => super::transcript_stats::run(ctx, args),
        TranscriptCommand::List(args) => super::transcript_list::run(ctx, args),
    }
}

/// Longest input line accepted: a line this long is a broken file, not a transcript.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// One input: a file, or stdin.
struct Input {
    name: String,
    path: Option<PathBuf>,
}

fn inputs(args: &ParseArgs) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    if args.inputs.is_empty() {
        if std::io::stdin().is_terminal() {
            return Err(CommandError::new(
                EXIT_USAGE,
                "aisys transcript parse: give files or folders, or pipe a stream into it",
            )
            .into());
        }
        out.push(Input {
            name: "-".into(),
            path: None,
        });
    }
    for p in &args.inputs {
        if p.as_os_str() == "-" {
            out.push(Input {
                name: "-".into(),
                path: None,
            });
        } else if p.is_dir() {
            let mut files = Vec::new();
            collect_jsonl(p, &mut files)?;
            files.sort();
            out.extend(files.into_iter().map(|f| Input {
                name: f.display().to_string(),
                path: Some(f),
            }));
        } else if p.is_file() {
            out.push(Input {
                name: p.display().to_string(),
                path: Some(p.clone()),
            });
        } else {
            return Err(CommandError::new(
                EXIT_USAGE,
                format!("{}: no such file or folder", p.display()),
            )
            .into());
        }
    }
    Ok(out)
}

fn collect_jsonl(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)
        .map_err(|e| CommandError::new(EXIT_USAGE, format!("{}: {e}", dir.display())))?
    {
        let path = entry?.path();
        if path.is_dir() {
            collect_jsonl(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// What this build does not do yet: refused by name rather than ignored.
fn refuse_unbuilt(args: &ParseArgs) -> anyhow::Result<()> {
    let unbuilt = [
        (args.follow, "--follow"),
        (args.session.is_some(), "--session"),
        (args.since.is_some(), "--since"),
        (args.until.is_some(), "--until"),
        (args.no_sidechains, "--no-sidechains"),
        (args.format == Some(ParseFormat::Html), "--format html"),
        (
            args.from == InputFormat::OpencodeExport,
            "--from opencode-export",
        ),
    ];
    for (used, name) in unbuilt {
        if used {
            return Err(not_implemented(&format!("transcript parse {name}")));
        }
    }
    Ok(())
}

fn parse(ctx: &Context, args: ParseArgs) -> anyhow::Result<Exit> {
    use std::io::{BufRead, Write};

    refuse_unbuilt(&args)?;
    let format = args.format.unwrap_or(if ctx.out.stdout_is_tty {
        ParseFormat::Text
    } else {
        ParseFormat::Jsonl
    });
    let mut bad = 0usize;
    let mut stdout = std::io::stdout().lock();
    let mut assembler = Assembler::new();
    for input in inputs(&args)? {
        let reader: Box<dyn BufRead> = match &input.path {
            Some(p) => Box::new(std::io::BufReader::new(std::fs::File::open(p).map_err(
                |e| CommandError::new(EXIT_USAGE, format!("{}: {e}", p.display())),
            )?)),
            None => Box::new(std::io::BufReader::new(std::io::stdin())),
        };
        let mut any: Option<AnyReader> = match args.from {
            InputFormat::ClaudeTranscript | InputFormat::ClaudeStreamJson => {
                AnyReader::new(Format::Claude)
            }
            InputFormat::OpencodeJson => AnyReader::new(Format::OpencodeRun),
            _ => None,
        };
        let mut limited = reader.take(u64::MAX);
        let mut line = Vec::new();
        let mut number = 0usize;
        loop {
            line.clear();
            limited.set_limit(MAX_LINE_BYTES as u64 + 1);
            let n = limited.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            number += 1;
            let mut report = |what: String| -> anyhow::Result<()> {
                eprintln!("{}:{number}: {what}", input.name);
                bad += 1;
                if args.strict {
                    return Err(CommandError::new(
                        EXIT_BAD_INPUT,
                        "stopped at the first bad line (--strict)",
                    )
                    .into());
                }
                Ok(())
            };
            if line.len() > MAX_LINE_BYTES {
                report(format!(
                    "line longer than {MAX_LINE_BYTES} bytes; skipped the rest of the file"
                ))?;
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let value: serde_json::Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    report(format!("not JSON: {e}"))?;
                    continue;
                }
            };
            if any.is_none() {
                match detect(text) {
                    Some(Format::OpencodeExport) => {
                        return Err(not_implemented(
                            "transcript parse of opencode export documents",
                        ));
                    }
                    Some(f) => any = AnyReader::new(f),
                    None => {
                        report("not a line of a known agent format".into())?;
                        continue;
                    }
                }
            }
            let Some(reader) = any.as_mut() else { continue };
            for ev in reader.read_value(value) {
                if args.no_thinking && matches!(ev, StreamEvent::Thinking { .. }) {
                    continue;
                }
                if args.events {
                    serde_json::to_writer(&mut stdout, &ev)?;
                    stdout.write_all(b"\n")?;
                } else {
                    assembler.push(ev);
                }
            }
        }
    }
    if !args.events {
        let blocks = assembler.finish();
        match format {
            ParseFormat::Jsonl => {
                for b in &blocks {
                    serde_json::to_writer(&mut stdout, b)?;
                    stdout.write_all(b"\n")?;
                }
            }
            ParseFormat::Json => writeln!(stdout, "{}", render_json(&blocks))?,
            // Plain text is the Markdown rendering until the colored terminal renderer exists.
            ParseFormat::Markdown | ParseFormat::Text => {
                write!(stdout, "{}", render_markdown(&blocks))?
            }
            ParseFormat::Html => unreachable!("refused above"),
        }
    }
    stdout.flush()?;
    if bad > 0 {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!("{bad} bad line(s), reported above; the rest was converted"),
        )
        .into());
    }
    Ok(EXIT_OK)
}
