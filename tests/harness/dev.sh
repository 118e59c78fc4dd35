#!/usr/bin/env bash
# `make dev`: a database (DATABASE_URL if reachable, else the local cluster), migrations
# (through MIGRATION_DATABASE_URL, default DATABASE_URL), a local
# JWT secret, a build, and every function served by `cargo lambda watch` at the real paths.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

PORT=${PORT:-9000}
port_in_use "$PORT" && die "port $PORT is already in use: stop what holds it, or run 'make dev PORT=<another>'"

bash tests/harness/tools.sh cargo-lambda
export PATH="$VENV/bin:$PATH"

started_db=
maintenance_pid=
stop_started() {
  [ -n "$maintenance_pid" ] && kill "$maintenance_pid" 2>/dev/null
  [ -n "$started_db" ] && bash tests/harness/postgres.sh stop
  return 0
}
trap stop_started EXIT
trap 'exit 130' INT TERM

reachable() {
  local isready
  isready=$(command -v pg_isready || ls /usr/lib/postgresql/*/bin/pg_isready 2>/dev/null | tail -1)
  [ -n "$isready" ] && "$isready" -q -t 3 -d "$1"
}

if [ -n "${DATABASE_URL:-}" ] && reachable "$DATABASE_URL"; then
  # The functions use DATABASE_URL (unless DATABASE_POOLER=none says it is a direct
  # connection, they assume a transaction-mode pooler may be in between); migrations need a
  # session connection and use MIGRATION_DATABASE_URL.
  MIGRATION_DATABASE_URL=${MIGRATION_DATABASE_URL:-$DATABASE_URL}
  reachable "$MIGRATION_DATABASE_URL" || die "MIGRATION_DATABASE_URL does not answer"
  say "using DATABASE_URL"
else
  [ -n "${DATABASE_URL:-}" ] && say "DATABASE_URL does not answer; using the local cluster instead"
  bash tests/harness/postgres.sh status || started_db=1
  # As in AWS: migrate connects as the owner and provisions the app role, and the functions
  # connect as that role (DML only).
  MIGRATION_DATABASE_URL=$(bash tests/harness/postgres.sh start)
  eval "$(bash tests/harness/postgres.sh app-role | sed 's/^/export /')"
  DATABASE_URL=$APP_DATABASE_URL
  # The local cluster, with nothing in between: named, cached statements.
  export DATABASE_POOLER=${DATABASE_POOLER:-none}
fi
export DATABASE_URL MIGRATION_DATABASE_URL

if [ -z "${JWT_SECRET:-}" ]; then
  [ -s "$STATE/jwt-secret" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$STATE/jwt-secret"
  JWT_SECRET=$(cat "$STATE/jwt-secret")
fi
export JWT_SECRET
export RUST_LOG=${RUST_LOG:-info}
# The local emulator (cargo lambda watch) drops large responses well before Lambda's 6 MB
# (docs/api.md, "Pages"): keep pages at 2 MB here.
export RESPONSE_BUDGET_BYTES=${RESPONSE_BUDGET_BYTES:-2000000}

# Locally the functions may also read secrets with a profile of the AWS config files
# (AWS_PROFILE), for a DATABASE_SECRET_ARN or JWT_SECRET_ARN in a real account.
FEATURES=shared/aws-profile
say "building"
cargo build --workspace --bins --features "$FEATURES"
say "applying migrations"
bash tests/harness/migrate.sh

# Retention runs here as in AWS: the maintenance function once an hour (MAINTENANCE_INTERVAL_S),
# the first run a minute after the start; `make maintenance` runs it at once.
(
  sleep 60
  while true; do
    PORT=$PORT bash tests/harness/maintenance.sh >/dev/null 2>&1 || true
    sleep "${MAINTENANCE_INTERVAL_S:-3600}"
  done
) &
maintenance_pid=$!

say "serving the API on http://127.0.0.1:$PORT (Ctrl-C stops it; retention runs hourly)"
cargo lambda watch -A 127.0.0.1 -P "$PORT" --features "$FEATURES"
