-- Changes one step of the caller's task if the task is at one of the versions named (any when
-- null) and is not final, and moves the task as the lifecycle says (`task_status_after_step`,
-- migration 0010). The task's version increments, so `If-Match` on the task guards its steps.
-- The task row is locked first and the other steps are read with a lock, which in READ
-- COMMITTED returns their latest committed state: two concurrent updates of two steps run one
-- after the other, and the second sees the first's change. (The step being changed is counted
-- from the update itself: a locking read skips a row this statement already changed.)
-- $1 task, $2 owner, $3 versions or null, $4 step, $5 step status, $6 whether the output
-- changes, $7 output, $8 audit metadata, $9 the caller's session.
with task as (
    select id, status, version from tasks
    where id = $1 and owner_id = $2 and session_is_live($9, $2)
      and ($3::bigint[] is null or version = any($3))
      and not task_status_is_final(status)
    for update),
siblings as (
    select s.id, s.status from task_steps s join task on s.task_id = task.id
    where s.id <> $4
    for share of s),
step as (
    update task_steps s set
        status = coalesce($5, s.status),
        output = case when $6 then $7 else s.output end
    from task where s.id = $4 and s.task_id = task.id
    returning s.*),
progress as (
    select (select count(*) from siblings) + 1 as total,
           (select count(*) from siblings where status = 'completed')
           + (select count(*) from step where status = 'completed') as done),
next as (
    select task.id, task.status as previous_status,
           task_status_after_step(task.status, step.status, progress.done, progress.total)
               as status
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
           || case when updated.previous_status <> updated.status
                   then jsonb_build_object('from_status', updated.previous_status)
                   else '{}' end
    from updated, step)
select id as "id!", owner_id as "owner_id!", agent_id, title as "title!", description,
       status as "status!: TaskStatus", priority as "priority!", input as "input!", result,
       version as "version!", started_at, completed_at, created_at as "created_at!",
       updated_at as "updated_at!",
       coalesce((select json_agg(x order by x.position) from (
           select s.* from task_steps s where s.task_id = updated.id and s.id <> $4
           union all select * from step) x), '[]') as "steps!: Json<Vec<TaskStep>>"
from updated
