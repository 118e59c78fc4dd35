-- Applies a task's changes if it is at one of the versions named (any when null), increments
-- the version and writes the `task.update` audit row. The row is locked first, so the
-- conditions are checked against its latest committed version.
-- $1 task, $2 owner, $3 versions or null, $4 title, $5 whether the description changes,
-- $6 description, $7 priority, $8 whether the agent changes, $9 agent, $10 whether the result
-- changes, $11 result, $12 status, $13 audit metadata, $14 the caller's session.
with previous as (
    select id, status from tasks
    where id = $1 and owner_id = $2 and session_is_live($14, $2)
    for update),
task as (
    update tasks t set
        title = coalesce($4, t.title),
        description = case when $5 then $6 else t.description end,
        priority = coalesce($7, t.priority),
        agent_id = case when $8 then $9 else t.agent_id end,
        result = case when $10 then $11 else t.result end,
        status = coalesce($12, t.status),
        version = t.version + 1
    from previous
    where t.id = previous.id and ($3::bigint[] is null or t.version = any($3))
    returning t.*, previous.status as previous_status),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select owner_id, 'task.update', 'task', id,
           $13::jsonb || jsonb_build_object('version', version)
           || case when previous_status <> status
                   then jsonb_build_object('from_status', previous_status, 'to_status', status)
                   else '{}' end
    from task)
select id as "id!", owner_id as "owner_id!", agent_id, title as "title!", description,
       status as "status!: TaskStatus", priority as "priority!", input as "input!", result,
       version as "version!", started_at, completed_at, created_at as "created_at!",
       updated_at as "updated_at!", attempt as "attempt!", max_attempts as "max_attempts!",
       not_before, lease_holder, lease_expires_at, last_error,
       coalesce((select json_agg(s order by s.position) from task_steps s
                 where s.task_id = task.id), '[]') as "steps!: Json<Vec<TaskStep>>",
       previous_status as "previous_status?: TaskStatus",
       null::text as "previous_step_status?: TaskStatus"
from task
