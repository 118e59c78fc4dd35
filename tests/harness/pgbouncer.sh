#!/usr/bin/env bash
# PgBouncer in transaction mode in front of the local cluster: the stand-in for RDS Proxy.
#   pgbouncer.sh start ROLE PASSWORD  install it if needed (Debian package), start it, and print
#                                     the URL of the app database through it for that role
#   pgbouncer.sh stop                 stop it
# Like RDS Proxy it authenticates clients itself (SCRAM), pools server connections per
# transaction, and refuses startup parameters it does not track.
source "$(dirname "$0")/common.sh"

PGB_STATE="$STATE/pgbouncer"
DB_NAME=${DB_NAME:-taskapi}
mkdir -p "$PGB_STATE"

binary() {
  command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; } || true
}

install() {
  [ -n "$(binary)" ] && return
  [ "$(id -u)" -eq 0 ] || die "PgBouncer is not installed: install it (Debian: apt-get install pgbouncer)"
  say "installing PgBouncer (Debian package)"
  apt-get update -qq >"$PGB_STATE/apt.log" 2>&1 && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >>"$PGB_STATE/apt.log" 2>&1 \
    || { tail -20 "$PGB_STATE/apt.log" >&2; die "apt-get install pgbouncer failed"; }
}

# Its files live where the postgres user can reach them (it refuses to run as root).
base_dir() { server_dir "$PGB_STATE/base" "$PGB_STATE/run"; }

running() {
  local pidfile; pidfile="$(base_dir)/pgbouncer.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
  local role=$1 password=$2 base port pg_port
  install
  base=$(base_dir)
  stop
  pg_port=$(bash "$(dirname "$0")/postgres.sh" url | sed -E 's|.*:([0-9]+)/.*|\1|')
  port=$(free_port 6432)
  as_owner tee "$base/pgbouncer.ini" >/dev/null <<INI
[databases]
$DB_NAME = host=127.0.0.1 port=$pg_port dbname=$DB_NAME

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $base/userlist.txt
pool_mode = transaction
default_pool_size = 10
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits
logfile = $base/pgbouncer.log
pidfile = $base/pgbouncer.pid
INI
  printf '"%s" "%s"\n' "$role" "$password" | as_owner tee "$base/userlist.txt" >/dev/null
  as_owner chmod 600 "$base/userlist.txt"
  as_owner "$(binary)" -d "$base/pgbouncer.ini" || { tail -20 "$base/pgbouncer.log" >&2; die "PgBouncer did not start"; }
  for _ in $(seq 50); do port_in_use "$port" && break; sleep 0.1; done
  port_in_use "$port" || { tail -20 "$base/pgbouncer.log" >&2; die "PgBouncer did not start"; }
  say "PgBouncer $("$(binary)" --version | head -1 | awk '{print $2}') in transaction mode on 127.0.0.1:$port"
  echo "postgres://$role:$password@127.0.0.1:$port/$DB_NAME"
}

stop() {
  if running; then
    kill "$(cat "$(base_dir)/pgbouncer.pid")" 2>/dev/null || true
    for _ in $(seq 50); do running || break; sleep 0.1; done
  fi
}

case ${1:-} in
  start) [ $# -eq 3 ] || die "usage: $0 start ROLE PASSWORD"; start "$2" "$3" ;;
  stop) stop ;;
  *) die "usage: $0 start ROLE PASSWORD | stop" ;;
esac
