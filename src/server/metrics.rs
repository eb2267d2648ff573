//! Counters for `GET /metrics` (Prometheus text format).
//!
//! Must not block: every counter is an atomic, updated on the hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::types::SessionState;

/// Upper bounds (seconds) of the turn-duration histogram's buckets: agent turns take from
/// about a second to many minutes.
const TURN_BUCKETS: [f64; 8] = [1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// How many items wait in one of the server's queues, and the most that ever did.
#[derive(Debug, Default)]
pub struct Gauge {
    now: AtomicI64,
    peak: AtomicI64,
}

impl Gauge {
    /// Adds `delta` (negative when items leave).
    pub fn add(&self, delta: i64) {
        let now = self.now.fetch_add(delta, Ordering::Relaxed) + delta;
        if delta > 0 {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
    }

    pub fn get(&self) -> i64 {
        self.now.load(Ordering::Relaxed)
    }

    pub fn peak(&self) -> i64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// The depths of the store's queues, which it keeps itself.
#[derive(Debug, Default)]
pub struct StoreQueues {
    /// Appends waiting for the journal's next write.
    pub journal: Gauge,
    /// Events journaled and not yet in SQLite.
    pub sqlite_load: Gauge,
    /// Appends waiting for a PostgreSQL round to commit them (queued, or in a round in flight).
    pub postgres_appends: Gauge,
    /// PostgreSQL append rounds run, and their time from start to commit, in microseconds:
    /// what each session's append waits for.
    pub postgres_rounds: AtomicU64,
    pub postgres_round_micros: AtomicU64,
}

impl StoreQueues {
    /// A PostgreSQL round ran for `took`.
    pub fn round_ran(&self, took: Duration) {
        self.postgres_rounds.fetch_add(1, Ordering::Relaxed);
        self.postgres_round_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Events read from agents that their sessions have not stored yet, over all sessions.
    pub agent_events: Gauge,
    /// Frames waiting to be written to clients, over all connections.
    outbound: Gauge,
    connections: AtomicU64,
    connections_total: AtomicU64,
    events_stored: AtomicU64,
    appends: AtomicU64,
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

    /// One append of `n` events, a batch of one session's, committed.
    pub fn events_stored(&self, n: u64) {
        self.events_stored.fetch_add(n, Ordering::Relaxed);
        self.appends.fetch_add(1, Ordering::Relaxed);
    }

    pub fn events_sent(&self, n: u64) {
        self.events_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub fn outbound_frames(&self, delta: i64) {
        self.outbound.add(delta);
    }

    pub fn outbound_depth(&self) -> i64 {
        self.outbound.get()
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

    /// The Prometheus text exposition, with the number of sessions in each state and the
    /// store's queues.
    pub fn render(
        &self,
        sessions_by_state: &[(SessionState, usize)],
        store: Option<&StoreQueues>,
    ) -> String {
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
                "aisys_store_appends_total",
                "counter",
                "Appends sessions committed to the store, each a batch of one session's events: aisys_events_stored_total over it is the events per batch.",
                get(&self.appends),
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
        let none = Gauge::default();
        let queues = [
            ("agent_events", &self.agent_events),
            ("journal", store.map_or(&none, |q| &q.journal)),
            ("sqlite_load", store.map_or(&none, |q| &q.sqlite_load)),
            (
                "postgres_appends",
                store.map_or(&none, |q| &q.postgres_appends),
            ),
            ("outbound_frames", &self.outbound),
        ];
        let _ = writeln!(
            s,
            "# HELP aisys_queue_depth Items waiting in the server's queues: events read from agents and not yet stored (agent_events), appends waiting for the journal's write (journal), events journaled and not yet in SQLite (sqlite_load), appends not yet committed by a PostgreSQL round (postgres_appends), frames waiting to be written to clients (outbound_frames).\n# TYPE aisys_queue_depth gauge"
        );
        for (name, g) in queues {
            let _ = writeln!(s, "aisys_queue_depth{{queue=\"{name}\"}} {}", g.get());
        }
        let _ = writeln!(
            s,
            "# HELP aisys_queue_peak The most items that waited in each queue since the server started.\n# TYPE aisys_queue_peak gauge"
        );
        for (name, g) in queues {
            let _ = writeln!(s, "aisys_queue_peak{{queue=\"{name}\"}} {}", g.peak());
        }
        let rounds = store.map_or(0, |q| get(&q.postgres_rounds));
        let round_secs = store.map_or(0, |q| get(&q.postgres_round_micros)) as f64 / 1e6;
        let _ = writeln!(
            s,
            "# HELP aisys_store_rounds_total Append rounds the PostgreSQL store committed or failed (each one statement for the appends of many sessions).\n# TYPE aisys_store_rounds_total counter\naisys_store_rounds_total {rounds}"
        );
        let _ = writeln!(
            s,
            "# HELP aisys_store_round_seconds_total Time the PostgreSQL store's append rounds took, start to commit: divided by the rounds, what an append waits for once its round starts.\n# TYPE aisys_store_round_seconds_total counter\naisys_store_round_seconds_total {round_secs}"
        );
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
