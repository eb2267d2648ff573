//! Which events `aisys transcript parse` keeps: one session, a time window, no thinking, no
//! subagents.
//!
//! Events without a timestamp of their own take the last one seen in their input, so a window
//! keeps whole messages rather than cutting them at untimed pieces.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::types::StreamEvent;

/// A point in time given on the command line: an RFC 3339 time as given, or a date meaning its
/// midnight in `tz`.
pub fn parse_time(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    match text.parse::<jiff::civil::Date>() {
        Ok(d) => d
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| format!("{text:?}: {e}")),
        Err(_) => Err(format!(
            "{text:?}: not a time\n  fix: give a date like 2026-11-27, or an RFC 3339 time like 2026-11-27T09:00:00Z"
        )),
    }
}

/// The filters of one run; feed it every event in order.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only the sessions whose agent session id starts with this (the whole id, with
    /// `session_exact`).
    pub session: Option<String>,
    pub session_exact: bool,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub no_thinking: bool,
    pub no_sidechains: bool,
    pub(crate) current_session: Option<String>,
    /// Whether the current session is one asked for.
    pub(crate) session_kept: bool,
    pub(crate) last_time: Option<Timestamp>,
    /// The ids of the sessions kept so far (with a `session` filter).
    pub(crate) matched: std::collections::BTreeSet<String>,
}

impl EventFilter {
    /// The same settings, with nothing seen yet.
    pub fn fresh(&self) -> EventFilter {
        EventFilter {
            current_session: None,
            session_kept: false,
            last_time: None,
            matched: Default::default(),
            ..self.clone()
        }
    }

    /// The ids of the sessions the `session` filter kept so far.
    pub fn matched_sessions(&self) -> &std::collections::BTreeSet<String> {
        &self.matched
    }

    /// Whether to keep `ev`.
    pub fn keep(&mut self, ev: &mut StreamEvent) -> bool {
        if let StreamEvent::SessionStarted {
            agent_session_id, ..
        } = ev
        {
            self.current_session.clone_from(agent_session_id);
            self.last_time = None;
            if let Some(want) = &self.session {
                self.session_kept = agent_session_id.as_deref().is_some_and(|id| {
                    if self.session_exact {
                        id == want
                    } else {
                        id.starts_with(want.as_str())
                    }
                });
                if self.session_kept
                    && let Some(id) = agent_session_id
                    && !self.matched.contains(id)
                {
                    self.matched.insert(id.clone());
                }
            }
        }
        if let Some(ts) = ev.timestamp()
            && let Ok(t) = ts.parse::<Timestamp>()
        {
            self.last_time = Some(t);
        }
        if self.session.is_some() && !self.session_kept {
            return false;
        }
        if self.no_thinking && matches!(ev, StreamEvent::Thinking { .. }) {
            return false;
        }
        if self.no_sidechains && ev.parent_tool_use_id_mut().is_some_and(|p| p.is_some()) {
            return false;
        }
        if let Some(t) = self.last_time {
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        } else if self.since.is_some() && !matches!(ev, StreamEvent::SessionStarted { .. }) {
            // Nothing is known to lie inside the window yet.
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ts: Option<&str>, parent: Option<&str>) -> StreamEvent {
        StreamEvent::Text {
            message_id: None,
            text: "x".into(),
            parent_tool_use_id: parent.map(Into::into),
            timestamp: ts.map(Into::into),
        }
    }

    #[test]
    fn times_parse_as_rfc3339_or_dates() {
        let utc = TimeZone::UTC;
        assert_eq!(
            parse_time("2026-01-31", &utc).unwrap(),
            "2026-01-31T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        // A date is its midnight in the zone given; a time is as given, whatever the zone.
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            parse_time("2026-01-31", &paris).unwrap(),
            "2026-01-30T23:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_time("2026-01-31T12:00:00+02:00", &paris).unwrap(),
            "2026-01-31T10:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(
            parse_time("yesterday", &utc)
                .unwrap_err()
                .contains("RFC 3339")
        );
    }

    #[test]
    fn the_window_keeps_untimed_pieces_with_their_timed_neighbours() {
        let mut f = EventFilter {
            since: Some(parse_time("2026-01-02", &TimeZone::UTC).unwrap()),
            until: Some(parse_time("2026-01-03", &TimeZone::UTC).unwrap()),
            ..EventFilter::default()
        };
        assert!(!f.keep(&mut text(Some("2026-01-01T10:00:00Z"), None)));
        assert!(!f.keep(&mut text(None, None)));
        assert!(f.keep(&mut text(Some("2026-01-02T10:00:00Z"), None)));
        assert!(f.keep(&mut text(None, None)));
        assert!(!f.keep(&mut text(Some("2026-01-03T00:00:00Z"), None)));
    }

    #[test]
    fn sessions_and_sidechains_filter() {
        let mut f = EventFilter {
            session: Some("b".into()),
            no_sidechains: true,
            ..EventFilter::default()
        };
        let start = |id: &str| StreamEvent::SessionStarted {
            agent: crate::types::AgentKind::ClaudeCode,
            agent_session_id: Some(id.into()),
            model: None,
            tools: vec![],
            cwd: None,
            agent_version: None,
            loaded: None,
            timestamp: None,
        };
        assert!(!f.keep(&mut start("a")));
        assert!(!f.keep(&mut text(None, None)));
        assert!(f.keep(&mut start("b")));
        assert!(f.keep(&mut text(None, None)));
        assert!(!f.keep(&mut text(None, Some("toolu_1"))));
        // A prefix keeps every session it starts; the whole id, with `session_exact`, one.
        assert!(f.keep(&mut start("b2")));
        assert_eq!(f.matched_sessions().iter().collect::<Vec<_>>(), ["b", "b2"]);
        f.session_exact = true;
        assert!(!f.keep(&mut start("b2")));
        assert!(f.keep(&mut start("b")));
    }
}
