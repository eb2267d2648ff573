//! What every store backend provides: the [`Store`] trait, its error, and the event as it is
//! stored and sent ([`EncodedEvent`]). The checks that each backend keeps these promises are in
//! `contract_tests.rs`.
//!
//! Must not name any backend's types: the error carries text, so that another backend fits
//! behind the trait without changing it.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::server::metrics::StoreQueues;
use crate::types::{SessionInfo, StreamEvent};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed, at a store it names: a file, or a URL without its password.
    #[error("session store {store}: {message}")]
    Backend { store: String, message: String },
    /// A statement or a transaction of the backend failed.
    #[error("session store: {0}")]
    Query(String),
    #[error("session store: a stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// The schema found is newer than this build knows; `store` names the file or the URL.
    #[error(
        "session store {store} was written by a newer aisys (schema {found}, this one knows {known})"
    )]
    TooNew {
        store: String,
        found: i64,
        known: usize,
    },
    #[error("session store: journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "session store {path} is in use by another aisys server; stop it, or use another data folder (`aisys serve --data-dir DIR`, or AISYS_DATA_DIR)"
    )]
    InUse { path: PathBuf },
    #[error("session store: the writer stopped")]
    WriterGone,
    #[error("session store: cannot start a store thread: {0}")]
    Thread(std::io::Error),
    #[error("session store: a commit failed: {0}")]
    Commit(String),
    #[error("--store {value}: {why}")]
    Choice { value: String, why: String },
}

/// An event with its JSON, encoded once: stored as it is, and sent to every client without
/// being encoded again.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub event: StreamEvent,
    pub json: Box<str>,
}

impl EncodedEvent {
    pub fn new(event: StreamEvent) -> Result<EncodedEvent, serde_json::Error> {
        let json = serde_json::to_string(&event)?.into_boxed_str();
        Ok(EncodedEvent { event, json })
    }

    /// An event read back from its stored text, which is kept as it is.
    pub fn decode(json: String) -> Result<EncodedEvent, serde_json::Error> {
        let event = serde_json::from_str(&json)?;
        Ok(EncodedEvent {
            event,
            json: json.into_boxed_str(),
        })
    }

    /// Encodes each event of a batch.
    pub fn batch(events: Vec<StreamEvent>) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
        events
            .into_iter()
            .map(|e| Ok(Arc::new(EncodedEvent::new(e)?)))
            .collect()
    }
}

/// Where sessions and events are kept.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates or replaces a session's metadata.
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError>;
    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError>;
    /// Every session, newest activity first.
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError>;
    /// How many sessions there are.
    async fn count_sessions(&self) -> Result<usize, StoreError>;
    /// Deletes a session and its events; false when there was none.
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
    /// Appends events and returns the seq of the first; returns once they are committed.
    async fn append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError>;
    /// Appends events and saves the session's metadata in the same commit, so that the
    /// stored state never disagrees with the stored events (`last_seq` is set to the new last).
    async fn append_and_save(
        &self,
        info: &SessionInfo,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError>;
    /// Up to `limit` events with seq > `after_seq`, in order, each with its stored text.
    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError>;
    /// The newest seq of a session (0 when it has none).
    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError>;
    /// The depths of the store's own queues, when it has any.
    fn queues(&self) -> Option<&StoreQueues> {
        None
    }
}
