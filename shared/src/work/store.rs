//! Every SQL statement of the work queue, one function per operation, each one round trip on its
//! success path with its audit row. Each finds the agent from its key inside the statement
//! (`agent_of_key`, migration 0011) and acts only on that agent's owner's tasks; every write but
//! the claim is refused unless the agent holds the task's current lease with its fencing token.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::caller::AgentCaller;
use crate::config::WorkConfig;
use crate::db::{Db, Operation, StoreError};
use crate::tasks::{TaskRow, TaskStatus, TaskStep, TaskWithSteps};
use crate::work::{Claim, Claimed, Completion, Failure, Heartbeat, Lease, Leased};

/// What a claim found: `None` when the key is not valid, else the task claimed, if any was
/// claimable.
pub async fn claim(
    db: &Db,
    agent: AgentCaller,
    claim: Claim,
    audit_metadata: &Value,
) -> Result<Option<Option<Claimed>>, StoreError> {
    let row = sqlx::query_file!(
        "src/work/claim.sql",
        &agent.key_hash[..],
        claim.lease_seconds as f64,
        audit_metadata,
    )
    .fetch_one(db)
    .await
    .during("work.claim")?;
    if !row.authenticated {
        return Ok(None);
    }
    let claimed = match (
        row.id,
        row.owner_id,
        row.title,
        row.status,
        row.priority,
        row.input,
        row.version,
        row.created_at,
        row.updated_at,
        row.attempt,
        row.max_attempts,
        row.fencing_token,
    ) {
        (
            Some(id),
            Some(owner_id),
            Some(title),
            Some(status),
            Some(priority),
            Some(input),
            Some(version),
            Some(created_at),
            Some(updated_at),
            Some(attempt),
            Some(max_attempts),
            Some(fencing_token),
        ) => Some(Claimed {
            task: TaskRow {
                id,
                owner_id,
                agent_id: row.agent_id,
                title,
                description: row.description,
                status,
                priority,
                input,
                result: row.result,
                version,
                started_at: row.started_at,
                completed_at: row.completed_at,
                created_at,
                updated_at,
                attempt,
                max_attempts,
                not_before: row.not_before,
                lease_holder: row.lease_holder,
                lease_expires_at: row.lease_expires_at,
                last_error: row.last_error,
                steps: row.steps,
                previous_status: row.previous_status,
                previous_step_status: None,
            }
            .counted(None)
            .into(),
            fencing_token,
        }),
        _ => None,
    };
    Ok(Some(claimed))
}

/// Extends the lease of the task `id` the agent holds.
pub async fn heartbeat(
    db: &Db,
    agent: AgentCaller,
    id: Uuid,
    heartbeat: Heartbeat,
) -> Result<Leased<Lease>, StoreError> {
    let extended = sqlx::query_file_scalar!(
        "src/work/heartbeat.sql",
        &agent.key_hash[..],
        id,
        heartbeat.fencing_token,
        heartbeat.lease_seconds as f64,
    )
    .fetch_optional(db)
    .await
    .during("work.heartbeat")?;
    match extended {
        Some(lease_expires_at) => Ok(Leased::Done(Lease { lease_expires_at })),
        None => why_not_leased(db, agent, id).await,
    }
}

/// Completes the task `id` the agent holds.
pub async fn complete(
    db: &Db,
    agent: AgentCaller,
    id: Uuid,
    completion: &Completion,
    audit_metadata: &Value,
) -> Result<Leased<TaskWithSteps>, StoreError> {
    let done = sqlx::query_file_as!(
        TaskRow,
        "src/work/complete.sql",
        &agent.key_hash[..],
        id,
        completion.fencing_token,
        completion.result.as_ref().map(|r| r.as_value()),
        audit_metadata,
    )
    .fetch_optional(db)
    .await
    .during("work.complete")?;
    match done {
        Some(task) => Ok(Leased::Done(task.counted(None).into())),
        None => why_not_leased(db, agent, id).await,
    }
}

/// Reports a failed attempt at the task `id` the agent holds: a retry after a backoff, or the
/// end of the task on its last attempt.
pub async fn fail(
    db: &Db,
    agent: AgentCaller,
    id: Uuid,
    failure: &Failure,
    config: &WorkConfig,
    audit_metadata: &Value,
) -> Result<Leased<TaskWithSteps>, StoreError> {
    let failed = sqlx::query_file_as!(
        TaskRow,
        "src/work/fail.sql",
        &agent.key_hash[..],
        id,
        failure.fencing_token,
        failure.error.as_value(),
        config.retry_base.as_secs_f64(),
        config.retry_max.as_secs_f64(),
        audit_metadata,
    )
    .fetch_optional(db)
    .await
    .during("work.fail")?;
    match failed {
        Some(task) => Ok(Leased::Done(task.counted(None).into())),
        None => why_not_leased(db, agent, id).await,
    }
}

/// Why a lease-guarded write touched nothing (the failure path's second statement): the key,
/// the task, or the lease.
pub async fn why_not_leased<T>(
    db: &Db,
    agent: AgentCaller,
    id: Uuid,
) -> Result<Leased<T>, StoreError> {
    let row = sqlx::query!(
        r#"select exists (select 1 from agent_of_key($1)) as "authenticated!",
                  exists (select 1 from tasks t, agent_of_key($1) me
                          where t.id = $2 and t.owner_id = me.owner_id) as "there!""#,
        &agent.key_hash[..],
        id,
    )
    .fetch_one(db)
    .await
    .during("work.why_not_leased")?;
    Ok(match (row.authenticated, row.there) {
        (false, _) => Leased::Unauthenticated,
        (true, false) => Leased::Missing,
        (true, true) => Leased::LeaseLost,
    })
}

/// Fails, with their audit rows, up to `batch` tasks whose lease ended on their last attempt:
/// no claim will take them again, so the scheduled maintenance ends them. Returns how many.
pub async fn fail_exhausted(db: &Db, batch: i64) -> Result<u64, StoreError> {
    let failed = sqlx::query_scalar!(
        r#"with exhausted as (
               select id from tasks
               where status = 'in_progress' and lease_expires_at < now()
                 and attempt >= max_attempts
               limit $1
               for update skip locked),
           failed as (
               update tasks t set status = 'failed', lease_expires_at = null,
                      last_error = jsonb_build_object(
                          'error', 'the lease ended on the last attempt'),
                      version = t.version + 1
               from exhausted where t.id = exhausted.id
               returning t.id, t.owner_id, t.attempt, t.lease_holder),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select owner_id, 'task.fail', 'task', id,
                      jsonb_build_object('agent_id', lease_holder, 'attempt', attempt,
                                         'reason', 'lease_expired')
               from failed)
           select count(*) as "failed!" from failed"#,
        batch,
    )
    .fetch_one(db)
    .await
    .during("work.fail_exhausted")?;
    Ok(u64::try_from(failed).unwrap_or(0))
}
