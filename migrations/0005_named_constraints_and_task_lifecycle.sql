-- Every constraint the code refers to gets a name written here, instead of the one PostgreSQL
-- generated; `shared::db` maps these names to what a client is told.
alter table users rename constraint users_pkey to users_pk;
alter table agents rename constraint agents_pkey to agents_pk;
alter table agents rename constraint agents_owner_id_fkey to agents_owner_fk;
alter table tasks rename constraint tasks_pkey to tasks_pk;
alter table tasks rename constraint tasks_owner_id_fkey to tasks_owner_fk;
alter table task_steps rename constraint task_steps_pkey to task_steps_pk;
alter table task_steps rename constraint task_steps_task_id_fkey to task_steps_task_fk;
alter table audit_logs rename constraint audit_logs_pkey to audit_logs_pk;
alter table audit_logs rename constraint audit_logs_actor_id_fkey to audit_logs_actor_fk;

-- The status lifecycle of tasks and steps, in one place: which status may follow which, and
-- what a change does to started_at and completed_at. Staying in the same status is always
-- allowed; completed and cancelled are final; a failed task can be retried.
create table task_status_transitions (
    from_status text not null,
    to_status   text not null,

    constraint task_status_transitions_pk primary key (from_status, to_status),
    constraint task_status_transitions_from_valid
        check (from_status in ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    constraint task_status_transitions_to_valid
        check (to_status in ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    constraint task_status_transitions_change check (from_status <> to_status)
);

insert into task_status_transitions (from_status, to_status) values
    ('pending', 'in_progress'), ('pending', 'completed'), ('pending', 'cancelled'),
    ('in_progress', 'pending'), ('in_progress', 'completed'), ('in_progress', 'failed'),
    ('in_progress', 'cancelled'),
    ('failed', 'pending'), ('failed', 'in_progress'), ('failed', 'cancelled');

-- Refuses a status change the table does not allow (SQLSTATE 23514, constraint
-- `<table>_status_transition`), and keeps the timestamps in step with the status: started when
-- work starts, completed when it ends, both cleared when the row goes back to pending.
create function enforce_status_lifecycle() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        new.started_at := case when new.status in ('in_progress', 'completed') then now() end;
        new.completed_at :=
            case when new.status in ('completed', 'failed', 'cancelled') then now() end;
    elsif new.status <> old.status then
        if not exists (select 1 from task_status_transitions
                       where from_status = old.status and to_status = new.status) then
            raise exception 'a % % cannot become %', old.status, tg_table_name, new.status
                using errcode = 'check_violation',
                      constraint = tg_table_name || '_status_transition',
                      table = tg_table_name;
        end if;
        new.started_at := case new.status
            when 'in_progress' then now()
            when 'pending' then null
            when 'completed' then coalesce(old.started_at, now())
            else old.started_at end;
        -- now() is when the transaction began: one that waited for a row lock may have begun
        -- before the change it follows, so a completion is never dated before its start.
        new.completed_at := case when new.status in ('completed', 'failed', 'cancelled')
                                 then greatest(now(), new.started_at) end;
    end if;
    return new;
end;
$$;

create trigger tasks_status_lifecycle before insert or update of status on tasks
    for each row execute function enforce_status_lifecycle();

-- A task's result and a step's output are JSON objects, like every document the API stores.
alter table tasks add constraint tasks_result_object
    check (result is null or jsonb_typeof(result) = 'object');
alter table task_steps add constraint task_steps_output_object
    check (output is null or jsonb_typeof(output) = 'object');
