#!/usr/bin/env bash
# Runs `cargo lambda watch` in the background for the black-box tests.
#   watch.sh start PORT [ARGS...]  start it on 127.0.0.1:PORT (extra watch arguments after it)
#                         and wait until /api/health answers 200
#   watch.sh stop         stop it and every function process it started
# The functions inherit this process's environment (DATABASE_URL, JWT_SECRET, ...).
source "$(dirname "$0")/common.sh"

WATCH_STATE="$STATE/watch"
mkdir -p "$WATCH_STATE"

start() {
  local port=$1 deadline status
  shift
  port_in_use "$port" && die "port $port is already in use"
  command -v cargo-lambda >/dev/null || die "cargo-lambda is not on PATH (run tests/harness/tools.sh)"
  # setsid: the watcher and its function processes form one group that stop can end.
  # --ignore-changes: a test run must not have its functions restarted under it by an edit.
  setsid cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$port" "$@" >"$WATCH_STATE/log" 2>&1 </dev/null &
  echo $! >"$WATCH_STATE/pid"
  deadline=$((SECONDS + ${WATCH_START_TIMEOUT:-600}))
  # The first request to a function builds it, so the first answer may take a while.
  until status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 "http://127.0.0.1:$port/api/health") \
      && [ "$status" = 200 ]; do
    if ! kill -0 "$(cat "$WATCH_STATE/pid")" 2>/dev/null; then
      tail -40 "$WATCH_STATE/log" >&2
      die "cargo lambda watch exited"
    fi
    [ $SECONDS -lt $deadline ] || { tail -40 "$WATCH_STATE/log" >&2; stop; die "the API did not become healthy on port $port (last status: ${status:-none})"; }
    sleep 1
  done
  say "API serving on http://127.0.0.1:$port"
}

stop() {
  [ -f "$WATCH_STATE/pid" ] || return 0
  local pid
  pid=$(cat "$WATCH_STATE/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$WATCH_STATE/pid"
}

case ${1:-} in
  start) shift; start "${1:?usage: $0 start PORT [ARGS...]}" "${@:2}" ;;
  stop) stop ;;
  *) die "usage: $0 start PORT|stop" ;;
esac
