//! Announcing committed appends to every server on a PostgreSQL database: notifications on
//! channel [`EVENTS_CHANNEL`] whose payloads are `SESSION SEQ` lines, each the newest seq a
//! session has. The events stay in the table; a server that follows a session reads them from
//! there (`server::cluster`).
//!
//! The append round's own statement sends them (`pg_batch`), so they are delivered when the
//! round commits, together with the events becoming visible. This module holds what the sender
//! and the listeners share: the channel, the payloads' size and their reading.
//!
//! Must not hold events: a lost announcement delays a reader, never loses an event.

/// The channel every server on the database listens on for new events.
pub const EVENTS_CHANNEL: &str = "aisys_events";
/// Bytes of `SESSION SEQ` lines after which a round starts another payload: PostgreSQL refuses
/// payloads of 8000 bytes or more, and a line (a server-made session id and a seq) is far
/// shorter than the 900 bytes left over.
pub const PAYLOAD_PART: usize = 7000;

/// The `(session, seq)` pairs of an announcement's payload; lines that do not parse are skipped.
pub fn parse(payload: &str) -> impl Iterator<Item = (&str, u64)> {
    payload.lines().filter_map(|l| {
        let (id, seq) = l.split_once(' ')?;
        Some((id, seq.parse().ok()?))
    })
}
