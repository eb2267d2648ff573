//! The PostgreSQL store (`aisys serve --store postgres://...`): sessions and events in tables of
//! a PostgreSQL database, for a record kept off the server's machine.
//!
//! Appends are gathered into rounds ([`super::pg_batch`]), each one statement, so one round trip
//! and one transaction: it inserts each session's events as one row of `aisys_event_chunks`,
//! numbered by this store from the last seq it committed for the session, and saves the sessions'
//! metadata when asked. The table itself keeps the numbering whole, whichever connection or
//! server writes: a chunk goes in only right after the session's last one, and its first seq is
//! unique per session, so a writer that numbered from a stale seq fails and numbers again from
//! the table. A failed round writes nothing. `append` returns after the commit, so what a caller
//! broadcasts is already durable and visible to every reader.
//!
//! The schema is versioned in `aisys_schema`; migrations run in order under an advisory lock,
//! so servers starting together migrate once. Several servers may share a database: each round
//! announces which sessions have new events as it commits ([`announce`]), and the tables of
//! the second migration (leases, routed requests) are the cluster's (`server::cluster`).
//!
//! Must not know about connections or agents: it stores and reads.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use super::{EncodedEvent, Store, StoreError, chunk};
use crate::server::metrics::StoreQueues;
use crate::types::SessionInfo;

/// Connections a server keeps to PostgreSQL: appends of different sessions run side by side,
/// one per connection, and a few more serve the reads of clients attaching meanwhile.
const POOL_SIZE: usize = 16;
/// How long a request waits for a free connection before failing, rather than hanging a
/// client when the database is overloaded or unreachable.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long opening a connection may take (unless the URL says `connect_timeout`): a
/// database that does not answer fails the start of the server instead of stalling it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connection option that keeps one plan per prepared statement (see where it is set).
const GENERIC_PLANS: &str = "-c plan_cache_mode=force_generic_plan";
/// Advisory-lock key under which migrations run (any fixed number: it names aisys's lock).
const MIGRATION_LOCK: i64 = 0x6169_7379_735f_6d69; // "aisys_mi"

/// Schema migrations, applied in order; `aisys_schema.version` records how many ran.
pub const MIGRATIONS: &[&str] = &[
    // 1: sessions, their events, and each session's newest seq.
    "CREATE TABLE aisys_sessions (
        id TEXT PRIMARY KEY,
        info JSONB NOT NULL
     );
     CREATE TABLE aisys_seqs (
        session_id TEXT PRIMARY KEY,
        last_seq BIGINT NOT NULL
     );
     CREATE TABLE aisys_events (
        session_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
     );",
    // 2: servers sharing the database: who runs each session's turns (a lease that expires
    // unless renewed), and requests sent to that server by the others, with their answers.
    "CREATE TABLE aisys_leases (
        session_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
     );
     CREATE INDEX aisys_leases_owner ON aisys_leases (owner);
     CREATE TABLE aisys_requests (
        id BIGINT PRIMARY KEY,
        session_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        origin TEXT NOT NULL,
        body TEXT NOT NULL,
        claimed BOOLEAN NOT NULL DEFAULT false,
        reply TEXT,
        made_at TIMESTAMPTZ NOT NULL DEFAULT now()
     );
     CREATE INDEX aisys_requests_owner ON aisys_requests (owner) WHERE NOT claimed;",
    // 3: events in chunks (a session's events of one append round, one JSON text per line; see
    // `store::chunk`) instead of a row per event: a round inserts a row per session.
    "CREATE TABLE aisys_event_chunks (
        session_id TEXT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (session_id, last_seq)
     );
     INSERT INTO aisys_event_chunks (session_id, first_seq, last_seq, body)
        SELECT session_id, seq, seq, json FROM aisys_events;
     DROP TABLE aisys_events;",
    // 4: each store numbers a session's events itself (see `pg_batch`): a chunk's first seq is
    // unique per session too, so two writers numbering from the same seq cannot both commit,
    // and the counter row per session goes.
    "CREATE UNIQUE INDEX aisys_event_chunks_first ON aisys_event_chunks (session_id, first_seq);
     DROP TABLE aisys_seqs;",
];

/// Sessions and events in a PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    /// The URL without its password, to name the database in errors.
    url: String,
    /// The connection settings, for connections outside the pool (a server's `LISTEN`).
    config: tokio_postgres::Config,
    /// How every connection makes its TLS, when the URL asks for it.
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Appends gathered into rounds of one statement each.
    rounds: super::pg_batch::Rounds,
    /// The rounds' queue depth and timings, for `/metrics`.
    queues: Arc<StoreQueues>,
}

/// `url` with any password replaced by `***`, fit for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The text of a driver error with its causes (the driver's own text is only the kind).
pub(crate) fn pg_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl PostgresStore {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = redact(url);
        let err = |message: String| StoreError::Backend {
            store: shown.clone(),
            message,
        };
        let parsed = super::pg_tls::parse(url).map_err(|why| StoreError::Choice {
            value: shown.clone(),
            why: format!("{why} (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)"),
        })?;
        let tls = super::pg_tls::connector(&parsed).map_err(|why| StoreError::Choice {
            value: shown.clone(),
            why,
        })?;
        let mut config = parsed.config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("aisys serve");
        }
        // The store's statements are prepared once per connection; with the default plan cache
        // mode PostgreSQL plans an append round's statement again at every execution (its
        // arrays' values make each custom plan look cheaper), which was a fifth of its CPU.
        let options = match config.get_options() {
            Some(o) => format!("{o} {GENERIC_PLANS}"),
            None => GENERIC_PLANS.to_string(),
        };
        config.options(options);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let queues = Arc::new(StoreQueues::default());
        let store = PostgresStore {
            rounds: super::pg_batch::Rounds::start(pool.clone(), queues.clone()),
            queues,
            pool,
            url: shown.clone(),
            config,
            tls,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for the cluster's own tables.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The connection settings, for a connection of its own (one that `LISTEN`s).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS connector, for a connection of its own.
    pub(crate) fn tls(&self) -> &tokio_postgres_rustls::MakeRustlsConnect {
        &self.tls
    }

    /// From now on, as server `owner` among those sharing the database: appends to a session
    /// whose lease another server holds are refused.
    pub(crate) fn fence(&self, owner: &str) {
        self.rounds.fence(owner);
    }

    /// The database's URL without its password.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn err(&self, message: String) -> StoreError {
        StoreError::Backend {
            store: self.url.clone(),
            message,
        }
    }

    fn db(&self, e: tokio_postgres::Error) -> StoreError {
        self.err(pg_text(&e))
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => {
                self.err(format!("cannot connect: {}", pg_text(&e)))
            }
            other => self.err(format!("no free connection: {other}")),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.db(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.db(e))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS aisys_schema (version INTEGER NOT NULL)")
            .await
            .map_err(|e| self.db(e))?;
        let found: Option<i32> = tx
            .query_opt("SELECT version FROM aisys_schema", &[])
            .await
            .map_err(|e| self.db(e))?
            .map(|r| r.get(0));
        let version = match found {
            Some(v) => v,
            None => {
                tx.execute("INSERT INTO aisys_schema (version) VALUES (0)", &[])
                    .await
                    .map_err(|e| self.db(e))?;
                0
            }
        };
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                store: self.url.clone(),
                found: version as i64,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(sql).await.map_err(|e| self.db(e))?;
            tx.execute("UPDATE aisys_schema SET version = $1", &[&(i as i32 + 1)])
                .await
                .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    async fn append_with(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
        info: Option<&SessionInfo>,
    ) -> Result<u64, StoreError> {
        if events.is_empty() {
            return match info {
                Some(i) => {
                    let mut i = i.clone();
                    i.last_seq = self.last_seq(session_id).await?;
                    self.put_session(&i).await?;
                    Ok(i.last_seq + 1)
                }
                None => Ok(self.last_seq(session_id).await? + 1),
            };
        }
        let n = events.len() as u64;
        let info = info.map(serde_json::to_string).transpose()?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending = super::pg_batch::Pending {
            session_id: session_id.to_string(),
            events,
            info,
            reply,
        };
        if self.rounds.append(pending).await.is_err() {
            return Err(StoreError::WriterGone);
        }
        let last = answer
            .await
            .map_err(|_| StoreError::WriterGone)?
            .map_err(|e| self.err(e))?;
        Ok(last - n + 1)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn put_session(&self, info: &SessionInfo) -> Result<(), StoreError> {
        let json = serde_json::to_string(info)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO aisys_sessions (id, info) VALUES ($1, $2::text::jsonb)
                 ON CONFLICT (id) DO UPDATE SET info = excluded.info",
            )
            .await
            .map_err(|e| self.db(e))?;
        client
            .execute(&stmt, &[&info.id.as_str(), &json])
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionInfo>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT info::text FROM aisys_sessions WHERE id = $1")
            .await
            .map_err(|e| self.db(e))?;
        let row = client
            .query_opt(&stmt, &[&id])
            .await
            .map_err(|e| self.db(e))?;
        Ok(row
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)))
            .transpose()?)
    }

    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT info::text FROM aisys_sessions")
            .await
            .map_err(|e| self.db(e))?;
        let rows = client.query(&stmt, &[]).await.map_err(|e| self.db(e))?;
        let mut out = rows
            .iter()
            .map(|r| serde_json::from_str::<SessionInfo>(r.get::<_, &str>(0)))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|s| std::cmp::Reverse(s.last_activity));
        Ok(out)
    }

    async fn count_sessions(&self) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM aisys_sessions", &[])
            .await
            .map_err(|e| self.db(e))?
            .get(0);
        Ok(n as usize)
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        // The session's task has stopped (the manager stops it first): no append of this
        // server's is under way.
        self.rounds.forget(id);
        let tx = client.transaction().await.map_err(|e| self.db(e))?;
        tx.execute(
            "DELETE FROM aisys_event_chunks WHERE session_id = $1",
            &[&id],
        )
        .await
        .map_err(|e| self.db(e))?;
        let existed = tx
            .execute("DELETE FROM aisys_sessions WHERE id = $1", &[&id])
            .await
            .map_err(|e| self.db(e))?
            > 0;
        tx.execute("DELETE FROM aisys_leases WHERE session_id = $1", &[&id])
            .await
            .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(existed)
    }

    async fn append(
        &self,
        session_id: &str,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        self.append_with(session_id, events, None).await
    }

    async fn append_and_save(
        &self,
        info: &SessionInfo,
        events: Vec<Arc<EncodedEvent>>,
    ) -> Result<u64, StoreError> {
        self.append_with(&info.id, events, Some(info)).await
    }

    async fn events_after(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EncodedEvent)>, StoreError> {
        // Seqs are stored as i64: a larger `after_seq` is past every event, not a negative one.
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit_rows = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        // Each chunk holds one event at least: `limit` chunks hold enough.
        let stmt = client
            .prepare_cached(
                "SELECT first_seq, last_seq, body FROM aisys_event_chunks
                 WHERE session_id = $1 AND last_seq > $2 ORDER BY last_seq LIMIT $3",
            )
            .await
            .map_err(|e| self.db(e))?;
        let rows = client
            .query(&stmt, &[&session_id, &after, &limit_rows])
            .await
            .map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for r in &rows {
            let chunk_row = (r.get(0), r.get(1), r.get::<_, &str>(2));
            chunk::read_after(&mut out, session_id, chunk_row, after_seq, limit)?;
        }
        Ok(out)
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT last_seq FROM aisys_event_chunks WHERE session_id = $1
                 ORDER BY last_seq DESC LIMIT 1",
            )
            .await
            .map_err(|e| self.db(e))?;
        let row = client
            .query_opt(&stmt, &[&session_id])
            .await
            .map_err(|e| self.db(e))?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64).unwrap_or(0))
    }

    fn queues(&self) -> Option<&StoreQueues> {
        Some(&self.queues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redact("postgres://me:secret@db:5432/aisys"),
            "postgres://me:***@db:5432/aisys"
        );
        assert_eq!(redact("postgres://me@db/aisys"), "postgres://me@db/aisys");
        assert_eq!(redact("postgres://db/aisys"), "postgres://db/aisys");
    }
}
