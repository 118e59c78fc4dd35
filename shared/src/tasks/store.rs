//! Every SQL statement on tasks and their steps, one function per operation. Each is one round
//! trip on its success path and writes its audit row in the same statement. Every statement is
//! scoped by owner, so another user's task is never read, changed or deleted. The compiler
//! checks each against the schema (`sqlx::query!`, `.sqlx/`); the three long ones are `.sql`
//! files beside this one. The lifecycle they follow is in the database (migrations 0005, 0010).

use serde_json::{Value, json};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::caller::{AgentCaller, Caller};
use crate::db::{Db, Operation, StoreError};
use crate::error::ApiError;
use crate::pagination::Position;
use crate::tasks::{
    NewTask, StepChanges, Task, TaskChanges, TaskRow, TaskStatus, TaskStep, TaskWithSteps,
};
use crate::work;

pub use crate::written::Written;

/// Why an update was refused.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The transition table does not let the task's current status become the one asked for.
    #[error("a {} task cannot become {}", from.as_str(), to.as_str())]
    Forbidden { from: TaskStatus, to: TaskStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UpdateError> for ApiError {
    fn from(err: UpdateError) -> Self {
        match err {
            UpdateError::Forbidden { .. } => ApiError::unprocessable("status", err.to_string()),
            UpdateError::Store(err) => err.into(),
        }
    }
}

/// The caller's task `id` with its steps; `None` when there is no such task or it is someone
/// else's.
pub async fn find_owned(
    db: impl PgExecutor<'_>,
    caller: Caller,
    id: Uuid,
) -> Result<Option<TaskWithSteps>, StoreError> {
    let row = sqlx::query_as!(
        TaskRow,
        r#"select t.id, t.owner_id, t.agent_id, t.title, t.description,
                  t.status as "status: TaskStatus", t.priority, t.input, t.result, t.version,
                  t.started_at, t.completed_at, t.created_at, t.updated_at, t.attempt,
                  t.max_attempts, t.not_before, t.lease_holder, t.lease_expires_at, t.last_error,
                  coalesce((select json_agg(s order by s.position) from task_steps s
                            where s.task_id = t.id), '[]') as "steps!: Json<Vec<TaskStep>>",
                  null::text as "previous_status?: TaskStatus",
                  null::text as "previous_step_status?: TaskStatus"
           from tasks t where t.id = $1 and t.owner_id = $2 and session_is_live($3, $2)"#,
        id,
        caller.user_id,
        caller.session_id,
    )
    .fetch_optional(db)
    .await
    .during("tasks.find_owned")?;
    Ok(row.map(TaskWithSteps::from))
}

/// Writes the task, its steps in the order given and its `task.create` audit row: all of them
/// or none. The status trigger sets `started_at`/`completed_at`; the owner's foreign key
/// refuses a deleted user, `tasks_agent_owned_by_owner` an agent that is not the owner's.
pub async fn create(
    db: impl PgExecutor<'_>,
    caller: Caller,
    task: &NewTask,
    audit_metadata: &Value,
) -> Result<Option<TaskWithSteps>, StoreError> {
    let (names, inputs): (Vec<&str>, Vec<&Value>) = task
        .steps
        .iter()
        .map(|step| (step.name.as_str(), step.input.as_value()))
        .unzip();
    let row = sqlx::query_file_as!(
        TaskRow,
        "src/tasks/create.sql",
        caller.user_id,
        task.agent_id,
        task.title.as_str(),
        task.description.as_ref().map(|d| d.as_str()),
        task.status.as_str(),
        task.priority.get(),
        task.input.as_value(),
        &names as &[&str],
        &inputs as &[&Value],
        audit_metadata,
        caller.session_id,
        task.max_attempts,
    )
    .fetch_optional(db)
    .await
    .during("tasks.create")?;
    Ok(row.map(TaskWithSteps::from))
}

/// Applies `changes` to the caller's task if its version is one of `versions` (any version when
/// `None`), increments the version and writes the `task.update` audit row, in one statement.
///
/// The row is locked and the conditions are checked against its latest committed version, so
/// concurrent updates never lose a change: each applies in turn, or gets `Stale` when it named
/// a version. A status change the transition table forbids fails with
/// `tasks_status_transition` (a 422).
pub async fn update_if_version(
    db: &Db,
    caller: Caller,
    id: Uuid,
    versions: Option<&[i64]>,
    changes: &TaskChanges,
    audit_metadata: &Value,
) -> Result<Written<TaskWithSteps>, UpdateError> {
    let mut metadata = audit_metadata.clone();
    if let Some(map) = metadata.as_object_mut() {
        map.insert("fields".into(), json!(changes.fields()));
    }
    let updated = sqlx::query_file_as!(
        TaskRow,
        "src/tasks/update.sql",
        id,
        caller.user_id,
        versions,
        changes.title.as_ref().map(|title| title.as_str()),
        changes.description.is_some(),
        changes
            .description
            .as_ref()
            .and_then(|d| d.as_ref().map(|d| d.as_str())),
        changes.priority.map(|priority| priority.get()),
        changes.agent_id.is_some(),
        changes.agent_id.flatten(),
        changes.result.is_some(),
        changes
            .result
            .as_ref()
            .and_then(|r| r.as_ref().map(|r| r.as_value())),
        changes.status.map(TaskStatus::as_str),
        metadata,
        caller.session_id,
    )
    .fetch_optional(db)
    .await;
    match updated {
        Ok(Some(task)) => Ok(Written::Done(task.counted(None).into())),
        Ok(None) => Ok(why_not_written(db, caller, id).await?),
        Err(err) if is_forbidden_transition(&err) => {
            // The failure path only: read the status the task had, for a message that names it.
            let from = sqlx::query_scalar!(
                r#"select status as "status: TaskStatus" from tasks
                   where id = $1 and owner_id = $2"#,
                id,
                caller.user_id,
            )
            .fetch_optional(db)
            .await
            .during("tasks.status")?;
            match (from, changes.status) {
                (Some(from), Some(to)) => Err(UpdateError::Forbidden { from, to }),
                _ => Err(StoreError {
                    operation: "tasks.update_if_version",
                    source: err,
                }
                .into()),
            }
        }
        Err(source) => Err(StoreError {
            operation: "tasks.update_if_version",
            source,
        }
        .into()),
    }
}

/// Deletes the caller's task (its steps go with it) if its version is one of `versions` (any
/// version when `None`), and writes the `task.delete` audit row, in one statement.
pub async fn delete_if_version(
    db: &Db,
    caller: Caller,
    id: Uuid,
    versions: Option<&[i64]>,
    audit_metadata: &Value,
) -> Result<Written<()>, StoreError> {
    let deleted = sqlx::query_scalar!(
        r#"with deleted as (
               delete from tasks
               where id = $1 and owner_id = $2 and ($3::bigint[] is null or version = any($3))
                 and session_is_live($5, $2)
               returning id, title, version),
           audit as (
               insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
               select $2, 'task.delete', 'task', id,
                      $4::jsonb || jsonb_build_object('title', title, 'version', version)
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
    .during("tasks.delete_if_version")?;
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
                  exists (select 1 from tasks where id = $1 and owner_id = $2) as "there!""#,
        id,
        caller.user_id,
        caller.session_id,
    )
    .fetch_one(db)
    .await
    .during("tasks.why_not_written")?;
    Ok(Written::why_not(row.live, row.there))
}

fn is_forbidden_transition(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.constraint())
        .is_some_and(|name| name == "tasks_status_transition")
}

/// Up to `limit` of the caller's tasks, newest first, after `after` in that order, optionally
/// only those of one `status`. Keyset-paged on (created_at, id), which an index serves.
pub async fn list_page(
    db: impl PgExecutor<'_>,
    caller: Caller,
    status: Option<TaskStatus>,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<Task>, StoreError> {
    sqlx::query_as!(
        Task,
        r#"select id, owner_id, agent_id, title, description, status as "status: TaskStatus",
                  priority, input, result, version, started_at, completed_at, created_at,
                  updated_at, attempt, max_attempts, not_before, lease_holder, lease_expires_at,
                  last_error
           from tasks
           where owner_id = $1 and session_is_live($6, $1)
             and ($2::text is null or status = $2)
             and ($3::timestamptz is null or (created_at, id) < ($3, $4::uuid))
           order by created_at desc, id desc
           limit $5"#,
        caller.user_id,
        status.map(TaskStatus::as_str),
        after.map(|p| p.created_at),
        after.map(|p| p.id),
        limit,
        caller.session_id,
    )
    .fetch_all(db)
    .await
    .during("tasks.list_page")
}

/// A task status after which nothing about the task or its steps changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    Completed,
    Cancelled,
}

impl FinalStatus {
    /// What a client is told when it tries to move a step of such a task.
    pub fn detail(self) -> &'static str {
        match self {
            Self::Completed => "the task is completed; its steps cannot change",
            Self::Cancelled => "the task is cancelled; its steps cannot change",
        }
    }
}

/// Why a step update was refused, besides a stale version or a missing task or step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The task is completed or cancelled: its steps are final too.
    #[error("{}", .0.detail())]
    TaskFinal(FinalStatus),
    /// An agent's key is not valid.
    #[error("the agent key was refused")]
    AgentKeyRefused,
    /// An agent does not hold the task's current lease.
    #[error("the lease is lost")]
    LeaseLost,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<StepError> for ApiError {
    fn from(err: StepError) -> Self {
        match err {
            StepError::TaskFinal(status) => ApiError::InUse(status.detail()),
            StepError::AgentKeyRefused => work::agent_key_refused(),
            StepError::LeaseLost => work::lease_lost(),
            StepError::Store(err) => err.into(),
        }
    }
}

/// Who moves a step: the task's owner, or an agent of the owner's holding the task's lease, with
/// the fencing token of its claim.
#[derive(Debug, Clone, Copy)]
pub enum StepActor {
    Owner(Caller),
    Agent {
        agent: AgentCaller,
        fencing_token: i64,
    },
}

/// Changes one step of a task if the task is at one of `versions` (any when `None`), and moves
/// the task as the database's lifecycle says (`task_status_after_step`), in one statement
/// (`update_step.sql`, which says how concurrent step updates are ordered).
pub async fn update_step(
    db: &Db,
    actor: StepActor,
    task_id: Uuid,
    step_id: Uuid,
    versions: Option<&[i64]>,
    changes: &StepChanges,
    audit_metadata: &Value,
) -> Result<Written<TaskWithSteps>, StepError> {
    let (owner, session, key_hash, fencing_token) = match actor {
        StepActor::Owner(caller) => (Some(caller.user_id), Some(caller.session_id), None, None),
        StepActor::Agent {
            agent,
            fencing_token,
        } => (None, None, Some(agent.key_hash), Some(fencing_token)),
    };
    let updated = sqlx::query_file_as!(
        TaskRow,
        "src/tasks/update_step.sql",
        task_id,
        owner,
        versions,
        step_id,
        changes.status.map(TaskStatus::as_str),
        changes.output.is_some(),
        changes
            .output
            .as_ref()
            .and_then(|o| o.as_ref().map(|o| o.as_value())),
        audit_metadata,
        session,
        key_hash.as_ref().map(|hash| &hash[..]),
        fencing_token,
    )
    .fetch_optional(db)
    .await
    .during("tasks.update_step")?;
    if let Some(task) = updated {
        return Ok(Written::Done(task.counted(Some(step_id)).into()));
    }
    // The failure path: which of the conditions failed.
    let row = sqlx::query!(
        r#"select actor.owner_id is not null as "authenticated!",
                  t.status as "status?: TaskStatus",
                  coalesce(actor.agent_id is null
                           or (t.lease_holder = actor.agent_id and t.fencing_token = $6
                               and t.status = 'in_progress' and t.lease_expires_at > now()),
                           false) as "leased!",
                  exists (select 1 from task_steps s where s.id = $3 and s.task_id = t.id)
                      as "step!"
           from (select 1) as one
           left join (select $2::uuid as owner_id, null::uuid as agent_id
                      where $5::bytea is null and session_is_live($4::uuid, $2)
                      union all
                      select owner_id, agent_id from agent_of_key($5) where $5 is not null) actor
                  on true
           left join tasks t on t.id = $1 and t.owner_id = actor.owner_id"#,
        task_id,
        owner,
        step_id,
        session,
        key_hash.as_ref().map(|hash| &hash[..]),
        fencing_token,
    )
    .fetch_one(db)
    .await
    .during("tasks.why_step_not_written")?;
    match (actor, row.authenticated, row.status, row.step, row.leased) {
        (StepActor::Agent { .. }, false, ..) => Err(StepError::AgentKeyRefused),
        (_, _, None, ..) | (_, _, _, false, _) => Ok(Written::Missing),
        (_, _, Some(TaskStatus::Completed), ..) => {
            Err(StepError::TaskFinal(FinalStatus::Completed))
        }
        (_, _, Some(TaskStatus::Cancelled), ..) => {
            Err(StepError::TaskFinal(FinalStatus::Cancelled))
        }
        (_, _, _, _, false) => Err(StepError::LeaseLost),
        _ => Ok(Written::Stale),
    }
}
