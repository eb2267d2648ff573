//! A connection's way out: every frame for a client, from the connection itself and from its
//! forwarders, goes through one bounded queue to one writer task, which writes whatever is
//! waiting with one flush (one `send` system call for a burst of frames, not one per frame).
//!
//! The queue holds batches: a forwarder hands over all the frames it has at once, so the writer
//! wakes once for them. [`Metrics`] counts the frames waiting in all connections' queues.
//!
//! Must not decide what is sent, or to whom: it only writes frames in the order it gets them.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;

use super::metrics::Metrics;

/// Batches of frames queued for one client before senders wait (and forwarders then lag behind
/// the session's broadcast and resync from the store): a batch is one frame or the frames of up
/// to [`super::connection::FORWARD_BATCH`] events, so this bounds a slow client's memory.
pub const OUTBOUND_QUEUE: usize = 256;
/// Most frames the writer takes before it flushes: a long backlog still goes out in pieces that
/// a client starts reading while the rest is written.
const WRITE_BATCH: usize = 256;

/// The sending side of a connection's queue.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Vec<Message>>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// Queues one frame; an error means the connection is gone.
    pub async fn send(&self, frame: Message) -> Result<(), ()> {
        self.send_all(vec![frame]).await
    }

    /// Queues frames to be written together, in order.
    pub async fn send_all(&self, frames: Vec<Message>) -> Result<(), ()> {
        if frames.is_empty() {
            return Ok(());
        }
        let mut counted = Counted {
            metrics: &self.metrics,
            frames: frames.len() as i64,
        };
        self.metrics.outbound_frames(counted.frames);
        self.tx.send(frames).await.map_err(|_| ())?;
        // Queued: the writer takes them off the count.
        counted.frames = 0;
        Ok(())
    }
}

/// Frames counted as queued that leave the count again unless they were queued: the send
/// failed, or the task sending them was aborted while it waited for room.
struct Counted<'a> {
    metrics: &'a Metrics,
    frames: i64,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.metrics.outbound_frames(-self.frames);
    }
}

/// Starts the writer of a connection's socket; it ends after a close frame, when the socket
/// fails, or when every [`Outbox`] is dropped.
pub fn start(
    sink: SplitSink<WebSocket, Message>,
    metrics: Arc<Metrics>,
) -> (Outbox, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let outbox = Outbox {
        tx,
        metrics: metrics.clone(),
    };
    (outbox, tokio::spawn(write_loop(sink, rx, metrics)))
}

async fn write_loop<S>(mut sink: S, mut rx: mpsc::Receiver<Vec<Message>>, metrics: Arc<Metrics>)
where
    S: Sink<Message> + Unpin,
{
    'write: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut taken = 0;
        let mut failed = false;
        while let Some(batch) = next.take() {
            let n = batch.len();
            taken += n;
            metrics.outbound_frames(-(n as i64));
            for frame in batch {
                let closing = matches!(frame, Message::Close(_));
                if failed || sink.feed(frame).await.is_err() {
                    failed = true;
                } else if closing {
                    let _ = sink.flush().await;
                    break 'write;
                }
            }
            if taken < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if failed || sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    // Frames that will never be written leave the count.
    rx.close();
    while let Ok(batch) = rx.try_recv() {
        metrics.outbound_frames(-(batch.len() as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A sink that records what was written at each flush.
    #[derive(Default)]
    struct Recorder {
        pending: Vec<String>,
        flushes: Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    }

    impl Sink<Message> for Recorder {
        type Error = ();
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(mut self: Pin<&mut Self>, m: Message) -> Result<(), ()> {
            if let Message::Text(t) = m {
                self.pending.push(t.to_string());
            }
            Ok(())
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            if !self.pending.is_empty() {
                let p = std::mem::take(&mut self.pending);
                self.flushes.lock().unwrap().push(p);
            }
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
            self.poll_flush(cx)
        }
    }

    #[tokio::test]
    async fn frames_waiting_together_go_out_with_one_flush_in_order_and_leave_the_count() {
        let metrics = Arc::new(Metrics::default());
        let rec = Recorder::default();
        let flushes = rec.flushes.clone();
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let outbox = Outbox {
            tx,
            metrics: metrics.clone(),
        };
        let text = |s: &str| Message::Text(s.into());
        // Queued before the writer runs: one flush takes them all.
        outbox.send(text("a")).await.unwrap();
        outbox.send_all(vec![text("b"), text("c")]).await.unwrap();
        assert_eq!(metrics.outbound_depth(), 3);
        drop(outbox);
        write_loop(rec, rx, metrics.clone()).await;
        assert_eq!(*flushes.lock().unwrap(), vec![vec!["a", "b", "c"]]);
        assert_eq!(metrics.outbound_depth(), 0);
    }
}
