//! The door: accepting TCP connections so that strangers cannot wear the server out.
//!
//! Every connection holds a [`Slot`] for as long as its socket lives (through a WebSocket
//! upgrade too). Beyond [`MAX_CONNECTIONS`] (or what the file-descriptor limit allows) a new
//! connection gets a plain `503` and is closed. Connections that have not yet shown the token
//! are few at a time ([`MAX_UNAUTHENTICATED`]): when one more arrives, the oldest of them is
//! closed, so a flood of half-sent requests cannot keep a real client out. Request headers must
//! arrive within [`HEADER_TIMEOUT`]. At start the soft file-descriptor limit is raised to the
//! hard one.
//!
//! Must not know about sessions or the protocol: it only counts, evicts and times out sockets.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Most connections open at once: ten thousand idle clients fit, with room to spare.
pub const MAX_CONNECTIONS: usize = 16 * 1024;
/// Most connections that have not yet shown the token: a real client shows it in its first
/// request, within milliseconds, so a few hundred waiting at once can only be a flood.
pub const MAX_UNAUTHENTICATED: usize = 256;
/// How long a client may take to send a request's headers (slow-header floods end here).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// File descriptors kept for everything but client sockets (store, agent pipes, sandboxes).
pub const FD_RESERVE: usize = 256;
/// The open-files limit assumed when it cannot be read (the usual default soft limit).
const FALLBACK_FD_LIMIT: u64 = 1024;
/// How long the `503` answer may take to write before the socket is simply closed.
const REJECT_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a plain struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return FALLBACK_FD_LIMIT;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    }
}

/// The connection cap that `fd_limit` allows: [`MAX_CONNECTIONS`], or fewer when descriptors
/// are short, and never below a handful.
pub fn connection_cap(fd_limit: u64) -> usize {
    let usable = (fd_limit as usize).saturating_sub(FD_RESERVE).max(16);
    usable.min(MAX_CONNECTIONS)
}

/// Counts connections and picks which unauthenticated one to close.
#[derive(Debug)]
pub struct Door {
    max_connections: usize,
    max_unauthenticated: usize,
    open: AtomicUsize,
    next_id: AtomicU64,
    /// Connections that have not shown the token yet, oldest first.
    waiting: Mutex<VecDeque<(u64, Arc<Notify>)>>,
}

impl Door {
    pub fn new(max_connections: usize) -> Arc<Door> {
        Arc::new(Door {
            max_connections,
            max_unauthenticated: MAX_UNAUTHENTICATED.min(max_connections / 2).max(1),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            waiting: Mutex::new(VecDeque::new()),
        })
    }

    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, Arc<Notify>)>> {
        // A poisoned queue is still a valid queue.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection, or `None` when the server is full. Admitting one may close
    /// the oldest connection that has not shown the token.
    pub fn admit(self: &Arc<Door>) -> Option<Arc<Slot>> {
        let prev = self.open.fetch_add(1, Ordering::SeqCst);
        if prev >= self.max_connections {
            self.open.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            door: self.clone(),
            evict: Arc::new(Notify::new()),
            authenticated: AtomicBool::new(false),
        });
        let mut waiting = self.waiting();
        waiting.push_back((slot.id, slot.evict.clone()));
        if waiting.len() > self.max_unauthenticated
            && let Some((_, oldest)) = waiting.pop_front()
        {
            oldest.notify_one();
        }
        Some(slot)
    }
}

/// One admitted connection. Dropping the last reference frees its place.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    door: Arc<Door>,
    evict: Arc<Notify>,
    authenticated: AtomicBool,
}

impl Slot {
    /// The connection showed the token: it is no longer closed to make room.
    pub fn authenticated(&self) {
        if !self.authenticated.swap(true, Ordering::SeqCst) {
            self.door.waiting().retain(|(id, _)| *id != self.id);
        }
    }

    /// Resolves when the door closes this connection to make room.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.authenticated.load(Ordering::SeqCst) {
            self.door.waiting().retain(|(id, _)| *id != self.id);
        }
        self.door.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A client socket that holds its slot for as long as it lives.
pub struct SlotStream {
    tcp: TcpStream,
    _slot: Arc<Slot>,
}

impl SlotStream {
    pub fn new(tcp: TcpStream, slot: Arc<Slot>) -> SlotStream {
        SlotStream { tcp, _slot: slot }
    }
}

impl AsyncRead for SlotStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for SlotStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// Answers a connection over the cap with `503` and closes it.
pub async fn reject(mut tcp: TcpStream, cap: usize) {
    let body = format!(
        "the server has its maximum of {cap} connections open: try again later (the operator can raise the open-files limit, ulimit -n)\n"
    );
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REJECT_WRITE_TIMEOUT, async {
        let _ = tcp.write_all(reply.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_unauthenticated_connection_makes_room() {
        let door = Door::new(8);
        let slots: Vec<_> = (0..4).map(|_| door.admit().unwrap()).collect();
        slots[1].authenticated();
        let fifth = door.admit().unwrap();
        // Four wait (0, 2, 3, 4) with room for four: nobody was evicted yet.
        assert_eq!(door.waiting().len(), 4);
        let _sixth = door.admit().unwrap();
        assert_eq!(door.waiting().front().map(|w| w.0), Some(2));
        drop(fifth);
        assert_eq!(door.open.load(Ordering::SeqCst), 5);
        let more: Vec<_> = (0..4).map(|_| door.admit()).collect();
        assert!(
            more[2].is_some() && more[3].is_none(),
            "the ninth is over the cap"
        );
        assert_eq!(connection_cap(1024), 768);
        assert_eq!(connection_cap(1 << 20), MAX_CONNECTIONS);
    }
}
