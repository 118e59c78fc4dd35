#!/usr/bin/env bash
# The project's local PostgreSQL cluster.
#   postgres.sh start   start it (or reuse it), create the app database, print its DATABASE_URL;
#                       exit status 0, and "started" on stderr when this call started it
#   postgres.sh status  exit 0 when it is running
#   postgres.sh stop    stop it
#   postgres.sh url     print the DATABASE_URL of the app database
#   postgres.sh admin-url  print a URL of a role that may create databases (for #[sqlx::test])
source "$(dirname "$0")/common.sh"

# CLUSTER names a cluster of its own (the burst drill's); PG_MAX_CONNECTIONS sizes it.
# PG_AUTH=password makes a cluster that trusts nobody on TCP: every role logs in with its
# password (SCRAM) over TLS, plain TCP is refused (the deploy rehearsal's, as on RDS).
PG_STATE="$STATE/${CLUSTER:-postgres}"
DB_NAME=${DB_NAME:-taskapi}
mkdir -p "$PG_STATE"

pg_bin() {
  local dir
  for dir in "${PG_BIN:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
  die "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian: postgresql) or set PG_BIN"
}
BIN=$(pg_bin)

base_dir() { server_dir "$PG_STATE/base" "$PG_STATE/cluster"; }

port() {
  if [ -f "$PG_STATE/port" ]; then cat "$PG_STATE/port"; return; fi
  local p
  p=$(free_port "${PGPORT_START:-54329}")
  echo "$p" > "$PG_STATE/port"
  echo "$p"
}

admin_password() {
  [ -s "$PG_STATE/admin-password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$PG_STATE/admin-password"
  cat "$PG_STATE/admin-password"
}
# Plain TCP on loopback unless a test asks for TLS (`tls` below); with PG_AUTH=password, the
# superuser's password over TLS verified against the test CA.
admin_url() {
  if [ "${PG_AUTH:-}" = password ]; then
    echo "postgres://postgres:$(admin_password)@localhost:$(port)/postgres?sslmode=verify-full&sslrootcert=$(base_dir)/data/tls/ca.crt"
  else
    echo "postgres://postgres@127.0.0.1:$(port)/postgres?sslmode=disable"
  fi
}
# The API functions' role (DML only), which migrate provisions: its name and a password kept in
# the state folder (the local cluster trusts loopback, but the role is real).
APP_ROLE=taskapi_app
app_role_password() {
  [ -s "$PG_STATE/app-password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$PG_STATE/app-password"
  cat "$PG_STATE/app-password"
}
role_url() { echo "postgres://$APP_ROLE:$(app_role_password)@127.0.0.1:$(port)/$DB_NAME?sslmode=disable"; }
app_url() { echo "postgres://postgres@127.0.0.1:$(port)/$DB_NAME?sslmode=disable"; }

# Loopback is trusted, except for members of this role, who must give their password (SCRAM),
# as every role must on RDS: the tests that need a refused password use it.
PASSWORD_GROUP=taskapi_password_login
write_hba() {
  if [ "${PG_AUTH:-}" = password ]; then
    as_owner tee "$1/pg_hba.conf" >/dev/null <<HBA
local all postgres trust
hostssl all all 127.0.0.1/32 scram-sha-256
hostnossl all all 127.0.0.1/32 reject
host all all ::1/128 reject
HBA
    return
  fi
  as_owner tee "$1/pg_hba.conf" >/dev/null <<HBA
local all all trust
host all +$PASSWORD_GROUP 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
HBA
}

# TLS as on RDS: a test CA made here signs the server's certificate, which names only
# "localhost", so verify-full succeeds for localhost and is refused for 127.0.0.1 (a wrong
# host) or with another CA. Connections that do not ask for TLS are still served.
write_tls() {
  local data=$1 tls="$1/tls"
  [ -f "$tls/server.crt" ] && return
  as_owner mkdir -p "$tls"
  (
    cd "$tls"
    as_owner openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=taskapi test CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    as_owner openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=another test CA" \
      -keyout other-ca.key -out other-ca.crt 2>/dev/null
    as_owner openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
      | as_owner tee server.ext >/dev/null
    as_owner openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt 2>/dev/null
    as_owner chmod 600 server.key ca.key other-ca.key
  ) || die "could not make the test certificates (openssl)"
}

running() {
  local base; base=$(base_dir)
  [ -f "$base/data/PG_VERSION" ] && as_owner "$BIN/pg_ctl" status -D "$base/data" >/dev/null 2>&1
}

start() {
  local base p
  base=$(base_dir)
  if running; then
    p=$(port)
    if [ -z "${PG_AUTH:-}" ] && ! as_owner grep -q "$PASSWORD_GROUP" "$base/data/pg_hba.conf"; then
      write_hba "$base/data"
      as_owner "$BIN/pg_ctl" reload -D "$base/data" >/dev/null
    fi
  else
    if [ ! -f "$base/data/PG_VERSION" ]; then
      say "creating a PostgreSQL cluster in $base"
      as_owner mkdir -p "$base/data" "$base/socket"
      as_owner "$BIN/initdb" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 -D "$base/data" >"$PG_STATE/initdb.log" 2>&1 \
        || { cat "$PG_STATE/initdb.log" >&2; die "initdb failed"; }
    fi
    write_hba "$base/data"
    write_tls "$base/data"
    p=$(port)
    if port_in_use "$p"; then
      rm -f "$PG_STATE/port"
      p=$(port)
    fi
    say "starting PostgreSQL on 127.0.0.1:$p"
    # A local throwaway cluster: durability settings off for speed.
    as_owner "$BIN/pg_ctl" -w -t 30 -D "$base/data" -l "$base/server.log" start -o \
      "-p $p -k $base/socket -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=${PG_MAX_CONNECTIONS:-200} -c ssl=on -c ssl_cert_file=tls/server.crt -c ssl_key_file=tls/server.key" \
      >/dev/null || { tail -20 "$base/server.log" >&2; die "PostgreSQL did not start"; }
    echo started >&2
  fi
  if [ "${PG_AUTH:-}" = password ]; then
    "$BIN/psql" -X -q -h "$base/socket" -p "$p" -U postgres -d postgres \
      -c "alter role postgres password '$(admin_password)'" >/dev/null
  fi
  "$BIN/psql" -X -q -t -A -d "$(admin_url)" -c "do \$\$ begin create role $PASSWORD_GROUP nologin; exception when duplicate_object then null; end \$\$" >/dev/null
  local exists
  exists=$("$BIN/psql" -X -q -t -A -d "$(admin_url)" -c "select 1 from pg_database where datname = '$DB_NAME'")
  [ "$exists" = 1 ] || "$BIN/psql" -X -q -d "$(admin_url)" -c "create database $DB_NAME" >/dev/null
  app_url
}

stop() {
  if running; then
    say "stopping PostgreSQL"
    as_owner "$BIN/pg_ctl" -w -D "$(base_dir)/data" stop -m fast >/dev/null
  fi
}

case ${1:-} in
  tls) base=$(base_dir); printf 'DATABASE_TEST_CA=%s\nDATABASE_TEST_OTHER_CA=%s\nDATABASE_TEST_TLS_URL=%s\n' \
         "$base/data/tls/ca.crt" "$base/data/tls/other-ca.crt" "postgres://postgres@localhost:$(port)/$DB_NAME" ;;
  app-role) printf 'APP_DATABASE_USERNAME=%s\nAPP_DATABASE_PASSWORD=%s\nAPP_DATABASE_URL=%s\n' "$APP_ROLE" "$(app_role_password)" "$(role_url)" ;;
  start) start ;;
  stop) stop ;;
  status) running ;;
  url) app_url ;;
  admin-url) admin_url ;;
  *) die "usage: $0 start|stop|url|admin-url" ;;
esac
