//! Several servers sharing one PostgreSQL store: any server serves any client and session, and
//! each session's turns run on one server at a time, its *owner*.
//!
//! - **Leases** ([`lease`]): a row per owned session (owner, expiry) that the owner renews every
//!   [`LEASE_RENEW`]; a server that wants to run a session takes the lease when no live server
//!   holds it, and first records the end of any turn the last owner left under way. A clean
//!   shutdown deletes its leases, so that another server takes over at once.
//! - **Following** ([`proxy`]): a session a server does not own is served by a proxy behind the
//!   same `SessionHandle` clients use: it reads the owner's events from the table when the store
//!   announces them (`NOTIFY aisys_events`, see `store::announce`) and broadcasts them to its own
//!   clients, and it sends their requests to the owner ([`route`]). When the session has no live
//!   owner, the proxy takes the lease and becomes the session's own task.
//! - **Listening** ([`listen`]): one connection per server `LISTEN`s for announcements and for
//!   requests and answers addressed to it.
//!
//! A server alone on SQLite has none of this: the manager runs its sessions directly.
//!
//! Must not run turns itself (sessions do) nor hold events (the store does).

mod follow;
pub mod lease;
mod listen;
pub mod proxy;
pub mod route;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::manager::SessionManager;
use super::session::SessionError;
use super::store::{PostgresStore, Store};
use crate::types::ErrorCode;

/// How often an owner renews its leases: a third of [`LEASE_EXPIRY`], so that two renewals may
/// be missed (a slow database, a busy machine) before another server may take over.
pub const LEASE_RENEW: Duration = Duration::from_secs(5);
/// How long a lease lasts without renewal: after a server dies (`kill -9`, a lost machine) its
/// sessions wait this long for another server. As OpenHands' owner key: refreshed every 5 s,
/// expiring after 15 s.
pub const LEASE_EXPIRY: Duration = Duration::from_secs(15);
/// How often a request sent to another server that has not been answered checks that the
/// server still holds the session's lease, to take the request back when it does not.
pub const ROUTE_POLL: Duration = Duration::from_secs(1);
/// Environment variable that sets [`LEASE_EXPIRY`] in milliseconds, renewals and polls scaled
/// with it (a third, and a fifteenth). Not a user setting: for tests, which cannot wait 15 s for
/// a takeover.
pub const ENV_LEASE_EXPIRY_MS: &str = "AISYS_LEASE_EXPIRY_MS";
/// The shortest lease [`ENV_LEASE_EXPIRY_MS`] may set: renewals must not take most of a lease.
const MIN_LEASE: Duration = Duration::from_millis(300);
/// The file in the data folder naming this server among those sharing a store.
pub const IDENTITY_FILE: &str = "server-id";

/// A lease's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub renew: Duration,
    pub expiry: Duration,
    pub poll: Duration,
}

impl Default for Timings {
    fn default() -> Timings {
        Timings {
            renew: LEASE_RENEW,
            expiry: LEASE_EXPIRY,
            poll: ROUTE_POLL,
        }
    }
}

impl Timings {
    /// The timings for a lease of `expiry`, renewed and polled in proportion.
    pub fn for_expiry(expiry: Duration) -> Timings {
        Timings {
            renew: expiry / 3,
            expiry,
            poll: (expiry / 15).max(Duration::from_millis(10)),
        }
    }

    /// The default timings, or those of [`ENV_LEASE_EXPIRY_MS`] when it is set.
    pub fn from_env(value: Option<&str>) -> Result<Timings, ClusterError> {
        let Some(v) = value else {
            return Ok(Timings::default());
        };
        let bad = |why: &str| ClusterError::Timing {
            value: v.to_string(),
            why: why.to_string(),
        };
        let ms: u64 = v
            .trim()
            .parse()
            .map_err(|_| bad("expected a number of milliseconds"))?;
        let expiry = Duration::from_millis(ms);
        if expiry < MIN_LEASE {
            return Err(bad(&format!("at least {} ms", MIN_LEASE.as_millis())));
        }
        Ok(Timings::for_expiry(expiry))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("session store {url}: {what}")]
    Postgres { url: String, what: String },
    #[error("{path}: {source}")]
    Identity {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data folder {path} is in use by another aisys server; give each server sharing a store its own data folder (`aisys serve --data-dir DIR`)"
    )]
    InUse { path: PathBuf },
    #[error("{ENV_LEASE_EXPIRY_MS}={value}: {why}")]
    Timing { value: String, why: String },
}

/// This server's part in a cluster of servers sharing a PostgreSQL store.
pub struct Cluster {
    /// This server's name in leases and requests (kept in the data folder, so that a restarted
    /// server knows its own leases and takes them back at once).
    pub owner: String,
    store: Arc<PostgresStore>,
    pub timings: Timings,
    /// Sessions whose lease this server holds (`true`) or is taking (`false`: its row may not be
    /// committed yet, so a renewal meanwhile must not count it as lost).
    held: Mutex<HashMap<String, bool>>,
    /// The sessions this server's proxies follow, and their rows read from the table.
    followers: follow::Followers,
    /// Requests sent to other servers, waiting for their answer's announcement.
    waiting: Mutex<HashMap<i64, oneshot::Sender<()>>>,
    /// Where requests from other servers go.
    manager: OnceLock<Weak<SessionManager>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Held while the server runs: two servers with one identity would renew each other's leases.
    _identity: std::fs::File,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl Cluster {
    /// Ends the lease, listening and sweeping tasks.
    fn stop_tasks(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }

    /// Joins the servers of `store`, as the server whose data folder is `data_dir`.
    pub fn new(
        store: Arc<PostgresStore>,
        data_dir: &Path,
        timings: Timings,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let (owner, identity) = identity(data_dir)?;
        store.fence(&owner);
        Ok(Arc::new(Cluster {
            owner,
            store,
            timings,
            held: Mutex::new(HashMap::new()),
            followers: follow::Followers::default(),
            waiting: Mutex::new(HashMap::new()),
            manager: OnceLock::new(),
            tasks: Mutex::new(Vec::new()),
            _identity: identity,
        }))
    }

    /// Starts listening to the other servers and renewing leases; `manager` answers the
    /// requests they send.
    pub fn start(self: &Arc<Self>, manager: &Arc<SessionManager>) {
        let _ = self.manager.set(Arc::downgrade(manager));
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.push(tokio::spawn(listen::run(Arc::downgrade(self))));
        tasks.push(tokio::spawn(follow::run(Arc::downgrade(self))));
        tasks.push(tokio::spawn(lease::keep(Arc::downgrade(self))));
    }

    pub fn store(&self) -> &Arc<PostgresStore> {
        &self.store
    }

    /// The channel this server listens on for requests and answers.
    pub fn channel(owner: &str) -> String {
        format!("aisys_srv_{owner}")
    }

    /// Whether this server holds the session's lease.
    pub fn holds(&self, session_id: &str) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(session_id)
            .copied()
            .unwrap_or(false)
    }

    /// Follows `session_id`, whose proxy has broadcast up to `last`: its new events are read
    /// when announced, and the returned `Notify` wakes the proxy to [`Cluster::take_followed`].
    pub(crate) fn follow(&self, session_id: &str, last: u64) -> Arc<Notify> {
        self.followers.follow(session_id, last)
    }

    pub(crate) fn unfollow(&self, session_id: &str) {
        self.followers.unfollow(session_id);
    }

    /// The rows read for the proxy of `session_id` since its last take.
    pub(crate) fn take_followed(&self, session_id: &str) -> follow::Taken {
        self.followers.take(session_id)
    }

    /// The proxy of `session_id` read the table itself up to `last`.
    pub(crate) fn followed_to(&self, session_id: &str, last: u64) {
        self.followers.read_to(session_id, last);
    }

    /// New events of `session_id` were committed.
    fn announced(&self, session_id: &str) {
        self.followers.announced(session_id);
    }

    /// Wakes every proxy and every waiting request: after the listening connection was lost,
    /// announcements may have been missed.
    fn wake_all(&self) {
        self.followers.announce_all();
        for (_, w) in self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            let _ = w.send(());
        }
    }

    fn manager(&self) -> Option<Arc<SessionManager>> {
        self.manager.get().and_then(Weak::upgrade)
    }

    fn db_err(&self, what: String) -> ClusterError {
        ClusterError::Postgres {
            url: self.store.url().to_string(),
            what,
        }
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, ClusterError> {
        self.store
            .pool()
            .get()
            .await
            .map_err(|e| self.db_err(format!("no connection: {e}")))
    }

    pub(crate) fn pg(&self, e: tokio_postgres::Error) -> ClusterError {
        self.db_err(super::store::postgres_text(&e))
    }

    /// After a start: the sessions this server's last run left under way, and those of servers
    /// whose leases expired, are recorded as stopped; the leases it left are let go.
    pub async fn recover_all(&self) -> Result<usize, SessionError> {
        let mut n = 0;
        let mine = self.own_leases().await.map_err(internal)?;
        for info in self.store.list_sessions().await.map_err(internal)? {
            let busy =
                info.state.is_busy() || info.state == crate::types::SessionState::Provisioning;
            if !busy && !mine.contains(info.id.as_str()) {
                continue;
            }
            if let lease::Take::Taken { ended } = self.take(&info.id).await? {
                n += ended as usize;
                self.release(&info.id).await;
            }
        }
        Ok(n)
    }

    /// Lets every lease go at once (a clean shutdown): other servers take the sessions over
    /// without waiting for the leases to expire.
    pub async fn shutdown(&self) {
        self.stop_tasks();
        if let Err(e) = self.release_all().await {
            tracing::warn!("letting go of this server's leases: {e}");
        }
    }
}

fn internal(e: impl std::fmt::Display) -> SessionError {
    SessionError::new(ErrorCode::Internal, e.to_string())
}

/// This server's name, from its data folder (made on first start), and the lock that keeps a
/// second server from using it at the same time.
fn identity(data_dir: &Path) -> Result<(String, std::fs::File), ClusterError> {
    use std::io::{Read, Seek, Write};
    let path = data_dir.join(IDENTITY_FILE);
    let err = |source| ClusterError::Identity {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(err)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            return Err(ClusterError::InUse {
                path: data_dir.to_path_buf(),
            });
        }
        Err(fs4::TryLockError::Error(e)) => return Err(err(e)),
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(err)?;
    let name = text.trim();
    let valid = name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        return Ok((name.to_ascii_lowercase(), file));
    }
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| err(std::io::Error::other(e.to_string())))?;
    let name: String = b.iter().map(|x| format!("{x:02x}")).collect();
    file.set_len(0).map_err(err)?;
    file.rewind().map_err(err)?;
    file.write_all(format!("{name}\n").as_bytes())
        .map_err(err)?;
    Ok((name, file))
}

#[cfg(test)]
mod lease_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_timings_default_to_the_constants_and_scale_from_the_environment() {
        assert_eq!(Timings::from_env(None).unwrap(), Timings::default());
        assert_eq!(Timings::default().renew * 3, Timings::default().expiry);
        let t = Timings::from_env(Some("1500")).unwrap();
        assert_eq!(t.expiry, Duration::from_millis(1500));
        assert_eq!(t.renew, Duration::from_millis(500));
        assert_eq!(t.poll, Duration::from_millis(100));
        let err = Timings::from_env(Some("10")).unwrap_err().to_string();
        assert!(err.contains("AISYS_LEASE_EXPIRY_MS=10"), "{err}");
        assert!(Timings::from_env(Some("soon")).is_err());
    }

    #[test]
    fn a_data_folder_keeps_its_name_and_serves_one_server_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (name, lock) = identity(dir.path()).unwrap();
        assert_eq!(name.len(), 16);
        assert!(matches!(
            identity(dir.path()),
            Err(ClusterError::InUse { .. })
        ));
        drop(lock);
        assert_eq!(identity(dir.path()).unwrap().0, name);
    }
}
