//! Announcing committed appends to every server on a PostgreSQL database: `NOTIFY aisys_events`
//! with a payload of `SESSION SEQ` lines, each the newest seq a session has. The events stay in
//! the table; a server that follows a session reads them from there (`server::cluster`).
//!
//! Announcements are gathered: appends only note their session's newest seq, and one task sends
//! whatever was noted since its last send in one statement. A `NOTIFY` inside each append's own
//! transaction would serialize every commit on PostgreSQL's notification lock; gathered, the
//! cost is one small transaction per round, however many sessions and events it covers, and it
//! commits without waiting for the disk.
//!
//! Must not hold events: a lost announcement delays a reader, never loses an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Notify;

/// The channel every server on the database listens on for new events.
pub const EVENTS_CHANNEL: &str = "aisys_events";
/// Most bytes of one notification's payload: PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// How long the announcer waits before trying again after a failed send: the database is
/// unreachable or restarting, and readers catch up from the table once it is back.
const RETRY: Duration = Duration::from_millis(500);

/// The sending half: appends note their session's newest seq here.
pub struct Announcer {
    pending: Arc<Mutex<HashMap<String, u64>>>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Announcer {
    /// Starts the task that sends announcements through connections of `pool`.
    pub fn start(pool: Pool) -> Announcer {
        let pending = Arc::new(Mutex::new(HashMap::new()));
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run(pool, pending.clone(), wake.clone()));
        Announcer {
            pending,
            wake,
            task,
        }
    }

    /// Notes that `session_id`'s events now go up to `last_seq` (committed).
    pub fn appended(&self, session_id: &str, last_seq: u64) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match p.get_mut(session_id) {
            Some(s) => *s = (*s).max(last_seq),
            None => {
                p.insert(session_id.to_string(), last_seq);
            }
        }
        drop(p);
        self.wake.notify_one();
    }
}

async fn run(pool: Pool, pending: Arc<Mutex<HashMap<String, u64>>>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let noted = std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
        if noted.is_empty() {
            continue;
        }
        let payloads = payloads(&noted);
        let sent = match pool.get().await {
            Ok(mut client) => notify(&mut client, &payloads)
                .await
                .map_err(|e| super::postgres::pg_text(&e)),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!("session store: announcing new events to other servers: {e}");
            // Put back what was not sent, unless newer seqs were noted meanwhile.
            {
                let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                for (id, seq) in noted {
                    let s = p.entry(id).or_insert(seq);
                    *s = (*s).max(seq);
                }
            }
            tokio::time::sleep(RETRY).await;
            wake.notify_one();
        }
    }
}

/// Sends `payloads` in one transaction that does not wait for its commit to reach the disk: the
/// announcement is no record (the events are committed already, and a lost announcement delays
/// a reader), and a flush per round would hold every other server's readers up by a disk write.
async fn notify(
    client: &mut deadpool_postgres::Object,
    payloads: &[String],
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    tx.execute(
        "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p",
        &[&EVENTS_CHANNEL, &payloads],
    )
    .await?;
    tx.commit().await
}

/// `SESSION SEQ` lines, split into payloads PostgreSQL takes.
fn payloads(noted: &HashMap<String, u64>) -> Vec<String> {
    let mut out = vec![String::new()];
    for (id, seq) in noted {
        let line = format!("{id} {seq}\n");
        let last = out.last_mut().expect("one payload at least");
        if !last.is_empty() && last.len() + line.len() > MAX_PAYLOAD {
            out.push(line);
        } else {
            last.push_str(&line);
        }
    }
    out
}

/// The `(session, seq)` pairs of an announcement's payload; lines that do not parse are skipped.
pub fn parse(payload: &str) -> impl Iterator<Item = (&str, u64)> {
    payload.lines().filter_map(|l| {
        let (id, seq) = l.split_once(' ')?;
        Some((id, seq.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_sessions_split_into_payloads_postgres_takes_and_read_back_whole() {
        let noted: HashMap<String, u64> = (0..2000)
            .map(|i| (format!("s_{i:016x}"), i as u64 + 1))
            .collect();
        let ps = payloads(&noted);
        assert!(ps.len() > 1);
        assert!(ps.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: HashMap<String, u64> = ps
            .iter()
            .flat_map(|p| parse(p))
            .map(|(id, s)| (id.to_string(), s))
            .collect();
        assert_eq!(back, noted);
        assert_eq!(parse("bad\nx y\ns_1 7\n").collect::<Vec<_>>(), [("s_1", 7)]);
    }
}
