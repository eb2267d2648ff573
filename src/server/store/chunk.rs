//! The form both stores keep events in: a *chunk*, a session's consecutive events as one text
//! with one event's JSON per line, stored with its first and last seq. A store writes a row per
//! chunk (a session's events of one load or one round) instead of a row per event, so the rows,
//! index entries and commits of a busy server grow with its sessions, not with their events.
//!
//! An event's JSON (as `EncodedEvent` writes it) never holds a line break: line breaks inside
//! strings are escaped. One that does is refused rather than split wrong.
//!
//! Must not know about either database: it makes and reads the text.

use super::{EncodedEvent, StoreError};

/// Adds `json`, the event numbered `seq`, to `body` as its next line.
pub fn push(body: &mut String, seq: u64, json: &str) -> Result<(), StoreError> {
    if memchr::memchr(b'\n', json.as_bytes()).is_some() {
        return Err(StoreError::Commit(format!(
            "event {seq} holds a line break: a chunk keeps one event per line"
        )));
    }
    if !body.is_empty() {
        body.push('\n');
    }
    body.push_str(json);
    Ok(())
}

/// The events of a chunk of `session_id` holding seqs `first..=last`, each with its seq; an error
/// when the text does not hold that many lines (the store is damaged).
pub fn events<'a>(
    session_id: &str,
    first: i64,
    last: i64,
    body: &'a str,
) -> Result<impl Iterator<Item = (u64, &'a str)> + use<'a>, StoreError> {
    let lines = memchr::memchr_iter(b'\n', body.as_bytes()).count() as i64 + 1;
    if first < 1 || lines != last - first + 1 {
        return Err(StoreError::Query(format!(
            "session {session_id}: the chunk of events {first} to {last} holds {lines} events; \
             the store is damaged"
        )));
    }
    Ok((first as u64..).zip(body.split('\n')))
}

/// Adds the events of a chunk (as [`events`]) after seq `after` to `out`, decoded, until `out`
/// holds `limit`: how a store reads a session's events back.
pub fn read_after(
    out: &mut Vec<(u64, EncodedEvent)>,
    session_id: &str,
    (first, last, body): (i64, i64, &str),
    after: u64,
    limit: usize,
) -> Result<(), StoreError> {
    for (seq, json) in events(session_id, first, last, body)? {
        if out.len() >= limit {
            break;
        }
        if seq > after {
            out.push((seq, EncodedEvent::decode(json.to_string())?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pushed_read_back_with_their_seqs_and_a_miscounted_chunk_is_refused() {
        let mut body = String::new();
        for (seq, json) in [(7, r#"{"a":"x\ny"}"#), (8, "{}"), (9, r#"{"b":1}"#)] {
            push(&mut body, seq, json).unwrap();
        }
        let read: Vec<(u64, &str)> = events("s", 7, 9, &body).unwrap().collect();
        assert_eq!(read, [(7, r#"{"a":"x\ny"}"#), (8, "{}"), (9, r#"{"b":1}"#)]);
        let err = events("s", 7, 10, &body).err().unwrap().to_string();
        assert!(
            err.contains("session s") && err.contains("7 to 10"),
            "{err}"
        );
        assert!(push(&mut body, 10, "{\n}").is_err());
    }
}
