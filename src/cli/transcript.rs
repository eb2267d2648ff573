//! `aisys transcript`: read, count and list agent transcripts.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{Context, Exit, not_implemented};

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

pub fn run(_ctx: &Context, cmd: TranscriptCommand) -> anyhow::Result<Exit> {
    match cmd {
        TranscriptCommand::Parse(_) => Err(not_implemented("transcript parse")),
        TranscriptCommand::Stats(_) => Err(not_implemented("transcript stats")),
        TranscriptCommand::List(_) => Err(not_implemented("transcript list")),
    }
}
