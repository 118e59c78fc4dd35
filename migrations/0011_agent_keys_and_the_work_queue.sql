-- Agents do the work: keys they authenticate with, and tasks as a queue they claim with leases
-- and fencing tokens.

-- An agent's keys. The key itself (`tak_` and 256 random bits, base64url) is shown once; only
-- its SHA-256 is kept. Deleting the agent deletes its keys; deleting a key revokes it.
create table agent_keys (
    id           uuid not null default gen_random_uuid(),
    agent_id     uuid not null,
    owner_id     uuid not null,
    name         text not null,
    prefix       text not null,
    key_hash     bytea not null,
    expires_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz not null default now(),

    constraint agent_keys_pk primary key (id),
    constraint agent_keys_agent_fk foreign key (agent_id, owner_id)
        references agents (id, owner_id) on delete cascade,
    constraint agent_keys_hash_unique unique (key_hash),
    constraint agent_keys_hash_length check (octet_length(key_hash) = 32),
    constraint agent_keys_name_length check (char_length(name) between 1 and 100),
    constraint agent_keys_prefix_format check (prefix ~ '^tak_[A-Za-z0-9_-]{8}$')
);

create index agent_keys_agent_page_idx on agent_keys (agent_id, created_at desc, id desc);

-- The agent of a valid key: its id and owner, if the key exists, has not expired, and its
-- agent is active. Every statement an agent makes goes through it, as every statement a person
-- makes goes through `session_is_live`.
create function agent_of_key(key_hash bytea)
returns table (agent_id uuid, owner_id uuid, key_id uuid)
language sql stable as $$
    select a.id, a.owner_id, k.id from agent_keys k join agents a on a.id = k.agent_id
    where k.key_hash = agent_of_key.key_hash
      and (k.expires_at is null or k.expires_at > now())
      and a.is_active
$$;

-- Fencing tokens only ever grow: a token from an earlier claim is always smaller.
create sequence task_fencing_tokens as bigint;

alter table tasks
    add column attempt          integer not null default 0,
    add column max_attempts     integer not null default 3,
    add column not_before       timestamptz,
    add column lease_holder     uuid,
    add column lease_expires_at timestamptz,
    add column fencing_token    bigint,
    add column last_error       jsonb,
    add constraint tasks_lease_holder_fk foreign key (lease_holder) references agents (id)
        on delete set null,
    add constraint tasks_max_attempts_range check (max_attempts between 1 and 100),
    add constraint tasks_attempt_non_negative check (attempt >= 0),
    add constraint tasks_lease_has_holder check (lease_expires_at is null or fencing_token is not null),
    add constraint tasks_last_error_object check (last_error is null or jsonb_typeof(last_error) = 'object'),
    add constraint tasks_last_error_size check (octet_length(last_error::text) <= 65536);

-- The claim's index: an owner's open tasks, most urgent first, in the claim's order, so a claim
-- reads them in order without sorting however many tasks there are.
create index tasks_claim_idx on tasks (owner_id, priority desc, created_at, id)
    where status in ('pending', 'in_progress');
