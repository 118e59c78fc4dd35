-- A successful login, if the password it verified is still the account's.
-- $1 user id, $2 source address (text), $3 user agent, $4 refresh token hash,
-- $5 absolute session lifetime (s), $6 refresh idle lifetime (s), $7 re-hashed password or null,
-- $8 audit metadata, $9 password version read with the hash, $10 address budget window (s).
with verified as (
    select id, password_version from users
    where id = $1::uuid and password_version = $9::int
    for update),
-- The login throttle forgets this account's failures at this address (migration 0010).
cleared as (
    select login_throttle_clear(id, $2::text::inet, $10::float8) as locks_lifted from verified),
account as (
    update users set failed_login_count = 0, last_failed_login_at = null,
                     password_hash = coalesce($7::text, users.password_hash)
    from verified where users.id = verified.id
    returning users.id),
address as (
    insert into login_known_addresses (user_id, source_ip, last_success_at)
    select id, $2::text::inet, now() from verified where $2::text is not null
    on conflict (user_id, source_ip) do update set last_success_at = now()),
session as (
    insert into sessions (user_id, expires_at, user_agent, source_ip, password_version)
    select id, now() + $5::float8 * interval '1 second', left($3::text, 512), $2::text::inet,
           password_version
    from verified
    returning id, user_id, expires_at),
token as (
    insert into refresh_tokens (token_hash, session_id) select $4::bytea, id from session),
audit as (
    insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
    select user_id, 'auth.login_success', 'session', id,
           $8::jsonb || jsonb_build_object('rehashed', $7::text is not null,
                                           'locks_lifted', cleared.locks_lifted)
    from session, cleared)
select id as "session_id!", user_id as "user_id!",
       least(expires_at, now() + $6::float8 * interval '1 second') as "refresh_expires_at!"
from session
