//! `SessionManager`: creates, finds, loads, unloads and deletes sessions, and enforces the
//! server's limits on them.
//!
//! Sessions live in the store; a session is in memory (a running `AgentSession` task) only while
//! a client is attached or a turn runs. Must not talk to connections: it answers requests.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Mutex;

use super::cluster::Cluster;
use super::metrics::Metrics;
use super::session::{self, SessionCommand, SessionContext, SessionError, SessionHandle};
use super::store::{EncodedEvent, Store};
use super::usage_totals;
use crate::runtime::env::{ExecutionEnvironment, Limits, Network, Sandbox};
use crate::runtime::launch::modal_agent_binary;
use crate::types::now;
use crate::types::{
    AgentKind, ErrorCode, PermissionMode, SandboxKind, SessionId, SessionInfo, SessionLimits,
    SessionSpec, SessionState, SessionUsage, StateReason, StreamEvent, TurnStatus,
};

/// How long shutdown waits for running turns to end after interrupting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Default for `--max-sessions`: enough for a team, few enough for one machine's sandboxes.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;
/// Events read per query while recovery looks back for the end of an interrupted turn.
const RECOVERY_PAGE: usize = 500;
/// The `error` of the `result` that ends a turn the server's restart cut short.
pub const RESTART_ERROR: &str = "server_restart: the server stopped before this turn ended";
/// The `error` of the `result` that ends a turn whose server vanished (its lease expired) and
/// that another server sharing the store took over.
pub const LOST_ERROR: &str =
    "server_lost: the server running this turn stopped answering and its lease expired";
/// Longest session title kept; titles are for lists, not documents.
pub const MAX_TITLE_CHARS: usize = 200;

/// The manager's fixed settings.
#[derive(Clone)]
pub struct ManagerConfig {
    pub data_dir: PathBuf,
    pub default_agent: AgentKind,
    pub default_sandbox: SandboxKind,
    pub max_sessions: usize,
    /// Folders under which clients may name workspaces (canonical paths).
    pub workspace_roots: Vec<PathBuf>,
    pub idle_timeout: Option<Duration>,
    /// The backends the server can use, by kind.
    pub environments: HashMap<SandboxKind, Arc<dyn ExecutionEnvironment>>,
    pub sandbox_env: BTreeMap<String, String>,
    /// What network local sandboxes get.
    pub network: Network,
    /// Each agent's binary, or why it is missing.
    pub agent_binaries: HashMap<AgentKind, Result<PathBuf, String>>,
    /// The most each session's sandbox may use; a session may ask for less.
    pub limits: Limits,
    /// The agent profiles sessions may name.
    pub profiles: Arc<crate::profile::Catalog>,
}

pub struct SessionManager {
    store: Arc<dyn Store>,
    config: ManagerConfig,
    loaded: Mutex<HashMap<SessionId, SessionHandle>>,
    /// Totals summed for sessions recorded before sessions counted them, with the last seq
    /// they are summed to.
    old_usage: Mutex<HashMap<SessionId, (u64, SessionUsage)>>,
    pub metrics: Arc<Metrics>,
    /// The servers this one shares its store with (PostgreSQL); `None` for a server alone.
    cluster: Option<Arc<Cluster>>,
}

impl SessionManager {
    pub fn new(store: Arc<dyn Store>, config: ManagerConfig, metrics: Arc<Metrics>) -> Self {
        SessionManager {
            store,
            config,
            loaded: Mutex::new(HashMap::new()),
            old_usage: Mutex::new(HashMap::new()),
            metrics,
            cluster: None,
        }
    }

    /// A manager whose sessions are shared with the other servers of `cluster`.
    pub fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// The profile names `session.create` accepts, as `welcome` tells clients.
    pub fn profile_names(&self) -> Vec<String> {
        crate::profile::names(&self.config.profiles.config)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// After a restart: sessions that were mid-turn are `stopped` with reason `server_restart`.
    /// Servers sharing a store take only the sessions no other live server owns.
    pub async fn recover(&self) -> Result<usize, SessionError> {
        if let Some(cluster) = &self.cluster {
            return cluster.recover_all().await;
        }
        let mut n = 0;
        for info in self.store.list_sessions().await.map_err(internal)? {
            if stop_cut_short(
                &*self.store,
                info,
                StateReason::ServerRestart,
                RESTART_ERROR,
            )
            .await?
            {
                n += 1;
            }
        }
        Ok(n)
    }

    pub async fn create(&self, spec: SessionSpec) -> Result<SessionInfo, SessionError> {
        let count = self.store.count_sessions().await.map_err(internal)?;
        if count >= self.config.max_sessions {
            return Err(SessionError::new(
                ErrorCode::Limit,
                format!(
                    "the server already has {count} sessions (--max-sessions {}): delete one first",
                    self.config.max_sessions
                ),
            ));
        }
        let sandbox = spec.sandbox.unwrap_or(self.config.default_sandbox);
        if !self.config.environments.contains_key(&sandbox) {
            return Err(SessionError::new(
                ErrorCode::BadRequest,
                format!("this server does not offer the {sandbox} sandbox"),
            ));
        }
        if let Some(l) = &spec.limits {
            check_limits(l)?;
        }
        let id = new_session_id()?;
        let workspace = match &spec.workspace {
            None => {
                let dir = self.config.data_dir.join("workspaces").join(id.as_str());
                std::fs::create_dir_all(&dir).map_err(internal)?;
                dir
            }
            Some(w) => self.allowed_workspace(Path::new(w))?,
        };
        // A profile that names something missing fails here, before any sandbox starts.
        let profile = self.config.profiles.choose(spec.profile.as_deref());
        let resolved = self
            .config
            .profiles
            .resolve(&profile, &workspace)
            .map_err(|e| SessionError::new(ErrorCode::BadRequest, e.to_string()))?;
        let title = spec
            .title
            .map(|t| t.chars().take(MAX_TITLE_CHARS).collect::<String>());
        let ts = now();
        let info = SessionInfo {
            id: id.clone(),
            title,
            agent: spec.agent.unwrap_or(self.config.default_agent),
            sandbox,
            state: SessionState::Idle,
            reason: None,
            workspace: workspace.to_string_lossy().into_owned(),
            model: spec.model,
            permission_mode: spec.permission_mode.unwrap_or(PermissionMode::Default),
            agent_session_id: None,
            sandbox_id: None,
            created_at: ts,
            last_activity: ts,
            last_seq: 0,
            limits: spec.limits,
            profile: Some(profile),
            profile_resolved_at: Some(resolved.resolved_at),
            usage: Some(SessionUsage::default()),
        };
        let first = self
            .store
            .append_and_save(
                &info,
                EncodedEvent::batch(vec![StreamEvent::StateChanged {
                    from: None,
                    to: SessionState::Idle,
                    reason: Some(StateReason::Created),
                }])
                .map_err(internal)?,
            )
            .await
            .map_err(internal)?;
        let info = SessionInfo {
            last_seq: first,
            ..info
        };
        Ok(info)
    }

    /// A client-named workspace must resolve (symlinks and `..` included) to a folder under one
    /// of the operator's roots.
    fn allowed_workspace(&self, path: &Path) -> Result<PathBuf, SessionError> {
        let forbidden = || {
            SessionError::new(
                ErrorCode::Forbidden,
                format!(
                    "workspace {} is not under a folder this server allows (start it with --workspace-root DIR)",
                    path.display()
                ),
            )
        };
        let real = path.canonicalize().map_err(|_| forbidden())?;
        if !real.is_dir() {
            return Err(forbidden());
        }
        if self
            .config
            .workspace_roots
            .iter()
            .any(|root| real.starts_with(root))
        {
            Ok(real)
        } else {
            Err(forbidden())
        }
    }

    /// Every session, newest activity first (live state for loaded ones).
    pub async fn list(&self) -> Result<Vec<SessionInfo>, SessionError> {
        let mut list = self.store.list_sessions().await.map_err(internal)?;
        let loaded = self.loaded.lock().await;
        for info in &mut list {
            if let Some(h) = loaded.get(&info.id) {
                *info = h.info();
            }
        }
        drop(loaded);
        for info in list.iter_mut().filter(|i| i.usage.is_none()) {
            info.usage = Some(self.old_usage(info).await?);
        }
        Ok(list)
    }

    /// The totals of a session recorded before sessions counted them, summed from its record
    /// once per change of its last seq.
    async fn old_usage(&self, info: &SessionInfo) -> Result<SessionUsage, SessionError> {
        if let Some((seq, usage)) = self.old_usage.lock().await.get(&info.id)
            && *seq == info.last_seq
        {
            return Ok(*usage);
        }
        let usage = usage_totals::from_record(self.store.as_ref(), &info.id)
            .await
            .map_err(internal)?;
        self.old_usage
            .lock()
            .await
            .insert(info.id.clone(), (info.last_seq, usage));
        Ok(usage)
    }

    /// The session, loaded into memory if it was not.
    pub async fn get(&self, id: &str) -> Result<SessionHandle, SessionError> {
        let mut loaded = self.loaded.lock().await;
        if let Some(h) = loaded.get(id)
            && h.is_alive()
        {
            return Ok(h.clone());
        }
        let mut info = self
            .store
            .get_session(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(id))?;
        // The stored metadata is saved on state changes, not on every event: count from events.
        info.last_seq = self.store.last_seq(id).await.map_err(internal)?;
        if info.usage.is_none() {
            info.usage = Some(self.old_usage(&info).await?);
        }
        let ctx = self.context(&info)?;
        let handle = match &self.cluster {
            Some(cluster) => super::cluster::proxy::spawn(info, ctx, cluster.clone()),
            None => session::spawn(info, ctx),
        };
        loaded.insert(id.into(), handle.clone());
        Ok(handle)
    }

    /// What a session's task needs from this server.
    fn context(&self, info: &SessionInfo) -> Result<SessionContext, SessionError> {
        let environment = self
            .config
            .environments
            .get(&info.sandbox)
            .cloned()
            .ok_or_else(|| {
                SessionError::new(
                    ErrorCode::InvalidState,
                    format!("this server does not offer the {} sandbox", info.sandbox),
                )
            })?;
        Ok(SessionContext {
            store: self.store.clone(),
            environment,
            sandbox_env: self.config.sandbox_env.clone(),
            network: self.config.network.clone(),
            // In Modal the agent comes with the sandbox's image, not from this machine.
            agent_binary: if info.sandbox == SandboxKind::Modal {
                Ok(modal_agent_binary(info.agent))
            } else {
                self.config
                    .agent_binaries
                    .get(&info.agent)
                    .cloned()
                    .unwrap_or_else(|| Err(format!("{} is not available", info.agent)))
            },
            home: self.config.data_dir.join("homes").join(info.id.as_str()),
            idle_timeout: self.config.idle_timeout,
            metrics: self.metrics.clone(),
            limits: session_limits(self.config.limits, info.limits),
            profiles: self.config.profiles.clone(),
        })
    }

    /// The sandbox a reader of the session's workspace asks for its files: the one the session
    /// runs in on this server, or, when another server runs the session, its sandbox reached by
    /// id (backends whose sandboxes live off this machine, such as Modal, offer that).
    pub async fn workspace_sandbox(&self, handle: &SessionHandle) -> Option<Arc<dyn Sandbox>> {
        if let Some(sandbox) = handle.live_sandbox().await {
            return Some(sandbox);
        }
        self.cluster.as_ref()?;
        let info = handle.info();
        let id = info.sandbox_id.as_deref()?;
        let environment = self.config.environments.get(&info.sandbox)?;
        match environment.attach(id).await {
            Ok(found) => found.map(Arc::from),
            Err(e) => {
                tracing::warn!("session {}: reaching its sandbox {id}: {e}", info.id);
                None
            }
        }
    }

    pub async fn delete(&self, id: &str) -> Result<(), SessionError> {
        let handle = self.get(id).await?;
        handle
            .request(|reply| SessionCommand::Stop {
                reason: StateReason::Deleted,
                reply,
            })
            .await?;
        self.loaded.lock().await.remove(id);
        self.old_usage.lock().await.remove(id);
        self.store.delete_session(id).await.map_err(internal)?;
        let _ = std::fs::remove_dir_all(self.config.data_dir.join("homes").join(id));
        Ok(())
    }

    /// Unloads sessions that no client watches and no turn needs.
    pub async fn sweep(&self) {
        let handles: Vec<SessionHandle> = self.loaded.lock().await.values().cloned().collect();
        for h in handles {
            if h.attached.load(Ordering::SeqCst) == 0 && h.unload().await {
                let mut loaded = self.loaded.lock().await;
                if loaded
                    .get(&h.id)
                    .is_some_and(|x| !x.is_alive() || x.attached.load(Ordering::SeqCst) == 0)
                {
                    loaded.remove(&h.id);
                }
            }
        }
    }

    /// Forgets the session's handle (this server lost its lease: the next request for it
    /// follows the session's new owner) and marks it so, for the clients following its events
    /// to take the new one; its task ends what it ran here and leaves memory.
    pub async fn forget(&self, id: &str) {
        let Some(h) = self.loaded.lock().await.remove(id) else {
            return;
        };
        h.forget();
        // Its turn here, if any, ends now rather than when its agent next writes; without
        // holding up the caller (the lease keeper) while the agent's process is ended.
        tokio::spawn(async move {
            let _ = h
                .request(|reply| SessionCommand::Relinquish { reply })
                .await;
        });
    }

    /// Number of sessions in memory.
    pub async fn loaded_count(&self) -> usize {
        self.loaded.lock().await.len()
    }

    /// Ends every running turn (interrupt, then stop after [`SHUTDOWN_GRACE`]), each labelled as
    /// ended by the server; sessions that were running are left `stopped`, as after a crash.
    pub async fn shutdown(&self) {
        let all: Vec<SessionHandle> = self.loaded.lock().await.values().cloned().collect();
        // Only the sessions whose turns run here: one this server follows runs on another.
        let handles: Vec<SessionHandle> = all
            .iter()
            .filter(|h| self.cluster.as_ref().is_none_or(|c| c.holds(&h.id)))
            .cloned()
            .collect();
        let mut was_busy = std::collections::HashSet::new();
        for h in &handles {
            if h.info().state.is_busy() {
                was_busy.insert(h.id.clone());
                let _ = h
                    .request(|reply| SessionCommand::ServerStopping { reply })
                    .await;
            }
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while handles.iter().any(|h| h.info().state.is_busy())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for h in &handles {
            if was_busy.contains(&h.id) || h.info().state.is_busy() {
                let _ = h
                    .request(|reply| SessionCommand::Stop {
                        reason: StateReason::ServerShutdown,
                        reply,
                    })
                    .await;
            }
        }
        for h in &all {
            h.unload().await;
        }
        // Whatever is still held goes at once, so that another server takes it without waiting
        // for the lease to expire.
        if let Some(cluster) = &self.cluster {
            cluster.shutdown().await;
        }
    }
}

/// Records the end of what a server that stopped left under way in a session: the `result` of a
/// turn it cut short (unless that was stored) and a move to `stopped` with `reason`. Returns
/// whether there was anything to end (a session that was not busy is left as it is).
pub(crate) async fn stop_cut_short(
    store: &dyn Store,
    mut info: SessionInfo,
    reason: StateReason,
    error: &str,
) -> Result<bool, SessionError> {
    if !(info.state.is_busy() || info.state == SessionState::Provisioning) {
        return Ok(false);
    }
    let from = info.state;
    let mut events = Vec::new();
    // Every turn ends with a `result`: the one the stop cut short gets its own.
    if !turn_has_result(store, &info).await? {
        events.push(StreamEvent::turn_ended(
            TurnStatus::Interrupted,
            Some(error.into()),
        ));
    }
    events.push(StreamEvent::StateChanged {
        from: Some(from),
        to: SessionState::Stopped,
        reason: Some(reason.clone()),
    });
    info.state = SessionState::Stopped;
    info.reason = Some(reason);
    store
        .append_and_save(&info, EncodedEvent::batch(events).map_err(internal)?)
        .await
        .map_err(internal)?;
    Ok(true)
}

/// Whether the turn a restart found under way already ended with a `result` (the server
/// stopped between storing it and leaving the turn's state). Reads back from the newest event
/// to the turn's start.
async fn turn_has_result(store: &dyn Store, info: &SessionInfo) -> Result<bool, SessionError> {
    // A session still provisioning has not started its turn's agent: nothing has ended it.
    if info.state == SessionState::Provisioning {
        return Ok(false);
    }
    let mut end = store.last_seq(&info.id).await.map_err(internal)?;
    while end > 0 {
        let start = end.saturating_sub(RECOVERY_PAGE as u64);
        let page = store
            .events_after(&info.id, start, (end - start) as usize)
            .await
            .map_err(internal)?;
        for (_, ev) in page.iter().rev() {
            match ev.event() {
                StreamEvent::Result { .. } => return Ok(true),
                StreamEvent::StateChanged {
                    to: SessionState::Running,
                    from: Some(SessionState::Idle),
                    ..
                } => return Ok(false),
                _ => {}
            }
        }
        end = start;
    }
    Ok(false)
}

/// A fresh random session id; without the system's random source there is none to give (an id
/// made of zeros would name every new session the same).
fn new_session_id() -> Result<SessionId, SessionError> {
    let mut b = [0u8; 8];
    fill_random(&mut b).map_err(|e| {
        SessionError::new(
            ErrorCode::Internal,
            format!("cannot make a session id: the system's random source failed ({e}); check /dev/urandom and the getrandom system call"),
        )
    })?;
    Ok(session_id_from(&b))
}

fn session_id_from(b: &[u8]) -> SessionId {
    format!(
        "s_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
    .into()
}

#[cfg(not(test))]
fn fill_random(b: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(b)
}

/// Tests make the random source fail on purpose.
#[cfg(test)]
fn fill_random(b: &mut [u8]) -> Result<(), getrandom::Error> {
    if tests::RANDOM_FAILS.with(|f| f.get()) {
        return Err(getrandom::Error::UNSUPPORTED);
    }
    getrandom::fill(b)
}

fn not_found(id: &str) -> SessionError {
    SessionError::new(ErrorCode::NotFound, format!("no session {id}"))
}

fn internal(e: impl std::fmt::Display) -> SessionError {
    SessionError::new(ErrorCode::Internal, e.to_string())
}

/// Refuses limits of 0, which would stop every process of the session.
fn check_limits(l: &SessionLimits) -> Result<(), SessionError> {
    for (name, v) in [
        ("max_pids", l.max_pids),
        ("max_memory", l.max_memory),
        ("max_cpu_time_secs", l.max_cpu_time_secs),
    ] {
        if v == Some(0) {
            return Err(SessionError::new(
                ErrorCode::BadRequest,
                format!(
                    "limits.{name}: 0 would stop every process; leave it out for the server's limit"
                ),
            ));
        }
    }
    Ok(())
}

/// A session's limits: the server's, lowered by what the session asked for.
fn session_limits(server: Limits, asked: Option<SessionLimits>) -> Limits {
    let asked = asked.unwrap_or_default();
    fn lower<T: Ord + Copy>(server: Option<T>, asked: Option<T>) -> Option<T> {
        match (server, asked) {
            (Some(s), Some(a)) => Some(s.min(a)),
            (s, a) => s.or(a),
        }
    }
    Limits {
        pids: lower(server.pids, asked.max_pids),
        memory: lower(server.memory, asked.max_memory),
        cpu_time: lower(
            server.cpu_time,
            asked.max_cpu_time_secs.map(Duration::from_secs),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::server::store::SqliteStore;

    thread_local! {
        pub(crate) static RANDOM_FAILS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    #[tokio::test(flavor = "current_thread")]
    async fn no_session_is_made_when_the_random_source_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let config = ManagerConfig {
            data_dir: dir.path().to_path_buf(),
            default_agent: AgentKind::ClaudeCode,
            default_sandbox: SandboxKind::Host,
            max_sessions: 10,
            workspace_roots: vec![],
            idle_timeout: None,
            environments: [(
                SandboxKind::Host,
                Arc::new(crate::runtime::env::HostEnvironment) as Arc<dyn ExecutionEnvironment>,
            )]
            .into(),
            sandbox_env: BTreeMap::new(),
            agent_binaries: HashMap::new(),
            limits: Limits::default(),
            network: Network::None,
            profiles: Default::default(),
        };
        let manager = SessionManager::new(store.clone(), config, Arc::new(Metrics::default()));
        RANDOM_FAILS.with(|f| f.set(true));
        let err = manager.create(SessionSpec::default()).await.unwrap_err();
        RANDOM_FAILS.with(|f| f.set(false));
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(err.message.contains("random source"), "{}", err.message);
        assert_eq!(store.count_sessions().await.unwrap(), 0);
        let made = manager.create(SessionSpec::default()).await.unwrap();
        assert_ne!(made.id, session_id_from(&[0; 8]));
    }

    #[test]
    fn a_session_lowers_the_server_limits_but_never_raises_them() {
        let server = Limits {
            pids: Some(1024),
            memory: Some(4 << 30),
            cpu_time: None,
        };
        let asked = SessionLimits {
            max_pids: Some(4096),
            max_memory: Some(1 << 30),
            max_cpu_time_secs: Some(60),
        };
        let l = session_limits(server, Some(asked));
        assert_eq!(l.pids, Some(1024), "raising is ignored");
        assert_eq!(l.memory, Some(1 << 30), "lowering applies");
        assert_eq!(l.cpu_time, Some(Duration::from_secs(60)), "below no limit");
        assert_eq!(session_limits(server, None), server);
        assert!(
            check_limits(&SessionLimits {
                max_memory: Some(0),
                ..Default::default()
            })
            .is_err()
        );
    }
}
