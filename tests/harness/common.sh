# Shared settings for the harness scripts; sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE="$ROOT/.local"
VENV="$STATE/venv"
# The AWS CLI has a venv of its own: its botocore pin differs from the SAM CLI's.
AWS_VENV="$STATE/aws"
mkdir -p "$STATE"

# Pinned tool versions (PyPI).
AWSCLI_VERSION=1.46.3
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
CFN_LINT_SERVERLESS_VERSION=0.3.6
CLOUD_RADAR_VERSION=0.17.0
MOTO_VERSION=5.2.5
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
SAM_CLI_VERSION=1.170.0
SCHEMATHESIS_VERSION=4.32.5
# Pinned tool versions (crates.io), built into .local/cargo by tests/harness/sqlx.sh.
SQLX_CLI_VERSION=0.8.6

# The AWS SDK must never probe the instance-metadata address from here.
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0

# Every step says how long the run has taken so far (`make test` is measured from these).
export HARNESS_T0=${HARNESS_T0:-$(date +%s)}
say() {
  local t=$(($(date +%s) - HARNESS_T0))
  printf '\033[1m==> [%d:%02d] %s\033[0m\n' $((t / 60)) $((t % 60)) "$*" >&2
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first free port at or above $1.
free_port() {
  local port=$1
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port"
}

# Starts the Secrets Manager emulator (moto, from the venv) on a free port at or above $1,
# logging to $2; sets MOTO_PID and MOTO_ENDPOINT. The caller stops it.
start_moto() {
  local port
  port=$(free_port "$1")
  moto_server -H 127.0.0.1 -p "$port" >"$2" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 100); do port_in_use "$port" && break; sleep 0.1; done
  port_in_use "$port" || { cat "$2" >&2; die "moto_server did not start"; }
  MOTO_ENDPOINT="http://127.0.0.1:$port"
}

# The folder (remembered in the state file $1) of a server program that refuses to run as
# root: as root, a temporary folder the postgres user owns and can reach (a private home is
# not reachable); otherwise $2.
server_dir() {
  if [ -f "$1" ] && [ -d "$(cat "$1")" ]; then cat "$1"; return; fi
  local base
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    base=$(mktemp -d /tmp/taskapi-server.XXXXXX)
    chmod 755 "$base"
    chown postgres: "$base"
  else
    base=$2
    mkdir -p "$base"
  fi
  echo "$base" >"$1"
  echo "$base"
}

# For make deploy / destroy: sets `stack` (STACK, default taskapi), `sam` and `aws` (SAM_CLI and
# AWS_CLI, else the pinned ones, installed on first use) and `region` (AWS_REGION, else the AWS
# configuration's), or stops saying what to set.
aws_target() {
  stack=${STACK:-taskapi}
  sam=${SAM_CLI:-}
  aws=${AWS_CLI:-}
  if [ -z "$sam" ]; then bash "$ROOT/tests/harness/tools.sh" sam; sam=$VENV/bin/sam; fi
  if [ -z "$aws" ]; then bash "$ROOT/tests/harness/tools.sh" awscli; aws=$AWS_VENV/bin/aws; fi
  region=${AWS_REGION:-${AWS_DEFAULT_REGION:-$("$aws" configure get region 2>/dev/null || true)}}
  [ -n "$region" ] || die "no AWS region: set AWS_REGION, or a region in your AWS configuration (aws configure)"
}

# Runs a server program (initdb, postgres, pgbouncer refuse root) as the postgres user when root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
