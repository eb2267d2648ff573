//! Which store a server keeps its record in: `--store`, `AISYS_STORE` or `store` in the
//! `[server]` table of config.toml; the SQLite file in the data folder unless one of them says
//! `postgres://...`.
//!
//! Must not open anything while parsing: a bad value is refused before the server starts.

use std::path::Path;
use std::sync::Arc;

use super::{PostgresStore, SqliteStore, Store, StoreError};

/// Where a server's sessions and events are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// The SQLite file (with its journal) in the data folder: nothing to set up.
    #[default]
    Sqlite,
    /// A PostgreSQL database, by its connection URL.
    Postgres(String),
}

impl StoreChoice {
    /// Reads a `--store` value: `sqlite`, or a `postgres://` (or `postgresql://`) URL.
    pub fn parse(value: &str) -> Result<StoreChoice, StoreError> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("sqlite") {
            return Ok(StoreChoice::Sqlite);
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            // Checked now, so that a typo fails before anything starts.
            super::pg_tls::parse(value).map_err(|e| StoreError::Choice {
                value: super::postgres::redact(value),
                why: format!(
                    "not a PostgreSQL URL ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                ),
            })?;
            return Ok(StoreChoice::Postgres(value.to_string()));
        }
        Err(StoreError::Choice {
            value: super::postgres::redact(value),
            why: "expected `sqlite` (the default) or a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL".into(),
        })
    }

    /// Opens the chosen store; `sqlite_file` is where the SQLite store lives.
    pub async fn open(&self, sqlite_file: &Path) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            StoreChoice::Sqlite => Arc::new(SqliteStore::open(sqlite_file)?),
            StoreChoice::Postgres(url) => Arc::new(PostgresStore::open(url).await?),
        })
    }

    /// How the store is named to the operator (a URL's password hidden).
    pub fn describe(&self, sqlite_file: &Path) -> String {
        match self {
            StoreChoice::Sqlite => format!("SQLite {}", sqlite_file.display()),
            StoreChoice::Postgres(url) => format!("PostgreSQL {}", super::postgres::redact(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_or_a_postgres_url_and_nothing_else() {
        assert_eq!(StoreChoice::parse("sqlite").unwrap(), StoreChoice::Sqlite);
        assert_eq!(
            StoreChoice::parse("postgres://u:p@db:5432/aisys").unwrap(),
            StoreChoice::Postgres("postgres://u:p@db:5432/aisys".into())
        );
        assert!(matches!(
            StoreChoice::parse("postgresql://db/aisys").unwrap(),
            StoreChoice::Postgres(_)
        ));
        let err = StoreChoice::parse("mysql://u:secret@db/aisys")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--store mysql://u:***@db/aisys"), "{err}");
        assert!(err.contains("postgres://USER"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let err = StoreChoice::parse("postgres://u:secret@db:notaport/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a PostgreSQL URL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(StoreChoice::parse("postgres://db/x?sslmode=require").is_ok());
        let err = StoreChoice::parse("postgres://db/x?sslrootcert=/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sslmode=require"), "{err}");
    }
}
