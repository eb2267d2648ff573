//! Converters: every agent format into [`StreamEvent`](crate::types::StreamEvent)s, the one
//! assembler from events to [`ConversationBlock`](crate::types::ConversationBlock)s, and the
//! renderers that `aisys run`, `aisys transcript` and the TUI print with.
//!
//! The folder follows the pipeline:
//! - `formats/`: the readers, one per agent format, with finding and detecting inputs and
//!   following a growing file; all read lines through `lines` (the one bounded line reader,
//!   also the runner's for agent stdout);
//! - `filter` (which events are kept), `assembler` (events into blocks) and `session_header`
//!   (a session's facts gathered from its events);
//! - `render/`: blocks into text, Markdown, HTML and JSON;
//! - `convert`: the three stages over many inputs at once, in parallel.
//!
//! Beside the pipeline, read straight from transcripts: `usage` (tokens and cost, for
//! `transcript stats`) and `sessions` (one summary per session, for `transcript list`).
//!
//! Must not know about sandboxes or sockets: input is lines and files, output is events, blocks
//! and text.

mod assembler;
mod convert;
mod filter;
pub mod formats;
pub mod lines;
pub mod render;
mod session_header;
pub mod sessions;
pub mod usage;

pub use assembler::{Assembler, loaded_summary, result_text};
pub use convert::{
    ConvertOptions, Converted, Render, conversation_title, convert_all, convert_one,
};
pub use filter::{EventFilter, parse_time};
pub use formats::claude_stream::{ClaudeStreamReader, HOOK, SKILL_LOAD};
pub use formats::claude_transcript::{SubagentFiles, TranscriptReader, agent_file_id};
pub use formats::follow::Follower;
pub use formats::input_files;
pub use formats::inputs::{
    Format, Input, InputReader, MAX_DOCUMENT_BYTES, ReadError, ReadOptions, Sink, detect,
    detect_value, expand_inputs,
};
pub use formats::opencode_export::export_events;
pub use formats::opencode_run::OpencodeRunReader;
pub use lines::{BadLine, MAX_LINE_BYTES};
pub use render::html::{
    HTML_PAGE_END, INDEX_FILE, IndexRow, SEARCH_SCRIPT, SEARCH_SCRIPT_FILE, escape_html,
    html_blocks, html_folder_page, html_index, html_page_start, html_session, html_sessions_nav,
    render_html,
};
pub use render::markdown::{
    DEFAULT_RESULT_LINES, render_markdown, render_markdown_cut, render_markdown_with,
};
pub use render::text::{TextStyle, render_text, render_text_with};
pub use render::tool_view::{ToolCallView, ToolView};
pub use render::view_options::{Clock, ViewOptions};
pub use render::{ansi, render_json, session_index, summarize_input, tool_view};
pub use session_header::{SessionHeader, short_duration};

/// The text of an agent-output fixture, by its path inside tests/fixtures (see its README.md), or
/// inside `AISYS_FIXTURES_DIR` when that is set, for the converters' unit tests. A missing one
/// fails the test and says where it was looked for.
#[cfg(test)]
fn fixture_text(rel: &str) -> String {
    let dir = std::env::var("AISYS_FIXTURES_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures").into());
    let path = std::path::Path::new(&dir).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {}: {e} (see tests/fixtures/README.md)",
            path.display()
        )
    })
}
