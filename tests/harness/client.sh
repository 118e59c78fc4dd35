#!/usr/bin/env bash
# Generates a Python client from openapi.yaml with openapi-python-client (pinned), failing on any
# warning (the generator drops a schema it cannot read and only warns), then drives the API at
# $1 through the generated client (tests/harness/client_flow.py), and runs the agent worker
# example (examples/worker.py) against it (tests/harness/worker_example.py).
source "$(dirname "$0")/common.sh"
cd "$ROOT"
base_url=${1:?usage: client.sh API_BASE_URL}

bash tests/harness/tools.sh openapi-python-client
out="$STATE/client"
rm -rf "$out"
mkdir -p "$out"
# No post hooks: the formatter they call is not needed, and its absence would be a warning.
printf 'post_hooks: []\n' >"$STATE/client-config.yaml"
log=$("$VENV/bin/openapi-python-client" generate --path openapi.yaml --meta none \
  --output-path "$out/taskapi_client" --config "$STATE/client-config.yaml" 2>&1) \
  || { echo "$log" >&2; die "openapi-python-client failed"; }
if grep -qiE 'warning|error|unable|cannot' <<<"$log"; then
  echo "$log" >&2
  die "openapi-python-client warned: a part of openapi.yaml did not make it into the client"
fi
PYTHONPATH="$out" "$VENV/bin/python" tests/harness/client_flow.py "$base_url"
PYTHONPATH="$out" "$VENV/bin/python" tests/harness/worker_example.py "$base_url"
