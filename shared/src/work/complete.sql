-- The lease holder completes its task, with an optional result, and its audit row.
-- $1 the key's hash, $2 task, $3 fencing token, $4 result or null, $5 audit metadata.
with me as (
    select agent_id, owner_id from agent_of_key($1::bytea)),
done as (
    update tasks t set status = 'completed', result = coalesce($4::jsonb, t.result),
                       lease_expires_at = null, version = t.version + 1
    from me
    where true
      and t.id = $2::uuid and t.owner_id = me.owner_id and t.lease_holder = me.agent_id
      and t.fencing_token = $3::bigint and t.status = 'in_progress' and t.lease_expires_at > now()
    returning t.*),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select done.owner_id, 'task.complete', 'task', done.id,
           $5::jsonb || jsonb_build_object('agent_id', me.agent_id, 'attempt', done.attempt,
                                           'fencing_token', $3::bigint)
    from done, me)
select id as "id!", owner_id as "owner_id!", agent_id, title as "title!", description,
       status as "status!: TaskStatus", priority as "priority!", input as "input!", result,
       version as "version!", started_at, completed_at, created_at as "created_at!",
       updated_at as "updated_at!", attempt as "attempt!", max_attempts as "max_attempts!",
       not_before, lease_holder, lease_expires_at, last_error,
       coalesce((select json_agg(s order by s.position) from task_steps s
                 where s.task_id = done.id), '[]') as "steps!: Json<Vec<TaskStep>>",
       -- Only a task in progress is completed or failed.
       'in_progress'::text as "previous_status?: TaskStatus",
       null::text as "previous_step_status?: TaskStatus"
from done
