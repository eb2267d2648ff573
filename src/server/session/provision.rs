//! Making a session's sandbox, which takes seconds on Modal, as a task of its own: the session
//! answers its clients (stop, interrupt, other messages) while it runs, and a sandbox that is
//! ready after its session stopped is terminated, never left running.
//!
//! Must not wait for the sandbox inside a session's command handling.

use futures_util::FutureExt;

use super::*;
use crate::runtime::env::SESSION_TAG;
use crate::runtime::launch;

impl AgentSession {
    /// Starts the turn of `text`: at once when the session has its sandbox, else once
    /// provisioning (started here) has made it.
    pub(super) async fn start_turn(&mut self, text: String) -> Option<RunningTurn> {
        if matches!(
            self.info.state,
            SessionState::Stopped | SessionState::Failed
        ) {
            self.set_state(SessionState::Provisioning, Some(StateReason::Resuming))
                .await;
        }
        if let Some(sb) = &self.sandbox {
            if !super::release::near_its_end(&**sb) {
                return self.start_agent(text).await;
            }
            self.release_sandbox(super::Release::Lifetime).await;
        }
        if self.info.state == SessionState::Idle {
            self.set_state(SessionState::Provisioning, None).await;
        }
        let task = tokio::spawn(make_sandbox(self.ctx.clone(), self.info.clone()));
        self.provisioning = Some(Provisioning {
            task,
            prompt: Some(text),
        });
        None
    }

    /// Takes the sandbox provisioning made (or reports why there is none), then starts the turn
    /// that waited for it, if it still should run.
    pub(super) async fn sandbox_ready(
        &mut self,
        made: Result<Made, String>,
        prompt: Option<String>,
    ) -> Option<RunningTurn> {
        let sandbox = match made {
            Ok(made) => {
                self.info.profile_resolved_at = Some(made.resolved_at);
                self.profile = made.profile;
                made.sandbox
            }
            Err(message) => {
                let mut events = vec![StreamEvent::Error {
                    message: message.clone(),
                    code: Some("provisioning_failed".into()),
                    timestamp: Some(rfc3339(now())),
                }];
                if prompt.is_some() {
                    events.push(StreamEvent::turn_ended(
                        TurnStatus::Error,
                        Some(message.clone()),
                    ));
                }
                self.emit(events).await;
                self.set_state(SessionState::Failed, Some(StateReason::Failed(message)))
                    .await;
                return None;
            }
        };
        // `make_sandbox` made none without the binary.
        if self.adapter.is_none()
            && let Ok(binary) = self.ctx.agent_binary.clone()
        {
            self.adapter = Some(adapter(self.info.agent, binary));
        }
        self.info.sandbox_id = Some(sandbox.id().to_string());
        self.save_info().await;
        self.watching = Watching::start(&*sandbox, &self.info.id, self.notices.clone()).await;
        self.sandbox = Some(Arc::from(sandbox));
        self.set_state(SessionState::Idle, None).await;
        self.start_agent(prompt?).await
    }

    /// Provisioning no longer wanted (the session stops): the sandbox it makes is terminated
    /// when it is ready.
    pub(super) async fn abandon_provisioning(&mut self) {
        if let Some(p) = self.provisioning.take() {
            tokio::spawn(async move {
                if let Ok(Ok(made)) = p.task.await {
                    let _ = made.sandbox.terminate().await;
                }
            });
        }
    }

    /// Starts the agent on `text` in the session's sandbox.
    async fn start_agent(&mut self, text: String) -> Option<RunningTurn> {
        let sandbox = self.sandbox.clone()?;
        let mut adapter = self.adapter.take()?;
        // A turn run again on a fresh conversation is still running.
        if self.info.state != SessionState::Running {
            self.set_state(SessionState::Running, None).await;
        }
        let resumed = self.info.agent_session_id.clone();
        let mut options = AgentOptions {
            model: self.info.model.clone(),
            permission_mode: Some(self.info.permission_mode),
            resume: self.info.agent_session_id.clone(),
            base_url: self.ctx.sandbox_env.get("ANTHROPIC_BASE_URL").cloned(),
            // Clients watch sessions: text appears as it is written.
            partial_messages: true,
            ..Default::default()
        };
        self.profile.apply(&mut options, self.info.agent);
        let (ev_tx, ev_rx) = turn_events::channel(TURN_EVENT_QUEUE);
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let turn = Turn {
            prompt: text.clone(),
            options,
            timeout: None,
        };
        let run = async move {
            let res = run_turn(&*sandbox, &mut *adapter, turn, ev_tx, ctl_rx).await;
            (adapter, res)
        };
        // A panic in the runner ends the turn, not the session.
        let done = Box::pin(
            std::panic::AssertUnwindSafe(run)
                .catch_unwind()
                .map(|r| r.map_err(|panic| panic_text(&*panic))),
        );
        Some(RunningTurn {
            events: ev_rx,
            control: ctl_tx,
            done,
            started: Instant::now(),
            pending: Vec::new(),
            prompt: text,
            resumed,
            resume_not_found: false,
            has_result: false,
            stopped_by_server: false,
            queued: QueuedEvents::new(self.ctx.metrics.clone()),
        })
    }
}

/// The next result of provisioning, if any runs.
pub(super) async fn provisioned(provisioning: &mut Option<Provisioning>) -> Result<Made, String> {
    match provisioning {
        Some(p) => (&mut p.task)
            .await
            .unwrap_or_else(|e| Err(format!("provisioning crashed: {e}"))),
        None => std::future::pending().await,
    }
}

/// A sandbox made for a session, with its agent profile in place.
pub(super) struct Made {
    pub sandbox: Box<dyn Sandbox>,
    /// What the agent's options take of the profile.
    pub profile: crate::profile::Materialized,
    /// When the profile was resolved.
    pub resolved_at: jiff::Timestamp,
}

/// Makes (or, after a crash of the server, finds again) the sandbox of the session `info`, and
/// places the session's agent profile in its home (resolved afresh: the files may have changed).
async fn make_sandbox(ctx: SessionContext, info: SessionInfo) -> Result<Made, String> {
    let profile_name = ctx.profiles.choose(info.profile.as_deref());
    let resolved = ctx
        .profiles
        .resolve(&profile_name, std::path::Path::new(&info.workspace))
        .map_err(|e| e.to_string())?;
    let sandbox = find_or_create(&ctx, &info).await?;
    match crate::profile::place(&*sandbox, &resolved, info.agent).await {
        Ok(profile) => Ok(Made {
            sandbox,
            profile,
            resolved_at: resolved.resolved_at,
        }),
        Err(e) => {
            let _ = sandbox.terminate().await;
            Err(e.to_string())
        }
    }
}

/// The session's sandbox: the one it had, if it still runs (after a crash of the server), else a
/// new one.
async fn find_or_create(
    ctx: &SessionContext,
    info: &SessionInfo,
) -> Result<Box<dyn Sandbox>, String> {
    let binary = ctx.agent_binary.clone()?;
    let mut env = ctx.sandbox_env.clone();
    launch::check_credentials(&env).map_err(|e| {
        format!("the server has no model API credentials: start `aisys serve` with them ({e})")
    })?;
    env.remove("AISYS_TOKEN");
    let spec = launch::sandbox_spec(launch::SpecParts {
        workspace: PathBuf::from(&info.workspace),
        home: ctx.home.clone(),
        env,
        network: ctx.network.clone(),
        binary: Some(&binary),
        label: (SESSION_TAG, info.id.to_string()),
        limits: ctx.limits,
    });
    // After a crash of the server, the sandbox it had may still run: use it again.
    let found = match info.sandbox_id.clone() {
        Some(id) => match ctx.environment.attach(&id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("session {}: reattaching sandbox {id}: {e}", info.id);
                None
            }
        },
        None => None,
    };
    match found {
        Some(sb) => Ok(sb),
        None => ctx
            .environment
            .create(spec)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// What a panic said, as the `the turn crashed: ...` message shows it.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => format!("the runner panicked: {s}"),
        (_, Some(s)) => format!("the runner panicked: {s}"),
        _ => "the runner panicked".into(),
    }
}
