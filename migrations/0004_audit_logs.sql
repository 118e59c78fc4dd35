-- Who did what to which entity, and when. Rows outlive the entities they describe: there is
-- no foreign key on entity_id, and a deleted actor only loses the link to the user row.
create table audit_logs (
    id          bigint generated always as identity primary key,
    actor_id    uuid references users (id) on delete set null,
    action      text not null,
    entity_type text not null,
    entity_id   uuid,
    metadata    jsonb not null default '{}',
    created_at  timestamptz not null default now(),

    constraint audit_logs_action_format check (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    constraint audit_logs_entity_type_format check (entity_type ~ '^[a-z_]+$'),
    constraint audit_logs_metadata_object check (jsonb_typeof(metadata) = 'object')
);

create index audit_logs_entity_idx on audit_logs (entity_type, entity_id, created_at);
create index audit_logs_actor_idx on audit_logs (actor_id, created_at);
