//! Client: the WebSocket client of `aisys serve`, with reconnect and resume from the last seq.
//!
//! Must not know about the terminal: the TUI and the tests both use it.
