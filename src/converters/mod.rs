//! Converters: every agent format into [`StreamEvent`](crate::types::StreamEvent)s, and the one
//! assembler from events to [`ConversationBlock`](crate::types::ConversationBlock)s, and the
//! renderers (text, markdown, html, json) that `aisys transcript` and `aisys run` print with.
//!
//! Must not know about sandboxes or sockets: input is bytes and lines, output is events, blocks
//! and text.
