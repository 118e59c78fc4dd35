//! Every SQL statement on agents, one function per operation, each one round trip on its
//! success path with its audit row. Every statement is scoped by owner and checks the caller's
//! session.

use serde_json::{Value, json};
use sqlx::PgExecutor;

use crate::db::Db;
use uuid::Uuid;

use crate::agents::{Agent, AgentChanges, NewAgent};
use crate::caller::Caller;
use crate::db::{Operation, StoreError};
use crate::pagination::Position;
use crate::written::{Written, deleted_or_why, why_not_written};

const AGENT_EXISTS: &str = "select exists(select 1 from agents where id = $1 and owner_id = $2)";

/// Creates the caller's agent with its `agent.create` audit row; `None` when the caller's
/// session has ended. A taken name fails `agents_owner_name_unique` (409).
pub async fn create(
    db: impl PgExecutor<'_>,
    caller: Caller,
    agent: &NewAgent,
    audit_metadata: &Value,
) -> Result<Option<Agent>, StoreError> {
    sqlx::query_as(
        "with agent as ( \
             insert into agents (owner_id, name, description, config, is_active) \
             select $1, $2, $3, $4, $5 where session_is_live($7, $1) \
             returning *), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select owner_id, 'agent.create', 'agent', id, $6::jsonb from agent) \
         select * from agent",
    )
    .bind(caller.user_id)
    .bind(agent.name.as_str())
    .bind(agent.description.as_ref().map(|d| d.as_str()))
    .bind(agent.config.as_value())
    .bind(agent.is_active)
    .bind(audit_metadata)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("agents.create")
}

/// The caller's agent `id`; `None` when there is none or it is someone else's.
pub async fn find_owned(
    db: impl PgExecutor<'_>,
    caller: Caller,
    id: Uuid,
) -> Result<Option<Agent>, StoreError> {
    sqlx::query_as(
        "select * from agents where id = $1 and owner_id = $2 and session_is_live($3, $2)",
    )
    .bind(id)
    .bind(caller.user_id)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("agents.find_owned")
}

/// Up to `limit` of the caller's agents, newest first, after `after`.
pub async fn list_page(
    db: impl PgExecutor<'_>,
    caller: Caller,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<Agent>, StoreError> {
    sqlx::query_as(
        "select * from agents \
         where owner_id = $1 and session_is_live($5, $1) \
           and ($2::timestamptz is null or (created_at, id) < ($2, $3)) \
         order by created_at desc, id desc \
         limit $4",
    )
    .bind(caller.user_id)
    .bind(after.map(|p| p.created_at))
    .bind(after.map(|p| p.id))
    .bind(limit)
    .bind(caller.session_id)
    .fetch_all(db)
    .await
    .during("agents.list_page")
}

/// Applies `changes` if the agent is at one of `versions` (any when `None`), increments the
/// version and writes the `agent.update` audit row, in one statement evaluated against the
/// agent's latest version.
pub async fn update_if_version(
    db: &Db,
    caller: Caller,
    id: Uuid,
    versions: Option<&[i64]>,
    changes: &AgentChanges,
    audit_metadata: &Value,
) -> Result<Written<Agent>, StoreError> {
    let mut metadata = audit_metadata.clone();
    if let Some(map) = metadata.as_object_mut() {
        map.insert("fields".into(), json!(changes.fields()));
    }
    let updated: Option<Agent> = sqlx::query_as(
        "with agent as ( \
             update agents a set \
                 name = coalesce($4, a.name), \
                 description = case when $5 then $6 else a.description end, \
                 config = coalesce($7, a.config), \
                 is_active = coalesce($8, a.is_active), \
                 version = a.version + 1 \
             where a.id = $1 and a.owner_id = $2 and session_is_live($10, $2) \
               and ($3::bigint[] is null or a.version = any($3)) \
             returning a.*), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select owner_id, 'agent.update', 'agent', id, \
                    $9::jsonb || jsonb_build_object('version', version) from agent) \
         select * from agent",
    )
    .bind(id)
    .bind(caller.user_id)
    .bind(versions)
    .bind(changes.name.as_ref().map(|n| n.as_str()))
    .bind(changes.description.is_some())
    .bind(
        changes
            .description
            .as_ref()
            .and_then(|d| d.as_ref().map(|d| d.as_str())),
    )
    .bind(changes.config.as_ref().map(|c| c.as_value()))
    .bind(changes.is_active)
    .bind(metadata)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("agents.update_if_version")?;
    match updated {
        Some(agent) => Ok(Written::Done(agent)),
        None => why_not_written(db, caller, id, AGENT_EXISTS).await,
    }
}

/// Deletes the caller's agent if it is at one of `versions` (any when `None`), with its
/// `agent.delete` audit row. Its tasks stay, without an agent; while one of them is in progress
/// the database refuses (`agents_task_in_progress`, a 409).
pub async fn delete_if_version(
    db: &Db,
    caller: Caller,
    id: Uuid,
    versions: Option<&[i64]>,
    audit_metadata: &Value,
) -> Result<Written<()>, StoreError> {
    let deleted: i64 = sqlx::query_scalar(
        "with deleted as ( \
             delete from agents \
             where id = $1 and owner_id = $2 and session_is_live($5, $2) \
               and ($3::bigint[] is null or version = any($3)) \
             returning id, name, version), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select $2, 'agent.delete', 'agent', id, \
                    $4::jsonb || jsonb_build_object('name', name, 'version', version) \
             from deleted) \
         select count(*) from deleted",
    )
    .bind(id)
    .bind(caller.user_id)
    .bind(versions)
    .bind(audit_metadata)
    .bind(caller.session_id)
    .fetch_one(db)
    .await
    .during("agents.delete_if_version")?;
    deleted_or_why(db, caller, id, deleted, AGENT_EXISTS).await
}
