//! PostgreSQL access: the embedded migrations, the pool, and what database errors mean.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

use crate::config::DatabaseConfig;
use crate::error::FieldErrors;

/// The schema in `migrations/`, compiled into every binary that needs it.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A connection idle for longer than this is pinged before use; a busier one is trusted.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// A pool that connects on first use, so a Lambda instance starts without waiting for the
/// database and recovers by itself when the database comes back after an outage.
///
/// sqlx's own `test_before_acquire` pings before every use: a second round trip per request.
/// Instead, only a connection that sat idle (between bursts, or while the instance was frozen)
/// is pinged; a dead one is then replaced before the request sees it.
pub fn pool(config: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .max_connections(config.pool.max_connections)
        .min_connections(0)
        .acquire_timeout(config.pool.acquire_timeout)
        .idle_timeout(config.pool.idle_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(config.connect.clone())
}

/// Unique indexes whose violation is the client's doing, with the field and message to report.
const UNIQUE_CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("users_username_unique", "username", "is already taken"),
    ("users_email_unique", "email", "is already registered"),
    (
        "agents_owner_name_unique",
        "name",
        "is already the name of another of your agents",
    ),
];

/// The field errors for a violation of one of the known unique indexes.
pub fn unique_violation(err: &sqlx::Error) -> Option<FieldErrors> {
    let db_err = err.as_database_error()?;
    if !db_err.is_unique_violation() {
        return None;
    }
    let constraint = db_err.constraint()?;
    UNIQUE_CONSTRAINTS
        .iter()
        .find(|(name, _, _)| *name == constraint)
        .map(|(_, field, message)| FieldErrors::single(*field, *message))
}

/// Foreign keys whose violation means the client named something it may not use.
const FOREIGN_KEYS: &[(&str, &str, &str)] = &[(
    "tasks_agent_owned_by_owner",
    "agent_id",
    "is not one of your agents",
)];

/// The field errors for a violation of one of the known foreign keys.
pub fn foreign_key_violation(err: &sqlx::Error) -> Option<FieldErrors> {
    let db_err = err.as_database_error()?;
    if !db_err.is_foreign_key_violation() {
        return None;
    }
    let constraint = db_err.constraint()?;
    FOREIGN_KEYS
        .iter()
        .find(|(name, _, _)| *name == constraint)
        .map(|(_, field, message)| FieldErrors::single(*field, *message))
}

/// True when PostgreSQL refused text it cannot store (a NUL character): the client's doing.
pub fn is_unstorable_text(err: &sqlx::Error) -> bool {
    // 22021: character not in repertoire (NUL in text); 22P05: untranslatable character (\u0000 in jsonb).
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "22021" || code == "22P05")
}

/// True when the error means the database cannot serve requests right now (unreachable,
/// restarting, out of connections, too slow), rather than that the request was wrong.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db_err) => db_err.code().is_some_and(|code| {
            // 08: connection exception; 57P0x: server shutting down or starting;
            // 53300: too many connections; 57014: statement timeout.
            code.starts_with("08") || code.starts_with("57P0") || code == "53300" || code == "57014"
        }),
        _ => false,
    }
}
