#!/usr/bin/env bash
# Applies the migrations (and provisions the app role when APP_DATABASE_USERNAME is set) through
# MIGRATION_DATABASE_URL, or DATABASE_URL when it is not set. Migrations take a session-level
# advisory lock, so behind a transaction-mode pooler MIGRATION_DATABASE_URL must reach
# PostgreSQL directly.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

url=${MIGRATION_DATABASE_URL:-${DATABASE_URL:-}}
[ -n "$url" ] || die "set DATABASE_URL (or MIGRATION_DATABASE_URL) to apply the migrations"
DATABASE_URL=$url cargo run --quiet --locked -p migrate
