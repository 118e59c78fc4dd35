//! Every SQL statement on agents, one function per operation, each one round trip on its
//! success path with its audit row. Every statement is scoped by owner and checks the caller's
//! session. The compiler checks each against the schema (`sqlx::query!`, `.sqlx/`).

use serde_json::{Value, json};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::agents::keys::{AgentKey, MintedKey, NewKey};
use crate::agents::{Agent, AgentChanges, NewAgent};
use crate::caller::Caller;
use crate::db::{Db, Operation, StoreError};
use crate::pagination::Position;
use crate::written::Written;

/// Creates the caller's agent with its `agent.create` audit row; `None` when the caller's
/// session has ended. A taken name fails `agents_owner_name_unique` (409).
pub async fn create(
    db: impl PgExecutor<'_>,
    caller: Caller,
    agent: &NewAgent,
    audit_metadata: &Value,
) -> Result<Option<Agent>, StoreError> {
    sqlx::query_as!(
        Agent,
        r#"with agent as (
               insert into agents (owner_id, name, description, config, is_active)
               select $1, $2, $3, $4, $5 where session_is_live($7, $1)
               returning *),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select owner_id, 'agent.create', 'agent', id, $6::jsonb from agent)
           select id as "id!", owner_id as "owner_id!", name as "name!", description,
                  config as "config!", is_active as "is_active!", version as "version!",
                  created_at as "created_at!", updated_at as "updated_at!"
           from agent"#,
        caller.user_id,
        agent.name.as_str(),
        agent.description.as_ref().map(|d| d.as_str()),
        agent.config.as_value(),
        agent.is_active,
        audit_metadata,
        caller.session_id,
    )
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
    sqlx::query_as!(
        Agent,
        "select id, owner_id, name, description, config, is_active, version, created_at, updated_at
         from agents where id = $1 and owner_id = $2 and session_is_live($3, $2)",
        id,
        caller.user_id,
        caller.session_id,
    )
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
    sqlx::query_as!(
        Agent,
        "select id, owner_id, name, description, config, is_active, version, created_at, updated_at
         from agents
         where owner_id = $1 and session_is_live($5, $1)
           and ($2::timestamptz is null or (created_at, id) < ($2, $3::uuid))
         order by created_at desc, id desc
         limit $4",
        caller.user_id,
        after.map(|p| p.created_at),
        after.map(|p| p.id),
        limit,
        caller.session_id,
    )
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
    let updated = sqlx::query_as!(
        Agent,
        r#"with agent as (
               update agents a set
                   name = coalesce($4, a.name),
                   description = case when $5 then $6 else a.description end,
                   config = coalesce($7, a.config),
                   is_active = coalesce($8, a.is_active),
                   version = a.version + 1
               where a.id = $1 and a.owner_id = $2 and session_is_live($10, $2)
                 and ($3::bigint[] is null or a.version = any($3))
               returning a.*),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select owner_id, 'agent.update', 'agent', id,
                      $9::jsonb || jsonb_build_object('version', version) from agent)
           select id as "id!", owner_id as "owner_id!", name as "name!", description,
                  config as "config!", is_active as "is_active!", version as "version!",
                  created_at as "created_at!", updated_at as "updated_at!"
           from agent"#,
        id,
        caller.user_id,
        versions,
        changes.name.as_ref().map(|n| n.as_str()),
        changes.description.is_some(),
        changes
            .description
            .as_ref()
            .and_then(|d| d.as_ref().map(|d| d.as_str())),
        changes.config.as_ref().map(|c| c.as_value()),
        changes.is_active,
        metadata,
        caller.session_id,
    )
    .fetch_optional(db)
    .await
    .during("agents.update_if_version")?;
    match updated {
        Some(agent) => Ok(Written::Done(agent)),
        None => why_not_written(db, caller, id).await,
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
    let deleted = sqlx::query_scalar!(
        r#"with deleted as (
               delete from agents
               where id = $1 and owner_id = $2 and session_is_live($5, $2)
                 and ($3::bigint[] is null or version = any($3))
               returning id, name, version),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select $2, 'agent.delete', 'agent', id,
                      $4::jsonb || jsonb_build_object('name', name, 'version', version)
               from deleted)
           select count(*) as "deleted!" from deleted"#,
        id,
        caller.user_id,
        versions,
        audit_metadata,
        caller.session_id,
    )
    .fetch_one(db)
    .await
    .during("agents.delete_if_version")?;
    if deleted > 0 {
        Ok(Written::Done(()))
    } else {
        why_not_written(db, caller, id).await
    }
}

/// Why a conditional write touched nothing (the failure path's second statement).
async fn why_not_written<T>(db: &Db, caller: Caller, id: Uuid) -> Result<Written<T>, StoreError> {
    let row = sqlx::query!(
        r#"select session_is_live($3, $2) as "live!",
                  exists (select 1 from agents where id = $1 and owner_id = $2) as "there!""#,
        id,
        caller.user_id,
        caller.session_id,
    )
    .fetch_one(db)
    .await
    .during("agents.why_not_written")?;
    Ok(Written::why_not(row.live, row.there))
}

/// Mints a key for the caller's agent `agent_id`, with its `agent_key.create` audit row; `None`
/// when the caller has no such agent (or the session has ended).
pub async fn create_key(
    db: impl PgExecutor<'_>,
    caller: Caller,
    agent_id: Uuid,
    key: &NewKey,
    minted: &MintedKey,
    audit_metadata: &Value,
) -> Result<Option<AgentKey>, StoreError> {
    sqlx::query_as!(
        AgentKey,
        r#"with agent as (
               select id, owner_id from agents
               where id = $1 and owner_id = $2 and session_is_live($3, $2)),
           key as (
               insert into agent_keys (agent_id, owner_id, name, prefix, key_hash, expires_at)
               select id, owner_id, $4, $5, $6, $7 from agent
               returning *),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select owner_id, 'agent_key.create', 'agent_key', id,
                      $8::jsonb || jsonb_build_object('agent_id', agent_id, 'name', name,
                                                      'prefix', prefix, 'expires_at', expires_at)
               from key)
           select id as "id!", agent_id as "agent_id!", name as "name!", prefix as "prefix!",
                  expires_at, last_used_at, created_at as "created_at!"
           from key"#,
        agent_id,
        caller.user_id,
        caller.session_id,
        key.name.as_str(),
        minted.prefix,
        &minted.hash[..],
        key.expires_at,
        audit_metadata,
    )
    .fetch_optional(db)
    .await
    .during("agents.create_key")
}

/// Up to `limit` of the keys of the caller's agent `agent_id`, newest first, after `after`.
pub async fn list_keys(
    db: impl PgExecutor<'_>,
    caller: Caller,
    agent_id: Uuid,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<AgentKey>, StoreError> {
    sqlx::query_as!(
        AgentKey,
        "select id, agent_id, name, prefix, expires_at, last_used_at, created_at
         from agent_keys
         where agent_id = $1 and owner_id = $2 and session_is_live($6, $2)
           and ($3::timestamptz is null or (created_at, id) < ($3, $4::uuid))
         order by created_at desc, id desc
         limit $5",
        agent_id,
        caller.user_id,
        after.map(|p| p.created_at),
        after.map(|p| p.id),
        limit,
        caller.session_id,
    )
    .fetch_all(db)
    .await
    .during("agents.list_keys")
}

/// Revokes (deletes) the key `key_id` of the caller's agent `agent_id`, with its
/// `agent_key.delete` audit row; `false` when there is no such key. An agent using it is
/// refused from its next statement on.
pub async fn delete_key(
    db: impl PgExecutor<'_>,
    caller: Caller,
    agent_id: Uuid,
    key_id: Uuid,
    audit_metadata: &Value,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"with deleted as (
               delete from agent_keys
               where id = $1 and agent_id = $2 and owner_id = $3 and session_is_live($4, $3)
               returning id, agent_id, name, prefix),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select $3, 'agent_key.delete', 'agent_key', id,
                      $5::jsonb || jsonb_build_object('agent_id', agent_id, 'name', name,
                                                      'prefix', prefix)
               from deleted)
           select exists (select 1 from deleted) as "deleted!""#,
        key_id,
        agent_id,
        caller.user_id,
        caller.session_id,
        audit_metadata,
    )
    .fetch_one(db)
    .await
    .during("agents.delete_key")
}
