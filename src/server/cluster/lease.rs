//! Session leases: `aisys_leases` holds, per owned session, the owning server and when its
//! lease ends. Expiry is always the database's clock (`now()`), so servers with skewed clocks
//! agree on it. An owner renews all its leases in one statement every `Timings::renew`; any
//! server may take a lease that expired, and a server may take back its own (from before a
//! restart) at once.
//!
//! The keeper also tidies up after servers that vanished: the sessions of expired leases are
//! taken over, their cut-short turns recorded as stopped, and let go, so that lists show them as
//! they are without waiting for someone to send them a message.
//!
//! Must not start turns: the session that takes a lease does.

use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

use super::{Cluster, ClusterError, internal};
use crate::server::manager::{LOST_ERROR, RESTART_ERROR, stop_cut_short};
use crate::server::session::SessionError;
use crate::server::store::Store;
use crate::types::StateReason;

/// How long a request nobody collected stays in `aisys_requests`: its sender gave up long ago
/// (the sender polls every second), so it is only clutter.
const REQUEST_MAX_AGE_SECS: i64 = 600;

/// What taking a session's lease came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// This server owns the session now; `ended` says whether a turn the last owner left under
    /// way was recorded as stopped.
    Taken { ended: bool },
    /// A live server owns it.
    Owned(String),
    /// This server is already taking it for something else; try again in a moment.
    Busy,
}

/// Takes the lease when it is free, expired or this server's; returns the previous owner, if
/// any, and whether it was taken.
const ACQUIRE: &str = "WITH prev AS (
        SELECT owner FROM aisys_leases WHERE session_id = $1
     ), up AS (
        INSERT INTO aisys_leases (session_id, owner, expires_at)
        VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')
        ON CONFLICT (session_id) DO UPDATE
           SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE aisys_leases.expires_at < now() OR aisys_leases.owner = excluded.owner
        RETURNING owner
     )
     SELECT (SELECT owner FROM prev), (SELECT count(*) FROM up) > 0";

fn millis(d: Duration) -> i64 {
    d.as_millis() as i64
}

impl Cluster {
    /// Makes this server the session's owner unless a live server is: takes the lease, then
    /// records the end of a turn the last owner left under way (`server_lost`, or
    /// `server_restart` when that owner was this server before a restart).
    pub async fn take(&self, session_id: &str) -> Result<Take, SessionError> {
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if held.contains_key(session_id) {
                return Ok(Take::Busy);
            }
            held.insert(session_id.to_string(), false);
        }
        let taken = self.take_held(session_id).await;
        if !matches!(taken, Ok(Take::Taken { .. })) {
            self.forget(session_id);
        }
        taken
    }

    async fn take_held(&self, session_id: &str) -> Result<Take, SessionError> {
        let client = self.client().await.map_err(internal)?;
        let row = client
            .query_one(
                ACQUIRE,
                &[&session_id, &self.owner, &millis(self.timings.expiry)],
            )
            .await
            .map_err(|e| internal(self.pg(e)))?;
        let previous: Option<String> = row.get(0);
        let got: bool = row.get(1);
        drop(client);
        if !got {
            // Taken by another server between the two parts of the statement: ask again.
            return Ok(previous.map_or(Take::Busy, Take::Owned));
        }
        // Committed: from now on renewals keep it.
        if let Some(h) = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(session_id)
        {
            *h = true;
        }
        let Some(info) = self.store.get_session(session_id).await.map_err(internal)? else {
            return Ok(Take::Taken { ended: false });
        };
        let (reason, error) = match &previous {
            Some(p) if *p != self.owner => (StateReason::ServerLost, LOST_ERROR),
            _ => (StateReason::ServerRestart, RESTART_ERROR),
        };
        let ended = stop_cut_short(&*self.store, info, reason.clone(), error).await?;
        if ended {
            tracing::info!(
                "session {session_id}: taken over from {}, its cut-short turn recorded as {reason}",
                previous.as_deref().unwrap_or("no server")
            );
        }
        Ok(Take::Taken { ended })
    }

    pub(super) fn forget(&self, session_id: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session_id);
    }

    /// Who holds the session's lease: `None` when nobody does or it expired.
    pub async fn owner_of(&self, session_id: &str) -> Result<Option<String>, ClusterError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT owner FROM aisys_leases WHERE session_id = $1 AND expires_at >= now()",
                &[&session_id],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Lets the session's lease go (its task ended): another server may take it at once.
    pub async fn release(&self, session_id: &str) {
        self.forget(session_id);
        let done = async {
            self.client()
                .await?
                .execute(
                    "DELETE FROM aisys_leases WHERE session_id = $1 AND owner = $2",
                    &[&session_id, &self.owner],
                )
                .await
                .map_err(|e| self.pg(e))
        };
        if let Err(e) = done.await {
            // It expires on its own.
            tracing::warn!("session {session_id}: letting go of its lease: {e}");
        }
    }

    pub(super) async fn release_all(&self) -> Result<(), ClusterError> {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.client()
            .await?
            .execute("DELETE FROM aisys_leases WHERE owner = $1", &[&self.owner])
            .await
            .map_err(|e| self.pg(e))?;
        Ok(())
    }

    /// The sessions whose lease rows name this server (from before a restart, at start).
    pub(super) async fn own_leases(&self) -> Result<HashSet<String>, ClusterError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT session_id FROM aisys_leases WHERE owner = $1",
                &[&self.owner],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Renews every lease this server holds; returns the sessions whose lease it no longer has
    /// (another server took them after they expired).
    pub(super) async fn renew(&self) -> Result<Vec<String>, ClusterError> {
        // Only leases taken before the renewal: one being taken may not be committed yet.
        let before: Vec<String> = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, taken)| **taken)
            .map(|(id, _)| id.clone())
            .collect();
        let rows = self
            .client()
            .await?
            .query(
                "UPDATE aisys_leases SET expires_at = now() + $2::bigint * interval '1 millisecond'
                 WHERE owner = $1 RETURNING session_id",
                &[&self.owner, &millis(self.timings.expiry)],
            )
            .await
            .map_err(|e| self.pg(e))?;
        let renewed: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        // One let go meanwhile is no longer held, and not lost.
        let lost: Vec<String> = before
            .into_iter()
            .filter(|id| !renewed.contains(id) && held.get(id) == Some(&true))
            .collect();
        for id in &lost {
            held.remove(id);
        }
        Ok(lost)
    }

    /// Takes over and lets go of the sessions of expired leases; removes requests nobody
    /// collected.
    async fn tidy(&self) -> Result<(), ClusterError> {
        let client = self.client().await?;
        let expired: Vec<String> = client
            .query(
                "SELECT session_id FROM aisys_leases WHERE expires_at < now()",
                &[],
            )
            .await
            .map_err(|e| self.pg(e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        client
            .execute(
                "DELETE FROM aisys_requests
                 WHERE made_at < now() - $1::bigint * interval '1 second'",
                &[&REQUEST_MAX_AGE_SECS],
            )
            .await
            .map_err(|e| self.pg(e))?;
        drop(client);
        for id in expired {
            match self.take(&id).await {
                Ok(Take::Taken { .. }) => self.release(&id).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("session {id}: taking over an expired lease: {}", e.message)
                }
            }
        }
        Ok(())
    }
}

/// Renews this server's leases every `Timings::renew`, and tidies up after vanished servers.
pub(super) async fn keep(cluster: Weak<Cluster>) {
    let renew = match cluster.upgrade() {
        Some(c) => c.timings.renew,
        None => return,
    };
    let mut tick = tokio::time::interval(renew);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(c) = cluster.upgrade() else { return };
        match c.renew().await {
            Ok(lost) => {
                for id in lost {
                    // Only after this server missed renewals for a whole lease. The store no
                    // longer takes the session's events from here (the fence), so its turn here
                    // fails; the next request follows the new owner, and so do the clients
                    // attached here (their forwarders move to the manager's new handle).
                    tracing::error!(
                        "session {id}: this server's lease was taken by another server (renewals came too late)"
                    );
                    if let Some(m) = c.manager() {
                        m.forget(&id).await;
                    }
                }
            }
            Err(e) => tracing::warn!("renewing this server's leases: {e}"),
        }
        if let Err(e) = c.tidy().await {
            tracing::warn!("taking over the sessions of expired leases: {e}");
        }
        c.claim_requests().await;
    }
}
