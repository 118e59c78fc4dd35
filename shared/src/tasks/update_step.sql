-- Changes one step of a task if the task is at one of the versions named (any when null) and is
-- not final, and moves the task as the lifecycle says (`task_status_after_step`, migration 0010).
-- The caller is a person (its owner, with a live session) or an agent (by its key, of the
-- owner's, holding the task's current lease with its fencing token). The task's version
-- increments, so `If-Match` on the task guards its steps. The task row is locked first and the
-- other steps are read with a lock, which in READ COMMITTED returns their latest committed
-- state: two concurrent updates of two steps run one after the other, and the second sees the
-- first's change. (The step being changed is counted from the update itself: a locking read
-- skips a row this statement already changed.)
-- $1 task, $2 owner (a person) or null, $3 versions or null, $4 step, $5 step status, $6 whether
-- the output changes, $7 output, $8 audit metadata, $9 the person's session or null, $10 the
-- agent's key hash or null, $11 the agent's fencing token.
with actor as (
    select $2::uuid as owner_id, null::uuid as agent_id
    where $10::bytea is null and session_is_live($9::uuid, $2)
    union all
    select owner_id, agent_id from agent_of_key($10) where $10 is not null),
task as (
    select t.id, t.status, t.version, coalesce(t.lease_expires_at > now(), false) as leased
    from tasks t, actor
    where t.id = $1 and t.owner_id = actor.owner_id
      and ($3::bigint[] is null or t.version = any($3))
      and not task_status_is_final(t.status)
      and (actor.agent_id is null
           or (t.lease_holder = actor.agent_id and t.fencing_token = $11::bigint
               and t.status = 'in_progress' and t.lease_expires_at > now()))
    for update of t),
siblings as (
    select s.id, s.status from task_steps s join task on s.task_id = task.id
    where s.id <> $4
    for share of s),
-- The step as it was: locked, so it is its latest committed state, and read before the update
-- below (which reads from it), for the status it leaves.
step_before as (
    select s.id, s.status from task_steps s join task on s.task_id = task.id
    where s.id = $4
    for update of s),
step as (
    update task_steps s set
        status = coalesce($5, s.status),
        output = case when $6 then $7 else s.output end
    from step_before where s.id = step_before.id
    returning s.*),
progress as (
    select (select count(*) from siblings) + 1 as total,
           (select count(*) from siblings where status = 'completed')
           + (select count(*) from step where status = 'completed') as done),
next as (
    select task.id, task.status as previous_status,
           task_status_after_step(task.status, step.status, progress.done, progress.total,
                                  task.leased) as status
    from task, step, progress),
updated as (
    update tasks t set status = next.status, version = t.version + 1
    from next where t.id = next.id
    returning t.*, next.previous_status),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select updated.owner_id, 'task_step.update', 'task_step', step.id,
           $8::jsonb || jsonb_build_object(
               'task_id', updated.id, 'step_status', step.status,
               'task_status', updated.status, 'version', updated.version)
           || coalesce((select jsonb_build_object('agent_id', agent_id, 'fencing_token', $11)
                        from actor where agent_id is not null), '{}')
           || case when updated.previous_status <> updated.status
                   then jsonb_build_object('from_status', updated.previous_status)
                   else '{}' end
    from updated, step)
select id as "id!", owner_id as "owner_id!", agent_id, title as "title!", description,
       status as "status!: TaskStatus", priority as "priority!", input as "input!", result,
       version as "version!", started_at, completed_at, created_at as "created_at!",
       updated_at as "updated_at!", attempt as "attempt!", max_attempts as "max_attempts!",
       not_before, lease_holder, lease_expires_at, last_error,
       coalesce((select json_agg(x order by x.position) from (
           select s.* from task_steps s where s.task_id = updated.id and s.id <> $4
           union all select * from step) x), '[]') as "steps!: Json<Vec<TaskStep>>",
       previous_status as "previous_status?: TaskStatus",
       (select status from step_before) as "previous_step_status?: TaskStatus"
from updated
