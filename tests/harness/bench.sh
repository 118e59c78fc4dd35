#!/usr/bin/env bash
# `make bench`: builds every function as it is deployed (`cargo lambda build --release`, zipped
# like `sam build` uploads it), starts the local PostgreSQL, and runs the Runtime-API harness
# (tests/bench), which prints the table of BENCHMARKS.md.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

bash tests/harness/tools.sh cargo-lambda
export PATH="$VENV/bin:$PATH"

started_db=
trap '[ -n "$started_db" ] && bash tests/harness/postgres.sh stop; true' EXIT

say "cargo lambda build --release"
cargo lambda build --release --locked --workspace --exclude api-tests --exclude lambda-bench --exclude shared
for dir in target/lambda/*/; do
  (cd "$dir" && rm -f bootstrap.zip && python3 -m zipfile -c bootstrap.zip bootstrap)
done

bash tests/harness/postgres.sh status || started_db=1
DATABASE_URL=$(bash tests/harness/postgres.sh admin-url)
bash tests/harness/postgres.sh start >/dev/null
export DATABASE_URL BENCH_BIN_DIR="$ROOT/target/lambda"

say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
cargo run --profile harness --locked -p lambda-bench
