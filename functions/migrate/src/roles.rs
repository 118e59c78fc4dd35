//! The API functions' database role, provisioned by every deploy after the migrations: created
//! if missing, its password set from its secret, and DML rights on the tables granted. It owns
//! nothing and may create nothing (PostgreSQL 15+ gives `public` no CREATE), may not touch the
//! migrations table, may only read the status transition table, and may only add to the audit
//! trail (insert and select on `audit_logs`), pruning it only through `prune_audit_logs`, as far
//! as the retention policy set here (`AUDIT_RETENTION_DAYS`) allows. Its statement timeout is a setting of the role, not
//! a startup option a pooler would refuse. Its password is sent as a SCRAM verifier.

use postgres_protocol::password;
use secrecy::ExposeSecret;
use shared::config::AppRoleConfig;
use sqlx::PgPool;

/// Creates or updates the role; safe to run any number of times, and concurrently.
pub async fn provision(pool: &PgPool, role: &AppRoleConfig) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One provisioning at a time: two overlapping deploys must not both create the role.
    sqlx::query("select pg_advisory_xact_lock(hashtext('taskapi app role'))")
        .execute(&mut *tx)
        .await?;
    // PostgreSQL quotes the name and password itself (format's %I and %L).
    let statements: Vec<String> = sqlx::query_scalar(
        "select unnest(array_remove(array[ \
             case when not exists (select 1 from pg_roles where rolname = $1) \
                  then format('create role %I', $1) end, \
             format('alter role %I with login password %L', $1, $2::text), \
             format('alter role %I set statement_timeout = %L', $1, $3 || 'ms'), \
             format('grant connect on database %I to %I', current_database(), $1), \
             format('grant usage on schema public to %I', $1), \
             format('grant select, insert, update, delete on all tables in schema public to %I', $1), \
             format('grant usage, select on all sequences in schema public to %I', $1), \
             format('revoke all on table _sqlx_migrations from %I', $1), \
             format('revoke insert, update, delete, truncate on table task_status_transitions from %I', $1), \
             format('revoke update, delete, truncate on table audit_logs from %I', $1), \
             format('revoke all on table audit_retention from %I', $1), \
             format('grant execute on function prune_audit_logs(integer) to %I', $1) \
         ], null))",
    )
    .bind(&role.username)
    // A SCRAM verifier computed here, not the password: PostgreSQL stores a verifier as given,
    // and the plaintext never reaches the server, its statement log or pg_stat_statements.
    .bind(password::scram_sha_256(role.password.expose_secret().as_bytes()))
    .bind(role.statement_timeout.as_millis().to_string())
    .fetch_all(&mut *tx)
    .await?;
    for statement in statements {
        sqlx::raw_sql(&statement).execute(&mut *tx).await?;
    }
    sqlx::query("update audit_retention set days = $1")
        .bind(role.audit_retention_days)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
