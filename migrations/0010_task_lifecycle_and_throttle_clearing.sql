-- The task lifecycle, all of it in the database: migration 0005 holds which status may follow
-- which (enforced by a trigger on every change); this one holds how a step's change moves its
-- task, so no statement spells that rule out.

-- A retried task whose steps all complete is complete. The direct change was always two
-- requests away (failed -> in_progress -> completed), so forbidding it protected nothing, and a
-- step that finished a failed task's work could not complete it.
insert into task_status_transitions (from_status, to_status) values ('failed', 'completed');

-- A completed or cancelled task is final, and so are its steps.
create function task_status_is_final(status text) returns boolean
language sql immutable parallel safe as $$
    select status in ('completed', 'cancelled')
$$;

-- The status a task moves to when one of its steps becomes `step_status`, with `done` of its
-- `total` steps completed afterwards. A derived move is always one the transition table allows
-- (a database test tries every case):
-- - a task an agent holds under a live lease (`leased`) keeps its status: the holder completes
--   or fails it itself, with its result or error and the retry rules (migration 0011);
-- - a failed step fails a task in progress. A pending task stays pending: it was set back to
--   wait for another attempt, so nothing about it is in progress to fail, and the step keeps
--   its own failure;
-- - when every step is completed, the task is completed;
-- - a step that starts or completes starts a pending or failed task (a retry begins);
-- - otherwise the task keeps its status.
create function task_status_after_step(task_status text, step_status text, done bigint,
                                       total bigint, leased boolean) returns text
language sql immutable parallel safe as $$
    select case
        when task_status_is_final(task_status) or leased then task_status
        when step_status = 'failed' then
            case when task_status = 'in_progress' then 'failed' else task_status end
        when done = total then 'completed'
        when step_status in ('in_progress', 'completed') then 'in_progress'
        else task_status
    end
$$;

-- The login throttle forgets an account's failures (its rules: shared/src/auth/throttle.rs): at
-- one address after a successful login from there, which also gives back that address's charge
-- in the current window of `address_window` seconds; at every address (`address` null) after a
-- password change or the account's deletion. Returns how many locks it lifted. The account's
-- own counter (`users.failed_login_count`) is reset by the statement that updates its row.
create function login_throttle_clear(account uuid, address inet, address_window double precision)
returns bigint
language sql volatile as $$
    with lifted as (
        delete from login_throttles
        where subject = account::text and (address is null or source_ip = address)
        returning 1),
    budget as (
        update login_address_budgets set failures = greatest(failures - 1, 0)
        where address is not null and source_ip = address
          and window_start = date_bin(address_window * interval '1 second', now(),
                                      timestamptz 'epoch'))
    select count(*) from lifted
$$;
