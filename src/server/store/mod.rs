//! The server's record: sessions and their numbered events, behind the [`Store`] trait
//! ([`contract`]), kept in SQLite with a journal in front of it ([`sqlite`], [`journal`]) or in
//! PostgreSQL ([`postgres`]), as [`StoreChoice`] says.
//!
//! Events of a session are numbered from 1 with no gaps. `append` returns once the events are
//! committed, so the caller can broadcast them knowing they are durable.
//!
//! Must not know about connections or agents: it stores and reads.

pub mod announce;
mod choice;
pub(crate) mod chunk;
mod contract;
#[cfg(test)]
pub(crate) mod contract_tests;
mod journal;
mod pg_batch;
mod pg_tls;
mod postgres;
mod sqlite;

pub use choice::StoreChoice;
pub use contract::{EncodedEvent, Store, StoreError};
pub use postgres::PostgresStore;
pub(crate) use postgres::pg_text as postgres_text;
pub use sqlite::SqliteStore;
