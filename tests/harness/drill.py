"""Database-failure drill against a running local API (run by make test).

With PostgreSQL stopped, every endpoint must answer a 503 problem (with Retry-After) within
the pool's acquire timeout plus a margin, without leaking SQL, driver or connection details.
After PostgreSQL is started again, the same running functions must serve normally.

Usage: drill.py BASE_URL   (stops and starts the cluster with tests/harness/postgres.sh)
The time bound is generous on purpose: it tells "bounded by the acquire timeout (2 s)" apart
from "hangs until the Lambda timeout", not fast from slow.
"""

import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE = sys.argv[1].rstrip("/")
HARNESS = Path(__file__).resolve().parent
BOUND_SECONDS = 6.0
LEAKS = ("sqlx", "postgres", "sql", "select ", "insert ", "connection refused", "pool", "panicked", "error returned from database")


def call(method, path, body=None, token=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, text = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read().decode()
    return status, headers, text, time.monotonic() - started


def postgres(command):
    subprocess.run(["bash", str(HARNESS / "postgres.sh"), command], check=True, stdout=subprocess.DEVNULL)


def main():
    name = "drill_" + secrets.token_hex(5)
    password = "drill " + secrets.token_urlsafe(20)
    status, _, _, _ = call("POST", "/api/users/register", {"username": name, "email": f"{name}@example.com", "password": password})
    assert status == 201, status
    _, _, text, _ = call("POST", "/api/auth/login", {"login": name, "password": password})
    token = json.loads(text)["access_token"]
    _, created_headers, text, _ = call("POST", "/api/tasks", {"title": "survives the outage"}, token)
    task = json.loads(text)["id"]

    requests = [
        ("GET", "/api/health", None, None, 200),
        ("POST", "/api/users/register", {"username": name + "x", "email": f"x{name}@example.com", "password": password}, None, 201),
        ("POST", "/api/auth/login", {"login": name, "password": password}, None, 200),
        ("GET", "/api/users/me", None, token, 200),
        ("POST", "/api/tasks", {"title": "during the outage", "steps": [{"name": "a"}]}, token, 201),
        ("GET", "/api/tasks", None, token, 200),
        ("GET", f"/api/tasks/{task}", None, token, 200),
        ("PATCH", f"/api/tasks/{task}", {"priority": 3}, token, 200),
        ("DELETE", f"/api/tasks/{task}", None, token, 204),
    ]
    failures = []

    postgres("stop")
    try:
        for method, path, body, auth, _ in requests:
            status, headers, text, seconds = call(method, path, body, auth)
            where = f"{method} {path.split('?')[0]} with the database down"
            if status != 503:
                failures.append(f"{where}: status {status}, expected 503: {text[:200]}")
                continue
            if headers.get("content-type") != "application/problem+json":
                failures.append(f"{where}: content type {headers.get('content-type')}")
            if not headers.get("retry-after"):
                failures.append(f"{where}: no Retry-After")
            problem = json.loads(text)
            if problem.get("status") != 503:
                failures.append(f"{where}: problem status {problem.get('status')}")
            leaked = [word for word in LEAKS if word in text.lower()]
            if leaked:
                failures.append(f"{where}: the body mentions {leaked}: {text}")
            if seconds > BOUND_SECONDS:
                failures.append(f"{where}: took {seconds:.1f} s")
            print(f"  down: {method:6} {path[:40]:40} -> {status} in {seconds * 1000:.0f} ms")
    finally:
        postgres("start")

    for method, path, body, auth, expected in requests:
        status, _, text, seconds = call(method, path, body, auth)
        print(f"  back: {method:6} {path[:40]:40} -> {status} in {seconds * 1000:.0f} ms")
        if status != expected:
            failures.append(f"{method} {path} after the database came back: {status}, expected {expected}: {text[:200]}")

    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print(f"{len(requests) * 2 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
