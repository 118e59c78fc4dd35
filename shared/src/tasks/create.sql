-- Writes a task, its steps in the order given and its `task.create` audit row: all or none.
-- $1 owner, $2 agent or null, $3 title, $4 description, $5 status, $6 priority, $7 input,
-- $8 step names, $9 step inputs, $10 audit metadata, $11 the caller's session, $12 max attempts.
with task as (
    insert into tasks (owner_id, agent_id, title, description, status, priority, input,
                       max_attempts)
    select $1::uuid, $2::uuid, $3::text, $4::text, $5::text, $6::int, $7::jsonb, $12::int
    where session_is_live($11, $1)
    returning *),
steps as (
    insert into task_steps (task_id, position, name, input)
    select task.id, step.ordinality - 1, step.name, step.input
    from task, unnest($8::text[], $9::jsonb[]) with ordinality as step(name, input, ordinality)
    returning *),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select owner_id, 'task.create', 'task', id,
           $10::jsonb || jsonb_build_object('status', status, 'steps', cardinality($8::text[]))
    from task)
select id as "id!", owner_id as "owner_id!", agent_id, title as "title!", description,
       status as "status!: TaskStatus", priority as "priority!", input as "input!", result,
       version as "version!", started_at, completed_at, created_at as "created_at!",
       updated_at as "updated_at!", attempt as "attempt!", max_attempts as "max_attempts!",
       not_before, lease_holder, lease_expires_at, last_error,
       coalesce((select json_agg(steps order by position) from steps), '[]')
           as "steps!: Json<Vec<TaskStep>>",
       -- Nothing changed status: the task and its steps were created.
       null::text as "previous_status?: TaskStatus", null::text as "previous_step_status?: TaskStatus"
from task
