-- The lease holder reports a failed attempt, with an error document, and its audit row. With
-- attempts left the task waits for a retry: pending again, claimable after an exponential
-- backoff (`base` * 2^(attempt - 1) seconds, at most `max`); on its last attempt it fails.
-- $1 the key's hash, $2 task, $3 fencing token, $4 error document, $5 backoff base (s),
-- $6 backoff max (s), $7 audit metadata.
with me as (
    select agent_id, owner_id from agent_of_key($1::bytea)),
failed as (
    update tasks t set
        status = case when t.attempt < t.max_attempts then 'pending' else 'failed' end,
        not_before = case when t.attempt < t.max_attempts
            then now() + least($5::float8 * power(2, t.attempt - 1), $6::float8)
                         * interval '1 second' end,
        lease_expires_at = null, last_error = $4::jsonb, version = t.version + 1
    from me
    where true
      and t.id = $2::uuid and t.owner_id = me.owner_id and t.lease_holder = me.agent_id
      and t.fencing_token = $3::bigint and t.status = 'in_progress' and t.lease_expires_at > now()
    returning t.*),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select failed.owner_id,
           case when failed.status = 'pending' then 'task.retry' else 'task.fail' end,
           'task', failed.id,
           $7::jsonb || jsonb_build_object('agent_id', me.agent_id, 'attempt', failed.attempt,
                                           'not_before', failed.not_before,
                                           'fencing_token', $3::bigint)
    from failed, me)
select id as "id!", owner_id as "owner_id!", agent_id, title as "title!", description,
       status as "status!: TaskStatus", priority as "priority!", input as "input!", result,
       version as "version!", started_at, completed_at, created_at as "created_at!",
       updated_at as "updated_at!", attempt as "attempt!", max_attempts as "max_attempts!",
       not_before, lease_holder, lease_expires_at, last_error,
       coalesce((select json_agg(s order by s.position) from task_steps s
                 where s.task_id = failed.id), '[]') as "steps!: Json<Vec<TaskStep>>",
       -- Only a task in progress is completed or failed.
       'in_progress'::text as "previous_status?: TaskStatus",
       null::text as "previous_step_status?: TaskStatus"
from failed
