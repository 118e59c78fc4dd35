//! PostgreSQL access: the embedded migrations, the pool, and what database errors mean.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::config::DatabaseConfig;
use crate::error::FieldErrors;

/// The schema in `migrations/`, compiled into every binary that needs it.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A pool that connects on first use, so a Lambda instance starts without waiting for the
/// database and recovers by itself when the database comes back after an outage.
pub fn pool(config: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .max_connections(config.pool.max_connections)
        .min_connections(0)
        .acquire_timeout(config.pool.acquire_timeout)
        .idle_timeout(config.pool.idle_timeout)
        .test_before_acquire(true)
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
