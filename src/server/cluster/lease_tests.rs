//! Leases between two servers' clusters on one throwaway PostgreSQL database.

use std::sync::Arc;
use std::time::Duration;

use super::lease::Take;
use super::{Cluster, Timings};
use crate::server::store::contract_tests::{info, pg_support};
use crate::server::store::{EncodedEvent, PostgresStore, Store};
use crate::types::{SessionState, StateReason, StreamEvent, TurnStatus};

/// The shortest lease allowed, so that expiry takes a moment.
const LEASE: Duration = Duration::from_millis(300);

async fn two(dir: &std::path::Path) -> (Arc<Cluster>, Arc<Cluster>, Arc<PostgresStore>) {
    let url = pg_support::cluster().new_database();
    let store = Arc::new(PostgresStore::open(&url).await.unwrap());
    let t = Timings::for_expiry(LEASE);
    let a = Cluster::new(store.clone(), &dir.join("a"), t).unwrap();
    let b = Cluster::new(
        Arc::new(PostgresStore::open(&url).await.unwrap()),
        &dir.join("b"),
        t,
    )
    .unwrap();
    (a, b, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_at_a_time_until_its_lease_expires_or_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let (a, b, _) = two(dir.path()).await;
    assert_ne!(a.owner, b.owner);
    assert_eq!(a.take("s").await.unwrap(), Take::Taken { ended: false });
    assert!(a.holds("s"));
    assert_eq!(
        a.take("s").await.unwrap(),
        Take::Busy,
        "taken once per server"
    );
    assert_eq!(b.take("s").await.unwrap(), Take::Owned(a.owner.clone()));
    assert_eq!(b.owner_of("s").await.unwrap(), Some(a.owner.clone()));
    // Renewed, it stays A's past its first expiry.
    for _ in 0..3 {
        tokio::time::sleep(LEASE / 2).await;
        assert!(a.renew().await.unwrap().is_empty());
    }
    assert_eq!(b.take("s").await.unwrap(), Take::Owned(a.owner.clone()));
    // Not renewed, it expires and B takes it; A learns at its next renewal that it lost it.
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    assert_eq!(b.owner_of("s").await.unwrap(), None);
    assert_eq!(b.take("s").await.unwrap(), Take::Taken { ended: false });
    assert_eq!(a.renew().await.unwrap(), ["s".to_string()]);
    assert!(!a.holds("s"));
    // The fence: A's store no longer takes the session's events; B's does.
    let one = || EncodedEvent::batch(vec![StreamEvent::Stderr { line: "x".into() }]).unwrap();
    let err = a.store().append("s", one()).await.unwrap_err().to_string();
    assert!(
        err.contains("another server has taken session s over"),
        "{err}"
    );
    assert_eq!(b.store().append("s", one()).await.unwrap(), 1);
    // A session nobody leases (a new one) takes anyone's events.
    assert_eq!(a.store().append("new", one()).await.unwrap(), 1);
    // A lease being taken (its row not committed yet) is not lost to a renewal meanwhile.
    a.held.lock().unwrap().insert("being-taken".into(), false);
    assert!(a.renew().await.unwrap().is_empty());
    assert_eq!(a.held.lock().unwrap().get("being-taken"), Some(&false));
    a.forget("being-taken");
    // Let go, it is free at once.
    b.release("s").await;
    assert_eq!(a.owner_of("s").await.unwrap(), None);
    assert_eq!(a.take("s").await.unwrap(), Take::Taken { ended: false });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_over_from_a_vanished_owner_records_its_cut_short_turn_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let (a, b, store) = two(dir.path()).await;
    assert_eq!(a.take("s").await.unwrap(), Take::Taken { ended: false });
    let mut running = info("s", "2026-01-01T00:00:00Z");
    running.state = SessionState::Running;
    let started = StreamEvent::StateChanged {
        from: Some(SessionState::Idle),
        to: SessionState::Running,
        reason: None,
    };
    store
        .append_and_save(&running, EncodedEvent::batch(vec![started]).unwrap())
        .await
        .unwrap();
    // A vanishes (no renewals); B takes over after the expiry.
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    assert_eq!(b.take("s").await.unwrap(), Take::Taken { ended: true });
    let events: Vec<StreamEvent> = store
        .events_after("s", 1, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.into_event())
        .collect();
    assert!(
        matches!(&events[..], [
            StreamEvent::Result { status: TurnStatus::Interrupted, error: Some(e), .. },
            StreamEvent::StateChanged { to: SessionState::Stopped, reason: Some(r), .. },
        ] if e.starts_with("server_lost") && *r == StateReason::ServerLost),
        "{events:?}"
    );
    let saved = store.get_session("s").await.unwrap().unwrap();
    assert_eq!(saved.state, SessionState::Stopped);
    assert_eq!(saved.last_seq, 3);
    // A learns it lost the session; taken again, nothing more is recorded.
    b.release("s").await;
    assert_eq!(a.renew().await.unwrap(), ["s".to_string()]);
    assert_eq!(a.take("s").await.unwrap(), Take::Taken { ended: false });
    assert_eq!(store.last_seq("s").await.unwrap(), 3);
}
