//! Appends to the PostgreSQL store gathered into rounds: every append waiting when a round
//! starts goes into one statement, so one round trip and one commit (one WAL flush) serve the
//! events of many sessions, as the SQLite store's journal writes them with one `write`. A few
//! rounds run at once ([`ROUNDS_IN_FLIGHT`]), under load one started per [`ROUND_WINDOW`] at
//! most; while they commit, the next appends queue up and become the next round, so rounds
//! grow with the load and an idle store answers at once.
//!
//! The store numbers each session's events itself: it remembers the last seq it committed for
//! the session and writes the next chunk from the one after it. Two guards in the statement keep
//! seqs gapless and unrepeated whatever another writer (a second store, a server that took the
//! session over) did meanwhile: a chunk is written only right after the session's last chunk
//! (or as its first), and a chunk's first seq is unique per session, so of two writers that
//! numbered from the same place one commits and the other fails. A writer that lost either way
//! forgets what it remembered and numbers again from the table, in a new round. A failed round
//! takes nothing with it: nothing is remembered until it commits. Rows are inserted in session
//! order, so two rounds never wait for each other in a cycle. (A counter row per session, bumped
//! by each round, did the same; without it the statement takes 4 to 20 % less of PostgreSQL's
//! CPU: docs/benchmarks.md.)
//!
//! Must not reorder one caller's appends: each caller waits for its append before the next.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{EncodedEvent, chunk};
use crate::server::metrics::StoreQueues;

/// Appends waiting for a round before callers wait too: a database that cannot keep up slows the
/// sessions instead of filling memory.
const APPEND_QUEUE: usize = 4096;
/// Rounds in flight at once: one commits while the next is written and a third gathers; more
/// would only split the load into smaller commits.
const ROUNDS_IN_FLIGHT: usize = 3;
/// Under load, the least time from one round's start to the next one's: a round's fixed cost
/// (its statement, commit, WAL flush and announcement, and every follower's read) is paid at
/// most this often, not once per append, while an idle store answers at once. At 5,000
/// lines/s, rounds back to back cost PostgreSQL 140 to 180 µs of CPU per line, and 77 to 95 µs
/// with this window. Longer windows were measured side by side (docs/benchmarks.md): 5 ms cut
/// PostgreSQL's CPU per line by another 13 to 32 % without lowering the latency to clients, and
/// 10 ms raised it.
const ROUND_WINDOW: Duration = Duration::from_millis(2);
/// Most events in one round, so that its arrays stay a few megabytes.
const MAX_ROUND_EVENTS: usize = 10_000;
/// Times an append is numbered again after another writer took its seqs first, before it
/// fails: writers only meet on one session while a lease changes hands (or in tests, several
/// stores on purpose), and each attempt lets at least one of them commit.
const NUMBERING_ATTEMPTS: usize = 16;

/// The append round's statement, with `$announce` its last part: common table expressions
/// that send the announcements and end in one named `announced` (one row).
///
/// It inserts the events of several sessions, one entry per session in `$1..$5` (session, the
/// first seq as this store numbered it or null to number from the table, count, metadata or
/// null, the events as a chunk: see `store::chunk`); saves metadata with `last_seq` set; returns
/// a row per session it did not leave out, with the new last seq, or null where the chunk would
/// not follow the session's last one (the numbering was stale). With `$6`, this server's name
/// among servers sharing the store, a session whose lease another server holds is left out (the
/// fence: a server that lost a lease while running cannot write into the new owner's record).
///
/// The same statement announces the new last seqs on channel `$8` (see [`super::announce`]), in
/// payloads of about `$7` bytes: PostgreSQL delivers a notification when its transaction
/// commits, so every server hears of the events the moment they become visible, and no
/// transaction of its own is spent on it. (A `NOTIFY` serializes the commits of the rounds in
/// flight on PostgreSQL's notification lock: a round's commit is short, and one announcement per
/// round costs far less than a transaction per announcement did.)
macro_rules! append_round {
    ($announce:literal) => {
        concat!(
            "WITH req AS (
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
            AS r(session_id, first, n, info, body)
        WHERE $6::text IS NULL OR NOT EXISTS (
            SELECT 1 FROM aisys_leases l WHERE l.session_id = r.session_id AND l.owner <> $6
        )
     ), numbered AS (
        SELECT r.session_id, r.n, r.body, coalesce(r.first, coalesce((
            SELECT c.last_seq FROM aisys_event_chunks c
            WHERE c.session_id = r.session_id ORDER BY c.last_seq DESC LIMIT 1
        ), 0) + 1) AS first
        FROM req r
     ), events AS (
        INSERT INTO aisys_event_chunks (session_id, first_seq, last_seq, body)
        SELECT r.session_id, r.first, r.first + r.n - 1, r.body FROM numbered r
        WHERE r.first = 1 OR EXISTS (
            SELECT 1 FROM aisys_event_chunks c
            WHERE c.session_id = r.session_id AND c.last_seq = r.first - 1
        )
        ORDER BY r.session_id
        RETURNING session_id, last_seq
     ), info AS (
        INSERT INTO aisys_sessions (id, info)
        SELECT r.session_id, jsonb_set(r.info::jsonb, '{last_seq}', to_jsonb(e.last_seq))
        FROM req r JOIN events e ON e.session_id = r.session_id
        WHERE r.info IS NOT NULL
        ORDER BY r.session_id
        ON CONFLICT (id) DO UPDATE SET info = excluded.info
     ), ",
            $announce,
            "
     SELECT r.session_id, e.last_seq
     FROM req r LEFT JOIN events e ON e.session_id = r.session_id CROSS JOIN announced"
        )
    };
}

/// A round whose announcement may not fit one payload: its lines are cut into parts of about
/// `$7` bytes, in session order.
const APPEND_ROUND: &str = append_round!(
    "lines AS (
        SELECT session_id || ' ' || last_seq AS line,
               sum(length(session_id) + 22) OVER (ORDER BY session_id) / $7::bigint AS part
        FROM events
     ), announced AS (
        SELECT count(pg_notify($8::text, payload)) AS n FROM (
            SELECT string_agg(line, E'\\n' ORDER BY line) AS payload FROM lines GROUP BY part
        ) p
     )"
);

/// A round whose announcement fits one payload (most rounds: [`fits_one_payload`]): the same
/// work without the sort and the windowed sum that cut it into parts, which took about a tenth
/// of the statement's CPU in PostgreSQL (docs/benchmarks.md). `$7` is unused but typed, so that
/// both statements take the same parameters.
const APPEND_ROUND_ONE_PAYLOAD: &str = append_round!(
    "announced AS (
        SELECT count(pg_notify($8::text, payload)) AS n FROM (
            SELECT string_agg(session_id || ' ' || last_seq, E'\\n') AS payload FROM events
            HAVING count(*) > 0 AND $7::bigint > 0
        ) p
     )"
);

/// Whether the announcement of `ids`' new seqs fits one payload of [`PAYLOAD_PART`] bytes:
/// each line is the id, a space and a seq of at most 20 digits, and a line break.
///
/// [`PAYLOAD_PART`]: super::announce::PAYLOAD_PART
fn fits_one_payload(ids: &[&str]) -> bool {
    ids.iter().map(|id| id.len() + 22).sum::<usize>() <= super::announce::PAYLOAD_PART
}

/// One append waiting for its round.
pub(super) struct Pending {
    pub session_id: String,
    pub events: Vec<Arc<EncodedEvent>>,
    /// The session's metadata to save with the events, as JSON.
    pub info: Option<String>,
    /// The session's new last seq, or why the round failed.
    pub reply: oneshot::Sender<Result<u64, String>>,
}

/// Where appends queue for their round.
pub(super) struct Rounds {
    queue: mpsc::Sender<Pending>,
    /// Appends not yet committed, and the rounds' timings (`/metrics`).
    queues: Arc<StoreQueues>,
    /// This server's name among servers sharing the store, once it has joined them.
    fence: Arc<std::sync::OnceLock<String>>,
    /// Each session's last seq as this store committed it: its next append is numbered from it.
    known: Known,
    task: tokio::task::JoinHandle<()>,
}

/// The last seq this store committed for each session it appended to.
type Known = Arc<std::sync::Mutex<HashMap<String, u64>>>;

impl Drop for Rounds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Rounds {
    pub fn start(pool: Pool, queues: Arc<StoreQueues>) -> Rounds {
        let (queue, rx) = mpsc::channel(APPEND_QUEUE);
        let fence = Arc::new(std::sync::OnceLock::new());
        let known = Known::default();
        Rounds {
            queue,
            task: tokio::spawn(gather(
                pool,
                rx,
                fence.clone(),
                known.clone(),
                queues.clone(),
            )),
            queues,
            fence,
            known,
        }
    }

    /// Forgets what this store numbered for the session (it was deleted): its next append, if
    /// any, is numbered from the table.
    pub fn forget(&self, session_id: &str) {
        lock(&self.known).remove(session_id);
    }

    /// From now on, appends to sessions whose lease another server holds are refused.
    pub fn fence(&self, owner: &str) {
        let _ = self.fence.set(owner.to_string());
    }

    /// Queues an append; the answer is the session's new last seq.
    pub async fn append(&self, p: Pending) -> Result<(), Pending> {
        self.queues.postgres_appends.add(1);
        self.queue.send(p).await.map_err(|e| {
            self.queues.postgres_appends.add(-1);
            e.0
        })
    }
}

async fn gather(
    pool: Pool,
    mut rx: mpsc::Receiver<Pending>,
    fence: Arc<std::sync::OnceLock<String>>,
    known: Known,
    queues: Arc<StoreQueues>,
) {
    let slots = Arc::new(Semaphore::new(ROUNDS_IN_FLIGHT));
    // An append of a session already in the round waits for the next one (one chunk per
    // session and statement).
    let mut carried: Option<Pending> = None;
    // When the last round started, and whether it carried several appends (load).
    let mut last: Option<(Instant, bool)> = None;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        if let Some((started, true)) = last {
            // Under load: let the window fill, so that the next round carries it all.
            tokio::time::sleep_until((started + ROUND_WINDOW).into()).await;
        }
        let mut round = vec![first];
        let mut events = round[0].events.len();
        while events < MAX_ROUND_EVENTS {
            match rx.try_recv() {
                Ok(p) => {
                    if round.iter().any(|r| r.session_id == p.session_id) {
                        carried = Some(p);
                        break;
                    }
                    events += p.events.len();
                    round.push(p);
                }
                Err(_) => break,
            }
        }
        last = Some((Instant::now(), round.len() > 1));
        let pool = pool.clone();
        let fence = fence.get().cloned();
        let queues = queues.clone();
        let known = known.clone();
        tokio::spawn(async move {
            let (started, appends) = (Instant::now(), round.len());
            run_round(&pool, round, fence, &known).await;
            queues.round_ran(started.elapsed());
            queues.postgres_appends.add(-(appends as i64));
            drop(slot);
        });
    }
}

fn lock(known: &Known) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
    known.lock().unwrap_or_else(|e| e.into_inner())
}

/// One append of a round, with its events as one chunk.
struct Entry {
    pending: Pending,
    body: String,
    /// Numbered from the table rather than from what this store remembers.
    from_table: bool,
}

/// What the round's statement said of one append.
enum Outcome {
    /// Committed: the session's new last seq.
    Committed(u64),
    /// Another writer appended since this store numbered it: number it again.
    Stale,
    /// Left out: another server holds the session's lease.
    Fenced,
}

async fn run_round(pool: &Pool, round: Vec<Pending>, fence: Option<String>, known: &Known) {
    // Each append's events as one chunk; an append whose events cannot be one is refused
    // alone (an encoded event never holds a line break: this does not happen).
    let mut entries = Vec::with_capacity(round.len());
    for p in round {
        let mut body = String::with_capacity(p.events.iter().map(|e| e.json.len() + 1).sum());
        let made = p
            .events
            .iter()
            .enumerate()
            .try_for_each(|(k, e)| chunk::push(&mut body, k as u64 + 1, &e.json));
        match made {
            Ok(()) => entries.push(Entry {
                pending: p,
                body,
                from_table: false,
            }),
            Err(e) => drop(p.reply.send(Err(e.to_string()))),
        }
    }
    for _ in 0..NUMBERING_ATTEMPTS {
        if entries.is_empty() {
            return;
        }
        let outcomes = match write_round(pool, &entries, fence.as_deref(), known).await {
            Ok(o) => o,
            Err(RoundError::Taken) => {
                // The statement failed whole: every append in it is numbered from the table.
                for e in &mut entries {
                    lock(known).remove(&e.pending.session_id);
                    e.from_table = true;
                }
                continue;
            }
            Err(RoundError::Failed(e)) => {
                for entry in entries {
                    let _ = entry.pending.reply.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut again = Vec::new();
        for (mut entry, outcome) in entries.into_iter().zip(outcomes) {
            let id = &entry.pending.session_id;
            let answer = match outcome {
                Outcome::Committed(last) => {
                    // Remembered before the caller hears: its next append is numbered from it.
                    lock(known).insert(id.clone(), last);
                    Ok(last)
                }
                Outcome::Stale => {
                    lock(known).remove(id);
                    entry.from_table = true;
                    again.push(entry);
                    continue;
                }
                Outcome::Fenced => Err(format!(
                    "another server has taken session {id} over (this server's lease on it \
                     expired): its events are not written here"
                )),
            };
            let _ = entry.pending.reply.send(answer);
        }
        entries = again;
    }
    for entry in entries {
        let _ = entry.pending.reply.send(Err(format!(
            "session {}: other writers took its next seqs {NUMBERING_ATTEMPTS} times in a row; \
             its events are not written",
            entry.pending.session_id
        )));
    }
}

/// Why a round's statement did not answer.
enum RoundError {
    /// Another writer committed a chunk with the same first seq first: nothing was written.
    Taken,
    Failed(String),
}

/// Runs the round's statement once; the outcomes are in `entries`' order.
async fn write_round(
    pool: &Pool,
    entries: &[Entry],
    fence: Option<&str>,
    known: &Known,
) -> Result<Vec<Outcome>, RoundError> {
    let ids: Vec<&str> = entries
        .iter()
        .map(|e| e.pending.session_id.as_str())
        .collect();
    let firsts: Vec<Option<i64>> = {
        let known = lock(known);
        entries
            .iter()
            .map(|e| {
                let last = known.get(&e.pending.session_id).filter(|_| !e.from_table);
                last.map(|l| *l as i64 + 1)
            })
            .collect()
    };
    let counts: Vec<i64> = entries
        .iter()
        .map(|e| e.pending.events.len() as i64)
        .collect();
    let infos: Vec<Option<&str>> = entries.iter().map(|e| e.pending.info.as_deref()).collect();
    let bodies: Vec<&str> = entries.iter().map(|e| e.body.as_str()).collect();
    let failed = |e: tokio_postgres::Error| {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            RoundError::Taken
        } else {
            RoundError::Failed(super::postgres::pg_text(&e))
        }
    };
    let client = pool.get().await.map_err(|e| {
        RoundError::Failed(match e {
            deadpool_postgres::PoolError::Backend(e) => {
                format!("cannot connect: {}", super::postgres::pg_text(&e))
            }
            other => format!("no free connection: {other}"),
        })
    })?;
    let stmt = client
        .prepare_cached(if fits_one_payload(&ids) {
            APPEND_ROUND_ONE_PAYLOAD
        } else {
            APPEND_ROUND
        })
        .await
        .map_err(failed)?;
    let rows = client
        .query(
            &stmt,
            &[
                &ids,
                &firsts,
                &counts,
                &infos,
                &bodies,
                &fence,
                &(super::announce::PAYLOAD_PART as i64),
                &super::announce::EVENTS_CHANNEL,
            ],
        )
        .await
        .map_err(failed)?;
    let written: HashMap<&str, Option<i64>> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(ids
        .iter()
        .map(|id| match written.get(id) {
            Some(Some(last)) => Outcome::Committed(*last as u64),
            Some(None) => Outcome::Stale,
            None => Outcome::Fenced,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures_util::StreamExt;
    use tokio::sync::oneshot;

    use super::super::announce::{EVENTS_CHANNEL, parse};
    use super::super::contract_tests::{ev, pg_support};
    use super::super::{EncodedEvent, PostgresStore};
    use super::{Pending, run_round};

    #[test]
    fn only_a_round_whose_lines_fit_one_payload_takes_the_statement_without_parts() {
        let few: Vec<String> = (0..100).map(|i| format!("s_{i:024x}")).collect();
        let many: Vec<String> = (0..600).map(|i| format!("s_{i:024x}")).collect();
        fn refs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        assert!(super::fits_one_payload(&refs(&few)));
        assert!(!super::fits_one_payload(&refs(&many)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_round_of_many_sessions_is_announced_in_payloads_postgres_takes() {
        let url = pg_support::cluster().new_database();
        let store = PostgresStore::open(&url).await.unwrap();
        // A listener of its own, as another server's.
        let (listener, mut conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(n) = m {
                    let _ = tx.send((n.channel().to_string(), n.payload().to_string()));
                }
            }
        });
        listener
            .batch_execute(&format!("LISTEN {EVENTS_CHANNEL}"))
            .await
            .unwrap();
        // 600 sessions in one round: their lines are far more than one payload may hold.
        let mut round = Vec::new();
        let mut answers = Vec::new();
        for i in 0..600 {
            let (reply, answer) = oneshot::channel();
            round.push(Pending {
                session_id: format!("s_{i:024x}"),
                events: EncodedEvent::batch(vec![ev(1), ev(2)]).unwrap(),
                info: None,
                reply,
            });
            answers.push(answer);
        }
        run_round(store.pool(), round, None, &Default::default()).await;
        for a in answers {
            assert_eq!(a.await.unwrap(), Ok(2));
        }
        let mut heard = HashMap::new();
        let mut payloads = 0;
        while heard.len() < 600 {
            let (channel, payload) =
                tokio::time::timeout(std::time::Duration::from_secs(10), notes.recv())
                    .await
                    .expect("every session announced within 10 s")
                    .unwrap();
            assert_eq!(channel, EVENTS_CHANNEL);
            assert!(payload.len() < 8000, "{} bytes", payload.len());
            payloads += 1;
            for (id, seq) in parse(&payload) {
                assert!(heard.insert(id.to_string(), seq).is_none(), "{id} twice");
            }
        }
        assert!(payloads > 1, "one payload for 600 sessions");
        assert!(heard.values().all(|s| *s == 2));
    }
}
