# Shared settings for the harness scripts; sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="$ROOT/.local"
VENV="$STATE/venv"
mkdir -p "$STATE"

# Pinned tool versions (PyPI).
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
MOTO_VERSION=5.2.5
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
SAM_CLI_VERSION=1.170.0
SCHEMATHESIS_VERSION=4.32.5

# The AWS SDK must never probe the instance-metadata address from here.
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first free port at or above $1.
free_port() {
  local port=$1
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port"
}
