//! Converters: every agent format into [`StreamEvent`](crate::types::StreamEvent)s, the one
//! assembler from events to [`ConversationBlock`](crate::types::ConversationBlock)s, and the
//! renderers that `aisys run`, `aisys transcript` and the TUI print with.
//!
//! Must not know about sandboxes or sockets: input is lines and files, output is events, blocks
//! and text.

pub mod ansi;
mod assembler;
mod claude_stream;
mod claude_transcript;
mod convert;
mod filter;
mod follow;
pub mod input_files;
mod inputs;
pub mod lines;
mod opencode_export;
mod opencode_run;
mod render;
mod render_html;
mod render_markdown;
mod render_text;
mod session_header;
pub mod session_index;
pub mod sessions;
pub mod tool_view;
pub mod usage;
mod view_options;

pub use assembler::{Assembler, result_text};
pub use claude_stream::ClaudeStreamReader;
pub use claude_transcript::{SubagentFiles, TranscriptReader, agent_file_id};
pub use convert::{
    ConvertOptions, Converted, Render, conversation_title, convert_all, convert_one,
};
pub use filter::{EventFilter, parse_time};
pub use follow::Follower;
pub use inputs::{
    Format, Input, InputReader, MAX_DOCUMENT_BYTES, ReadError, ReadOptions, Sink, detect,
    detect_value, expand_inputs,
};
pub use lines::{BadLine, MAX_LINE_BYTES};
pub use opencode_export::export_events;
pub use opencode_run::OpencodeRunReader;
pub use render::{render_json, summarize_input};
pub use render_html::{
    HTML_PAGE_END, INDEX_FILE, IndexRow, SEARCH_SCRIPT, SEARCH_SCRIPT_FILE, escape_html,
    html_blocks, html_folder_page, html_index, html_page_start, html_session, html_sessions_nav,
    render_html,
};
pub use render_markdown::{
    DEFAULT_RESULT_LINES, render_markdown, render_markdown_cut, render_markdown_with,
};
pub use render_text::{TextStyle, render_text, render_text_with};
pub use session_header::{SessionHeader, short_duration};
pub use tool_view::{ToolCallView, ToolView};
pub use view_options::{Clock, ViewOptions};

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
