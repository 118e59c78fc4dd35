#!/usr/bin/env bash
# Schema fuzzing: schemathesis generates requests from openapi.yaml (valid and invalid, plus
# create -> get -> update -> delete sequences from the document's links) and checks every
# response against the document, with a real user's token.
#   fuzz.sh EXAMPLES   run against API_BASE_URL, or start the database and cargo lambda watch
# Checks left out, and why:
#   positive_data_acceptance: some rules are beyond JSON Schema (a password that is common or
#     contains the username, a status change the transition table forbids, an agent of another
#     user, 72 bytes of UTF-8), so schema-valid requests may rightly be refused with a 4xx;
#   unsupported_method, allow_header_conformance: methods without a route never reach a
#     function; API Gateway (and cargo lambda watch) answer them, not this code.
# One worker: CPython 3.11's ast.parse, which hypothesis calls to describe strategies, is not
# thread-safe ("AST constructor recursion depth mismatch").
source "$(dirname "$0")/common.sh"
cd "$ROOT"

examples=${1:-100}
bash tests/harness/tools.sh cargo-lambda schemathesis
export PATH="$VENV/bin:$PATH"

started_db=
started_watch=
cleanup() {
  [ -n "$started_watch" ] && bash tests/harness/watch.sh stop
  [ -n "$started_db" ] && bash tests/harness/postgres.sh stop
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${API_BASE_URL:-}" ]; then
  bash tests/harness/postgres.sh status || started_db=1
  DATABASE_URL=$(bash tests/harness/postgres.sh start)
  export DATABASE_URL
  [ -s "$STATE/jwt-secret" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$STATE/jwt-secret"
  JWT_SECRET=$(cat "$STATE/jwt-secret")
  # Cheaper hashing keeps register and login fast under thousands of requests; long-lived
  # tokens outlast the run.
  export JWT_SECRET BCRYPT_COST=10 REGISTER_ADDRESS_BUDGET=1000000 ACCESS_TOKEN_TTL_SECONDS=7200 RESPONSE_BUDGET_BYTES=2000000
  cargo run --quiet -p migrate
  cargo build --workspace --bins --locked
  port=$(free_port 9200)
  started_watch=1
  bash tests/harness/watch.sh start "$port"
  API_BASE_URL="http://127.0.0.1:$port"
fi

# Two fuzz users: the first's token signs every request (and an agent of it, with a key, signs
# the agent routes, whose claims take the tasks the fuzzer creates); the second only logs in to give each
# logout case a session of its own (fuzz_hooks.py), so no logout ends the shared token. The
# first user's wrong-password checks (password change, account deletion) then lock only it.
eval "$(API_BASE_URL=$API_BASE_URL python3 - <<'PY'
import json, os, secrets, urllib.request
base = os.environ["API_BASE_URL"]
def post(path, body, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)
def user():
    name = "fuzz_" + secrets.token_hex(6)
    password = "fuzzing " + secrets.token_urlsafe(18)
    post("/api/users/register", {"username": name, "email": name + "@example.com", "password": password})
    return name, password
name, password = user()
token = post("/api/auth/login", {"login": name, "password": password})["access_token"]
logout_name, logout_password = user()
agent = post("/api/agents", {"name": "fuzz worker"}, token)
key = post(f"/api/agents/{agent['id']}/keys", {"name": "fuzz"}, token)["key"]
print(f"export FUZZ_TOKEN={token} FUZZ_AGENT_KEY={key} FUZZ_LOGOUT_LOGIN={logout_name} FUZZ_LOGOUT_PASSWORD='{logout_password}'")
PY
)"
export API_BASE_URL

say "schemathesis: $examples examples per operation against $API_BASE_URL"
PYTHONPATH="$ROOT/tests/harness" SCHEMATHESIS_HOOKS=fuzz_hooks schemathesis run openapi.yaml \
  --url "$API_BASE_URL" \
  --checks all \
  --exclude-checks positive_data_acceptance,unsupported_method,allow_header_conformance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$examples" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --seed "${FUZZ_SEED:-20261127}" \
  --no-color
