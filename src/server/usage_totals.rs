//! The usage totals of a session recorded before the server counted them: summed once from the
//! `result` events of its record, so that every session in a list shows its tokens and cost.
//! A session counts its own turns from then on (`SessionUsage::add_turn`).
//!
//! Must not write: the session saves the totals with its metadata when it next changes.

use super::store::{Store, StoreError};
use crate::types::{SessionUsage, StreamEvent};

/// Events read per query while summing: a page of a long session, not all of it at once.
const PAGE: usize = 1_000;

/// The totals of every `result` event session `id` has stored.
pub async fn from_record(store: &dyn Store, id: &str) -> Result<SessionUsage, StoreError> {
    let mut totals = SessionUsage::default();
    let mut after = 0;
    loop {
        let page = store.events_after(id, after, PAGE).await?;
        let n = page.len();
        for (seq, e) in page {
            after = seq;
            if let StreamEvent::Result {
                usage, cost_usd, ..
            } = e.event()
            {
                totals.add_turn(usage.as_ref(), *cost_usd);
            }
        }
        if n < PAGE {
            return Ok(totals);
        }
    }
}
