//! Converters: every agent format into [`StreamEvent`](crate::types::StreamEvent)s, the one
//! assembler from events to [`ConversationBlock`](crate::types::ConversationBlock)s, and the
//! renderers that `aisys run` and the TUI print with.
//!
//! Must not know about sandboxes or sockets: input is lines, output is events, blocks and text.

mod assembler;
mod claude_stream;
mod detect;
mod opencode_run;
mod render;
pub mod sessions;
pub mod usage;

pub use assembler::{Assembler, result_text};
pub use claude_stream::ClaudeStreamReader;
pub use detect::{AnyReader, Format, detect};
pub use opencode_run::OpencodeRunReader;
pub use render::{render_json, render_markdown, summarize_input};
