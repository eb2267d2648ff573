//! The one way aisys writes the current time into a record.
//!
//! RFC 3339 in UTC with milliseconds and a `Z` (`2026-01-02T03:04:05.678Z`): the form Claude Code
//! writes in its own files (`installedAt`, `lastUpdated`), so records aisys writes beside them
//! read the same, sort as text, and parse with `jiff::Timestamp`.

/// Now, as a record's timestamp (UTC, milliseconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
