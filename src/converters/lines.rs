//! Lines of agent output and of transcripts, bounded: the one splitter every reader of lines
//! uses (`aisys transcript` in all its forms, following a growing file, the runner reading an
//! agent's stdout), the one limit on a line's length, and the one report of a line that breaks
//! it (`FILE:LINE: line longer than ...`).
//!
//! Lines are split inside one buffer and lent out without a copy; only a line cut by the end of
//! the buffer is moved to its front. The same splitting serves a blocking reader
//! ([`LineBuffer::next`]), an async one ([`LineBuffer::next_async`]) and bytes already in memory
//! ([`lines_in`]).
//!
//! Must not parse lines or decide what a bad one means: a line is bytes, and its reader says
//! whether reading goes on.

use std::io::Read;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line accepted: a tool result can be large, but a line this long is a broken file or
/// stream, and holding more would risk the host's memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// A line that could not be read, and why: shown as `INPUT:LINE: WHAT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub input: String,
    pub line: usize,
    pub what: String,
}

impl BadLine {
    pub fn new(input: &str, line: usize, what: impl Into<String>) -> BadLine {
        BadLine {
            input: input.to_string(),
            line,
            what: what.into(),
        }
    }

    /// Line `line` of `input` is over [`MAX_LINE_BYTES`]: nothing after it is read.
    pub fn too_long(input: &str, line: usize) -> BadLine {
        BadLine::new(
            input,
            line,
            format!(
                "{}: refused; the rest of the input was skipped",
                LineError::TooLong { number: line }
            ),
        )
    }
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.input, self.line, self.what)
    }
}

/// Why no further line can be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Line `number` is over [`MAX_LINE_BYTES`].
    #[error("line longer than {MAX_LINE_BYTES} bytes")]
    TooLong { number: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One line, without its newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based, counting empty lines.
    pub number: usize,
    /// Where the line starts in its input.
    pub offset: u64,
    pub bytes: &'a [u8],
}

impl<'a> Line<'a> {
    /// The line as text: borrowed when it is UTF-8 (agents write UTF-8, so nearly always), with
    /// U+FFFD for each bad sequence otherwise. The standard library's UTF-8 check skips ASCII a
    /// word at a time; the lossy conversion's does not, and took 1 % of the server's CPU on the
    /// agents' lines.
    pub fn text(&self) -> std::borrow::Cow<'a, str> {
        match std::str::from_utf8(self.bytes) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(self.bytes),
        }
    }

    /// The line without ASCII white space at either end, its offset that of its first byte kept.
    pub fn trimmed(self) -> Line<'a> {
        let lead = leading_ws(self.bytes);
        Line {
            offset: self.offset + lead as u64,
            bytes: self.bytes[lead..].trim_ascii_end(),
            ..self
        }
    }
}

/// The next line of `bytes`, which hold an input from a line's start: `Some(len)` for a line of
/// `len` bytes ended by a newline at `len` (or by the input's end, with `at_end`), `None` when
/// more must be read first.
#[inline]
fn split(bytes: &[u8], at_end: bool, number: usize) -> Result<Option<usize>, LineError> {
    let len = match memchr::memchr(b'\n', bytes) {
        Some(len) => len,
        None if bytes.len() > MAX_LINE_BYTES => bytes.len(),
        None if at_end => bytes.len(),
        None => return Ok(None),
    };
    if len > MAX_LINE_BYTES {
        return Err(LineError::TooLong { number: number + 1 });
    }
    Ok(Some(len))
}

/// A reader's lines, split inside one buffer that is reused from input to input. Its steps are
/// `#[inline]`: the per-line path of `transcript stats` runs through them, and they are small.
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Size of the buffer before a long line grows it, and after [`LineBuffer::reset`].
    capacity: usize,
    start: usize,
    end: usize,
    number: usize,
    /// Where `buf[start]` is in the input.
    offset: u64,
    eof: bool,
    /// At the end of what can be read, an unfinished line waits for its newline (a file still
    /// being written) instead of being a line.
    complete_only: bool,
}

impl LineBuffer {
    /// A buffer of `capacity` bytes (grown, up to [`MAX_LINE_BYTES`], for longer lines); the
    /// last line of an input needs no newline.
    pub fn new(capacity: usize) -> LineBuffer {
        LineBuffer {
            buf: Vec::new(),
            capacity: capacity.max(1),
            start: 0,
            end: 0,
            number: 0,
            offset: 0,
            eof: false,
            complete_only: false,
        }
    }

    /// A buffer for a file still being written: only lines ended by a newline are lines, and an
    /// input's end is only where reading stops for now (the next call reads on).
    pub fn complete_lines(capacity: usize) -> LineBuffer {
        LineBuffer {
            complete_only: true,
            ..LineBuffer::new(capacity)
        }
    }

    /// The next line read from `r`, or `None` at its end.
    pub fn next(&mut self, r: &mut impl Read) -> Result<Option<Line<'_>>, LineError> {
        self.next_from(r, false)
    }

    /// The next line of `r` that is not blank, without ASCII white space at either end (its
    /// offset is that of its first byte kept).
    pub fn next_trimmed(&mut self, r: &mut impl Read) -> Result<Option<Line<'_>>, LineError> {
        self.next_from(r, true)
    }

    fn next_from(&mut self, r: &mut impl Read, trim: bool) -> Result<Option<Line<'_>>, LineError> {
        loop {
            match self.ready()? {
                Ready::Line(len) => {
                    let start = self.start;
                    if trim && self.buf[start..start + len].trim_ascii().is_empty() {
                        self.take(len);
                        continue;
                    }
                    let line = self.take(len);
                    return Ok(Some(if trim { line.trimmed() } else { line }));
                }
                Ready::End => return Ok(None),
                Ready::Read => {
                    let n = loop {
                        match r.read(self.room()) {
                            Ok(n) => break n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(e.into()),
                        }
                    };
                    self.filled(n);
                }
            }
        }
    }

    /// [`LineBuffer::next`] for an async reader. Cancel safe: dropped before it is done, it
    /// loses nothing (the next call goes on where it stopped).
    pub async fn next_async<R: AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> Result<Option<Line<'_>>, LineError> {
        loop {
            match self.ready()? {
                Ready::Line(len) => return Ok(Some(self.take(len))),
                Ready::End => return Ok(None),
                Ready::Read => {
                    let n = r.read(self.room()).await?;
                    self.filled(n);
                }
            }
        }
    }

    /// Calls `f` with each line of `r` until it returns false; stops at the first error.
    pub fn for_each(
        &mut self,
        r: &mut impl Read,
        mut f: impl FnMut(Line<'_>) -> bool,
    ) -> Result<(), LineError> {
        while let Some(line) = self.next(r)? {
            if !f(line) {
                break;
            }
        }
        Ok(())
    }

    /// Whether the next call returns without reading: a whole line (or the input's last one)
    /// is held. A caller handing lines on in batches ends a batch when this is false.
    pub fn line_ready(&self) -> bool {
        let held = &self.buf[self.start..self.end];
        !held.is_empty()
            && ((self.eof && !self.complete_only)
                || held.len() > MAX_LINE_BYTES
                || memchr::memchr(b'\n', held).is_some())
    }

    /// Bytes read but not yet handed out as lines: the start of the rest of the input.
    pub fn held(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Ready for a new input. A buffer grown for a long line is given back, so one such line
    /// does not hold memory for the rest of a run.
    pub fn reset(&mut self) {
        let buf = if self.buf.len() > self.capacity {
            Vec::new()
        } else {
            std::mem::take(&mut self.buf)
        };
        *self = LineBuffer {
            buf,
            complete_only: self.complete_only,
            ..LineBuffer::new(self.capacity)
        };
    }

    #[inline]
    fn ready(&mut self) -> Result<Ready, LineError> {
        let held = &self.buf[self.start..self.end];
        let at_end = self.eof && !self.complete_only;
        match split(held, at_end, self.number) {
            Err(e) => {
                self.number += 1;
                Err(e)
            }
            Ok(Some(len)) if !held.is_empty() => Ok(Ready::Line(len)),
            Ok(Some(_)) => Ok(Ready::End),
            Ok(None) if self.eof => {
                // Waiting for a newline: the next call reads again.
                self.eof = false;
                Ok(Ready::End)
            }
            Ok(None) => Ok(Ready::Read),
        }
    }

    /// Hands out the next `len` bytes as a line, and steps over its newline.
    #[inline]
    fn take(&mut self, len: usize) -> Line<'_> {
        let start = self.start;
        let next = (start + len + 1).min(self.end);
        self.number += 1;
        let line = Line {
            number: self.number,
            offset: self.offset,
            bytes: &self.buf[start..start + len],
        };
        self.offset += (next - start) as u64;
        self.start = next;
        line
    }

    /// Room to read into: the unfinished line moved to the front, the buffer grown when it is
    /// full (never more than one byte past the limit: enough to see a line is too long).
    #[inline]
    fn room(&mut self) -> &mut [u8] {
        // The buffer's bytes are overwritten before they are read: only size it.
        if self.buf.len() < self.capacity {
            self.buf.resize(self.capacity, 0);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf
                .resize((self.buf.len() * 2).min(MAX_LINE_BYTES + 1), 0);
        }
        &mut self.buf[self.end..]
    }

    #[inline]
    fn filled(&mut self, n: usize) {
        self.end += n;
        self.eof = n == 0;
    }
}

/// What the buffer holds.
enum Ready {
    /// A line of this length at its start.
    Line(usize),
    /// Bytes must be read first.
    Read,
    /// No more lines (for now, with [`LineBuffer::complete_lines`]).
    End,
}

/// The lines of an input already in memory, split in place; a line over the limit ends them
/// with an error.
pub fn lines_in(data: &[u8]) -> impl Iterator<Item = Result<Line<'_>, LineError>> {
    let (mut start, mut number, mut failed) = (0usize, 0usize, false);
    std::iter::from_fn(move || {
        if start >= data.len() || failed {
            return None;
        }
        let len = match split(&data[start..], true, number) {
            Ok(len) => len.unwrap_or(0),
            Err(e) => {
                failed = true;
                return Some(Err(e));
            }
        };
        number += 1;
        let line = Line {
            number,
            offset: start as u64,
            bytes: &data[start..start + len],
        };
        start += len + 1;
        Some(Ok(line))
    })
}

/// Bytes of ASCII white space at the start of `line`.
fn leading_ws(line: &[u8]) -> usize {
    line.len() - line.trim_ascii_start().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buffer: &mut LineBuffer, data: &[u8]) -> Vec<(usize, u64, String)> {
        let mut r = data;
        let mut out = Vec::new();
        while let Some(l) = buffer.next(&mut r).unwrap() {
            out.push((
                l.number,
                l.offset,
                String::from_utf8(l.bytes.to_vec()).unwrap(),
            ));
        }
        out
    }

    #[test]
    fn a_line_reads_as_its_text_borrowed_and_bad_bytes_as_replacement_characters() {
        let line = |bytes: &'static [u8]| Line {
            number: 1,
            offset: 0,
            bytes,
        };
        let good = line("{\"text\":\"café ✓\"}".as_bytes());
        assert!(matches!(
            good.text(),
            std::borrow::Cow::Borrowed("{\"text\":\"café ✓\"}")
        ));
        assert_eq!(line(b"a\xffb\xc3").text(), "a\u{fffd}b\u{fffd}");
        assert_eq!(line(b"").text(), "");
    }

    #[test]
    fn lines_are_split_with_their_numbers_and_offsets() {
        let want = vec![
            (1, 0, "one".to_string()),
            (2, 4, String::new()),
            (3, 5, "three".to_string()),
        ];
        // A buffer smaller than a line: lines cut by its end are moved and it grows.
        for capacity in [1, 2, 3, 1024] {
            assert_eq!(all(&mut LineBuffer::new(capacity), b"one\n\nthree"), want);
            assert_eq!(all(&mut LineBuffer::new(capacity), b"one\n\nthree\n"), want);
        }
        let memory: Vec<_> = lines_in(b"one\n\nthree\n")
            .map(|l| l.unwrap())
            .map(|l| {
                (
                    l.number,
                    l.offset,
                    String::from_utf8(l.bytes.to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(memory, want);
    }

    #[test]
    fn a_line_over_the_limit_is_refused_with_its_number() {
        let mut data = b"ok\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        data.extend(b"\nafter\n");
        let mut r = &data[..];
        let mut buffer = LineBuffer::new(1024);
        assert_eq!(buffer.next(&mut r).unwrap().unwrap().bytes, b"ok");
        let err = buffer.next(&mut r).unwrap_err();
        assert!(matches!(err, LineError::TooLong { number: 2 }), "{err}");
        let mut memory = lines_in(&data);
        assert!(memory.next().unwrap().is_ok());
        assert!(matches!(
            memory.next(),
            Some(Err(LineError::TooLong { number: 2 }))
        ));
        assert!(memory.next().is_none());
        assert_eq!(
            BadLine::too_long("f.jsonl", 2).to_string(),
            format!(
                "f.jsonl:2: line longer than {MAX_LINE_BYTES} bytes: refused; the rest of the input was skipped"
            )
        );
        // A line of exactly the limit is a line.
        let exact = vec![b'y'; MAX_LINE_BYTES];
        let mut buffer = LineBuffer::new(1024);
        assert_eq!(all(&mut buffer, &exact)[0].2.len(), MAX_LINE_BYTES);
    }

    #[test]
    fn a_growing_file_gives_only_its_complete_lines() {
        let mut buffer = LineBuffer::complete_lines(4);
        let mut r: &[u8] = b"one\ntw";
        assert_eq!(buffer.next(&mut r).unwrap().unwrap().bytes, b"one");
        assert!(buffer.next(&mut r).unwrap().is_none());
        let mut r: &[u8] = b"o\n";
        let l = buffer.next(&mut r).unwrap().unwrap();
        assert_eq!((l.number, l.offset, l.bytes), (2, 4, &b"two"[..]));
        assert!(buffer.next(&mut r).unwrap().is_none());
    }

    #[tokio::test]
    async fn async_lines_are_split_and_the_limit_is_enforced() {
        let data = b"one\ntwo\nthree".to_vec();
        let mut r = &data[..];
        let mut buffer = LineBuffer::new(2);
        let mut lines = Vec::new();
        while let Some(l) = buffer.next_async(&mut r).await.unwrap() {
            lines.push(String::from_utf8(l.bytes.to_vec()).unwrap());
        }
        assert_eq!(lines, ["one", "two", "three"]);

        let big = vec![b'x'; MAX_LINE_BYTES + 10];
        let mut r = &big[..];
        let err = LineBuffer::new(1024).next_async(&mut r).await.unwrap_err();
        assert!(err.to_string().contains("longer than"));
    }

    #[test]
    fn a_buffer_says_whether_its_next_line_needs_a_read() {
        let mut buffer = LineBuffer::new(64);
        assert!(!buffer.line_ready(), "an empty buffer must read");
        let mut r: &[u8] = b"one\ntwo\nthr";
        buffer.next(&mut r).unwrap();
        assert!(buffer.line_ready(), "\"two\" is held whole");
        buffer.next(&mut r).unwrap();
        assert!(
            !buffer.line_ready(),
            "\"thr\" waits for the rest of its line"
        );
        // At the input's end, its last line needs no newline.
        assert_eq!(buffer.next(&mut r).unwrap().unwrap().bytes, b"thr");
        assert!(!buffer.line_ready());
        let mut growing = LineBuffer::complete_lines(64);
        let mut r: &[u8] = b"one\ntw";
        growing.next(&mut r).unwrap();
        assert!(
            !growing.line_ready(),
            "a file being written: \"tw\" is not a line yet"
        );
    }
}
