//! The per-account failure count and lock of logins, kept in the users table so every Lambda
//! instance sees it. Each outcome is recorded with its audit row in one statement.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::db::{Operation, StoreError};

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
pub async fn find_account(
    db: impl PgExecutor<'_>,
    login: &str,
) -> Result<Option<Account>, StoreError> {
    sqlx::query_as(
        "select id, password_hash, \
                coalesce(ceil(extract(epoch from locked_until - now())), 0)::bigint as locked_for_secs \
         from users \
         where lower(username) = lower($1) or email = lower($1)",
    )
    .bind(login)
    .fetch_optional(db)
    .await
    .during("throttle.find_account")
}

/// Counts a wrong password and, from the `FREE_FAILURES`th on, locks the account for
/// 2^(failures - FREE_FAILURES) seconds, capped at `MAX_LOCK`; writes the
/// `auth.login_failure` audit row. Returns the new count.
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    id: Uuid,
    audit_metadata: &Value,
) -> Result<i32, StoreError> {
    sqlx::query_scalar(
        "with counted as ( \
             update users set \
                 failed_login_count = failed_login_count + 1, \
                 locked_until = case when failed_login_count + 1 >= $2 \
                     then now() + make_interval(secs => least(power(2, least(failed_login_count + 1 - $2, 20)), $3)) \
                     else locked_until end \
             where id = $1 \
             returning id, failed_login_count), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select null, 'auth.login_failure', 'user', id, \
                    $4::jsonb || jsonb_build_object('reason', 'wrong_password', \
                                                    'consecutive_failures', failed_login_count) \
             from counted) \
         select failed_login_count from counted",
    )
    .bind(id)
    .bind(FREE_FAILURES)
    .bind(MAX_LOCK.as_secs_f64())
    .bind(audit_metadata)
    .fetch_one(db)
    .await
    .during("throttle.record_failure")
}

/// Clears the failure count and any lock, and writes the `auth.login_success` audit row.
pub async fn record_success(
    db: impl PgExecutor<'_>,
    id: Uuid,
    audit_metadata: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "with cleared as ( \
             update users set failed_login_count = 0, locked_until = null \
             where id = $1 and (failed_login_count <> 0 or locked_until is not null)) \
         insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
         values ($1, 'auth.login_success', 'user', $1, $2)",
    )
    .bind(id)
    .bind(audit_metadata)
    .execute(db)
    .await
    .during("throttle.record_success")?;
    Ok(())
}
