//! TUI: `aisys chat`, as state + events + a pure view function.
//!
//! `state` holds everything on screen and changes only through `State::update`; `view` draws a
//! state, with `blocks` laying out each conversation block; `permission` is the permission
//! prompt and its keys; `new_session` the dialog of what a new session gets; `markdown` lays out
//! an answer's Markdown; `app` owns the terminal and the event loop. Conversations are built by the converters'
//! assembler, the same one `aisys transcript` and `aisys run` use.
//!
//! Must not block on the network in the view: the network runs in its own task.

pub mod app;
mod blocks;
pub mod markdown;
pub mod new_session;
pub mod permission;
pub mod state;
mod tool_lines;
pub mod view;

pub use permission::PendingPermission;
pub use state::{Action, Input, State};
