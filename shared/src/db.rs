//! PostgreSQL access: the embedded migrations, the pool, and what database errors mean.

mod handle;

pub use handle::Db;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

use crate::config::DatabaseConfig;

/// The schema in `migrations/`, compiled into every binary that needs it (`build.rs` rebuilds
/// them when a migration changes).
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The migrator a deploy runs: like `MIGRATOR`, but it tolerates applied migrations it does not
/// know, so deploying an earlier release (a rollback) after a newer one migrated still works.
/// Migrations only ever add to the schema, so the older code runs on the newer schema.
pub fn deploy_migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../migrations");
    migrator.set_ignore_missing(true);
    migrator
}

/// A connection idle for longer than this is pinged before use; a busier one is trusted.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);
/// After the database failed a request, every connection is pinged before use for this long.
const DISTRUST_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// When the database last failed a request, as milliseconds since `EPOCH` (0: never).
static LAST_FAILURE_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_ms() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Records that the database just failed a request, so pooled connections, which may be dead
/// (a restarted server leaves them open on our side), are checked before their next use.
pub fn note_failure() {
    LAST_FAILURE_MS.store(now_ms(), Ordering::Relaxed);
}

fn failed_recently() -> bool {
    let last = LAST_FAILURE_MS.load(Ordering::Relaxed);
    last != 0 && now_ms().saturating_sub(last) < DISTRUST_AFTER_FAILURE.as_millis() as u64
}

/// A pool that connects on first use, so a Lambda instance starts without waiting for the
/// database and recovers by itself when the database comes back after an outage.
///
/// sqlx's own `test_before_acquire` pings before every use: a second round trip per request.
/// Instead, a connection is pinged only when it sat idle (between bursts, or while the instance
/// was frozen) or shortly after the database failed a request; a dead one is then replaced
/// before a request sees it.
pub fn pool(config: &DatabaseConfig) -> PgPool {
    PgPoolOptions::new()
        .max_connections(config.pool.max_connections)
        .min_connections(0)
        .acquire_timeout(config.pool.acquire_timeout)
        .idle_timeout(config.pool.idle_timeout)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE || failed_recently() {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(config.connect.clone())
}

/// A store operation that failed: its name (`tasks.create`, ...) and the database's error.
/// A 500 logs both, so the log says which statement failed and why.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed")]
pub struct StoreError {
    pub operation: &'static str,
    #[source]
    pub source: sqlx::Error,
}

/// Names the operation a database result belongs to.
pub trait Operation<T> {
    fn during(self, operation: &'static str) -> Result<T, StoreError>;
}

impl<T> Operation<T> for Result<T, sqlx::Error> {
    fn during(self, operation: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError { operation, source })
    }
}

/// `select 1`: whether the database answers.
pub async fn ping(db: &Db) -> Result<(), StoreError> {
    sqlx::query_scalar!("select 1 as one")
        .fetch_one(db)
        .await
        .during("db.ping")?;
    Ok(())
}

/// What the violation of a named constraint means to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// 409: a value that must be unique is taken.
    Taken {
        field: &'static str,
        message: &'static str,
    },
    /// 422: the field names something the caller may not use, or a change the rules forbid.
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    /// 401: the row's owner (the token's user) no longer exists.
    OwnerGone,
    /// 409: the row is in use and cannot change now.
    InUse { message: &'static str },
}

/// Every constraint whose violation is the client's doing, by the name the migrations give it.
/// Any other violation is a bug and answers 500.
pub const CONSTRAINTS: &[(&str, Violation)] = &[
    (
        "users_username_unique",
        Violation::Taken {
            field: "username",
            message: "is already taken",
        },
    ),
    (
        "users_email_unique",
        Violation::Taken {
            field: "email",
            message: "is already registered",
        },
    ),
    (
        "agents_owner_name_unique",
        Violation::Taken {
            field: "name",
            message: "is already the name of another of your agents",
        },
    ),
    (
        "tasks_agent_owned_by_owner",
        Violation::Invalid {
            field: "agent_id",
            message: "is not one of your agents",
        },
    ),
    (
        "tasks_status_transition",
        Violation::Invalid {
            field: "status",
            message: "cannot follow the task's current status (completed and cancelled \
                      tasks are final, a pending task cannot fail, a failed task cannot \
                      complete)",
        },
    ),
    (
        "task_steps_status_transition",
        Violation::Invalid {
            field: "status",
            message: "cannot follow the step's current status (completed and cancelled steps \
                      are final, a pending step cannot fail, a failed step cannot complete)",
        },
    ),
    (
        "tasks_documents_budget",
        Violation::Invalid {
            field: "documents",
            message: "together, the task's input and result and its steps' inputs and outputs \
                      would pass 5 MiB (as a response carries them); a task read with its steps \
                      must fit in one response",
        },
    ),
    (
        "agents_task_in_progress",
        Violation::InUse {
            message: "a task of this agent is in progress; finish or cancel it first",
        },
    ),
    ("tasks_owner_fk", Violation::OwnerGone),
    ("agents_owner_fk", Violation::OwnerGone),
];

/// What a constraint violation means, when it is one of `CONSTRAINTS`.
pub fn violation(err: &sqlx::Error) -> Option<Violation> {
    let db_err = err.as_database_error()?;
    // Class 23: integrity constraint violation.
    if !db_err.code().is_some_and(|code| code.starts_with("23")) {
        return None;
    }
    let constraint = db_err.constraint()?;
    CONSTRAINTS
        .iter()
        .find(|(name, _)| *name == constraint)
        .map(|(_, violation)| *violation)
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
