//! Every SQL statement on user accounts, one function per operation, each one round trip.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::caller::Caller;
use crate::db::{Operation, StoreError};
use crate::users::{NewUser, User};

/// The caller's account, if their session still stands.
pub async fn find_for_caller(
    db: impl PgExecutor<'_>,
    caller: Caller,
) -> Result<Option<User>, StoreError> {
    sqlx::query_as!(
        User,
        "select id, username, email, created_at, updated_at from users
         where id = $1 and session_is_live($2, $1)",
        caller.user_id,
        caller.session_id,
    )
    .fetch_optional(db)
    .await
    .during("users.find_for_caller")
}

/// Inserts the account and its `user.register` audit row in one statement. The unique indexes
/// settle who gets a contested username or email (`users_username_unique`,
/// `users_email_unique`).
pub async fn create(
    db: impl PgExecutor<'_>,
    new_user: &NewUser,
    password_hash: &str,
    audit_metadata: &Value,
) -> Result<User, StoreError> {
    sqlx::query_as!(
        User,
        r#"with created as (
               insert into users (username, email, password_hash) values ($1, $2, $3)
               returning id, username, email, created_at, updated_at),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select id, 'user.register', 'user', id, $4::jsonb from created)
           select id as "id!", username as "username!", email as "email!",
                  created_at as "created_at!", updated_at as "updated_at!"
           from created"#,
        new_user.username.as_str(),
        new_user.email.as_str(),
        password_hash,
        audit_metadata,
    )
    .fetch_one(db)
    .await
    .during("users.create")
}

/// Sets the caller's new password hash, ends every other session of the account (and moves the
/// password version on, which ends a session a racing login opens with the old password, too),
/// clears its login throttle, forgets every address it logged in from but `source_ip` (so an
/// attacker's address is no longer let through a lockdown), and writes the
/// `user.password_change` audit row, in one statement, if the caller's session still stands
/// (`false` otherwise).
pub async fn change_password(
    db: impl PgExecutor<'_>,
    caller: Caller,
    password_hash: &str,
    source_ip: Option<&str>,
    audit_metadata: &Value,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"with account as (
               update users set password_hash = $3, failed_login_count = 0,
                                last_failed_login_at = null,
                                password_version = password_version + 1
               where id = $1 and session_is_live($2, $1) returning id, password_version),
           mine as (
               update sessions s set password_version = account.password_version
               from account where s.id = $2),
           others as (
               update sessions s set revoked_at = now(), revoked_reason = 'password_changed'
               from account where s.user_id = account.id and s.id <> $2 and s.revoked_at is null
               returning s.id),
           known as (
               delete from login_known_addresses k using account
               where k.user_id = account.id and k.source_ip is distinct from $5::text::inet),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select id, 'user.password_change', 'user', id,
                      $4::jsonb || jsonb_build_object(
                          'sessions_ended', (select count(*) from others),
                          'locks_lifted', login_throttle_clear(id, null, 0))
               from account)
           select exists (select 1 from account) as "changed!""#,
        caller.user_id,
        caller.session_id,
        password_hash,
        audit_metadata,
        source_ip,
    )
    .fetch_one(db)
    .await
    .during("users.change_password")
}

/// Deletes the caller's account, if their session still stands (`false` otherwise), in one
/// statement: its tasks, agents, sessions and addresses go with it (foreign keys), its audit rows
/// stay with their actor set to null, its username and email are free again. The
/// `user.delete` row records it, with no actor.
pub async fn delete_account(
    db: impl PgExecutor<'_>,
    caller: Caller,
    audit_metadata: &Value,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"with account as (
               delete from users where id = $1 and session_is_live($2, $1) returning id),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select null::uuid, 'user.delete', 'user', id,
                      $3::jsonb || jsonb_build_object('locks_lifted', login_throttle_clear(id, null, 0))
               from account)
           select exists (select 1 from account) as "deleted!""#,
        caller.user_id,
        caller.session_id,
        audit_metadata,
    )
    .fetch_one(db)
    .await
    .during("users.delete_account")
}
