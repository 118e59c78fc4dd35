#!/usr/bin/env bash
# The release bootstraps that deploy, for ARCH (x86_64 or arm64): what `sam build` makes, with
# the same command and flags (`cargo lambda build --release [--arm64] --bin NAME`, the template's
# BuildMethod rust-cargolambda; `sam_build_agrees.py` proves it), in one cargo invocation for
# every function instead of one per function. Output: target/lambda/<name>/bootstrap.
# Usage: build.sh [x86_64|arm64] [NAME ...]   (only those functions; `make bench FUNCTIONS=...`)
source "$(dirname "$0")/common.sh"
cd "$ROOT"

arch=${1:-x86_64}
shift || true
case $arch in
  x86_64) triple=x86_64-unknown-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-gnu ;;
  *) die "unknown architecture $arch (x86_64 or arm64)" ;;
esac
# cargo-lambda cross-compiles with zig, but needs the target's standard library.
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$triple" ]; then
  die "the Rust standard library for $triple is not installed, so the $arch functions cannot be built here: run 'rustup target add $triple', or deploy with ARCH=x86_64"
fi

bash tests/harness/tools.sh cargo-lambda cfn-lint
export PATH="$VENV/bin:$PATH"
mapfile -t command < <("$VENV/bin/python" tests/harness/functions.py build-command "$arch" "$@")
say "${command[*]:0:5} ... (${*:-every function} in one invocation)"
"${command[@]}"
