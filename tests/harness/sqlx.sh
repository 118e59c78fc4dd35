#!/usr/bin/env bash
# The statements' compile-time check. Every `sqlx::query!` is checked against the schema when it
# compiles, from the descriptions in `.sqlx/` (SQLX_OFFLINE, .cargo/config.toml). This script
# migrates a scratch database of the local cluster to the current schema and, with sqlx-cli
# (pinned, built once into .local/cargo):
#   sqlx.sh check     `cargo sqlx prepare --check`: fails when a statement no longer fits the
#                     schema, or when `.sqlx/` does not describe the statements as written
#   sqlx.sh prepare   writes `.sqlx/` again (after changing a statement or a migration)
source "$(dirname "$0")/common.sh"
cd "$ROOT"

mode=${1:-check}
case $mode in check | prepare) ;; *) die "usage: sqlx.sh [check|prepare]" ;; esac

bin="$STATE/cargo/bin"
if [ ! -x "$bin/cargo-sqlx" ] || ! "$bin/cargo-sqlx" sqlx --version 2>/dev/null | grep -q " $SQLX_CLI_VERSION$"; then
  say "building sqlx-cli $SQLX_CLI_VERSION (once)"
  cargo install sqlx-cli --version "$SQLX_CLI_VERSION" --locked --quiet \
    --no-default-features --features postgres --root "$STATE/cargo" --target-dir "$STATE/cargo-build"
fi
export PATH="$bin:$PATH"

url=$(bash tests/harness/postgres.sh start)
schema_url=${url%/*}/sqlx_schema?sslmode=disable
sqlx database drop -y --database-url "$schema_url" >/dev/null
sqlx database create --database-url "$schema_url"
sqlx migrate run --source migrations --database-url "$schema_url" >/dev/null

if [ "$mode" = check ]; then
  say "cargo sqlx prepare --check: every statement against the migrated schema and .sqlx/"
  DATABASE_URL=$schema_url cargo sqlx prepare --workspace --check
else
  DATABASE_URL=$schema_url cargo sqlx prepare --workspace
fi
sqlx database drop -y --database-url "$schema_url" >/dev/null
