//! Writing an audit event that goes with no other change.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::audit::{AuditEntry, AuditEvent, AuditFilter};
use crate::caller::Caller;
use crate::db::{Operation, StoreError};
use crate::pagination::Position;

pub async fn record(db: impl PgExecutor<'_>, event: AuditEvent) -> Result<(), StoreError> {
    sqlx::query!(
        "insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
         values ($1, $2, $3, $4, $5)",
        event.actor_id,
        event.action,
        event.entity_type,
        event.entity_id,
        Value::Object(event.metadata),
    )
    .execute(db)
    .await
    .during("audit.record")?;
    Ok(())
}

/// Up to `limit` of the caller's own events (`actor_id` = caller), newest first, after `after`,
/// filtered. `audit_logs_actor_page_idx` serves it.
pub async fn list_page(
    db: impl PgExecutor<'_>,
    caller: Caller,
    filter: &AuditFilter,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    sqlx::query_as!(
        AuditEntry,
        "select id, actor_id, action, entity_type, entity_id, metadata, created_at
         from audit_logs
         where actor_id = $1 and session_is_live($2, $1)
           and ($3::text is null or entity_type = $3)
           and ($4::uuid is null or entity_id = $4)
           and ($5::text is null or action = $5)
           and ($6::timestamptz is null or (created_at, id) < ($6, $7::bigint))
         order by created_at desc, id desc
         limit $8",
        caller.user_id,
        caller.session_id,
        filter.entity_type.as_deref(),
        filter.entity_id,
        filter.action.as_deref(),
        after.map(|p| p.created_at),
        after.map(|p| p.id.as_u64_pair().1 as i64),
        limit,
    )
    .fetch_all(db)
    .await
    .during("audit.list_page")
}
