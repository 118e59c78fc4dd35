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

/// Each kind: its table, its `Age`, and when one of its rows (`x`) has expired; $2 is the age in
/// seconds. `prune_expired` deletes at most $1 such rows per statement.
const RULES: [(&str, Age, &str); 7] = [
    (
        "refresh_tokens",
        Age::WithSession,
        "exists (select 1 from sessions s where s.id = x.session_id \
                 and (s.revoked_at is not null or s.expires_at <= now()))",
    ),
    (
        "sessions",
        Age::EndedSessions,
        "x.revoked_at < now() - $2 * interval '1 second' \
         or x.expires_at < now() - $2 * interval '1 second'",
    ),
    (
        "login_throttles",
        Age::LockdownQuiet,
        "x.updated_at < now() - $2 * interval '1 second' \
         and (x.locked_until is null or x.locked_until < now())",
    ),
    (
        "login_name_failures",
        Age::LockdownQuiet,
        "x.last_failed_at < now() - $2 * interval '1 second'",
    ),
    (
        "login_address_budgets",
        Age::AddressWindow,
        "x.window_start < now() - $2 * interval '1 second'",
    ),
    (
        "register_address_budgets",
        Age::RegisterWindow,
        "x.window_start < now() - $2 * interval '1 second'",
    ),
    (
        "login_known_addresses",
        Age::KnownAddressWindow,
        "x.last_success_at < now() - $2 * interval '1 second'",
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
    for (kind, age, expired) in RULES {
        // The tables and conditions are the constants above, never input.
        let sql = format!(
            "delete from {kind} where ctid = any(array( \
                 select x.ctid from {kind} x where {expired} limit $1))"
        );
        let mut rows = 0;
        loop {
            let deleted = sqlx::query(&sql)
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
