//! The per-account failure count and lock, kept in the users table.

use std::time::Duration;

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Consecutive failures allowed before the account starts refusing attempts.
pub const FREE_FAILURES: i32 = 5;
/// The longest an account refuses attempts: an attacker cannot lock a user out for longer.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);

/// What login needs to know about an account.
#[derive(sqlx::FromRow)]
pub struct Account {
    pub id: Uuid,
    pub password_hash: String,
    /// Whole seconds until the account accepts attempts again; 0 when it does now.
    locked_for_secs: i64,
}

impl Account {
    pub fn retry_after_secs(&self) -> Option<u64> {
        u64::try_from(self.locked_for_secs)
            .ok()
            .filter(|secs| *secs > 0)
    }
}

/// The account whose username (ignoring case) or email is `login`.
pub async fn find_account(db: &PgPool, login: &str) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as(
        "select id, password_hash, \
                coalesce(ceil(extract(epoch from locked_until - now())), 0)::bigint as locked_for_secs \
         from users \
         where lower(username) = lower($1) or email = lower($1)",
    )
    .bind(login)
    .fetch_optional(db)
    .await
}

/// Counts a failure and, from the `FREE_FAILURES`th on, locks the account for
/// 2^(failures - FREE_FAILURES) seconds, capped at `MAX_LOCK`. Returns the new count.
pub async fn record_failure(db: impl PgExecutor<'_>, id: Uuid) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "update users set \
            failed_login_count = failed_login_count + 1, \
            locked_until = case when failed_login_count + 1 >= $2 \
                then now() + make_interval(secs => least(power(2, least(failed_login_count + 1 - $2, 20)), $3)) \
                else locked_until end \
         where id = $1 \
         returning failed_login_count",
    )
    .bind(id)
    .bind(FREE_FAILURES)
    .bind(MAX_LOCK.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Clears the failure count and any lock.
pub async fn record_success(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update users set failed_login_count = 0, locked_until = null \
         where id = $1 and (failed_login_count <> 0 or locked_until is not null)",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}
