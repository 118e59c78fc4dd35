"""Schemathesis hooks for `make fuzz`.

Authentication: every request carries the fuzz user's access token (`FUZZ_TOKEN`), except the
agent routes (`/api/agent/...`), which carry the key of the fuzz user's agent (`FUZZ_AGENT_KEY`),
and `POST /api/auth/logout`, which ends the session of the token it is sent with: each logout case
gets a fresh session of a second user (`FUZZ_LOGOUT_LOGIN`), so the shared token lives through
the run and every authenticated route is fuzzed with a working token.

The one filter: request bodies that are not valid UTF-8. The local API Gateway emulator
(cargo lambda watch) refuses such bodies itself with a 500 before any function runs; API
Gateway instead hands them to the function base64-encoded, where the JSON body parser answers
400 (shared::http unit test `non_utf8_body_is_400`). Testing them here would test the emulator.
"""

import json
import os
import urllib.request

import schemathesis


def _encodes_as_utf8(body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


@schemathesis.hook
def filter_case(ctx, case):
    return _encodes_as_utf8(case.body)


def _fresh_logout_token():
    body = {"login": os.environ["FUZZ_LOGOUT_LOGIN"], "password": os.environ["FUZZ_LOGOUT_PASSWORD"]}
    request = urllib.request.Request(
        os.environ["API_BASE_URL"] + "/api/auth/login",
        json.dumps(body).encode(),
        {"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["access_token"]


@schemathesis.auth()
class FuzzTokens:
    def get(self, case, ctx):
        return os.environ["FUZZ_TOKEN"]

    def set(self, case, data, ctx):
        if case.operation.path == "/api/auth/logout":
            token = _fresh_logout_token()
        elif case.operation.path.startswith("/api/agent/"):
            token = os.environ["FUZZ_AGENT_KEY"]
        else:
            token = data
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {token}"
