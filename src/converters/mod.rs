//! Converters: every agent format into [`StreamEvent`](crate::types::StreamEvent)s, the one
//! assembler from events to [`ConversationBlock`](crate::types::ConversationBlock)s, and the
//! renderers that `aisys run`, `aisys transcript` and the TUI print with.
//!
//! Must not know about sandboxes or sockets: input is lines and files, output is events, blocks
//! and text.

mod assembler;
mod claude_stream;
mod claude_transcript;
mod convert;
mod filter;
mod follow;
mod inputs;
mod opencode_export;
mod opencode_run;
mod render;
mod render_html;
mod render_text;
pub mod sessions;
pub mod usage;

pub use assembler::{Assembler, result_text};
pub use claude_stream::ClaudeStreamReader;
pub use claude_transcript::{SubagentFiles, TranscriptReader, agent_file_id};
pub use convert::{
    ConvertOptions, Converted, Render, conversation_title, convert_all, convert_one,
};
pub use filter::{EventFilter, parse_time};
pub use follow::Follower;
pub use inputs::{
    BadLine, Format, Input, InputReader, MAX_DOCUMENT_BYTES, MAX_LINE_BYTES, ReadError,
    ReadOptions, Sink, detect, detect_value, expand_inputs,
};
pub use opencode_export::export_events;
pub use opencode_run::OpencodeRunReader;
pub use render::{
    DEFAULT_RESULT_LINES, render_json, render_markdown, render_markdown_cut, summarize_input,
};
pub use render_html::{HTML_PAGE_END, escape_html, html_blocks, html_page_start, render_html};
pub use render_text::{TextStyle, render_text};
