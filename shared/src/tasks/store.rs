//! Every SQL statement on tasks and their steps, one function per operation. Each is one round
//! trip on its success path and writes its audit row in the same statement. Every statement is
//! scoped by owner, so another user's task is never read, changed or deleted.

use serde_json::{Value, json};
use sqlx::PgExecutor;

use crate::db::Db;
use uuid::Uuid;

use crate::caller::Caller;
use crate::db::{Operation, StoreError};
use crate::error::ApiError;
use crate::pagination::Position;
use crate::tasks::{NewTask, StepChanges, Task, TaskChanges, TaskStatus, TaskWithSteps};

/// The `steps` column of a task row named `$task`: its steps in order, as a JSON array.
macro_rules! steps_of {
    ($task:literal) => {
        concat!(
            "coalesce((select json_agg(s order by s.position) from task_steps s where s.task_id = ",
            $task,
            ".id), '[]') as steps"
        )
    };
}

pub use crate::written::Written;
use crate::written::{deleted_or_why, why_not_written};

const TASK_EXISTS: &str = "select exists(select 1 from tasks where id = $1 and owner_id = $2)";

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
    sqlx::query_as(concat!(
        "select t.*, ",
        steps_of!("t"),
        " from tasks t where t.id = $1 and t.owner_id = $2 and session_is_live($3, $2)"
    ))
    .bind(id)
    .bind(caller.user_id)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("tasks.find_owned")
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
    sqlx::query_as(
        "with task as ( \
             insert into tasks (owner_id, agent_id, title, description, status, priority, input) \
             select $1, $2, $3, $4, $5, $6, $7 where session_is_live($11, $1) \
             returning *), \
         steps as ( \
             insert into task_steps (task_id, position, name, input) \
             select task.id, step.ordinality - 1, step.name, step.input \
             from task, unnest($8::text[], $9::jsonb[]) with ordinality as step(name, input, ordinality) \
             returning *), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select owner_id, 'task.create', 'task', id, \
                    $10::jsonb || jsonb_build_object('status', status, 'steps', cardinality($8::text[])) \
             from task) \
         select task.*, coalesce((select json_agg(steps order by position) from steps), '[]') as steps \
         from task",
    )
    .bind(caller.user_id)
    .bind(task.agent_id)
    .bind(task.title.as_str())
    .bind(task.description.as_ref().map(|d| d.as_str()))
    .bind(task.status)
    .bind(task.priority.get())
    .bind(task.input.as_value())
    .bind(names)
    .bind(inputs)
    .bind(audit_metadata)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("tasks.create")
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
    let updated: Result<Option<TaskWithSteps>, sqlx::Error> = sqlx::query_as(concat!(
        "with previous as ( \
             select id, status from tasks \
             where id = $1 and owner_id = $2 and session_is_live($14, $2) for update), \
         task as ( \
             update tasks t set \
                 title = coalesce($4, t.title), \
                 description = case when $5 then $6 else t.description end, \
                 priority = coalesce($7, t.priority), \
                 agent_id = case when $8 then $9 else t.agent_id end, \
                 result = case when $10 then $11 else t.result end, \
                 status = coalesce($12, t.status), \
                 version = t.version + 1 \
             from previous \
             where t.id = previous.id and ($3::bigint[] is null or t.version = any($3)) \
             returning t.*, previous.status as previous_status), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select owner_id, 'task.update', 'task', id, \
                    $13::jsonb || jsonb_build_object('version', version) \
                    || case when previous_status <> status \
                            then jsonb_build_object('from_status', previous_status, 'to_status', status) \
                            else '{}' end \
             from task) \
         select task.*, ",
        steps_of!("task"),
        " from task"
    ))
    .bind(id)
    .bind(caller.user_id)
    .bind(versions)
    .bind(changes.title.as_ref().map(|title| title.as_str()))
    .bind(changes.description.is_some())
    .bind(changes.description.as_ref().and_then(|d| d.as_ref().map(|d| d.as_str())))
    .bind(changes.priority.map(|priority| priority.get()))
    .bind(changes.agent_id.is_some())
    .bind(changes.agent_id.flatten())
    .bind(changes.result.is_some())
    .bind(changes.result.as_ref().and_then(|r| r.as_ref().map(|r| r.as_value())))
    .bind(changes.status)
    .bind(metadata)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await;
    match updated {
        Ok(Some(task)) => Ok(Written::Done(task)),
        Ok(None) => Ok(why_not_written(db, caller, id, TASK_EXISTS).await?),
        Err(err) if is_forbidden_transition(&err) => {
            // The failure path only: read the status the task had, for a message that names it.
            let from: Option<TaskStatus> =
                sqlx::query_scalar("select status from tasks where id = $1 and owner_id = $2")
                    .bind(id)
                    .bind(caller.user_id)
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
    let deleted: i64 = sqlx::query_scalar(
        "with deleted as ( \
             delete from tasks \
             where id = $1 and owner_id = $2 and ($3::bigint[] is null or version = any($3)) \
               and session_is_live($5, $2) \
             returning id, title, version), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select $2, 'task.delete', 'task', id, \
                    $4::jsonb || jsonb_build_object('title', title, 'version', version) \
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
    .during("tasks.delete_if_version")?;
    deleted_or_why(db, caller, id, deleted, TASK_EXISTS).await
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
    sqlx::query_as(
        "select * from tasks \
         where owner_id = $1 and session_is_live($6, $1) \
           and ($2::text is null or status = $2) \
           and ($3::timestamptz is null or (created_at, id) < ($3, $4)) \
         order by created_at desc, id desc \
         limit $5",
    )
    .bind(caller.user_id)
    .bind(status)
    .bind(after.map(|p| p.created_at))
    .bind(after.map(|p| p.id))
    .bind(limit)
    .bind(caller.session_id)
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<StepError> for ApiError {
    fn from(err: StepError) -> Self {
        match err {
            StepError::TaskFinal(status) => ApiError::InUse(status.detail()),
            StepError::Store(err) => err.into(),
        }
    }
}

/// Changes one step of the caller's task if the task is at one of `versions` (any when `None`),
/// and lets the step drive its task, in one statement: the first step that starts moves a
/// pending (or failed) task to in_progress; when every step is completed the task completes; a
/// failed step fails it. The task's version increments, so `If-Match` on the task guards its
/// steps too. The task row is locked first and the other steps are read with a lock, which in
/// READ COMMITTED returns their latest committed state: two concurrent updates of two steps run
/// one after the other, and the second sees the first's change. (The step being changed is
/// counted from the update itself: a locking read skips a row this statement already changed.)
pub async fn update_step(
    db: &Db,
    caller: Caller,
    task_id: Uuid,
    step_id: Uuid,
    versions: Option<&[i64]>,
    changes: &StepChanges,
    audit_metadata: &Value,
) -> Result<Written<TaskWithSteps>, StepError> {
    let updated: Option<TaskWithSteps> = sqlx::query_as(
        "with task as ( \
             select id, status, version from tasks \
             where id = $1 and owner_id = $2 and session_is_live($9, $2) \
               and ($3::bigint[] is null or version = any($3)) \
               and status not in ('completed', 'cancelled') \
             for update), \
         siblings as ( \
             select s.id, s.status from task_steps s join task on s.task_id = task.id \
             where s.id <> $4 \
             for share of s), \
         step as ( \
             update task_steps s set \
                 status = coalesce($5, s.status), \
                 output = case when $6 then $7 else s.output end \
             from task where s.id = $4 and s.task_id = task.id \
             returning s.*), \
         progress as ( \
             select (select count(*) from siblings) + 1 as total, \
                    (select count(*) from siblings where status = 'completed') \
                    + (select count(*) from step where status = 'completed') as done), \
         next as ( \
             select task.id, \
                    case when step.status = 'failed' then 'failed' \
                         when progress.done = progress.total then 'completed' \
                         when step.status in ('in_progress', 'completed') \
                              and task.status in ('pending', 'failed') then 'in_progress' \
                         else task.status end as status, \
                    task.status as previous_status \
             from task, step, progress), \
         updated as ( \
             update tasks t set status = next.status, version = t.version + 1 \
             from next where t.id = next.id \
             returning t.*, next.previous_status), \
         audit as ( \
             insert into audit_logs (actor_id, action, entity_type, entity_id, metadata) \
             select updated.owner_id, 'task_step.update', 'task_step', step.id, \
                    $8::jsonb || jsonb_build_object( \
                        'task_id', updated.id, 'step_status', step.status, \
                        'task_status', updated.status, 'version', updated.version) \
                    || case when updated.previous_status <> updated.status \
                            then jsonb_build_object('from_status', updated.previous_status) \
                            else '{}' end \
             from updated, step) \
         select updated.*, \
                coalesce((select json_agg(x order by x.position) from ( \
                    select s.* from task_steps s where s.task_id = updated.id and s.id <> $4 \
                    union all select * from step) x), '[]') as steps \
         from updated",
    )
    .bind(task_id)
    .bind(caller.user_id)
    .bind(versions)
    .bind(step_id)
    .bind(changes.status)
    .bind(changes.output.is_some())
    .bind(
        changes
            .output
            .as_ref()
            .and_then(|o| o.as_ref().map(|o| o.as_value())),
    )
    .bind(audit_metadata)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("tasks.update_step")?;
    if let Some(task) = updated {
        return Ok(Written::Done(task));
    }
    // The failure path: which of the conditions failed.
    let status: Option<TaskStatus> = sqlx::query_scalar(
        "select t.status from tasks t \
         where t.id = $1 and t.owner_id = $2 and session_is_live($4, $2) \
           and exists (select 1 from task_steps s where s.id = $3 and s.task_id = t.id)",
    )
    .bind(task_id)
    .bind(caller.user_id)
    .bind(step_id)
    .bind(caller.session_id)
    .fetch_optional(db)
    .await
    .during("tasks.why_step_not_written")?;
    match status {
        None => Ok(Written::Missing),
        Some(TaskStatus::Completed) => Err(StepError::TaskFinal(FinalStatus::Completed)),
        Some(TaskStatus::Cancelled) => Err(StepError::TaskFinal(FinalStatus::Cancelled)),
        Some(_) => Ok(Written::Stale),
    }
}
