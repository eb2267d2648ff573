//! `AgentSession` against stores and sandboxes that misbehave on purpose: a store that stops
//! taking writes, a sandbox that takes long to provision. The agent is the stand-in
//! `benches/support/fake-claude`, run by the host backend.

use std::sync::atomic::AtomicUsize;

use async_trait::async_trait;

use super::*;
use crate::runtime::env::SandboxSpec;

use crate::runtime::env::{EnvError, HostEnvironment, Limits};
use crate::server::store::{SqliteStore, StoreError};
use crate::types::{AgentKind, PermissionMode, SandboxKind, StateReason};

/// How long a test waits for what a session should do at once.
const PROMPT: Duration = Duration::from_secs(10);

/// A store that fails the next `failing` writes (`usize::MAX`: all of them).
struct FlakyStore {
    inner: SqliteStore,
    failing: AtomicUsize,
}

impl FlakyStore {
    fn fails(&self) -> Result<(), StoreError> {
        let left = self.failing.load(Ordering::SeqCst);
        if left == 0 {
            return Ok(());
        }
        if left != usize::MAX {
            self.failing.store(left - 1, Ordering::SeqCst);
        }
        Err(StoreError::Commit(
            "no space left on device (a test's store)".into(),
        ))
    }
}

#[async_trait]
impl Store for FlakyStore {
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError> {
        self.fails()?;
        self.inner.put_session(info).await
    }
    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError> {
        self.inner.get_session(id).await
    }
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        self.inner.list_sessions().await
    }
    async fn count_sessions(&self) -> Result<usize, StoreError> {
        self.inner.count_sessions().await
    }
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_session(id).await
    }
    async fn append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        self.fails()?;
        self.inner.append(session_id, events).await
    }
    async fn append_and_save(
        &self,
        info: &SessionInfo,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        self.fails()?;
        self.inner.append_and_save(info, events).await
    }
    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        self.inner.events_after(session_id, after_seq, limit).await
    }
    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError> {
        self.inner.last_seq(session_id).await
    }
}

/// The host backend, slowed down: creating a sandbox takes `delay` (a Modal sandbox takes
/// seconds).
struct SlowEnvironment {
    delay: Duration,
}

#[async_trait]
impl ExecutionEnvironment for SlowEnvironment {
    fn kind(&self) -> SandboxKind {
        SandboxKind::Host
    }
    async fn create(&self, spec: SandboxSpec) -> Result<Box<dyn Sandbox>, EnvError> {
        tokio::time::sleep(self.delay).await;
        HostEnvironment.create(spec).await
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<FlakyStore>,
}

impl Fixture {
    /// A store, a workspace, and the stand-in agent with `settings` (its JSON settings file).
    fn new(settings: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let script = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/support/fake-claude"
        ))
        .unwrap();
        let bin = dir.path().join("fake-claude");
        std::fs::write(&bin, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("fake-claude.json"), settings).unwrap();
        std::fs::create_dir_all(dir.path().join("ws")).unwrap();
        let store = Arc::new(FlakyStore {
            inner: SqliteStore::open(&dir.path().join("s.db")).unwrap(),
            failing: AtomicUsize::new(0),
        });
        Fixture { dir, store }
    }

    async fn session(&self, id: &str, environment: Arc<dyn ExecutionEnvironment>) -> SessionHandle {
        let info = SessionInfo {
            id: id.into(),
            title: None,
            agent: AgentKind::ClaudeCode,
            sandbox: SandboxKind::Host,
            state: SessionState::Idle,
            reason: None,
            workspace: self.dir.path().join("ws").display().to_string(),
            model: None,
            permission_mode: PermissionMode::Default,
            agent_session_id: None,
            sandbox_id: None,
            created_at: now(),
            last_activity: now(),
            last_seq: 0,
            limits: None,
            profile: Some("none".into()),
            profile_resolved_at: None,
            usage: None,
        };
        let created = StreamEvent::StateChanged {
            from: None,
            to: SessionState::Idle,
            reason: Some(StateReason::Created),
        };
        let first = self
            .store
            .append_and_save(&info, EncodedEvent::batch(vec![created]).unwrap())
            .await
            .unwrap();
        let ctx = SessionContext {
            store: self.store.clone(),
            environment,
            sandbox_env: [(
                "ANTHROPIC_BASE_URL".to_string(),
                "http://127.0.0.1:9".to_string(),
            )]
            .into(),
            agent_binary: Ok(self.dir.path().join("fake-claude")),
            home: self.dir.path().join("home").join(id),
            idle_timeout: None,
            metrics: Arc::new(Metrics::default()),
            limits: Limits::default(),
            network: crate::runtime::env::Network::None,
            profiles: Default::default(),
        };
        spawn(
            SessionInfo {
                last_seq: first,
                ..info
            },
            ctx,
        )
    }
}

async fn message(h: &SessionHandle, text: &str) -> Result<(), SessionError> {
    let text = text.to_string();
    h.request(|reply| SessionCommand::Message { text, reply })
        .await
}

/// The next broadcast event that `want` picks, within [`PROMPT`].
async fn next_event(
    rx: &mut broadcast::Receiver<SeqEvent>,
    want: impl Fn(&StreamEvent) -> bool,
) -> (u64, StreamEvent) {
    tokio::time::timeout(PROMPT, async {
        loop {
            let (seq, ev) = rx.recv().await.expect("the session's events ended");
            if want(ev.event()) {
                return (seq, ev.event().clone());
            }
        }
    })
    .await
    .expect("the event did not come in time")
}

/// Waits for the session's next change to state `to`.
async fn next_state(rx: &mut broadcast::Receiver<SeqEvent>, to: SessionState) {
    next_event(
        rx,
        |e| matches!(e, StreamEvent::StateChanged { to: t, .. } if *t == to),
    )
    .await;
}

/// The next turn's result, checked to end with `status`.
async fn next_result(rx: &mut broadcast::Receiver<SeqEvent>, status: TurnStatus) -> StreamEvent {
    let (_, result) = next_event(rx, |e| matches!(e, StreamEvent::Result { .. })).await;
    assert!(
        matches!(&result, StreamEvent::Result { status: s, .. } if *s == status),
        "{result:?}"
    );
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_the_store_does_not_take_is_refused_not_run() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let h = f.session("s_unrecorded", Arc::new(HostEnvironment)).await;
    f.store.failing.store(usize::MAX, Ordering::SeqCst);
    let err = message(&h, "hello").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("cannot record"), "{}", err.message);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.info().state, SessionState::Idle, "no turn started");
    assert!(
        !f.dir.path().join("ws/.fake-claude-args").exists(),
        "the agent never ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_whose_events_the_store_drops_fails_with_an_error_and_a_result() {
    // A steady stream of lines for ten seconds: the store fails in the middle of it.
    let f = Fixture::new(r#"{"events": 100, "rate": 10}"#);
    let h = f.session("s_hole", Arc::new(HostEnvironment)).await;
    let mut rx = h.events.subscribe();
    message(&h, "talk").await.unwrap();
    next_event(&mut rx, |e| matches!(e, StreamEvent::Text { .. })).await;
    let started = Instant::now();
    f.store.failing.store(1, Ordering::SeqCst);
    let (_, error) = next_event(&mut rx, |e| matches!(e, StreamEvent::Error { .. })).await;
    assert!(
        matches!(&error, StreamEvent::Error { code: Some(c), message, .. }
            if c == STORE_FAILED && message.contains("no space left")),
        "{error:?}"
    );
    next_result(&mut rx, TurnStatus::Error).await;
    next_state(&mut rx, SessionState::Failed).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the turn was stopped, not run to its end"
    );
    assert_eq!(h.info().state, SessionState::Failed);
    // The store works again: so does the session.
    message(&h, "again").await.unwrap();
    next_state(&mut rx, SessionState::Running).await;
}

/// How long the slowed sandbox takes to make: long enough that waiting for it shows.
const SLOW_PROVISIONING: Duration = Duration::from_secs(3);
/// A session on a slow sandbox, sent a message and now provisioning; with its event receiver.
async fn provisioning(
    f: &Fixture,
    id: &str,
) -> (SessionHandle, tokio::sync::broadcast::Receiver<SeqEvent>) {
    let env = Arc::new(SlowEnvironment {
        delay: SLOW_PROVISIONING,
    });
    let h = f.session(id, env).await;
    let mut rx = h.events.subscribe();
    message(&h, "hello").await.unwrap();
    next_state(&mut rx, SessionState::Provisioning).await;
    (h, rx)
}

/// What "at once" means for a request to a session that is provisioning.
const QUICK: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread")]
async fn stop_is_answered_at_once_while_the_sandbox_is_provisioning() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let (h, mut rx) = provisioning(&f, "s_slow_stop").await;
    let stop = h.request(|reply| SessionCommand::Stop {
        reason: StateReason::StoppedByClient,
        reply,
    });
    tokio::time::timeout(QUICK, stop)
        .await
        .expect("stop waited for the sandbox")
        .unwrap();
    // The message's turn still ends with a result, and the session is stopped.
    next_result(&mut rx, TurnStatus::Interrupted).await;
    assert_eq!(h.info().state, SessionState::Stopped);
    tokio::time::sleep(SLOW_PROVISIONING + QUICK).await;
    assert!(
        !f.dir.path().join("ws/.fake-claude-args").exists(),
        "a stopped session's turn never runs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_while_provisioning_ends_the_waiting_turn_at_once() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let (h, mut rx) = provisioning(&f, "s_slow_interrupt").await;
    let interrupt = h.request(|reply| SessionCommand::Interrupt { reply });
    tokio::time::timeout(QUICK, interrupt)
        .await
        .expect("the interrupt waited for the sandbox")
        .unwrap();
    tokio::time::timeout(QUICK, next_result(&mut rx, TurnStatus::Interrupted))
        .await
        .expect("the turn's result waited for the sandbox");
    // The sandbox is kept for the next message, which runs.
    next_state(&mut rx, SessionState::Idle).await;
    message(&h, "again").await.unwrap();
    next_result(&mut rx, TurnStatus::Success).await;
    let args = std::fs::read_to_string(f.dir.path().join("ws/.fake-claude-args")).unwrap();
    assert_eq!(
        args.lines().count(),
        1,
        "only the second message ran: {args}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_after_the_agent_gave_its_result_adds_no_second_one() {
    let f = Fixture::new("{}");
    // An agent that answers, then takes its time to exit.
    std::fs::write(
        f.dir.path().join("fake-claude"),
        "#!/bin/sh\necho '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\",\"session_id\":\"c1\"}'\nsleep 5\n",
    )
    .unwrap();
    let h = f.session("s_lingering", Arc::new(HostEnvironment)).await;
    let mut rx = h.events.subscribe();
    message(&h, "hello").await.unwrap();
    next_event(&mut rx, |e| matches!(e, StreamEvent::Result { .. })).await;
    h.request(|reply| SessionCommand::Stop {
        reason: StateReason::StoppedByClient,
        reply,
    })
    .await
    .unwrap();
    let (_, stopped) = next_event(&mut rx, |e| {
        matches!(
            e,
            StreamEvent::Result { .. }
                | StreamEvent::StateChanged {
                    to: SessionState::Stopped,
                    ..
                }
        )
    })
    .await;
    assert!(
        matches!(stopped, StreamEvent::StateChanged { .. }),
        "one result per turn, not {stopped:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_while_provisioning_ends_the_waiting_turn_as_a_restart() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let (h, mut rx) = provisioning(&f, "s_slow_shutdown").await;
    h.request(|reply| SessionCommand::ServerStopping { reply })
        .await
        .unwrap();
    let (_, result) = next_event(&mut rx, |e| matches!(e, StreamEvent::Result { .. })).await;
    assert!(
        matches!(
            &result,
            StreamEvent::Result {
                status: TurnStatus::Interrupted,
                error: Some(e),
                ..
            } if e == RESTART_ERROR
        ),
        "{result:?}"
    );
}

#[test]
fn a_turn_the_shutdown_interrupted_is_not_blamed_on_the_user() {
    let mut marker = StreamEvent::Notice {
        kind: "interrupted".into(),
        text: "Request interrupted by user".into(),
        timestamp: None,
    };
    label_server_stop(&mut marker);
    assert!(
        matches!(&marker, StreamEvent::Notice { kind, text, .. }
            if kind == SERVER_STOPPED && !text.contains("user")),
        "{marker:?}"
    );
    // The agent's own end of the interrupted turn (Claude Code says "error_during_execution").
    let mut end = StreamEvent::turn_ended(TurnStatus::Error, Some("error_during_execution".into()));
    label_server_stop(&mut end);
    assert_eq!(
        end,
        StreamEvent::turn_ended(TurnStatus::Interrupted, Some(RESTART_ERROR.into()))
    );
    // A turn that had already succeeded stays so.
    let mut done = StreamEvent::turn_ended(TurnStatus::Success, None);
    label_server_stop(&mut done);
    assert_eq!(done, StreamEvent::turn_ended(TurnStatus::Success, None));
}

/// The host backend with limits of its own, as Modal's: its sandboxes end after `idle` without
/// a process, and each lives the next of `lifetimes` (in the order they are made).
struct LimitedEnvironment {
    idle: Option<Duration>,
    lifetimes: std::sync::Mutex<VecDeque<Duration>>,
    made: AtomicUsize,
    ended: Arc<AtomicUsize>,
    /// Its sandboxes panic when asked to run a process, as a defect in a backend would.
    panic_on_exec: bool,
    /// Its sandboxes answer that they have ended when asked to run a process.
    gone_on_exec: bool,
    /// How often its sandboxes want to be asked whether they run, and the answer.
    health_check: Option<Duration>,
    alive: Arc<std::sync::atomic::AtomicBool>,
}

impl LimitedEnvironment {
    fn new(idle: Option<Duration>, lifetimes: &[Duration]) -> Arc<LimitedEnvironment> {
        Arc::new(LimitedEnvironment {
            idle,
            lifetimes: std::sync::Mutex::new(lifetimes.iter().copied().collect()),
            made: AtomicUsize::new(0),
            ended: Arc::new(AtomicUsize::new(0)),
            panic_on_exec: false,
            gone_on_exec: false,
            health_check: None,
            alive: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        })
    }
}

#[async_trait]
impl ExecutionEnvironment for LimitedEnvironment {
    fn kind(&self) -> SandboxKind {
        SandboxKind::Host
    }
    async fn create(&self, spec: SandboxSpec) -> Result<Box<dyn Sandbox>, EnvError> {
        self.made.fetch_add(1, Ordering::SeqCst);
        let lifetime = self.lifetimes.lock().unwrap().pop_front();
        Ok(Box::new(Limited {
            inner: HostEnvironment.create(spec).await?,
            idle: self.idle,
            ends_at: lifetime.map(|l| Instant::now() + l),
            ended: self.ended.clone(),
            panic_on_exec: self.panic_on_exec,
            gone_on_exec: self.gone_on_exec,
            health_check: self.health_check,
            alive: self.alive.clone(),
        }))
    }
}

struct Limited {
    inner: Box<dyn Sandbox>,
    idle: Option<Duration>,
    ends_at: Option<Instant>,
    ended: Arc<AtomicUsize>,
    panic_on_exec: bool,
    gone_on_exec: bool,
    health_check: Option<Duration>,
    alive: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl Sandbox for Limited {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn workdir(&self) -> &str {
        self.inner.workdir()
    }
    fn home(&self) -> &str {
        self.inner.home()
    }
    async fn exec(
        &self,
        spec: crate::runtime::env::ExecSpec,
    ) -> Result<crate::runtime::env::Process, EnvError> {
        assert!(!self.panic_on_exec, "a backend's defect");
        if self.gone_on_exec {
            return Err(EnvError::Terminated);
        }
        self.inner.exec(spec).await
    }
    async fn write_file(&self, path: &str, data: &[u8]) -> Result<(), EnvError> {
        self.inner.write_file(path, data).await
    }
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, EnvError> {
        self.inner.read_file(path).await
    }
    async fn terminate(&self) -> Result<(), EnvError> {
        self.ended.fetch_add(1, Ordering::SeqCst);
        self.inner.terminate().await
    }
    fn idle_limit(&self) -> Option<Duration> {
        self.idle
    }
    fn ends_at(&self) -> Option<Instant> {
        self.ends_at
    }
    fn health_check(&self) -> Option<Duration> {
        self.health_check
    }
    async fn alive(&self) -> Result<bool, EnvError> {
        Ok(self.alive.load(Ordering::SeqCst))
    }
}

/// The next `sandbox_released` notice's text.
async fn next_release(rx: &mut broadcast::Receiver<SeqEvent>) -> String {
    let (_, notice) = next_event(
        rx,
        |e| matches!(e, StreamEvent::Notice { kind, .. } if kind == SANDBOX_RELEASED),
    )
    .await;
    match notice {
        StreamEvent::Notice { text, .. } => text,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_sandbox_is_released_before_its_backends_own_idle_limit_ends_it() {
    let f = Fixture::new(r#"{"events": 1}"#);
    // No `--idle-timeout` on the server: only the backend's limit of 2 s.
    let env = LimitedEnvironment::new(Some(Duration::from_secs(2)), &[]);
    let h = f.session("s_backend_idle", env.clone()).await;
    let mut rx = h.events.subscribe();
    message(&h, "hello").await.unwrap();
    next_result(&mut rx, TurnStatus::Success).await;
    let idle = Instant::now();
    let text = next_release(&mut rx).await;
    // A quarter of the limit before it: 1.5 s after the turn.
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(1200) && after < Duration::from_millis(1990),
        "released {after:?} after the turn"
    );
    assert!(text.contains("its backend would end it"), "{text}");
    assert_eq!(env.ended.load(Ordering::SeqCst), 1, "the sandbox was ended");
    assert!(
        h.info().sandbox_id.is_none(),
        "the record forgot the sandbox before the notice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_does_not_start_in_a_sandbox_whose_lifetime_ends_before_it_could() {
    let f = Fixture::new(r#"{"events": 1}"#);
    // The first sandbox lives a minute, less than a turn's headroom; the second an hour.
    let env = LimitedEnvironment::new(None, &[Duration::from_secs(60), Duration::from_secs(3600)]);
    let h = f.session("s_lifetime", env.clone()).await;
    let mut rx = h.events.subscribe();
    message(&h, "first").await.unwrap();
    next_result(&mut rx, TurnStatus::Success).await;
    message(&h, "second").await.unwrap();
    let text = next_release(&mut rx).await;
    assert!(text.contains("its lifetime ends within 10m"), "{text}");
    next_result(&mut rx, TurnStatus::Success).await;
    assert_eq!(
        env.made.load(Ordering::SeqCst),
        2,
        "a new sandbox for the turn"
    );
    assert_eq!(env.ended.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_panics_fails_its_turn_and_the_session_lives_on() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let mut env = LimitedEnvironment::new(None, &[]);
    Arc::get_mut(&mut env).unwrap().panic_on_exec = true;
    let h = f.session("s_panic", env).await;
    let mut rx = h.events.subscribe();
    message(&h, "hello").await.unwrap();
    let result = next_result(&mut rx, TurnStatus::Error).await;
    let StreamEvent::Result { error, .. } = result else {
        unreachable!()
    };
    let error = error.unwrap_or_default();
    assert!(
        error.contains("the turn crashed") && error.contains("a backend's defect"),
        "{error}"
    );
    next_state(&mut rx, SessionState::Failed).await;
    // The session's task is still there to answer.
    assert!(h.is_alive());
    let answer = h
        .send(|reply| SessionCommand::Stop {
            reason: StateReason::StoppedByClient,
            reply,
        })
        .await
        .unwrap();
    answer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_moves_to_a_new_sandbox_once_when_its_sandbox_has_ended() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let mut env = LimitedEnvironment::new(None, &[]);
    Arc::get_mut(&mut env).unwrap().gone_on_exec = true;
    let h = f.session("s_gone", env.clone()).await;
    let mut rx = h.events.subscribe();
    message(&h, "hello").await.unwrap();
    // The first sandbox has ended: the message moves to a second, which has ended too.
    let moved = next_release(&mut rx).await;
    assert!(moved.contains("ended on its own"), "{moved}");
    let result = next_result(&mut rx, TurnStatus::Error).await;
    assert!(format!("{result:?}").contains("terminated"), "{result:?}");
    assert_eq!(env.made.load(Ordering::SeqCst), 2, "moved once, not again");
    next_state(&mut rx, SessionState::Failed).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_that_ended_between_turns_is_let_go_with_a_notice() {
    let f = Fixture::new(r#"{"events": 1}"#);
    let mut env = LimitedEnvironment::new(None, &[]);
    Arc::get_mut(&mut env).unwrap().health_check = Some(Duration::from_millis(200));
    let h = f.session("s_health", env.clone()).await;
    let mut rx = h.events.subscribe();
    message(&h, "hello").await.unwrap();
    next_result(&mut rx, TurnStatus::Success).await;
    // Asked every 200 ms and running: kept.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(h.info().sandbox_id.is_some(), "a running sandbox is kept");
    // Its backend ends it.
    env.alive.store(false, Ordering::SeqCst);
    let ended = Instant::now();
    let text = next_release(&mut rx).await;
    assert!(
        text.contains("no longer running") && text.contains("the next message"),
        "{text}"
    );
    assert!(
        ended.elapsed() < Duration::from_secs(2),
        "{:?}",
        ended.elapsed()
    );
    assert!(h.info().sandbox_id.is_none());
    // The next message gets a new one.
    env.alive.store(true, Ordering::SeqCst);
    message(&h, "again").await.unwrap();
    next_result(&mut rx, TurnStatus::Success).await;
    assert_eq!(env.made.load(Ordering::SeqCst), 2);
}
