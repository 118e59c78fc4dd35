-- A password change ends every session opened with the old password, including one whose login
-- was in flight when the change committed (it had verified the old hash and then opened its
-- session). Each session carries the password version it was opened under and stands only while
-- that is still the account's version; a change moves the version on, and the changer's own
-- session with it.
alter table users add column password_version integer not null default 1;
alter table sessions add column password_version integer;
update sessions s set password_version = u.password_version from users u where u.id = s.user_id;

-- A session inserted without a version (by a release before this one, after a rollback) takes
-- the account's current one.
create function sessions_take_password_version() returns trigger
language plpgsql as $$
begin
    if new.password_version is null then
        select password_version into new.password_version from users where id = new.user_id;
    end if;
    return new;
end
$$;

create trigger sessions_take_password_version before insert on sessions
    for each row execute function sessions_take_password_version();

alter table sessions alter column password_version set not null;

create or replace function session_is_live(session uuid, owner uuid) returns boolean
language sql stable as $$
    select exists (
        select 1 from sessions s join users u on u.id = s.user_id
        where s.id = session and s.user_id = owner and s.revoked_at is null and s.expires_at > now()
          and s.password_version = u.password_version)
$$;
