-- The lease holder extends its lease. Only the holder of the current lease, with the fencing
-- token of its claim, may: a lease that ended or passed to another claim is lost.
-- $1 the key's hash, $2 task, $3 fencing token, $4 lease (s).
with me as (
    select agent_id, owner_id from agent_of_key($1::bytea))
update tasks t set lease_expires_at = now() + $4::float8 * interval '1 second'
from me
where true
      and t.id = $2::uuid and t.owner_id = me.owner_id and t.lease_holder = me.agent_id
      and t.fencing_token = $3::bigint and t.status = 'in_progress' and t.lease_expires_at > now()
returning t.lease_expires_at as "lease_expires_at!"
