//! Runtime: sandboxes (`env`: the `ExecutionEnvironment` trait and its backends), agent adapters
//! (`agent`: command line, stdin protocol, stdout to events) and the runner (one turn of one agent
//! in one environment, as a stream of events).
//!
//! Must not persist anything: the server keeps the record.

pub mod env;
