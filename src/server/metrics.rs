//! Counters for `GET /metrics` (Prometheus text format).
//!
//! Must not block: every counter is an atomic, updated on the hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::types::SessionState;

/// Upper bounds (seconds) of the turn-duration histogram's buckets: agent turns take from
/// about a second to many minutes.
const TURN_BUCKETS: [f64; 8] = [1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

#[derive(Debug, Default)]
pub struct Metrics {
    connections: AtomicU64,
    connections_total: AtomicU64,
    events_stored: AtomicU64,
    events_sent: AtomicU64,
    resyncs: AtomicU64,
    turn_buckets: [AtomicU64; TURN_BUCKETS.len()],
    turn_count: AtomicU64,
    turn_millis: AtomicU64,
}

impl Metrics {
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn events_stored(&self, n: u64) {
        self.events_stored.fetch_add(n, Ordering::Relaxed);
    }

    pub fn event_sent(&self) {
        self.events_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn resync(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn turn_finished(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in TURN_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.turn_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.turn_count.fetch_add(1, Ordering::Relaxed);
        self.turn_millis
            .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the number of sessions in each state.
    pub fn render(&self, sessions_by_state: &[(SessionState, usize)]) -> String {
        let mut s = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(s, "# HELP aisys_sessions Sessions by state.");
        let _ = writeln!(s, "# TYPE aisys_sessions gauge");
        for (state, n) in sessions_by_state {
            let _ = writeln!(s, "aisys_sessions{{state=\"{state}\"}} {n}");
        }
        let counters = [
            (
                "aisys_connections",
                "gauge",
                "Open WebSocket connections.",
                get(&self.connections),
            ),
            (
                "aisys_connections_total",
                "counter",
                "WebSocket connections accepted.",
                get(&self.connections_total),
            ),
            (
                "aisys_events_stored_total",
                "counter",
                "Events committed to the store.",
                get(&self.events_stored),
            ),
            (
                "aisys_events_sent_total",
                "counter",
                "Events sent to clients.",
                get(&self.events_sent),
            ),
            (
                "aisys_resyncs_total",
                "counter",
                "Times a slow client was told to resync.",
                get(&self.resyncs),
            ),
        ];
        for (name, kind, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP aisys_turn_duration_seconds Duration of agent turns."
        );
        let _ = writeln!(s, "# TYPE aisys_turn_duration_seconds histogram");
        for (i, bound) in TURN_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "aisys_turn_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(&self.turn_buckets[i])
            );
        }
        let count = get(&self.turn_count);
        let _ = writeln!(
            s,
            "aisys_turn_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "aisys_turn_duration_seconds_sum {}",
            get(&self.turn_millis) as f64 / 1000.0
        );
        let _ = writeln!(s, "aisys_turn_duration_seconds_count {count}");
        s
    }
}
