//! A busy agent's output, read in gathered batches: once its reads bring bytes less than one
//! and a half windows apart, a read that did not fill the caller's buffer makes the next wait
//! [`GATHER_WINDOW`], so that the lines the agent writes meanwhile are taken together. Every
//! backend's agent stdout reads this way ([`Pause`]); the session's batches, store appends and
//! client writes follow from its reads.
//!
//! A local pipe ([`GatheredPipe`]) also leaves tokio's poller while its agent is busy: Linux
//! wakes an edge-triggered waiter on a pipe at every write, so a registered pipe woke a thread
//! about once per line even while its reader waited out the window. It goes back into the
//! poller when a read finds it empty, so that the next write of a quiet agent wakes the reader
//! at once.
//!
//! Must not parse, split or hold bytes: the readers hand over what they got, in order.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, Interest, ReadBuf};
use tokio::time::{Instant, Sleep};

/// After a read of a busy agent's output, how long before the next one. A fast agent's lines
/// then share one read, one store append, one broadcast and one write to each client, instead
/// of paying for each of those per line (at 100 agents x 200 lines/s, a fifth of the server's
/// CPU per event; at 10 x 2,000 nearly half). A line after a quiet spell goes out at once; a
/// line of a busy turn waits at most this long, well under what a person notices
/// (`docs/benchmarks.md`, "Gathering a turn's events").
pub const GATHER_WINDOW: Duration = Duration::from_millis(10);

/// The wait between two reads of a busy agent's output.
pub(super) struct Pause {
    window: Duration,
    /// Made at the first pause and reset for each later one.
    sleep: Option<Pin<Box<Sleep>>>,
    running: bool,
    /// When the last read that brought bytes returned.
    last_data: Option<Instant>,
}

impl Pause {
    pub(super) fn new(window: Duration) -> Pause {
        Pause {
            window,
            sleep: None,
            running: false,
            last_data: None,
        }
    }

    /// Two reads with bytes closer than this mean a busy writer: one and a half windows, so
    /// that reads a window apart (a writer paused for) stay busy, while a slower writer (at a
    /// 10 ms window, a line every 15 ms or more) is read at once, without a timer per line.
    fn busy_gap(&self) -> Duration {
        self.window + self.window / 2
    }

    /// After a read that brought `n` bytes of the `room` it had: when the writer is busy and
    /// the read left room (it drained what there was), more is on its way; wait for it.
    pub(super) fn after_read(&mut self, n: usize, room: usize) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        let busy = self
            .last_data
            .is_some_and(|last| now.duration_since(last) < self.busy_gap());
        self.last_data = Some(now);
        if !busy || n >= room {
            return;
        }
        let until = now + self.window;
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(until),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(until))),
        }
        self.running = true;
    }

    /// Ready when no pause runs or it has ended; `true` when one just ended.
    pub(super) fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if !self.running {
            return Poll::Ready(false);
        }
        if let Some(sleep) = self.sleep.as_mut() {
            ready!(sleep.as_mut().poll(cx));
        }
        self.running = false;
        Poll::Ready(true)
    }
}

/// The read end of a local pipe, read in gathered batches and kept out of the poller while the
/// writer is busy.
pub struct GatheredPipe {
    pipe: Pipe,
    pause: Pause,
}

enum Pipe {
    /// Out of the poller: read directly, nothing wakes on the writer's writes.
    Direct(File),
    /// In the poller, woken by the writer's next write.
    Polled(AsyncFd<File>),
    /// Only between the two, while one is turned into the other.
    Moving,
}

impl GatheredPipe {
    /// Takes over a pipe's read end (any mode: it is made non-blocking here).
    pub fn new(fd: OwnedFd, window: Duration) -> io::Result<GatheredPipe> {
        set_nonblocking(&fd)?;
        let file = File::from(fd);
        Ok(GatheredPipe {
            pipe: Pipe::Polled(register(file)?),
            pause: Pause::new(window),
        })
    }
}

impl AsyncRead for GatheredPipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let paused = ready!(this.pause.poll_end(cx));
        let room = buf.remaining();
        loop {
            let n = match &mut this.pipe {
                Pipe::Direct(file) => match read_into(file, buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The writer went quiet: back into the poller, to be woken by its next
                        // write (registering reports data that came in between, too).
                        let Pipe::Direct(file) = std::mem::replace(&mut this.pipe, Pipe::Moving)
                        else {
                            unreachable!("matched as direct")
                        };
                        this.pipe = Pipe::Polled(register(file)?);
                        continue;
                    }
                    read => read?,
                },
                Pipe::Polled(fd) => {
                    let mut guard = ready!(fd.poll_read_ready(cx))?;
                    match guard.try_io(|f| read_into(f.get_ref(), buf)) {
                        Ok(read) => {
                            let n = read?;
                            if n > 0 && paused {
                                // It wrote during the pause: busy, so out of the poller until
                                // a read finds the pipe empty.
                                let Pipe::Polled(fd) =
                                    std::mem::replace(&mut this.pipe, Pipe::Moving)
                                else {
                                    unreachable!("matched as polled")
                                };
                                this.pipe = Pipe::Direct(fd.into_inner());
                            }
                            n
                        }
                        // Readiness was stale: it is cleared, poll again.
                        Err(_would_block) => continue,
                    }
                }
                Pipe::Moving => {
                    return Poll::Ready(Err(io::Error::other(
                        "the agent's stdout could not enter the poller",
                    )));
                }
            };
            this.pause.after_read(n, room);
            return Poll::Ready(Ok(()));
        }
    }
}

/// Puts the pipe into tokio's poller; on failure it is dropped, and reads fail after it.
fn register(file: File) -> io::Result<AsyncFd<File>> {
    // SAFETY: the file owns its descriptor, which stays open, and the same, for as long as the
    // `AsyncFd` holds it (until `into_inner` or drop).
    unsafe { AsyncFd::register_with_interest(file, Interest::READABLE) }.map_err(io::Error::from)
}

/// One `read(2)` into the free part of `buf`; an interrupted read is retried.
fn read_into(mut file: &File, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
    let dst = buf.initialize_unfilled();
    let n = loop {
        match file.read(dst) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            read => break read?,
        }
    };
    buf.advance(n);
    Ok(n)
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl(2) on a descriptor this reader owns; no memory is passed.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::AsyncReadExt;

    fn pipe(window: Duration) -> (GatheredPipe, File) {
        let (read, write) = std::io::pipe().unwrap();
        let reader = GatheredPipe::new(OwnedFd::from(read), window).unwrap();
        (reader, File::from(OwnedFd::from(write)))
    }

    #[tokio::test]
    async fn a_quiet_writers_first_line_is_read_at_once() {
        let (mut reader, mut writer) = pipe(Duration::from_secs(30));
        let mut buf = [0u8; 64];
        let read = tokio::spawn(async move {
            let n = reader.read(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        writer.write_all(b"first\n").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("woken by the write, not by the 30 s window")
            .unwrap();
        assert_eq!(got, b"first\n");
    }

    /// Reads a line written just before, as a busy writer's second line is: the reader then
    /// takes the writer for busy.
    async fn read_line_now(reader: &mut GatheredPipe, writer: &mut File, line: &[u8]) {
        writer.write_all(line).unwrap();
        let mut buf = [0u8; 64];
        let n = reader.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], line);
    }

    #[tokio::test]
    async fn a_busy_writers_lines_are_gathered_into_one_read_after_the_window() {
        let window = Duration::from_millis(200);
        let (mut reader, mut writer) = pipe(window);
        read_line_now(&mut reader, &mut writer, b"one\n").await;
        read_line_now(&mut reader, &mut writer, b"two\n").await;
        // Two reads close together: busy. Written during the window, not read before it
        // ends, then read together.
        let after_second = std::time::Instant::now();
        let writing = std::thread::spawn(move || {
            for line in [b"six\n", b"ten\n"] {
                writer.write_all(line).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
            writer
        });
        let mut buf = [0u8; 64];
        let n = reader.read(&mut buf).await.unwrap();
        assert!(
            after_second.elapsed() >= window - Duration::from_millis(5),
            "read after {:?}, before the window ended",
            after_second.elapsed()
        );
        assert_eq!(&buf[..n], b"six\nten\n", "both lines in one read");
        drop(writing.join().unwrap());
        // The writer is gone: the end of the input.
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_slow_writers_lines_are_each_read_at_once() {
        let window = Duration::from_millis(300);
        let (mut reader, mut writer) = pipe(window);
        read_line_now(&mut reader, &mut writer, b"one\n").await;
        // Longer apart than one and a half windows: not busy, so no pause after this read.
        std::thread::sleep(Duration::from_millis(600));
        read_line_now(&mut reader, &mut writer, b"two\n").await;
        let asked = std::time::Instant::now();
        read_line_now(&mut reader, &mut writer, b"six\n").await;
        assert!(
            asked.elapsed() < window / 2,
            "read after {:?}: the reader paused for a slow writer",
            asked.elapsed()
        );
    }

    #[tokio::test]
    async fn a_busy_writer_that_goes_quiet_still_wakes_the_reader_with_its_next_write() {
        let window = Duration::from_millis(20);
        let (mut reader, mut writer) = pipe(window);
        read_line_now(&mut reader, &mut writer, b"a\n").await;
        read_line_now(&mut reader, &mut writer, b"b\n").await;
        // Written during the pause: read after it, and the reader leaves the poller.
        read_line_now(&mut reader, &mut writer, b"c\n").await;
        // Quiet for a while, then one more line: it must wake the reader, back in the poller.
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            writer.write_all(b"d\n").unwrap();
            writer
        });
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf))
            .await
            .expect("the late write woke the reader")
            .unwrap();
        assert_eq!(&buf[..n], b"d\n");
        drop(late.join().unwrap());
    }

    #[tokio::test]
    async fn a_read_that_fills_the_buffer_is_followed_at_once() {
        let (mut reader, mut writer) = pipe(Duration::from_secs(30));
        writer.write_all(b"0123456789").unwrap();
        let mut buf = [0u8; 4];
        let mut got = Vec::new();
        // 4 + 4 bytes fill the buffer: no wait; the last 2 are read at once too.
        for _ in 0..3 {
            let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf))
                .await
                .expect("no window after a full read")
                .unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"0123456789");
    }
}
