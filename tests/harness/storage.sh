#!/usr/bin/env bash
# `make storage`: what a million logins cost the database in bytes, table by table, and how
# long retention keeps each kind (docs/operations.md, "Retention"). Writes 100,000 successful logins (each
# with its session, first refresh token and audit row, as `login` writes them) and 100,000
# failed logins of names no account has, each from its own address (throttle, lockdown and budget
# rows, and the audit row), into a scratch database of the local cluster, then prints each
# table's size scaled to a million. Stops the cluster if it started it.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

started_db=
cleanup() {
  [ -n "$started_db" ] && bash tests/harness/postgres.sh stop
  return 0
}
trap cleanup EXIT

bash tests/harness/postgres.sh status || started_db=1
bash tests/harness/postgres.sh start >/dev/null
admin=$(bash tests/harness/postgres.sh admin-url)
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
"$psql_bin" -X -q -d "$admin" -c "drop database if exists taskapi_storage" -c "create database taskapi_storage"
scratch=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(path="/taskapi_storage").geturl())' "$admin")
DATABASE_URL=$scratch cargo run --quiet --locked -p migrate

"$psql_bin" -X -q -v ON_ERROR_STOP=1 -d "$scratch" <<'SQL'
insert into users (username, email, password_hash)
select 'user' || n, 'user' || n || '@example.com',
       '$2b$12$' || rpad(md5(n::text), 53, 'x')
from generate_series(1, 1000) n;

-- 100,000 successful logins: the session, its first refresh token, the audit row.
insert into sessions (user_id, expires_at, user_agent, source_ip, password_version)
select u.id, now() + interval '30 days',
       'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
       ('10.' || (n % 250) || '.' || (n / 250 % 250) || '.' || (n / 62500 + 1))::inet, 1
from generate_series(1, 100000) n join users u on u.username = 'user' || (n % 1000 + 1);
insert into refresh_tokens (token_hash, session_id) select sha256(id::text::bytea), id from sessions;
insert into audit_logs (actor_id, action, entity_type, entity_id, metadata)
select user_id, 'auth.login_success', 'session', id, jsonb_build_object('source_ip', host(source_ip))
from sessions;

-- 100,000 failed logins of unknown names, each from its own address.
insert into login_throttles (subject, source_ip, failures, last_attempt)
select 'login:stranger' || n, ('11.' || (n % 250) || '.' || (n / 250 % 250) || '.' || (n / 62500 + 1))::inet,
       1, gen_random_uuid()
from generate_series(1, 100000) n;
insert into login_name_failures (subject, failures) select subject, 1 from login_throttles;
insert into login_address_budgets (source_ip, window_start, failures, last_attempt)
select source_ip, date_bin('10 minutes', now(), timestamptz 'epoch'), 1, last_attempt from login_throttles;
insert into audit_logs (action, entity_type, metadata)
select 'auth.login_failure', 'user', jsonb_build_object('source_ip', host(source_ip), 'reason', 'unknown_account')
from login_throttles;
vacuum analyze;
SQL

say "storage per million logins (100,000 of each measured, scaled)"
"$psql_bin" -X -q -A -F ' | ' -t -d "$scratch" <<'SQL'
select '| table | per million rows | a row per |';
select '| --- | ---: | --- |';
with sized as (
    select t, pg_total_relation_size(t::regclass) as bytes,
           (xpath('/row/c/text()', query_to_xml('select count(*) as c from ' || t, false, true, '')))[1]::text::numeric as n
    from unnest(array['sessions', 'refresh_tokens', 'audit_logs', 'login_throttles', 'login_name_failures', 'login_address_budgets']) t)
select '| `' || t || '` | ' || to_char(bytes / n * 1e6 / 1048576.0, 'FM9990') || ' MiB | ' ||
       case t when 'sessions' then 'login' when 'refresh_tokens' then 'login and refresh'
              when 'audit_logs' then 'login, failed or not' when 'login_throttles' then 'failed login, per name and address'
              when 'login_name_failures' then 'failed login, per unknown name'
              else 'failed login, per address and 10 minutes' end || ' |'
from sized order by bytes desc;
SQL
"$psql_bin" -X -q -d "$admin" -c "drop database taskapi_storage"
