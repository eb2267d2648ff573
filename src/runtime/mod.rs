//! Runtime: sandboxes (`env`: the `ExecutionEnvironment` trait and its backends), agent adapters
//! (`agent`: command line, stdin protocol, stdout to events), the runner (one turn of one agent
//! in one environment, as a stream of events, handed over in batches by `turn_events`), the
//! permission policy of unattended runs, and `launch`, the settings-to-sandbox steps that
//! `aisys run` and the server share.
//!
//! Must not persist anything: the server keeps the record.

pub mod agent;
pub mod env;
pub mod launch;
pub mod policy;
pub mod runner;
pub mod turn_events;
