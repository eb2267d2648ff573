//! A forwarder's subscription to a session's live events. When this server loses the session's
//! lease (another server took it while this one missed its renewals), the manager forgets the
//! handle the subscription had; the subscription then moves onto the manager's new handle,
//! which follows the new owner, and says so, for the forwarder to read what it missed from the
//! store.
//!
//! Must not send anything to the client: the forwarders do.

use std::pin::Pin;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast;

use super::AppState;
use super::session::{SeqEvent, SessionHandle};

/// What [`Live::next`] has.
pub enum Next {
    /// The next live event, or why there is none (lagged, closed).
    Event(Result<SeqEvent, broadcast::error::RecvError>),
    /// The subscription moved onto a new handle: what came after the forwarder's last event is
    /// in the store (the new handle's events are those after its subscription).
    Moved,
}

/// A session's live events, on whichever handle this server has for it.
pub struct Live {
    pub handle: SessionHandle,
    pub events: broadcast::Receiver<SeqEvent>,
    forgotten: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Counts the forwarder on the handle it moved to; its attach counted it on the first one.
    _moved: Option<Attachment>,
}

impl Live {
    /// `events` must be `handle`'s, subscribed to before the forwarder read the store.
    pub fn new(handle: SessionHandle, events: broadcast::Receiver<SeqEvent>) -> Live {
        Live {
            forgotten: Box::pin(handle.forgotten()),
            handle,
            events,
            _moved: None,
        }
    }

    /// The next event, or the move onto the manager's new handle once this server forgot the
    /// one it had. `None` when the session is gone (deleted meanwhile): the forwarder ends.
    pub async fn next(&mut self, state: &AppState) -> Option<Next> {
        tokio::select! {
            got = self.events.recv() => Some(Next::Event(got)),
            () = &mut self.forgotten => {
                let again = state.manager.get(&self.handle.id).await.ok()?;
                self._moved = Some(Attachment::new(&again));
                // Subscribed before the forwarder reads the store: nothing falls in between.
                self.events = again.events.subscribe();
                self.forgotten = Box::pin(again.forgotten());
                self.handle = again;
                Some(Next::Moved)
            }
        }
    }
}

/// A forwarder counted among a session's attached clients while it runs.
struct Attachment(SessionHandle);

impl Attachment {
    fn new(handle: &SessionHandle) -> Attachment {
        handle.attached.fetch_add(1, Ordering::SeqCst);
        Attachment(handle.clone())
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.0.attached.fetch_sub(1, Ordering::SeqCst);
    }
}
