-- Keeps updated_at current on every update of a table that has the trigger.
create function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end;
$$;

create table users (
    id                 uuid primary key default gen_random_uuid(),
    username           text not null,
    email              text not null,
    password_hash      text not null,
    -- Login throttling: consecutive failures since the last success, and the time before
    -- which further attempts are refused.
    failed_login_count integer not null default 0,
    locked_until       timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),

    constraint users_username_format check (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
    constraint users_email_lower_case check (email = lower(email)),
    constraint users_email_length check (char_length(email) between 3 and 254),
    constraint users_password_hash_present check (password_hash <> ''),
    constraint users_failed_login_count_non_negative check (failed_login_count >= 0)
);

-- Usernames are unique ignoring case; emails are stored lower-case, so plain uniqueness does.
create unique index users_username_unique on users (lower(username));
create unique index users_email_unique on users (email);

create trigger users_set_updated_at before update on users
    for each row execute function set_updated_at();
