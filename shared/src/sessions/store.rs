//! Every SQL statement on sessions, one function per operation, each one round trip. The two
//! long ones are files beside this one, so they read as SQL.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::caller::Caller;
use crate::config::{SessionConfig, ThrottleConfig};
use crate::db::{Db, Operation, StoreError};
use crate::sessions::{LogoutScope, Opened, Origin, Refreshed, hash};

/// The statement a successful login makes, if the password it verified is still the account's
/// (`password_version` as read with the hash; `None` when a password change came first: the
/// login fails as with a wrong password): clears the throttle of the account at this address
/// and its failure count, remembers the address, re-hashes the password when its cost changed
/// (only while it is that same password), opens the session under that password version with
/// its first refresh token, and writes the audit row. The account's row is locked, so a change
/// that commits after this statement moves the version past the new session, which then ends.
#[allow(clippy::too_many_arguments)]
pub async fn open_after_login(
    db: impl PgExecutor<'_>,
    user_id: uuid::Uuid,
    password_version: i32,
    origin: &Origin,
    refresh_hash: &[u8; 32],
    lifetimes: &SessionConfig,
    throttle: &ThrottleConfig,
    rehashed_password: Option<&str>,
    audit_metadata: &Value,
) -> Result<Option<Opened>, StoreError> {
    sqlx::query_file_as!(
        Opened,
        "src/sessions/open_after_login.sql",
        user_id,
        origin.ip(),
        origin.user_agent.as_deref(),
        &refresh_hash[..],
        lifetimes.absolute.as_secs_f64(),
        lifetimes.refresh_idle.as_secs_f64(),
        rehashed_password,
        audit_metadata,
        password_version,
        throttle.address_window.as_secs_f64(),
    )
    .fetch_optional(db)
    .await
    .during("sessions.open_after_login")
}

/// Spends a refresh token and stores its successor, in one statement. The token's row is locked,
/// so of two concurrent refreshes with one token, the second sees it spent and revokes the
/// session, as any reuse does. A session opened under an older password version does not
/// refresh; one that a concurrent password change overtakes keeps its old version and ends.
pub async fn refresh(
    db: &Db,
    presented: &str,
    successor_hash: &[u8; 32],
    lifetimes: &SessionConfig,
    audit_metadata: &Value,
) -> Result<Refreshed, StoreError> {
    let row = sqlx::query_file!(
        "src/sessions/refresh.sql",
        &hash(presented)[..],
        &successor_hash[..],
        lifetimes.refresh_idle.as_secs_f64(),
        audit_metadata,
    )
    .fetch_optional(db)
    .await
    .during("sessions.refresh")?;
    Ok(match row {
        Some(row) if row.outcome == "rotated" => Refreshed::Rotated(Opened {
            session_id: row.session_id,
            user_id: row.user_id,
            refresh_expires_at: row.refresh_expires_at,
        }),
        Some(row) if row.outcome == "reused" => Refreshed::Reused,
        _ => Refreshed::Refused,
    })
}

/// Revokes the sessions `scope` names and writes the audit row, if the caller's own session
/// stands; `false` when it does not (a 401).
pub async fn logout(
    db: impl PgExecutor<'_>,
    caller: Caller,
    scope: LogoutScope,
    audit_metadata: &Value,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"with me as (
               select id from sessions where session_is_live($2::uuid, $1::uuid) and id = $2),
           revoked as (
               update sessions s set revoked_at = now(),
                      revoked_reason = case $3::text when 'local' then 'logout' else 'logout_' || $3 end
               from me
               where s.user_id = $1 and s.revoked_at is null
                 and case $3 when 'local' then s.id = me.id
                             when 'others' then s.id <> me.id
                             else true end
               returning s.id),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select $1, 'session.logout', 'session', me.id,
                      $4::jsonb || jsonb_build_object('scope', $3,
                                                      'sessions', (select count(*) from revoked))
               from me)
           select exists (select 1 from me) as "live!""#,
        caller.user_id,
        caller.session_id,
        scope.as_str(),
        audit_metadata,
    )
    .fetch_one(db)
    .await
    .during("sessions.logout")
}

/// Whether the caller's session still stands (a failure path's second statement).
pub async fn is_live(db: impl PgExecutor<'_>, caller: Caller) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"select session_is_live($1, $2) as "live!""#,
        caller.session_id,
        caller.user_id
    )
    .fetch_one(db)
    .await
    .during("sessions.is_live")
}
