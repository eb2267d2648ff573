//! The journal thread's in-tray: requests pushed from any thread, taken by the journal thread
//! all at once. Unlike a channel it allocates nothing per request (two vectors change places),
//! and it wakes the thread only when the thread sleeps waiting for work: while the thread
//! gathers a batch, a push is a lock and a `Vec::push`.
//!
//! It holds at most one append per session (each session waits for its append to be answered
//! before it sends the next) and the reads waiting for SQLite, so it needs no bound of its own.
//!
//! Must not know what the requests are.

use std::sync::Mutex;
use std::thread::Thread;

pub struct Inbox<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    items: Vec<T>,
    /// The taker, while it sleeps for want of items.
    sleeper: Option<Thread>,
    closed: bool,
}

impl<T> Inbox<T> {
    pub fn new() -> Inbox<T> {
        Inbox {
            state: Mutex::new(State {
                items: Vec::new(),
                sleeper: None,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves a valid vector.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an item; gives it back when the inbox is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut s = self.lock();
        if s.closed {
            return Err(item);
        }
        s.items.push(item);
        let sleeper = s.sleeper.take();
        drop(s);
        if let Some(t) = sleeper {
            t.unpark();
        }
        Ok(())
    }

    /// Moves every waiting item into `into` (which should be empty, and keeps its capacity for
    /// the next pushes), sleeping until there is one; false once the inbox is closed and empty.
    pub fn take_all(&self, into: &mut Vec<T>) -> bool {
        loop {
            let mut s = self.lock();
            if !s.items.is_empty() {
                std::mem::swap(&mut s.items, into);
                return true;
            }
            if s.closed {
                return false;
            }
            s.sleeper = Some(std::thread::current());
            drop(s);
            // A push between the unlock and here leaves the thread's token set: no wakeup is lost.
            std::thread::park();
        }
    }

    /// Moves every waiting item to the end of `into`, without waiting.
    pub fn take_now(&self, into: &mut Vec<T>) {
        into.append(&mut self.lock().items);
    }

    /// No more pushes; the taker gets what is left, then `false`.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        let sleeper = s.sleeper.take();
        drop(s);
        if let Some(t) = sleeper {
            t.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_from_many_threads_all_arrive_in_each_threads_order_and_close_ends_the_taker() {
        let inbox = Arc::new(Inbox::new());
        let taker = {
            let inbox = inbox.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut batch = Vec::new();
                while inbox.take_all(&mut batch) {
                    got.append(&mut batch);
                }
                got
            })
        };
        let pushers: Vec<_> = (0..4u64)
            .map(|p| {
                let inbox = inbox.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        inbox.push((p, i)).unwrap();
                    }
                })
            })
            .collect();
        for p in pushers {
            p.join().unwrap();
        }
        inbox.close();
        assert_eq!(
            inbox.push((9, 9)),
            Err((9, 9)),
            "closed: the item comes back"
        );
        let got = taker.join().unwrap();
        assert_eq!(got.len(), 40_000);
        for p in 0..4 {
            let mine: Vec<u64> = got.iter().filter(|x| x.0 == p).map(|x| x.1).collect();
            assert_eq!(mine, (0..10_000).collect::<Vec<_>>());
        }
    }
}
