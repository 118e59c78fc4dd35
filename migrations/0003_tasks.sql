create table tasks (
    id           uuid primary key default gen_random_uuid(),
    owner_id     uuid not null references users (id) on delete cascade,
    agent_id     uuid,
    title        text not null,
    description  text,
    status       text not null default 'pending',
    priority     integer not null default 0,
    input        jsonb not null default '{}',
    result       jsonb,
    -- Optimistic concurrency: every change increments it; clients send it back in If-Match.
    version      bigint not null default 1,
    started_at   timestamptz,
    completed_at timestamptz,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),

    constraint tasks_title_length check (char_length(title) between 1 and 200),
    constraint tasks_description_length check (char_length(description) <= 10000),
    constraint tasks_status_valid
        check (status in ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    constraint tasks_priority_range check (priority between 0 and 100),
    constraint tasks_input_object check (jsonb_typeof(input) = 'object'),
    constraint tasks_version_positive check (version >= 1),
    constraint tasks_completed_after_started
        check (completed_at is null or started_at is null or completed_at >= started_at),
    -- A task may only name an agent of its own owner; deleting the agent keeps the task.
    constraint tasks_agent_owned_by_owner foreign key (agent_id, owner_id)
        references agents (id, owner_id) on delete set null (agent_id)
);

-- A user's tasks newest first, and keyset pagination on (created_at, id).
create index tasks_owner_created_idx on tasks (owner_id, created_at desc, id desc);
create index tasks_owner_status_created_idx on tasks (owner_id, status, created_at desc, id desc);
create index tasks_agent_idx on tasks (agent_id) where agent_id is not null;

create trigger tasks_set_updated_at before update on tasks
    for each row execute function set_updated_at();

create table task_steps (
    id           uuid primary key default gen_random_uuid(),
    task_id      uuid not null references tasks (id) on delete cascade,
    position     integer not null,
    name         text not null,
    status       text not null default 'pending',
    input        jsonb not null default '{}',
    output       jsonb,
    started_at   timestamptz,
    completed_at timestamptz,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),

    constraint task_steps_position_non_negative check (position >= 0),
    constraint task_steps_position_unique unique (task_id, position),
    constraint task_steps_name_length check (char_length(name) between 1 and 200),
    constraint task_steps_status_valid
        check (status in ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    constraint task_steps_input_object check (jsonb_typeof(input) = 'object')
);

create trigger task_steps_set_updated_at before update on task_steps
    for each row execute function set_updated_at();
