//! Requests to a session's owner: a client's message, permission answer, interrupt or stop that
//! reached a server which does not own the session is written to `aisys_requests`, addressed to
//! the owner, and the owner is told (`NOTIFY aisys_srv_<owner>, 'q'`). The owner claims it, hands
//! it to the session, writes the session's answer into the row and tells the sender
//! (`'r <id>'`), which reads it and answers its client.
//!
//! The row, not the notification, is the request: a sender that heard nothing looks at the row
//! every `Timings::poll`, and takes the request back when the owner lost the session's lease
//! before claiming it (then the sender's server decides again, and may take the session over).
//!
//! Must not decide who owns a session ([`super::lease`] does) nor run anything of a session.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Cluster, ClusterError};
use crate::server::session::{Reply, SessionCommand, SessionError};
use crate::types::{ErrorCode, PermissionDecision, StateReason};

/// A session command as it travels between servers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Request {
    Message {
        text: String,
    },
    Interrupt,
    Permission {
        request_id: String,
        decision: PermissionDecision,
        message: Option<String>,
    },
    Stop {
        reason: StateReason,
    },
}

/// The owner's answer.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Answer {
    /// The session refused the request.
    #[serde(default)]
    error: Option<(ErrorCode, String)>,
    /// The server asked does not own the session (any more): ask again.
    #[serde(default)]
    not_owner: bool,
}

/// The command's request and its reply; `Err` gives back a command that cannot travel.
fn split(cmd: SessionCommand) -> Result<(Request, Reply), SessionCommand> {
    Ok(match cmd {
        SessionCommand::Message { text, reply } => (Request::Message { text }, reply),
        SessionCommand::Interrupt { reply } => (Request::Interrupt, reply),
        SessionCommand::Permission {
            request_id,
            decision,
            message,
            reply,
        } => (
            Request::Permission {
                request_id,
                decision,
                message,
            },
            reply,
        ),
        SessionCommand::Stop { reason, reply } => (Request::Stop { reason }, reply),
        other => return Err(other),
    })
}

fn join(req: Request, reply: Reply) -> SessionCommand {
    match req {
        Request::Message { text } => SessionCommand::Message { text, reply },
        Request::Interrupt => SessionCommand::Interrupt { reply },
        Request::Permission {
            request_id,
            decision,
            message,
        } => SessionCommand::Permission {
            request_id,
            decision,
            message,
            reply,
        },
        Request::Stop { reason } => SessionCommand::Stop { reason, reply },
    }
}

fn internal(e: impl std::fmt::Display) -> SessionError {
    SessionError::new(ErrorCode::Internal, e.to_string())
}

/// Sends `cmd` to `owner` and answers it with the owner's answer. Gives the command back when
/// the owner does not have the session (any more), for the caller to decide again.
pub(crate) async fn send(
    cluster: Arc<Cluster>,
    session_id: String,
    owner: String,
    cmd: SessionCommand,
) -> Option<SessionCommand> {
    let (req, reply) = match split(cmd) {
        Ok(parts) => parts,
        Err(cmd) => return Some(cmd),
    };
    match exchange(&cluster, &session_id, &owner, &req).await {
        Ok(Some(answer)) if answer.not_owner => Some(join(req, reply)),
        Ok(Some(answer)) => {
            let _ = reply.send(match answer.error {
                None => Ok(()),
                Some((code, message)) => Err(SessionError::new(code, message)),
            });
            None
        }
        Ok(None) => Some(join(req, reply)),
        Err(e) => {
            let _ = reply.send(Err(e));
            None
        }
    }
}

/// Writes the request, waits for its answer; `None` when it was taken back unanswered (its
/// owner lost the lease before claiming it).
async fn exchange(
    cluster: &Arc<Cluster>,
    session_id: &str,
    owner: &str,
    req: &Request,
) -> Result<Option<Answer>, SessionError> {
    let body = serde_json::to_string(req).map_err(internal)?;
    let (key, mut heard) = loop {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(internal)?;
        let key = i64::from_le_bytes(b) & i64::MAX;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut waiting = cluster.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let std::collections::hash_map::Entry::Vacant(v) = waiting.entry(key) {
            v.insert(tx);
            break (key, Some(rx));
        }
    };
    let result = async {
        let sent = cluster
            .client()
            .await?
            .execute(
                "WITH r AS (
                    INSERT INTO aisys_requests (id, session_id, owner, origin, body)
                    VALUES ($1, $2, $3, $4, $5) RETURNING id
                 ) SELECT pg_notify($6, 'q') FROM r",
                &[
                    &key,
                    &session_id,
                    &owner,
                    &cluster.owner,
                    &body,
                    &Cluster::channel(owner),
                ],
            )
            .await;
        sent.map_err(|e| cluster.pg(e))?;
        loop {
            match heard.as_mut() {
                Some(rx) => {
                    tokio::select! {
                        _ = rx => heard = None,
                        _ = tokio::time::sleep(cluster.timings.poll) => {}
                    }
                }
                None => tokio::time::sleep(cluster.timings.poll).await,
            }
            if let Some(done) = look(cluster, key, session_id, owner).await? {
                return Ok::<_, ClusterError>(done);
            }
        }
    }
    .await;
    cluster
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key);
    result.map_err(internal)?
}

/// Looks at a request's row: its answer, or whether it should be taken back; `None` to go on
/// waiting.
#[allow(clippy::type_complexity)]
async fn look(
    cluster: &Cluster,
    key: i64,
    session_id: &str,
    owner: &str,
) -> Result<Option<Result<Option<Answer>, SessionError>>, ClusterError> {
    let client = cluster.client().await?;
    let row = client
        .query_opt(
            "SELECT claimed, reply FROM aisys_requests WHERE id = $1",
            &[&key],
        )
        .await
        .map_err(|e| cluster.pg(e))?;
    let Some(row) = row else {
        return Ok(Some(Err(internal(format!(
            "the request sent to server {owner} vanished from the store"
        )))));
    };
    let claimed: bool = row.get(0);
    if let Some(answer) = row.get::<_, Option<String>>(1) {
        client
            .execute("DELETE FROM aisys_requests WHERE id = $1", &[&key])
            .await
            .map_err(|e| cluster.pg(e))?;
        let answer: Answer = serde_json::from_str(&answer).unwrap_or(Answer {
            error: Some((ErrorCode::Internal, "an answer that does not decode".into())),
            not_owner: false,
        });
        return Ok(Some(Ok(Some(answer))));
    }
    drop(client);
    if cluster.owner_of(session_id).await?.as_deref() == Some(owner) {
        return Ok(None);
    }
    let client = cluster.client().await?;
    if !claimed {
        let taken_back = client
            .execute(
                "DELETE FROM aisys_requests WHERE id = $1 AND NOT claimed",
                &[&key],
            )
            .await
            .map_err(|e| cluster.pg(e))?;
        // Claimed meanwhile: its answer is coming.
        return Ok((taken_back == 1).then_some(Ok(None)));
    }
    client
        .execute("DELETE FROM aisys_requests WHERE id = $1", &[&key])
        .await
        .map_err(|e| cluster.pg(e))?;
    Ok(Some(Err(internal(format!(
        "server {owner} took this request for session {session_id} and stopped before answering it: send it again"
    )))))
}

impl Cluster {
    /// Claims the requests addressed to this server and answers each when its session has.
    pub(super) async fn claim_requests(self: &Arc<Self>) {
        let claimed = async {
            self.client()
                .await?
                .query(
                    "UPDATE aisys_requests SET claimed = true
                     WHERE owner = $1 AND NOT claimed RETURNING id, session_id, body",
                    &[&self.owner],
                )
                .await
                .map_err(|e| self.pg(e))
        };
        let rows = match claimed.await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("reading requests from other servers: {e}");
                return;
            }
        };
        for row in rows {
            let (key, session_id, body): (i64, String, String) =
                (row.get(0), row.get(1), row.get(2));
            tokio::spawn(answer(self.clone(), key, session_id, body));
        }
    }

    /// Wakes the sender waiting for request `key`'s answer.
    pub(super) fn answered(&self, key: i64) {
        if let Some(w) = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)
        {
            let _ = w.send(());
        }
    }
}

/// Hands a claimed request to its session and writes the session's answer.
async fn answer(cluster: Arc<Cluster>, key: i64, session_id: String, body: String) {
    let answer = match (serde_json::from_str::<Request>(&body), cluster.manager()) {
        (Err(e), _) => Answer {
            error: Some((
                ErrorCode::BadRequest,
                format!("a request that does not decode: {e}"),
            )),
            not_owner: false,
        },
        (Ok(_), None) => Answer {
            not_owner: true,
            ..Default::default()
        },
        (Ok(_), Some(_)) if !cluster.holds(&session_id) => Answer {
            not_owner: true,
            ..Default::default()
        },
        (Ok(req), Some(manager)) => {
            let done = match manager.get(&session_id).await {
                Ok(h) => h.request(|reply| join(req, reply)).await,
                Err(e) => Err(e),
            };
            Answer {
                error: done.err().map(|e| (e.code, e.message)),
                not_owner: false,
            }
        }
    };
    let text = serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into());
    let written = async {
        cluster
            .client()
            .await?
            .execute(
                "WITH u AS (
                    UPDATE aisys_requests SET reply = $2 WHERE id = $1 RETURNING origin
                 ) SELECT pg_notify('aisys_srv_' || origin, 'r ' || $1::text) FROM u",
                &[&key, &text],
            )
            .await
            .map_err(|e| cluster.pg(e))
    };
    if let Err(e) = written.await {
        tracing::warn!("session {session_id}: answering another server's request: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_command_travels_and_comes_back_the_same() {
        let (tx, _rx) = tokio::sync::oneshot::channel();
        let cmd = SessionCommand::Permission {
            request_id: "r1".into(),
            decision: PermissionDecision::Allow,
            message: Some("ok".into()),
            reply: tx,
        };
        let (req, reply) = split(cmd).ok().unwrap();
        let text = serde_json::to_string(&req).unwrap();
        let back: Request = serde_json::from_str(&text).unwrap();
        match join(back, reply) {
            SessionCommand::Permission {
                request_id,
                decision,
                message,
                ..
            } => {
                assert_eq!(request_id, "r1");
                assert_eq!(decision, PermissionDecision::Allow);
                assert_eq!(message.as_deref(), Some("ok"));
            }
            _ => panic!("another command came back"),
        }
        let (tx, _rx) = tokio::sync::oneshot::channel();
        assert!(split(SessionCommand::Unload { reply: tx }).is_err());
    }
}
