#!/usr/bin/env bash
# `make check`: the inner loop. Formatting, clippy, and every test that needs no database, no
# emulator and no server: the unit tests beside the code, and the template's checks (sections,
# rendering in every mode with their self-tests, cfn-lint, routes and roles, the build command).
# `make test` runs all of it and everything else.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
bash tests/harness/tools.sh cfn-lint sam
export AWS_DEFAULT_REGION=us-east-1

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "unit tests (no database)"
# The function crates' tests are handler tests against PostgreSQL; these are the ones that are not.
cargo test --locked -q -p shared --lib -- --skip db::handle::tests
cargo test --locked -q -p migrate --lib rotation::
say "template: sections, rendering in every mode, cfn-lint, routes and roles, the build command"
"$VENV/bin/python" tests/harness/rehearse.py --template-only
"$VENV/bin/python" tests/harness/lint.py
"$VENV/bin/python" tests/harness/check_routes.py --self-test
"$VENV/bin/python" tests/harness/sam_build_agrees.py
"$VENV/bin/python" tests/harness/check_docs.py --self-test
say "all quick checks passed (make test runs the rest)"
