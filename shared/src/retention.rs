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

/// The age past which a kind's row has expired, from the settings; a refresh token has none of
/// its own: it expires with its session.
#[derive(Clone, Copy)]
enum Age {
    WithSession,
    EndedSessions,
    LockdownQuiet,
    KnownAddressWindow,
    AddressWindow,
    RegisterWindow,
}

/// Each kind's statement: deletes at most $1 of its expired rows; $2 is its `Age` in seconds.
const RULES: [(&str, Age, &str); 7] = [
    (
        "refresh_tokens",
        Age::WithSession,
        "delete from refresh_tokens where ctid = any(array( \
             select t.ctid from sessions s join refresh_tokens t on t.session_id = s.id \
             where (s.revoked_at is not null or s.expires_at <= now()) \
             limit $1))",
    ),
    (
        "sessions",
        Age::EndedSessions,
        "delete from sessions where ctid = any(array( \
             select ctid from sessions \
             where revoked_at < now() - $2 * interval '1 second' \
                or expires_at < now() - $2 * interval '1 second' \
             limit $1))",
    ),
    (
        "login_throttles",
        Age::LockdownQuiet,
        "delete from login_throttles where ctid = any(array( \
             select ctid from login_throttles \
             where updated_at < now() - $2 * interval '1 second' \
               and (locked_until is null or locked_until < now()) \
             limit $1))",
    ),
    (
        "login_name_failures",
        Age::LockdownQuiet,
        "delete from login_name_failures where ctid = any(array( \
             select ctid from login_name_failures \
             where last_failed_at < now() - $2 * interval '1 second' limit $1))",
    ),
    (
        "login_address_budgets",
        Age::AddressWindow,
        "delete from login_address_budgets where ctid = any(array( \
             select ctid from login_address_budgets \
             where window_start < now() - $2 * interval '1 second' limit $1))",
    ),
    (
        "register_address_budgets",
        Age::RegisterWindow,
        "delete from register_address_budgets where ctid = any(array( \
             select ctid from register_address_budgets \
             where window_start < now() - $2 * interval '1 second' limit $1))",
    ),
    (
        "login_known_addresses",
        Age::KnownAddressWindow,
        "delete from login_known_addresses where ctid = any(array( \
             select ctid from login_known_addresses \
             where last_success_at < now() - $2 * interval '1 second' limit $1))",
    ),
];

/// Deletes every expired row (the module's table), batch by batch, until none is left or
/// `until` has passed; returns how many of each kind went.
pub async fn prune_expired(
    db: &Db,
    retention: &RetentionConfig,
    throttle: &ThrottleConfig,
    until: Instant,
) -> Result<Vec<Pruned>, StoreError> {
    let seconds = |age: Age| {
        match age {
            Age::WithSession => Duration::ZERO,
            Age::EndedSessions => retention.ended_sessions,
            Age::LockdownQuiet => throttle.lockdown_quiet,
            Age::KnownAddressWindow => throttle.known_address_window,
            Age::AddressWindow => throttle.address_window,
            Age::RegisterWindow => throttle.register_window,
        }
        .as_secs_f64()
    };
    let mut pruned = Vec::with_capacity(RULES.len() + 1);
    for (kind, age, sql) in RULES {
        let mut rows = 0;
        loop {
            let deleted = sqlx::query(sql)
                .bind(retention.batch_rows)
                .bind(seconds(age))
                .execute(db)
                .await
                .during("retention.prune")?
                .rows_affected();
            rows += deleted;
            if deleted < retention.batch_rows.unsigned_abs() || Instant::now() >= until {
                break;
            }
        }
        pruned.push(Pruned { kind, rows });
    }
    let mut rows = 0;
    loop {
        let deleted: i32 = sqlx::query_scalar("select prune_audit_logs($1)")
            .bind(i32::try_from(retention.batch_rows).unwrap_or(i32::MAX))
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
