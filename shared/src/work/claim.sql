-- An agent claims the most urgent task it may run: its owner's, assigned to it or to no agent,
-- pending and past `not_before`, or in progress with its lease expired and attempts left;
-- priority first, then age. `skip locked` lets concurrent claims take different tasks. The
-- claim starts the task, makes the agent its lease holder until the lease ends, counts the
-- attempt and issues a fencing token larger than any before.
-- $1 the key's hash, $2 lease (s), $3 audit metadata.
with me as (
    select agent_id, owner_id, key_id from agent_of_key($1::bytea)),
used as (
    update agent_keys set last_used_at = now() from me
    where agent_keys.id = me.key_id
      and (agent_keys.last_used_at is null or agent_keys.last_used_at < now() - interval '1 minute')),
-- The owner and agent are scalars here, not a join, so the owner's open tasks are read in the
-- order of `tasks_claim_idx` and the first claimable one ends the scan: no sort, however deep.
candidate as (
    select t.id, t.status as previous_status, t.lease_holder as previous_holder
    from tasks t
    where t.owner_id = (select owner_id from me) and t.status in ('pending', 'in_progress')
      and (t.agent_id is null or t.agent_id = (select agent_id from me))
      and case when t.status = 'pending' then t.not_before is null or t.not_before <= now()
               else t.lease_expires_at < now() and t.attempt < t.max_attempts end
    order by t.priority desc, t.created_at, t.id
    limit 1
    for update skip locked),
claimed as (
    update tasks t set
        status = 'in_progress', lease_holder = me.agent_id,
        lease_expires_at = now() + $2::float8 * interval '1 second',
        attempt = t.attempt + 1, fencing_token = nextval('task_fencing_tokens'),
        not_before = null, version = t.version + 1
    from candidate, me where t.id = candidate.id
    returning t.*, candidate.previous_status, candidate.previous_holder),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select claimed.owner_id, 'task.claim', 'task', claimed.id,
           $3::jsonb || jsonb_build_object('agent_id', me.agent_id, 'attempt', claimed.attempt,
                                           'fencing_token', claimed.fencing_token)
    from claimed, me
    union all
    select claimed.owner_id, 'task.lease_expired', 'task', claimed.id,
           $3::jsonb || jsonb_build_object('agent_id', claimed.previous_holder,
                                           'attempt', claimed.attempt - 1)
    from claimed where claimed.previous_status = 'in_progress')
select (select count(*) from me) > 0 as "authenticated!",
       c.id as "id?", c.owner_id as "owner_id?", c.agent_id, c.title as "title?", c.description,
       c.status as "status?: TaskStatus", c.priority as "priority?", c.input as "input?",
       c.result, c.version as "version?", c.started_at, c.completed_at,
       c.created_at as "created_at?", c.updated_at as "updated_at?", c.attempt as "attempt?",
       c.max_attempts as "max_attempts?", c.not_before, c.lease_holder, c.lease_expires_at,
       c.last_error, c.fencing_token, c.previous_status as "previous_status?: TaskStatus",
       coalesce((select json_agg(s order by s.position) from task_steps s
                 where s.task_id = c.id), '[]') as "steps!: Json<Vec<TaskStep>>"
from (select 1) as one left join claimed c on true
