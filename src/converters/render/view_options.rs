//! What the Markdown, HTML and terminal renderers are told beyond the blocks: how much output to
//! show, the time zone times are shown in, and the terminal's width.
//!
//! Must not render: it only carries settings and formats times.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Times as the renderers show them: in UTC, or in a zone the reader chose.
#[derive(Debug, Clone)]
pub struct Clock {
    zone: TimeZone,
    /// The zone's name as shown next to times: `UTC`, `Europe/Paris`.
    label: String,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::utc()
    }
}

impl Clock {
    pub fn utc() -> Clock {
        Clock {
            zone: TimeZone::UTC,
            label: "UTC".into(),
        }
    }

    /// The zone named `name` (an IANA name such as `Europe/Paris`, `UTC`, or `local`).
    pub fn named(name: &str) -> Result<Clock, String> {
        if name.eq_ignore_ascii_case("utc") {
            return Ok(Clock::utc());
        }
        if name.eq_ignore_ascii_case("local") {
            let zone = TimeZone::system();
            let label = zone.iana_name().unwrap_or("local").to_string();
            return Ok(Clock { zone, label });
        }
        TimeZone::get(name)
            .map(|zone| Clock {
                zone,
                label: name.to_string(),
            })
            .map_err(|e| {
                format!("`{name}` is not a time zone ({e}): use an IANA name such as Europe/Paris, UTC or local")
            })
    }

    /// The zone.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The zone's name.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `2026-01-31 14:05:09` in this zone, from an RFC 3339 time; `None` if it is not one.
    pub fn date_time(&self, rfc3339: &str) -> Option<String> {
        let t: Timestamp = rfc3339.parse().ok()?;
        Some(
            t.to_zoned(self.zone.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
    }

    /// `14:05:09` in this zone.
    pub fn time(&self, rfc3339: &str) -> Option<String> {
        let t: Timestamp = rfc3339.parse().ok()?;
        Some(
            t.to_zoned(self.zone.clone())
                .strftime("%H:%M:%S")
                .to_string(),
        )
    }
}

/// Settings shared by the renderers.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Tool outputs longer than this are cut (their start and end kept).
    pub max_output_lines: usize,
    pub clock: Clock,
    /// Terminal text is wrapped to this width, keeping the gutter of nested runs.
    pub width: Option<usize>,
}

impl ViewOptions {
    pub fn new(max_output_lines: usize) -> ViewOptions {
        ViewOptions {
            max_output_lines,
            clock: Clock::utc(),
            width: None,
        }
    }
}
