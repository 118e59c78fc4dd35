#!/usr/bin/env bash
# `make maintenance`: runs the maintenance function once in the API that `make dev` serves, as
# EventBridge invokes it (`cargo lambda watch` serves Lambda's Invoke API beside the routes), and
# prints how many rows of each kind it deleted.
# Usage: maintenance.sh [BASE_URL]   (default http://127.0.0.1:$PORT, PORT 9000)
source "$(dirname "$0")/common.sh"

base=${1:-http://127.0.0.1:${PORT:-9000}}
event='{"version":"0","id":"local","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"1970-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}'
answer=$(curl -sS --max-time 600 -X POST -H 'content-type: application/json' -d "$event" \
  "$base/2015-03-31/functions/maintenance/invocations") \
  || die "no answer from $base: is 'make dev' running (PORT=${PORT:-9000})?"
python3 - "$answer" <<'PY' || die "maintenance failed: $answer"
import json, sys
pruned = json.loads(sys.argv[1])["pruned"]
print("maintenance: deleted " + ", ".join(f"{rows} {kind}" for kind, rows in pruned.items()))
PY
