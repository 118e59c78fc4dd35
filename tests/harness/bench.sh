#!/usr/bin/env bash
# `make bench`: builds every function as it is deployed (`cargo lambda build --release`, zipped
# like `sam build` uploads it), starts the local PostgreSQL, and runs the Runtime-API harness
# (tests/bench), which prints the table of BENCHMARKS.md.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

bash tests/harness/tools.sh cargo-lambda moto
export PATH="$VENV/bin:$PATH"

started_db=
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && { kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null; }
  [ -n "$started_db" ] && bash tests/harness/postgres.sh stop
  return 0
}
trap cleanup EXIT

# The bootstraps exactly as they deploy (build.sh, the command `sam build` runs). FUNCTIONS="me
# tasks-get" builds and measures only those (a release build of every function takes many
# minutes).
selected=()
if [ -n "${FUNCTIONS:-}" ]; then
  read -r -a selected <<<"${FUNCTIONS//,/ }"
  export BENCH_FUNCTIONS=$(IFS=,; echo "${selected[*]}")
fi
bash tests/harness/build.sh x86_64 "${selected[@]}"
for dir in target/lambda/*/; do
  (cd "$dir" && rm -f bootstrap.zip && python3 -m zipfile -c bootstrap.zip bootstrap)
done

bash tests/harness/postgres.sh status || started_db=1
DATABASE_URL=$(bash tests/harness/postgres.sh admin-url)
bash tests/harness/postgres.sh start >/dev/null
export DATABASE_URL BENCH_BIN_DIR="$ROOT/target/lambda"

# The cold columns read their secrets from a local Secrets Manager emulator.
start_moto 5530 "$STATE/bench-moto.log"
moto_pid=$MOTO_PID
export BENCH_SECRETS_ENDPOINT=$MOTO_ENDPOINT

say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
cargo run --release --locked -p lambda-bench
