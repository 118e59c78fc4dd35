#!/usr/bin/env bash
# `make test`: formatting, lints, unit + database + handler tests against a real PostgreSQL and
# a local Secrets Manager emulator, black-box HTTP tests through `cargo lambda watch` (or
# against API_BASE_URL), and the template lint. Stops whatever it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

# The Python-packaged tools and the browser download while clippy compiles: the one waits on
# the network, the other on the processor.
mkdir -p "$STATE"
{ bash tests/harness/tools.sh && bash tests/harness/browser.sh install; } >"$STATE/tools.log" 2>&1 &
tools_pid=$!
export PATH="$VENV/bin:$PATH"

started_db=
moto_pid=
cleanup() {
  [ -n "${tools_pid:-}" ] && kill "$tools_pid" 2>/dev/null
  bash tests/harness/watch.sh stop
  bash tests/harness/pgbouncer.sh stop
  CLUSTER=rehearsal PG_AUTH=password bash tests/harness/postgres.sh stop
  [ -n "$moto_pid" ] && { kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; }
  # The main cluster, even when a failure left the rehearsal's CLUSTER exported.
  [ -n "$started_db" ] && env -u CLUSTER -u PG_AUTH bash tests/harness/postgres.sh stop
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

wait "$tools_pid" || { cat "$STATE/tools.log" >&2; die "installing the tools failed (above)"; }
tools_pid=

bash tests/harness/postgres.sh status || started_db=1
DATABASE_URL=$(bash tests/harness/postgres.sh start)
export DATABASE_URL
# The cluster's TLS certificate and the test CAs, for the verify-full tests.
eval "$(bash tests/harness/postgres.sh tls | sed 's/^/export /')"

say "every SQL statement against the migrated schema (cargo sqlx prepare --check)"
bash tests/harness/sqlx.sh check

say "starting the Secrets Manager emulator"
start_moto 5520 "$STATE/moto.log"
moto_pid=$MOTO_PID

# Fake credentials and a local endpoint: the SDK must never reach AWS from a test.
export SECRETS_MANAGER_TEST_ENDPOINT=$MOTO_ENDPOINT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1

say "unit, database and handler tests"
cargo test --workspace --exclude api-tests --locked

API_BASE_URL_GIVEN=${API_BASE_URL:-}
if [ -n "${API_BASE_URL:-}" ]; then
  say "black-box tests against $API_BASE_URL"
  cargo test -p api-tests --locked
else
  say "black-box tests through cargo lambda watch, the functions connected as the app role"
  # migrate connects as the owner and provisions the app role; the functions then connect as
  # that role (DML only), as they do in AWS.
  eval "$(bash tests/harness/postgres.sh app-role | sed 's/^/export /')"
  bash tests/harness/migrate.sh
  [ -s "$STATE/jwt-secret" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$STATE/jwt-secret"
  JWT_SECRET=$(cat "$STATE/jwt-secret")
  # The lowest allowed bcrypt cost keeps the fuzzer's thousands of requests quick. Every request
  # comes from 127.0.0.1: the per-address budgets would soon refuse the fuzzer's logins and the
  # suite's registrations (the handler tests prove both budgets).
  # The local emulator (cargo lambda watch) drops large responses well before Lambda's 6 MB
  # (docs/api.md, "Pages"): keep pages at 2 MB here.
  export JWT_SECRET BCRYPT_COST=10 LOGIN_ADDRESS_FAILURE_BUDGET=1000000 REGISTER_ADDRESS_BUDGET=1000000 RESPONSE_BUDGET_BYTES=2000000
  cargo build --workspace --bins --locked
  port=$(free_port 9100)
  # Functions log at TRACE, so the log checks below cover every line they could write, in
  # Lambda's JSON log format as the template sets it.
  DATABASE_URL=$APP_DATABASE_URL DATABASE_POOLER=none bash tests/harness/watch.sh start "$port" \
    --env-var RUST_LOG=trace --env-var AWS_LAMBDA_LOG_FORMAT=JSON
  export API_BASE_URL="http://127.0.0.1:$port"
  cargo test -p api-tests --locked

  say "retention: the maintenance function, invoked through cargo lambda watch as make dev runs it"
  bash tests/harness/maintenance.sh "$API_BASE_URL"

  say "generated Python client (openapi-python-client) against the API"
  bash tests/harness/client.sh "$API_BASE_URL"

  say "database-failure drill"
  "$VENV/bin/python" tests/harness/drill.py "$API_BASE_URL"

  say "schema fuzzing (short run; make fuzz runs more)"
  bash tests/harness/fuzz.sh "${FUZZ_EXAMPLES:-25}"

  say "the docs page in a real browser: every operation listed, register, login, authorise, /api/users/me"
  bash tests/harness/browser.sh "$API_BASE_URL"

  say "no password, hash or token in the function logs"
  # The black-box tests' passwords, bcrypt hashes ($2b$...), and JWTs (base64 of '{"', eyJ...).
  if grep -nE 'violet rivers hum|not it, not it|\$2[aby]\$[0-9]{2}\$|eyJ[A-Za-z0-9_-]{10,}' "$STATE/watch/log"; then
    die "a secret appeared in the function logs (lines above)"
  fi
  if grep -n 'panicked' "$STATE/watch/log"; then
    die "a function panicked (lines above)"
  fi

  say "the function logs an operator searches: request ids, route, version and cold start on every request line"
  "$VENV/bin/python" tests/harness/check_logs.py --self-test "$STATE/watch/log"

  say "the metrics the functions wrote (EMF): every metric's name, unit and dimensions"
  "$VENV/bin/python" tests/harness/check_metrics.py --self-test "$STATE/watch/log"

  say "black-box tests again, the functions behind PgBouncer in transaction mode (as behind RDS Proxy), DATABASE_POOLER unset"
  bash tests/harness/watch.sh stop
  pooled_url=$(bash tests/harness/pgbouncer.sh start "$APP_DATABASE_USERNAME" "$APP_DATABASE_PASSWORD")
  # Migrations need a session connection (an advisory lock): they go directly, as
  # MIGRATION_DATABASE_URL says; the functions go through the pooler.
  MIGRATION_DATABASE_URL=$DATABASE_URL DATABASE_URL=$pooled_url bash tests/harness/migrate.sh
  # Unset, as a new user would leave it: the default must be safe behind a pooler.
  env -u DATABASE_POOLER DATABASE_URL=$pooled_url bash tests/harness/watch.sh start "$port"
  cargo test -p api-tests --locked
  bash tests/harness/watch.sh stop
  bash tests/harness/pgbouncer.sh stop
fi

say "burst drill: ${BURST_INSTANCES:-200} instances at once against max_connections 50, directly and through PgBouncer"
bash tests/harness/burst.sh

say "template lint: sam validate --lint, cfn-lint with the serverless rules, routes and roles"
make --no-print-directory lint-template

say "the README and docs/ against the code: named files, routes, settings"
"$VENV/bin/python" tests/harness/check_docs.py --self-test

say "release bootstraps for Lambda, built as sam build builds them (one cargo invocation)"
"$VENV/bin/python" tests/harness/sam_build_agrees.py
bash tests/harness/build.sh x86_64

say "make deploy and make destroy with standard input closed, against stand-ins for sam and aws"
bash tests/harness/deploy_test.sh

say "deploy rehearsal: the template as CloudFormation expands it (SAM), rendered in every mode (cloud-radar)"
if [ -n "${API_BASE_URL_GIVEN:-}" ]; then
  "$VENV/bin/python" tests/harness/rehearse.py --template-only
else
  say "deploy rehearsal: the release bootstraps with the template's environment, moto, and a cluster that wants passwords over TLS"
  export CLUSTER=rehearsal PG_AUTH=password
  bash tests/harness/postgres.sh start >/dev/null
  REHEARSAL_ADMIN_URL=$(bash tests/harness/postgres.sh admin-url) \
    REHEARSAL_CA=$(bash tests/harness/postgres.sh tls | sed -n 's/^DATABASE_TEST_CA=//p') \
    "$VENV/bin/python" tests/harness/rehearse.py
  bash tests/harness/postgres.sh stop
  say "the release bootstraps' logs (Lambda's JSON format): request ids, route, version and cold start"
  mapfile -t logs < <(ls .local/rehearsal/*-*.log | grep -v -e '-migrate\.log$' -e '-maintenance\.log$')
  "$VENV/bin/python" tests/harness/check_logs.py "${logs[@]}"
  unset CLUSTER PG_AUTH
fi

say "all checks passed"
