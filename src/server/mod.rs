//! Server: `aisys serve`, the axum app, connections, the `SessionManager`, the `AgentSession`
//! state machine and the SQLite store.
//!
//! Must not run agent code on the host: agents run only through `runtime` environments.

pub mod auth;
pub mod store;
