#!/usr/bin/env bash
# `make drill`: the burst drill (burst.py). A cluster of its own with max_connections = 50, the
# schema, one user with a session and its access token, then BURST_INSTANCES (200) instances of
# `me` at once: directly, and through PgBouncer in transaction mode. Stops what it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

INSTANCES=${BURST_INSTANCES:-200}
export CLUSTER=burst PG_MAX_CONNECTIONS=50

started_db=
cleanup() {
  bash tests/harness/pgbouncer.sh stop
  [ -n "$started_db" ] && bash tests/harness/postgres.sh stop
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build --quiet --locked -p me -p migrate -p local-runtime
bash tests/harness/postgres.sh status || started_db=1
url=$(bash tests/harness/postgres.sh start)
# The instances connect as the app role, as in AWS: not a superuser, so the 3 connections
# PostgreSQL reserves for superusers are not theirs.
export APP_DATABASE_USERNAME=taskapi_app
APP_DATABASE_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export APP_DATABASE_PASSWORD
DATABASE_URL=$url bash tests/harness/migrate.sh
app_url="postgres://$APP_DATABASE_USERNAME:$APP_DATABASE_PASSWORD@${url#postgres://postgres@}"

psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
ids=$("$psql_bin" -X -q -t -A -F ' ' -d "$url" -c "
  with account as (
    insert into users (username, email, password_hash)
    values ('burst_' || substr(md5(random()::text), 1, 10), 'burst_' || substr(md5(random()::text), 1, 10) || '@example.com', 'not-a-hash')
    returning id)
  insert into sessions (user_id, expires_at) select id, now() + interval '1 hour' from account
  returning user_id, id")
read -r user_id session_id <<<"$ids"
[ -n "$session_id" ] || die "could not create the drill's user and session"

JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
BURST_TOKEN=$(JWT_SECRET=$JWT_SECRET python3 - "$user_id" "$session_id" <<'PY'
import base64, hashlib, hmac, json, os, sys, time, uuid
b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()
now = int(time.time())
header = {"alg": "HS256", "typ": "JWT"}
claims = {"sub": sys.argv[1], "sid": sys.argv[2], "iat": now, "nbf": now, "exp": now + 900,
          "iss": "taskapi", "aud": "taskapi", "jti": str(uuid.uuid4())}
signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
signature = hmac.new(os.environ["JWT_SECRET"].encode(), signing_input.encode(), hashlib.sha256).digest()
print(signing_input + "." + b64(signature))
PY
)
export JWT_SECRET BURST_TOKEN

pooled=$(bash tests/harness/pgbouncer.sh start "$APP_DATABASE_USERNAME" "$APP_DATABASE_PASSWORD")
python3 tests/harness/burst.py "$INSTANCES" "$app_url" "$pooled"
