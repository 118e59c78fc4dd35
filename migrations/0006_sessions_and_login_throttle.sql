-- Sessions: a login opens one; its access tokens carry its id (`sid`) and are refused as soon as
-- it is revoked or past its absolute lifetime. Refresh tokens are single use and stored only as
-- their SHA-256; presenting a used one revokes the whole session (reuse detection).
create table sessions (
    id             uuid not null default gen_random_uuid(),
    user_id        uuid not null,
    created_at     timestamptz not null default now(),
    -- The last refresh: a session idle for longer than the refresh idle lifetime cannot refresh.
    last_used_at   timestamptz not null default now(),
    -- The absolute lifetime: no access or refresh after it.
    expires_at     timestamptz not null,
    revoked_at     timestamptz,
    revoked_reason text,
    user_agent     text,
    source_ip      inet,

    constraint sessions_pk primary key (id),
    constraint sessions_user_fk foreign key (user_id) references users (id) on delete cascade,
    constraint sessions_revocation_has_reason check ((revoked_at is null) = (revoked_reason is null)),
    constraint sessions_revoked_reason_valid check (revoked_reason in (
        'logout', 'logout_global', 'logout_others', 'refresh_token_reused', 'password_changed')),
    constraint sessions_user_agent_length check (char_length(user_agent) <= 512),
    constraint sessions_expires_after_creation check (expires_at > created_at)
);

create index sessions_user_live_idx on sessions (user_id) where revoked_at is null;

create table refresh_tokens (
    token_hash bytea not null,
    session_id uuid not null,
    issued_at  timestamptz not null default now(),
    used_at    timestamptz,

    constraint refresh_tokens_pk primary key (token_hash),
    constraint refresh_tokens_session_fk foreign key (session_id) references sessions (id) on delete cascade,
    constraint refresh_tokens_hash_is_sha256 check (octet_length(token_hash) = 32)
);

create index refresh_tokens_session_idx on refresh_tokens (session_id);

-- Whether an access token's session still stands: the one test every authenticated statement
-- makes, so a revoked session is refused at once, in the same round trip.
create function session_is_live(session uuid, owner uuid) returns boolean
language sql stable as $$
    select exists (
        select 1 from sessions s
        where s.id = session and s.user_id = owner and s.revoked_at is null and s.expires_at > now())
$$;

-- Login throttling, charged before the password is checked.
-- Per (account, source address): consecutive failures and the lock they earned. `subject` is the
-- account's id, or 'login:' and the name tried when no account has it, so an unknown account is
-- throttled exactly like a known one. `last_attempt` names the attempt that was last charged:
-- an attempt that finds its own id there was let through.
create table login_throttles (
    subject      text not null,
    source_ip    inet not null,
    failures     integer not null default 0,
    locked_until timestamptz,
    last_attempt uuid,
    updated_at   timestamptz not null default now(),

    constraint login_throttles_pk primary key (subject, source_ip),
    constraint login_throttles_failures_non_negative check (failures >= 0)
);

-- Per source address across accounts (credential stuffing): failures per 10-minute window.
create table login_address_budgets (
    source_ip    inet not null,
    window_start timestamptz not null,
    failures     integer not null default 0,
    last_attempt uuid,

    constraint login_address_budgets_pk primary key (source_ip, window_start),
    constraint login_address_budgets_failures_non_negative check (failures >= 0)
);

-- Addresses an account logged in from: after many consecutive failures only these may try.
create table login_known_addresses (
    user_id         uuid not null,
    source_ip       inet not null,
    last_success_at timestamptz not null,

    constraint login_known_addresses_pk primary key (user_id, source_ip),
    constraint login_known_addresses_user_fk foreign key (user_id) references users (id) on delete cascade
);

-- users.failed_login_count now counts consecutive failures across all addresses; the account-wide
-- lock (users.locked_until) is no longer written: the per-address throttle above replaces it. The
-- column stays, so the previous release still runs on this schema (rollback).
alter table users add column last_failed_login_at timestamptz;
