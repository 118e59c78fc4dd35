-- Spends a refresh token and stores its successor.
-- $1 presented token's hash, $2 successor's hash, $3 refresh idle lifetime (s), $4 audit metadata.
with presented as (
    select t.token_hash, t.session_id, t.used_at, s.user_id,
           s.revoked_at is null and s.expires_at > now()
               and s.last_used_at > now() - $3::float8 * interval '1 second'
               and s.password_version = u.password_version as usable
    from refresh_tokens t join sessions s on s.id = t.session_id
         join users u on u.id = s.user_id
    where t.token_hash = $1::bytea
    for update of t, s),
reused as (
    update sessions set revoked_at = now(), revoked_reason = 'refresh_token_reused'
    from presented p
    where sessions.id = p.session_id and p.used_at is not null and sessions.revoked_at is null
    returning sessions.id),
spent as (
    update refresh_tokens set used_at = now() from presented p
    where refresh_tokens.token_hash = p.token_hash and p.used_at is null and p.usable
    returning refresh_tokens.session_id),
successor as (
    insert into refresh_tokens (token_hash, session_id) select $2::bytea, session_id from spent),
touched as (
    update sessions set last_used_at = now() from spent
    where sessions.id = spent.session_id
    returning sessions.id, sessions.user_id, sessions.expires_at),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select user_id, 'session.refresh', 'session', id, $4::jsonb from touched
    union all
    select p.user_id, 'session.refresh_reused', 'session', p.session_id, $4::jsonb
    from presented p where p.used_at is not null)
select case when p.used_at is not null then 'reused'
            when t.id is not null then 'rotated' else 'refused' end as "outcome!",
       p.session_id as "session_id!", p.user_id as "user_id!",
       coalesce(least(t.expires_at, now() + $3::float8 * interval '1 second'), now())
           as "refresh_expires_at!"
from presented p left join touched t on t.id = p.session_id
