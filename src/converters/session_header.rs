//! A session's header, gathered from its events as they are read: the agent, its version and
//! model, when the session started and how long it ran, its tokens and its cost. HTML pages
//! open with it; Markdown starts with it.
//!
//! Must not render: it only counts.

use jiff::Timestamp;

use super::usage::PriceTable;
use crate::types::{StreamEvent, TokenUsage};

/// What the header of one session shows.
#[derive(Debug, Clone, Default)]
pub struct SessionHeader {
    pub agent: Option<String>,
    pub agent_version: Option<String>,
    pub model: Option<String>,
    /// The earliest and the latest time of the session's events, as written.
    first: Option<String>,
    last: Option<String>,
    /// Tokens of every model response (subagents' included).
    pub tokens: TokenUsage,
    /// From the turns' own reported cost when there are any, else priced from the tokens; `None`
    /// when neither is known (a model without a price).
    pub cost_usd: Option<f64>,
    /// Tokens of responses whose model has no price.
    unpriced: bool,
    /// Cost the turns reported (stream-json `result` lines); preferred to pricing when present.
    reported_cost: Option<f64>,
    priced_cost: f64,
    saw_usage: bool,
    result_tokens: TokenUsage,
}

impl SessionHeader {
    /// Counts one event (call it with every event, before or after filtering alike).
    pub fn observe(&mut self, ev: &StreamEvent, prices: &PriceTable) {
        match ev {
            StreamEvent::SessionStarted {
                agent,
                model,
                agent_version,
                ..
            } => {
                self.agent.get_or_insert_with(|| agent.to_string());
                if self.agent_version.is_none() {
                    self.agent_version = agent_version.clone();
                }
                if self.model.is_none() {
                    self.model = model.clone();
                }
            }
            StreamEvent::Usage {
                model,
                usage,
                cost_usd,
                ..
            } => {
                self.saw_usage = true;
                self.tokens.add(usage);
                if self.model.is_none() {
                    self.model = model.clone();
                }
                match (cost_usd, model.as_deref().and_then(|m| prices.get(m))) {
                    (Some(c), _) => self.priced_cost += c,
                    (None, Some(p)) => self.priced_cost += p.cost(usage),
                    (None, None) => self.unpriced = true,
                }
            }
            StreamEvent::Result {
                cost_usd, usage, ..
            } => {
                if let Some(c) = cost_usd {
                    *self.reported_cost.get_or_insert(0.0) += c;
                }
                if let Some(u) = usage {
                    self.result_tokens.add(u);
                }
            }
            _ => {}
        }
        // Times are kept as written and compared as text (RFC 3339 in one zone sorts as text),
        // and parsed only when the header is shown: this runs for every event.
        if let Some(t) = ev.timestamp() {
            if self.first.as_deref().is_none_or(|s| t < s) {
                self.first = Some(t.to_string());
            }
            if self.last.as_deref().is_none_or(|e| t > e) {
                self.last = Some(t.to_string());
            }
        }
        self.cost_usd = self
            .reported_cost
            .or_else(|| (self.saw_usage && !self.unpriced).then_some(self.priced_cost));
        if !self.saw_usage {
            self.tokens = self.result_tokens;
        }
    }

    /// When the session started: its earliest time.
    pub fn start(&self) -> Option<Timestamp> {
        self.first.as_deref()?.parse().ok()
    }

    /// How long the session ran, from its first time to its last.
    pub fn duration(&self) -> Option<jiff::SignedDuration> {
        let last: Timestamp = self.last.as_deref()?.parse().ok()?;
        Some(last.duration_since(self.start()?))
    }

    /// The header's facts as `(label, value)` pairs, times in `clock`'s zone; unknown facts are
    /// left out.
    pub fn facts(&self, clock: &super::Clock) -> Vec<(&'static str, String)> {
        let mut f = Vec::new();
        if let Some(a) = &self.agent {
            let v = self
                .agent_version
                .as_deref()
                .map_or(String::new(), |v| format!(" {v}"));
            f.push(("Agent", format!("{a}{v}")));
        }
        if let Some(m) = &self.model {
            f.push(("Model", m.clone()));
        }
        if let Some(s) = &self.first
            && let Some(t) = clock.date_time(s)
        {
            f.push(("Started", format!("{t} {}", clock.label())));
        }
        if let Some(d) = self.duration() {
            f.push(("Duration", short_duration(d)));
        }
        let t = &self.tokens;
        if t.total() > 0 {
            f.push((
                "Tokens",
                format!(
                    "{} in, {} out, {} cache write, {} cache read",
                    t.input_tokens, t.output_tokens, t.cache_creation_tokens, t.cache_read_tokens
                ),
            ));
        }
        if let Some(c) = self.cost_usd {
            f.push(("Cost", format!("${c:.4}")));
        }
        f
    }
}

/// `1h 02m`, `4m 05s`, `12s`.
pub fn short_duration(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}
