//! TUI: `aisys chat`, as state + events + a pure view function.
//!
//! Must not block on the network in the view: the network runs in its own task.
