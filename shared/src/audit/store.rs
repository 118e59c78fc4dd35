//! Writing an audit event that goes with no other change.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::audit::AuditEvent;
use crate::db::{Operation, StoreError};

pub async fn record(db: impl PgExecutor<'_>, event: AuditEvent) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(event.actor_id)
    .bind(event.action)
    .bind(event.entity_type)
    .bind(event.entity_id)
    .bind(Value::Object(event.metadata))
    .execute(db)
    .await
    .during("audit.record")?;
    Ok(())
}
