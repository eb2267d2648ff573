//! Following the sessions another server runs: one reader per server fetches the new events of
//! every followed session that was announced, in one query per round, and hands each session's
//! proxy its rows. A query per session and announcement would be a hundred queries a round with
//! a hundred sessions followed; the database, not the servers, then sets the pace.
//!
//! A proxy takes its rows and broadcasts them in seq order, each once; rows it cannot join to
//! what it broadcast (a gap, or rows dropped because it fell behind) send it to the table itself
//! ([`super::proxy`]), so a lost or late round delays a reader and never loses an event.
//!
//! Must not broadcast, and must not run anything of a session.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::Cluster;
use crate::server::store::{EncodedEvent, chunk};

/// Most chunks one round reads per session (each one append's events, up to a session's batch):
/// a few rounds' worth of a fast agent's events, bounded so that one round's memory stays small;
/// a session cut there is read again at once.
const SESSION_CHUNKS: i64 = 100;
/// Most rows waiting for one proxy: past this the proxy reads from the table itself.
const MAX_WAITING: usize = 10_000;
/// How long the reader waits before trying again after a failed round.
const RETRY: Duration = Duration::from_millis(200);

/// One session's rows of a round, in seq order.
type SessionRows = (String, Vec<(u64, EncodedEvent)>);

/// What a proxy gets for its session.
#[derive(Default)]
pub(crate) struct Taken {
    /// Rows in seq order.
    pub rows: Vec<(u64, EncodedEvent)>,
    /// Rows were dropped since the last take: read the table.
    pub lost: bool,
}

struct Follower {
    waiting: Taken,
    /// The newest seq fetched for, or broadcast by, the proxy: the next round reads after it.
    fetched: u64,
    wake: Arc<Notify>,
}

/// The followed sessions of this server, and those announced since the last round.
#[derive(Default)]
pub(super) struct Followers {
    map: Mutex<Inner>,
    /// Wakes the reader.
    round: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    followers: HashMap<String, Follower>,
    announced: HashSet<String>,
}

impl Followers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts following `session_id`, whose proxy has broadcast up to `last`; returns what
    /// wakes the proxy when rows wait for it.
    pub(super) fn follow(&self, session_id: &str, last: u64) -> Arc<Notify> {
        self.lock()
            .followers
            .entry(session_id.to_string())
            .or_insert_with(|| Follower {
                waiting: Taken::default(),
                fetched: last,
                wake: Arc::new(Notify::new()),
            })
            .wake
            .clone()
    }

    pub(super) fn unfollow(&self, session_id: &str) {
        self.lock().followers.remove(session_id);
    }

    /// The proxy of `session_id` read the table up to `last` itself: the next round reads after
    /// it, and rows up to it are not handed over again.
    pub(super) fn read_to(&self, session_id: &str, last: u64) {
        if let Some(f) = self.lock().followers.get_mut(session_id) {
            f.fetched = f.fetched.max(last);
            f.waiting.rows.retain(|(seq, _)| *seq > last);
        }
    }

    pub(super) fn take(&self, session_id: &str) -> Taken {
        self.lock()
            .followers
            .get_mut(session_id)
            .map(|f| std::mem::take(&mut f.waiting))
            .unwrap_or_default()
    }

    /// New events of `session_id` were committed: read them in the next round if it is
    /// followed here.
    pub(super) fn announced(&self, session_id: &str) {
        let mut inner = self.lock();
        if inner.followers.contains_key(session_id) && !inner.announced.contains(session_id) {
            inner.announced.insert(session_id.to_string());
            drop(inner);
            self.round.notify_one();
        }
    }

    /// Reads every followed session in the next round: announcements may have been missed.
    pub(super) fn announce_all(&self) {
        let mut inner = self.lock();
        let ids: Vec<String> = inner.followers.keys().cloned().collect();
        inner.announced.extend(ids);
        drop(inner);
        self.round.notify_one();
    }

    /// The announced sessions still followed, with the seq to read after.
    fn start_round(&self) -> Vec<(String, i64)> {
        let mut inner = self.lock();
        let announced = std::mem::take(&mut inner.announced);
        announced
            .into_iter()
            .filter_map(|id| {
                let after = inner.followers.get(&id)?.fetched as i64;
                Some((id, after))
            })
            .collect()
    }

    /// Hands each proxy its rows of a round; a proxy too far behind is sent to the table.
    fn hand_over(&self, sessions: Vec<SessionRows>) {
        let mut inner = self.lock();
        let mut woken: Vec<Arc<Notify>> = Vec::new();
        for (id, rows) in sessions {
            let Some(f) = inner.followers.get_mut(&id) else {
                continue;
            };
            let before = f.fetched;
            for (seq, event) in rows {
                if seq <= f.fetched {
                    continue;
                }
                f.fetched = seq;
                if f.waiting.rows.len() < MAX_WAITING {
                    f.waiting.rows.push((seq, event));
                } else {
                    f.waiting.rows.clear();
                    f.waiting.lost = true;
                }
            }
            // Waking a proxy twice (a session in two groups) is harmless.
            if f.fetched > before {
                woken.push(f.wake.clone());
            }
        }
        drop(inner);
        for w in woken {
            w.notify_one();
        }
    }
}

/// The reader: one round per wake, for every session announced since the last.
pub(super) async fn run(cluster: Weak<Cluster>) {
    let Some(round) = cluster.upgrade().map(|c| c.followers.round.clone()) else {
        return;
    };
    loop {
        round.notified().await;
        let Some(c) = cluster.upgrade() else { return };
        let batch = c.followers.start_round();
        if batch.is_empty() {
            continue;
        }
        match read(&c, &batch).await {
            Ok((rows, cut)) => {
                c.followers.hand_over(rows);
                if cut {
                    again(&c, batch);
                }
            }
            Err(e) => {
                tracing::warn!("following other servers' sessions: {e}");
                again(&c, batch);
                drop(c);
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Reads `batch`'s sessions again in the next round.
fn again(c: &Cluster, batch: Vec<(String, i64)>) {
    c.followers
        .lock()
        .announced
        .extend(batch.into_iter().map(|(id, _)| id));
    c.followers.round.notify_one();
}

/// The events of `batch`'s sessions after each one's seq, each session's together (its id is
/// copied and looked up once a round, not once an event), each event decoded only when
/// something asks for it (most are passed on as text); and whether any session was cut at
/// [`SESSION_CHUNKS`].
async fn read(c: &Cluster, batch: &[(String, i64)]) -> Result<(Vec<SessionRows>, bool), String> {
    let (ids, afters): (Vec<&str>, Vec<i64>) = batch
        .iter()
        .map(|(id, after)| (id.as_str(), *after))
        .unzip();
    let client = c.client().await.map_err(|e| e.to_string())?;
    // Prepared once per connection: planning it again every round was PostgreSQL's work too.
    // A range of the primary key per session (LATERAL): a join of the whole list would let the
    // planner scan the table, which grows with every event.
    let stmt = client
        .prepare_cached(
            "SELECT w.id, w.after, e.first_seq, e.last_seq, e.body
             FROM unnest($1::text[], $2::bigint[]) AS w(id, after)
             CROSS JOIN LATERAL (
                SELECT first_seq, last_seq, body FROM aisys_event_chunks
                WHERE session_id = w.id AND last_seq > w.after
                ORDER BY last_seq LIMIT $3
             ) e
             ORDER BY w.id, e.last_seq",
        )
        .await
        .map_err(|e| crate::server::store::postgres_text(&e))?;
    let rows = client
        .query(&stmt, &[&ids, &afters, &SESSION_CHUNKS])
        .await
        .map_err(|e| crate::server::store::postgres_text(&e))?;
    let mut out: Vec<SessionRows> = Vec::new();
    // Chunks of the session being read, and whether any session reached the limit.
    let (mut chunks, mut cut) = (0, false);
    for row in &rows {
        let (id, after, first, last): (&str, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let events = chunk::events(id, first, last, row.get(4)).map_err(|e| e.to_string())?;
        // The query orders the rows by session.
        if out.last().is_none_or(|(last_id, _)| last_id != id) {
            out.push((id.to_string(), Vec::new()));
            chunks = 0;
        }
        chunks += 1;
        cut |= chunks >= SESSION_CHUNKS;
        let (_, session) = out.last_mut().expect("pushed just above");
        for (seq, json) in events.filter(|(seq, _)| *seq as i64 > after) {
            session.push((seq, EncodedEvent::read_later(json.to_string())));
        }
    }
    Ok((out, cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StreamEvent;

    fn event(seq: u64) -> EncodedEvent {
        EncodedEvent::new(StreamEvent::Notice {
            kind: "test".into(),
            text: format!("event {seq}"),
            timestamp: None,
        })
        .unwrap()
    }

    fn seqs(t: &Taken) -> Vec<u64> {
        t.rows.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn a_round_reads_each_announced_followed_session_after_what_it_has() {
        let f = Followers::default();
        f.follow("a", 3);
        f.follow("b", 0);
        f.announced("a");
        f.announced("a");
        f.announced("elsewhere");
        let round = f.start_round();
        assert_eq!(round, vec![("a".to_string(), 3)]);
        assert!(
            f.start_round().is_empty(),
            "a round takes the announcements"
        );

        f.hand_over(vec![
            ("a".into(), vec![(3, event(3)), (4, event(4))]),
            ("gone".into(), vec![(1, event(1))]),
            ("a".into(), vec![(5, event(5))]),
        ]);
        let taken = f.take("a");
        assert_eq!(
            seqs(&taken),
            [4, 5],
            "what the proxy had is not handed over again"
        );
        assert!(!taken.lost);
        f.announced("a");
        assert_eq!(f.start_round(), vec![("a".to_string(), 5)]);
    }

    #[test]
    fn a_proxy_that_read_the_table_itself_is_not_handed_those_rows() {
        let f = Followers::default();
        f.follow("a", 0);
        f.hand_over(vec![("a".into(), (1..=4).map(|s| (s, event(s))).collect())]);
        f.read_to("a", 3);
        assert_eq!(seqs(&f.take("a")), [4]);
        f.read_to("a", 9);
        f.announced("a");
        assert_eq!(f.start_round(), vec![("a".to_string(), 9)]);
    }

    #[test]
    fn a_proxy_too_far_behind_is_sent_to_the_table() {
        let f = Followers::default();
        f.follow("a", 0);
        let many = MAX_WAITING as u64 + 5;
        f.hand_over(vec![(
            "a".into(),
            (1..=many).map(|s| (s, event(s))).collect(),
        )]);
        let taken = f.take("a");
        assert!(taken.lost);
        assert!(taken.rows.len() < MAX_WAITING);
    }

    #[test]
    fn after_a_lost_connection_every_followed_session_is_read() {
        let f = Followers::default();
        f.follow("a", 1);
        f.follow("b", 2);
        f.unfollow("b");
        f.follow("c", 7);
        f.announce_all();
        let mut round = f.start_round();
        round.sort();
        assert_eq!(round, vec![("a".to_string(), 1), ("c".to_string(), 7)]);
    }
}
