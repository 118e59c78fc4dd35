-- Agents get a version for ETag/If-Match, and the keyset index their listing pages on.
alter table agents add column version bigint not null default 1;
alter table agents add constraint agents_version_positive check (version >= 1);
alter table agents add constraint agents_config_size check (octet_length(config::text) <= 65536);
create index agents_owner_created_idx on agents (owner_id, created_at desc, id desc);

-- A deleted agent's tasks keep their history (agent_id becomes null, through the foreign key),
-- but not while one of them is in progress: the foreign key's own update of each task row
-- (which waits for, and then sees, any concurrent change of that row) refuses it. A direct
-- update that clears agent_id is the client's choice and stays allowed (trigger depth 1).
create function keep_agents_of_running_tasks() returns trigger
language plpgsql as $$
begin
    if pg_trigger_depth() > 1 and old.agent_id is not null and new.agent_id is null
       and old.status = 'in_progress' then
        raise exception 'agent % has a task in progress', old.agent_id
            using errcode = 'foreign_key_violation',
                  constraint = 'agents_task_in_progress',
                  table = 'tasks';
    end if;
    return new;
end;
$$;

create trigger tasks_keep_running_agent before update of agent_id on tasks
    for each row execute function keep_agents_of_running_tasks();

-- Steps follow the same lifecycle as tasks (the transition table of migration 0005).
create trigger task_steps_status_lifecycle before insert or update of status on task_steps
    for each row execute function enforce_status_lifecycle();

alter table task_steps add constraint task_steps_output_size
    check (output is null or octet_length(output::text) <= 65536);
alter table task_steps add constraint task_steps_input_size check (octet_length(input::text) <= 65536);
alter table tasks add constraint tasks_input_size check (octet_length(input::text) <= 65536);
alter table tasks add constraint tasks_result_size
    check (result is null or octet_length(result::text) <= 65536);

-- Everything a task holds, as a response carries it: its documents and its steps' documents,
-- each measured as the JSON string the Lambda response envelope makes of it (quotes and
-- backslashes escaped again). A task read with its steps must fit in one Lambda response
-- (6 MB), so the total may not pass 5 MiB.
create function task_documents_bytes(task uuid) returns bigint
language sql stable as $$
    select coalesce((select octet_length(to_json(t.input::text)::text)
                          + coalesce(octet_length(to_json(t.result::text)::text), 0)
                     from tasks t where t.id = task), 0)
         + coalesce((select sum(octet_length(to_json(s.input::text)::text)
                                + coalesce(octet_length(to_json(s.output::text)::text), 0))
                     from task_steps s where s.task_id = task), 0)
$$;

create function enforce_task_documents_budget() returns trigger
language plpgsql as $$
declare
    -- A step names its task; a task is its own.
    task uuid := coalesce(to_jsonb(new) ->> 'task_id', to_jsonb(new) ->> 'id')::uuid;
begin
    if task_documents_bytes(task) > 5242880 then
        raise exception 'the documents of task % would pass 5 MiB', task
            using errcode = 'check_violation',
                  constraint = 'tasks_documents_budget',
                  table = tg_table_name;
    end if;
    return null;
end;
$$;

create constraint trigger tasks_documents_budget after insert or update of input, result on tasks
    deferrable initially immediate
    for each row execute function enforce_task_documents_budget();
create constraint trigger task_steps_documents_budget after insert or update of input, output on task_steps
    deferrable initially immediate
    for each row execute function enforce_task_documents_budget();

-- The audit trail as its actor reads it: newest first, keyset-paged.
create index audit_logs_actor_page_idx on audit_logs (actor_id, created_at desc, id desc);
