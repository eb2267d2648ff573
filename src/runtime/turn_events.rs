//! The queue a turn's events take from the runner to its caller (the session, `aisys run`).
//! Events go over in batches: the events of every line one read of the agent's output brought
//! travel together, so a busy agent's gathered read costs one hand-over, and one wakeup of the
//! caller, instead of one per event.
//!
//! The queue is bounded in batches and each batch in events ([`EVENT_BATCH`]), so that past
//! saturation the runner stops reading and the agent's pipe fills: the backlog stays with the
//! agent. It counts the events it holds, for the caller's queue gauge.
//!
//! Must not look into events or reorder them: it carries them, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::types::StreamEvent;

/// Most events in one batch: a read of many short lines is handed over in pieces of this size,
/// so that a batch (and the caller's store append of it) stays small.
pub const EVENT_BATCH: usize = 64;

/// A queue of at most `batches` batches; returns its two ends.
pub fn channel(batches: usize) -> (EventSender, EventReceiver) {
    let (tx, rx) = mpsc::channel(batches.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    (
        EventSender {
            tx,
            pending: Vec::new(),
            queued: queued.clone(),
        },
        EventReceiver { rx, queued },
    )
}

/// The runner's end: events are held until [`EventSender::flush`] (or a full batch) hands them
/// over together.
pub struct EventSender {
    tx: mpsc::Sender<Vec<StreamEvent>>,
    pending: Vec<StreamEvent>,
    queued: Arc<AtomicUsize>,
}

impl EventSender {
    /// Adds `ev` to the batch being made; a full batch is handed over (waiting for room).
    pub async fn push(&mut self, ev: StreamEvent) {
        self.pending.push(ev);
        if self.pending.len() >= EVENT_BATCH {
            self.flush().await;
        }
    }

    /// Hands over the events held, if any. A caller that is gone drops them: it wanted none.
    pub async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let n = batch.len();
        self.queued.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(batch).await.is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Hands over what is held and then `ev`, at once.
    pub async fn send(&mut self, ev: StreamEvent) {
        self.pending.push(ev);
        self.flush().await;
    }
}

/// The caller's end.
pub struct EventReceiver {
    rx: mpsc::Receiver<Vec<StreamEvent>>,
    queued: Arc<AtomicUsize>,
}

impl EventReceiver {
    /// The next batch, or `None` once the runner is gone and everything it sent was taken.
    pub async fn recv(&mut self) -> Option<Vec<StreamEvent>> {
        let batch = self.rx.recv().await?;
        self.taken(&batch);
        Some(batch)
    }

    /// The next batch if one is waiting.
    pub fn try_recv(&mut self) -> Option<Vec<StreamEvent>> {
        let batch = self.rx.try_recv().ok()?;
        self.taken(&batch);
        Some(batch)
    }

    /// Every event already handed over, in order (all of them once the runner is gone).
    pub fn take_waiting(&mut self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        while let Some(batch) = self.try_recv() {
            events.extend(batch);
        }
        events
    }

    /// Events handed over and not taken yet.
    pub fn waiting(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    fn taken(&self, batch: &[StreamEvent]) {
        self.queued.fetch_sub(batch.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stderr(i: usize) -> StreamEvent {
        StreamEvent::Stderr {
            line: i.to_string(),
        }
    }

    #[tokio::test]
    async fn pushed_events_go_over_together_and_in_order_at_a_flush() {
        let (mut tx, mut rx) = channel(4);
        tx.push(stderr(1)).await;
        tx.push(stderr(2)).await;
        assert!(
            rx.try_recv().is_none(),
            "nothing is handed over before a flush"
        );
        tx.send(stderr(3)).await;
        assert_eq!(rx.waiting(), 3);
        assert_eq!(
            rx.recv().await.unwrap(),
            vec![stderr(1), stderr(2), stderr(3)]
        );
        assert_eq!(rx.waiting(), 0);
        tx.flush().await;
        assert!(rx.try_recv().is_none(), "an empty flush sends nothing");
    }

    #[tokio::test]
    async fn a_batch_is_handed_over_when_full_and_a_full_queue_holds_the_runner() {
        let (mut tx, mut rx) = channel(1);
        for i in 0..EVENT_BATCH {
            tx.push(stderr(i)).await;
        }
        assert_eq!(rx.waiting(), EVENT_BATCH, "a full batch goes at once");
        // The queue holds one batch: the next full one waits for the caller.
        let mut more = Box::pin(async {
            for i in 0..EVENT_BATCH {
                tx.push(stderr(EVENT_BATCH + i)).await;
            }
        });
        assert!(
            futures_util::FutureExt::now_or_never(more.as_mut()).is_none(),
            "a second full batch waits for room"
        );
        let first = rx.recv().await.unwrap();
        assert_eq!(first.len(), EVENT_BATCH);
        more.await;
        let second = rx.recv().await.unwrap();
        assert_eq!(second[0], stderr(EVENT_BATCH));
        assert_eq!(rx.waiting(), 0);
    }

    #[tokio::test]
    async fn a_caller_that_is_gone_is_not_counted_as_waiting() {
        let (mut tx, rx) = channel(1);
        let queued = rx.queued.clone();
        drop(rx);
        tx.send(stderr(1)).await;
        assert_eq!(queued.load(Ordering::Relaxed), 0);
    }
}
