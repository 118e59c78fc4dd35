create table agents (
    id          uuid primary key default gen_random_uuid(),
    owner_id    uuid not null references users (id) on delete cascade,
    name        text not null,
    description text,
    config      jsonb not null default '{}',
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),

    constraint agents_name_length check (char_length(name) between 1 and 100),
    constraint agents_description_length check (char_length(description) <= 10000),
    constraint agents_config_object check (jsonb_typeof(config) = 'object'),
    -- Lets tasks reference (agent, owner) so a task can only name its owner's agent.
    constraint agents_id_owner_unique unique (id, owner_id)
);

create unique index agents_owner_name_unique on agents (owner_id, lower(name));

create trigger agents_set_updated_at before update on agents
    for each row execute function set_updated_at();
