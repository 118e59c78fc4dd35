-- Charges one password check to the throttle before the hash is checked (throttle.rs says the
-- rules). Returns the account, if any, and the verdict's parts.
-- $1 the name tried (login) or '', $2 the caller's user (password check) or null, $3 the
-- caller's session, $4 source address (text), $5 this attempt's id, $6 free failures,
-- $7 longest lock (s), $8 failures before the lockdown, $9 lockdown quiet period (s),
-- $10 known-address window (s), $11 failures per address per window, $12 that window (s).
with account as (
    select id, password_hash, password_version, username, email, failed_login_count,
           last_failed_login_at
    from users
    where case when $2::uuid is null then lower(username) = $1::text or email = $1
               else id = $2 and session_is_live($3::uuid, $2) end),
source as (select coalesce($4::text::inet, inet '0.0.0.0') as ip),
subject as (select coalesce((select id::text from account), 'login:' || $1) as key
            where $2 is null or exists (select 1 from account)),
name_count as (
    select n.failures, n.last_failed_at from login_name_failures n, subject
    where n.subject = subject.key and not exists (select 1 from account)),
counter as (
    select id, failed_login_count as failures, last_failed_login_at as last_failed_at
    from account
    union all
    select null::uuid, failures, last_failed_at from name_count),
lockdown as (
    select c.last_failed_at from counter c, source
    where c.failures >= $8::int
      and c.last_failed_at > now() - $9::float8 * interval '1 second'
      and not exists (
          select 1 from login_known_addresses k
          where k.user_id = c.id and k.source_ip = source.ip
            and k.last_success_at > now() - $10::float8 * interval '1 second')),
budget as (
    insert into login_address_budgets as b (source_ip, window_start, failures, last_attempt)
    select source.ip, date_bin($12::float8 * interval '1 second', now(), timestamptz 'epoch'), 1,
           $5::uuid
    from source, subject where not exists (select 1 from lockdown)
    on conflict (source_ip, window_start) do update
        set failures = b.failures + (b.failures < $11::int)::int,
            last_attempt = case when b.failures < $11 then excluded.last_attempt
                                else b.last_attempt end
    returning last_attempt = $5 as allowed, window_start),
throttle as (
    insert into login_throttles as t (subject, source_ip, failures, locked_until, last_attempt)
    select subject.key, source.ip, 1,
           case when 1 >= $6::int then now() + interval '1 second' end, $5
    from subject, source, budget where budget.allowed
    on conflict (subject, source_ip) do update set
        failures = case when t.locked_until > now() then t.failures else t.failures + 1 end,
        locked_until = case
            when t.locked_until > now() then t.locked_until
            when t.failures + 1 >= $6 then now() + make_interval(
                secs => least(power(2, least(t.failures + 1 - $6, 20)), $7::float8))
            else null end,
        last_attempt = case when t.locked_until > now() then t.last_attempt
                            else excluded.last_attempt end,
        updated_at = now()
    returning last_attempt = $5 as allowed, failures, locked_until),
counted as (
    update users set
        failed_login_count = case
            when last_failed_login_at > now() - $9 * interval '1 second'
            then failed_login_count + 1 else 1 end,
        last_failed_login_at = now()
    from throttle where users.id = (select id from account) and throttle.allowed),
name_counted as (
    insert into login_name_failures as n (subject, failures, last_failed_at)
    select subject.key, 1, now() from subject, throttle
    where throttle.allowed and not exists (select 1 from account)
    on conflict (subject) do update set
        failures = case when n.last_failed_at > now() - $9 * interval '1 second'
                        then n.failures + 1 else 1 end,
        last_failed_at = now())
select a.id as "id?", a.password_hash as "password_hash?",
       a.password_version as "password_version?", a.username as "username?", a.email as "email?",
       exists (select 1 from lockdown) as "locked_down!",
       (select allowed from budget) as address_allowed,
       (select allowed from throttle) as throttle_allowed,
       (select failures from throttle) as failures,
       ceil(extract(epoch from coalesce(
           (select max(last_failed_at) + $9 * interval '1 second' from lockdown),
           (select window_start + $12 * interval '1 second' from budget where not allowed),
           (select locked_until from throttle where not allowed)) - now()))::bigint
           as retry_after_secs
from (select 1) as one left join account a on true
