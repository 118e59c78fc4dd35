-- The account-wide lockdown for names no account has. users.failed_login_count counts an
-- account's consecutive failures across addresses; this counts them for a name tried that no
-- account holds (`subject` as in login_throttles: 'login:' and the name), so that after
-- `lockdown_failures` an unknown name answers 429 with the same Retry-After as a real one. Both
-- counts start again after the lockdown's quiet period without failures.
create table login_name_failures (
    subject        text not null,
    failures       integer not null default 0,
    last_failed_at timestamptz not null default now(),

    constraint login_name_failures_pk primary key (subject),
    constraint login_name_failures_failures_non_negative check (failures >= 0)
);

-- Registrations per source address per hour (REGISTER_ADDRESS_BUDGET), charged before the hash.
create table register_address_budgets (
    source_ip    inet not null,
    window_start timestamptz not null,
    attempts     integer not null default 0,

    constraint register_address_budgets_pk primary key (source_ip, window_start),
    constraint register_address_budgets_attempts_non_negative check (attempts >= 0)
);

-- Retention (the maintenance function) deletes by age in bounded batches: each delete finds its
-- rows through one of these.
create index sessions_expires_at_idx on sessions (expires_at);
create index sessions_revoked_at_idx on sessions (revoked_at) where revoked_at is not null;
create index login_throttles_updated_at_idx on login_throttles (updated_at);
create index login_address_budgets_window_idx on login_address_budgets (window_start);
create index register_address_budgets_window_idx on register_address_budgets (window_start);
create index login_name_failures_last_failed_idx on login_name_failures (last_failed_at);
create index login_known_addresses_last_success_idx on login_known_addresses (last_success_at);

-- The audit trail is append-only for the app role (no update or delete). Its retention is a
-- policy only the owner sets (migrate, from AUDIT_RETENTION_DAYS; null keeps everything), and the
-- one way the app role may delete audit rows is this function, which deletes only what the
-- policy allows: a caller can prune, never choose what.
create table audit_retention (
    singleton boolean not null default true,
    days      integer,

    constraint audit_retention_pk primary key (singleton),
    constraint audit_retention_singleton check (singleton),
    constraint audit_retention_days_positive check (days > 0)
);

insert into audit_retention (days) values (null);

create function prune_audit_logs(batch integer) returns integer
language sql volatile security definer set search_path = public, pg_temp as $$
    with doomed as (
        select id from audit_logs
        where created_at < now() - make_interval(days => (select days from audit_retention))
        order by id
        limit least(greatest(batch, 0), 10000)),
    gone as (delete from audit_logs where id in (select id from doomed) returning 1)
    select count(*)::integer from gone
$$;

revoke all on function prune_audit_logs(integer) from public;
