//! The server's listening connection: `LISTEN aisys_events` (new events of any session) and
//! `LISTEN aisys_srv_<owner>` (requests for this server, answers to its requests). It is a
//! connection of its own, outside the pool, kept open for the server's life and opened again
//! when it drops; after each (re)connection every follower and waiting request looks at the
//! tables, since announcements may have been missed meanwhile.
//!
//! Must not do slow work on its own task: what a notification asks for runs elsewhere.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::AsyncMessage;

use super::Cluster;
use crate::server::store::announce::{EVENTS_CHANNEL, parse};

/// Notifications read ahead of their handling; past this the connection is not read, and
/// PostgreSQL keeps the rest (its notification queue holds gigabytes).
const NOTIFY_QUEUE: usize = 4096;
/// How long to wait before connecting again after the listening connection failed.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

pub(super) async fn run(cluster: Weak<Cluster>) {
    loop {
        let Some(c) = cluster.upgrade() else { return };
        let config = c.store().config().clone();
        let tls = c.store().tls().clone();
        let mine = Cluster::channel(&c.owner);
        drop(c);
        match config.connect(tls).await {
            Ok((client, mut conn)) => {
                let (tx, mut rx) = tokio::sync::mpsc::channel(NOTIFY_QUEUE);
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                    while let Some(m) = messages.next().await {
                        match m {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n).await.is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!("the cluster's listening connection: {e}");
                                return;
                            }
                        }
                    }
                });
                match client
                    .batch_execute(&format!("LISTEN {EVENTS_CHANNEL}; LISTEN {mine}"))
                    .await
                {
                    Ok(()) => {
                        if let Some(c) = cluster.upgrade() {
                            c.wake_all();
                            c.claim_requests().await;
                        }
                        while let Some(n) = rx.recv().await {
                            let Some(c) = cluster.upgrade() else { return };
                            if n.channel() == EVENTS_CHANNEL {
                                for (id, _) in parse(n.payload()) {
                                    c.announced(id);
                                }
                            } else if n.payload() == "q" {
                                tokio::spawn(async move { c.claim_requests().await });
                            } else if let Some(key) =
                                n.payload().strip_prefix("r ").and_then(|k| k.parse().ok())
                            {
                                c.answered(key);
                            }
                        }
                    }
                    Err(e) => tracing::warn!(
                        "the cluster's listening connection: LISTEN: {}",
                        crate::server::store::postgres_text(&e)
                    ),
                }
                driver.abort();
                drop(client);
            }
            Err(e) => tracing::warn!(
                "the cluster's listening connection: {}",
                crate::server::store::postgres_text(&e)
            ),
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}
