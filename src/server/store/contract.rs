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
use crate::types::{SessionInfo, SessionState, StateReason, StreamEvent};

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
    /// The store's file is no database: another file in its place, or a damaged one.
    #[error(
        "session store {path}: not an SQLite database ({why})\n  fix: restore it from a backup; or, to start with an empty store, move it (and {journal}, if there) out of the way"
    )]
    NotADatabase {
        path: PathBuf,
        journal: PathBuf,
        why: String,
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
/// being encoded again. Read back from a store, it may be decoded only when something asks for
/// the event ([`EncodedEvent::read_later`]): a server following another's session passes nearly
/// every event on as text, and decoding each one was a tenth of its work.
#[derive(Debug, Clone)]
pub struct EncodedEvent {
    pub json: Box<str>,
    event: std::sync::OnceLock<StreamEvent>,
}

/// The start of an encoded event's text: serde writes an internally tagged enum's tag first.
const TAG_START: &str = r#"{"type":""#;
/// The start of an encoded state change.
const STATE_CHANGED_START: &str = r#"{"type":"state_changed""#;

impl PartialEq for EncodedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl EncodedEvent {
    pub fn new(event: StreamEvent) -> Result<EncodedEvent, serde_json::Error> {
        let json = encode_exact(&event)?;
        Ok(EncodedEvent {
            json,
            event: event.into(),
        })
    }

    /// An event read back from its stored text, which is kept as it is.
    pub fn decode(json: String) -> Result<EncodedEvent, serde_json::Error> {
        let event: StreamEvent = serde_json::from_str(&json)?;
        Ok(EncodedEvent {
            json: json.into_boxed_str(),
            event: event.into(),
        })
    }

    /// An event read back from text a server stored, decoded when [`EncodedEvent::event`] is
    /// first called. Text that does not decode (a newer server's event, say) reads as a
    /// `notice` that says so; its text still goes to clients as it is.
    pub fn read_later(json: String) -> EncodedEvent {
        EncodedEvent {
            json: json.into_boxed_str(),
            event: std::sync::OnceLock::new(),
        }
    }

    /// The event, decoded from its text the first time when it was read with
    /// [`EncodedEvent::read_later`].
    pub fn event(&self) -> &StreamEvent {
        self.event.get_or_init(|| {
            serde_json::from_str(&self.json).unwrap_or_else(|e| StreamEvent::Notice {
                kind: "unreadable_event".into(),
                text: format!(
                    "this server cannot read a stored event ({e}); it is passed on as it is"
                ),
                timestamp: None,
            })
        })
    }

    /// The event, owned.
    pub fn into_event(self) -> StreamEvent {
        self.event();
        self.event.into_inner().expect("decoded just above")
    }

    /// The state this event moves its session to and why, when it is a state change; no other
    /// kind of event is decoded to tell.
    pub fn state_change(&self) -> Option<(SessionState, Option<&StateReason>)> {
        // Text in a server's own form names a state change first thing; anything else is
        // decoded to be sure.
        if self.event.get().is_none()
            && self.json.starts_with(TAG_START)
            && !self.json.starts_with(STATE_CHANGED_START)
        {
            return None;
        }
        match self.event() {
            StreamEvent::StateChanged { to, reason, .. } => Some((*to, reason.as_ref())),
            _ => None,
        }
    }

    /// Encodes each event of a batch.
    pub fn batch(events: Vec<StreamEvent>) -> Result<Vec<Arc<EncodedEvent>>, StoreError> {
        events
            .into_iter()
            .map(|e| Ok(Arc::new(EncodedEvent::new(e)?)))
            .collect()
    }
}

/// The most a thread's encoding buffer keeps between events: an event larger than this (a tool's
/// whole output, say) is encoded in a buffer that goes with it, so that one huge event does not
/// hold its size in memory on every thread that ever encoded one.
const ENCODE_BUFFER_KEPT: usize = 64 * 1024;

thread_local! {
    /// Each thread's buffer for encoding events, reused from one event to the next.
    static ENCODE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `event` as JSON in an allocation of exactly its size. Encoding into a fresh string grows
/// it (twice for a usage event) and then shrinks it to size: three allocations where this
/// makes one, and the server encodes every event of every session.
fn encode_exact(event: &StreamEvent) -> Result<Box<str>, serde_json::Error> {
    ENCODE_BUFFER.with_borrow_mut(|buf| {
        buf.clear();
        serde_json::to_writer(&mut *buf, event)?;
        // serde_json writes UTF-8 only; the check is a few nanoseconds against an allocation.
        let json = std::str::from_utf8(buf)
            .map(Box::<str>::from)
            .map_err(<serde_json::Error as serde::ser::Error>::custom);
        if buf.capacity() > ENCODE_BUFFER_KEPT {
            *buf = Vec::new();
        }
        json
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state_changed() -> StreamEvent {
        StreamEvent::StateChanged {
            from: Some(SessionState::Running),
            to: SessionState::Idle,
            reason: Some(StateReason::ServerLost),
        }
    }

    #[test]
    fn events_of_every_size_encode_as_serde_json_encodes_them() {
        let huge = "y\"\u{1f600}".repeat(ENCODE_BUFFER_KEPT);
        for text in ["", "x", huge.as_str(), "after a huge one"] {
            let event = StreamEvent::Text {
                message_id: Some("m".into()),
                text: text.into(),
                parent_tool_use_id: None,
                timestamp: None,
            };
            let encoded = EncodedEvent::new(event.clone()).unwrap();
            assert_eq!(*encoded.json, serde_json::to_string(&event).unwrap());
        }
        // The huge event's buffer went with it.
        ENCODE_BUFFER.with_borrow(|b| assert!(b.capacity() <= ENCODE_BUFFER_KEPT));
    }

    #[test]
    fn an_event_read_later_is_decoded_only_when_asked_for() {
        let text = EncodedEvent::new(StreamEvent::Stderr { line: "x".into() }).unwrap();
        let later = EncodedEvent::read_later(text.json.to_string());
        assert_eq!(later.state_change(), None);
        assert!(
            later.event.get().is_none(),
            "telling it is no state change decoded it"
        );
        assert_eq!(later.event(), text.event());
        assert_eq!(later, text);
    }

    #[test]
    fn a_state_change_read_later_is_told_as_one() {
        let stored = EncodedEvent::new(state_changed()).unwrap();
        let later = EncodedEvent::read_later(stored.json.to_string());
        assert_eq!(
            later.state_change(),
            Some((SessionState::Idle, Some(&StateReason::ServerLost)))
        );
        // Text not in a server's own form is decoded to tell.
        let spaced = EncodedEvent::read_later(format!(" {}", stored.json));
        assert_eq!(
            spaced.state_change().map(|(s, _)| s),
            Some(SessionState::Idle)
        );
        assert_eq!(spaced.into_event(), state_changed());
    }

    #[test]
    fn text_that_does_not_decode_reads_as_a_notice_and_is_kept_as_it_is() {
        let odd = r#"{"type":"from_a_newer_server","x":1}"#;
        let later = EncodedEvent::read_later(odd.into());
        assert_eq!(later.state_change(), None);
        match later.event() {
            StreamEvent::Notice { kind, text, .. } => {
                assert_eq!(kind, "unreadable_event");
                assert!(text.contains("from_a_newer_server"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(&*later.json, odd);
    }
}
