//! Whether a line is one JSON value, checked without building anything (so a line that cannot
//! carry usage costs a scan, not a parse).
//!
//! Must not allocate or report: a `false` is explained by serde_json's own error.

/// Nesting that [`is_json`] tracks in a `u128` of bits (bit 0 unused); deeper lines are
/// checked by serde_json instead.
pub(super) const MAX_BITSTACK_DEPTH: usize = 127;

/// Whether `b` is exactly one JSON value (RFC 8259, as serde_json reads it), checked without
/// building anything: about three times faster than parsing it into `IgnoredAny`, because string
/// contents, most of a transcript line, are skipped with memchr. A `false` is then explained by
/// serde_json's own error message.
pub fn is_json(b: &[u8]) -> bool {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\t' | b'\r') {
            i += 1;
        }
        i
    }
    /// The index after the string that starts at `b[i] == '"'`.
    fn string(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        loop {
            let k = memchr::memchr2(b'"', b'\\', &b[i..])?;
            // A fold without early exit compiles to vector code; `any` would not.
            if b[i..i + k].iter().fold(false, |bad, &c| bad | (c < 0x20)) {
                return None;
            }
            i += k;
            if b[i] == b'"' {
                return Some(i + 1);
            }
            match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            }
        }
    }
    fn digits(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    }
    /// The index after the number that starts at `b[i]`.
    fn number(b: &[u8], mut i: usize) -> Option<usize> {
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => i = digits(b, i),
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            let j = digits(b, i + 1);
            if j == i + 1 {
                return None;
            }
            i = j;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let j = digits(b, i);
            if j == i {
                return None;
            }
            i = j;
        }
        Some(i)
    }
    /// The index after `"key" :` at `b[i]`, whitespace before the value not skipped.
    fn key(b: &[u8], i: usize) -> Option<usize> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let i = ws(b, string(b, i)?);
        (b.get(i) == Some(&b':')).then_some(i + 1)
    }

    let n = b.len();
    let mut i = 0;
    // Bit d of `objects` says whether the container at depth d is an object.
    let mut depth = 0usize;
    let mut objects: u128 = 0;
    loop {
        // A value is expected at `i`.
        i = ws(b, i);
        let Some(&c) = b.get(i) else { return false };
        match c {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_BITSTACK_DEPTH {
                    // Deeper than the bit stack: rare enough to hand to serde_json.
                    return serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok();
                }
                let object = c == b'{';
                objects = if object {
                    objects | 1 << depth
                } else {
                    objects & !(1 << depth)
                };
                i = ws(b, i + 1);
                let close = if object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    i += 1;
                    depth -= 1;
                } else if object {
                    match key(b, i) {
                        Some(j) => i = j,
                        None => return false,
                    }
                    continue;
                } else {
                    continue;
                }
            }
            b'"' => match string(b, i) {
                Some(j) => i = j,
                None => return false,
            },
            b't' | b'f' | b'n' => {
                let word: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[i..].starts_with(word) {
                    return false;
                }
                i += word.len();
            }
            b'-' | b'0'..=b'9' => match number(b, i) {
                Some(j) => i = j,
                None => return false,
            },
            _ => return false,
        }
        // After a value: a comma, a closing bracket, or the end.
        loop {
            i = ws(b, i);
            if depth == 0 {
                return i == n;
            }
            let object = objects & (1 << depth) != 0;
            match b.get(i) {
                Some(b',') => {
                    i += 1;
                    if object {
                        match key(b, ws(b, i)) {
                            Some(j) => i = j,
                            None => return false,
                        }
                    }
                    break;
                }
                Some(b'}') if object => {
                    i += 1;
                    depth -= 1;
                }
                Some(b']') if !object => {
                    i += 1;
                    depth -= 1;
                }
                _ => return false,
            }
        }
    }
}

/// The JSON string at the start of `rest` (after a key: `: "value"`), if it has no escapes.
pub(super) fn sniff_string(rest: &[u8]) -> Option<String> {
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}
