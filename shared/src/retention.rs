//! Retention: every table that grows with use is pruned of what can no longer matter, by the
//! scheduled `maintenance` function, each statement deleting at most `batch_rows` rows so that no
//! run holds long locks or outlives its function. What is kept, and for how long:
//!
//! | rows | deleted when |
//! | --- | --- |
//! | `refresh_tokens` | their session has ended (revoked or expired): none can be used again |
//! | `sessions` | ended or expired for `SESSION_RETENTION_DAYS` (30) |
//! | `login_throttles` | unlocked, with no attempt for the lockdown's quiet period (24 h) |
//! | `login_name_failures` | no failure for the lockdown's quiet period (24 h) |
//! | `login_address_budgets` | their 10-minute window is over |
//! | `register_address_budgets` | their hour is over |
//! | `login_known_addresses` | no login from there for the known-address window (30 days) |
//! | `audit_logs` | only with `AUDIT_RETENTION_DAYS` set (migrate's policy; `prune_audit_logs`) |

use std::time::{Duration, Instant};

use crate::config::{RetentionConfig, ThrottleConfig};
use crate::db::{Db, Operation, StoreError};

/// How many rows of one kind a run deleted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub kind: &'static str,
    pub rows: u64,
}

/// The tables retention prunes besides the audit trail, in the order it prunes them.
const KINDS: [&str; 7] = [
    "refresh_tokens",
    "sessions",
    "login_throttles",
    "login_name_failures",
    "login_address_budgets",
    "register_address_budgets",
    "login_known_addresses",
];

/// Deletes at most `batch` rows of `kind` that have expired, `age` seconds being the table's
/// period from the table at the top. One statement shape, written out per table so the compiler
/// checks each: the rows' `ctid`s, then those rows.
async fn prune_batch(db: &Db, kind: &str, batch: i64, age: f64) -> Result<u64, sqlx::Error> {
    let done = match kind {
        "refresh_tokens" => {
            sqlx::query!(
                "delete from refresh_tokens where ctid = any(array(
                     select x.ctid from refresh_tokens x
                     where exists (select 1 from sessions s where s.id = x.session_id
                                   and (s.revoked_at is not null or s.expires_at <= now()))
                     limit $1))",
                batch,
            )
            .execute(db)
            .await
        }
        "sessions" => {
            sqlx::query!(
                "delete from sessions where ctid = any(array(
                     select x.ctid from sessions x
                     where x.revoked_at < now() - $2::float8 * interval '1 second'
                        or x.expires_at < now() - $2 * interval '1 second'
                     limit $1))",
                batch,
                age,
            )
            .execute(db)
            .await
        }
        "login_throttles" => {
            sqlx::query!(
                "delete from login_throttles where ctid = any(array(
                     select x.ctid from login_throttles x
                     where x.updated_at < now() - $2::float8 * interval '1 second'
                       and (x.locked_until is null or x.locked_until < now())
                     limit $1))",
                batch,
                age,
            )
            .execute(db)
            .await
        }
        "login_name_failures" => {
            sqlx::query!(
                "delete from login_name_failures where ctid = any(array(
                     select x.ctid from login_name_failures x
                     where x.last_failed_at < now() - $2::float8 * interval '1 second'
                     limit $1))",
                batch,
                age,
            )
            .execute(db)
            .await
        }
        "login_address_budgets" => {
            sqlx::query!(
                "delete from login_address_budgets where ctid = any(array(
                     select x.ctid from login_address_budgets x
                     where x.window_start < now() - $2::float8 * interval '1 second'
                     limit $1))",
                batch,
                age,
            )
            .execute(db)
            .await
        }
        "register_address_budgets" => {
            sqlx::query!(
                "delete from register_address_budgets where ctid = any(array(
                     select x.ctid from register_address_budgets x
                     where x.window_start < now() - $2::float8 * interval '1 second'
                     limit $1))",
                batch,
                age,
            )
            .execute(db)
            .await
        }
        "login_known_addresses" => {
            sqlx::query!(
                "delete from login_known_addresses where ctid = any(array(
                     select x.ctid from login_known_addresses x
                     where x.last_success_at < now() - $2::float8 * interval '1 second'
                     limit $1))",
                batch,
                age,
            )
            .execute(db)
            .await
        }
        other => unreachable!("retention has no rule for {other}"),
    };
    Ok(done?.rows_affected())
}

/// Deletes every expired row (the module's table), batch by batch, until none is left or
/// `until` has passed; returns how many of each kind went.
pub async fn prune_expired(
    db: &Db,
    retention: &RetentionConfig,
    throttle: &ThrottleConfig,
    until: Instant,
) -> Result<Vec<Pruned>, StoreError> {
    let age = |kind: &str| {
        match kind {
            "sessions" => retention.ended_sessions,
            "login_throttles" | "login_name_failures" => throttle.lockdown_quiet,
            "login_known_addresses" => throttle.known_address_window,
            "login_address_budgets" => throttle.address_window,
            "register_address_budgets" => throttle.register_window,
            _ => Duration::ZERO,
        }
        .as_secs_f64()
    };
    let mut pruned = Vec::with_capacity(KINDS.len() + 1);
    for kind in KINDS {
        let mut rows = 0;
        loop {
            let deleted = prune_batch(db, kind, retention.batch_rows, age(kind))
                .await
                .during("retention.prune")?;
            rows += deleted;
            if deleted < retention.batch_rows.unsigned_abs() || Instant::now() >= until {
                break;
            }
        }
        pruned.push(Pruned { kind, rows });
    }
    let mut rows = 0;
    loop {
        let deleted = sqlx::query_scalar!(
            r#"select prune_audit_logs($1) as "deleted!""#,
            i32::try_from(retention.batch_rows).unwrap_or(i32::MAX),
        )
        .fetch_one(db)
        .await
        .during("retention.prune_audit_logs")?;
        rows += u64::try_from(deleted).unwrap_or(0);
        if i64::from(deleted) < retention.batch_rows.min(10_000) || Instant::now() >= until {
            break;
        }
    }
    pruned.push(Pruned {
        kind: "audit_logs",
        rows,
    });
    Ok(pruned)
}
