"""The burst drill: N instances of the `me` function start at once and each serves one request.

Usage: burst.py INSTANCES DIRECT_URL POOLED_URL   (environment: JWT_SECRET, BURST_TOKEN)

Each instance is its own process of the `me` binary, as Lambda runs it, under one local Runtime
API that holds every first request until all instances are waiting, then releases them
together. Against PostgreSQL directly (max_connections = 50) the instances that find no
connection must answer 503 with Retry-After within the pool's acquire timeout, none 500, none
hang; through PgBouncer in transaction mode every instance must succeed.
"""

import collections
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACQUIRE_TIMEOUT_S = 2.0  # DATABASE_ACQUIRE_TIMEOUT_MS, the default
# An instance that has not answered by then hangs.
HANG_S = 30.0


def event(token):
    return {
        "version": "2.0",
        "routeKey": "GET /api/users/me",
        "rawPath": "/api/users/me",
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}", "user-agent": "burst"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "burst",
            "domainName": "burst.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "burst",
            "http": {"method": "GET", "path": "/api/users/me", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "burst"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "GET /api/users/me",
            "stage": "$default",
            "time": "27/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }


class Server(ThreadingHTTPServer):
    # Every instance connects at once: a short listen backlog would drop connections, and the
    # retried SYNs would add whole seconds to the answers measured.
    request_queue_size = 1024
    daemon_threads = True


class BurstApi:
    """One Runtime API for every instance: the first request of each waits at a barrier."""

    def __init__(self, instances, token):
        self.instances = instances
        self.lock = threading.Condition()
        self.waiting = 0
        self.released = None
        self.results = {}
        self.sent = {}
        self.init_errors = []
        self.body = json.dumps(event(token)).encode()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                with api.lock:
                    api.waiting += 1
                    first = api.waiting <= api.instances
                    api.lock.notify_all()
                    # A second request of an instance gets nothing: it waits until the end.
                    while api.released is None or not first:
                        api.lock.wait()
                request_id = str(uuid.uuid4())
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:me")
                self.send_header("Content-Length", str(len(api.body)))
                self.end_headers()
                self.wfile.write(api.body)
                self.wfile.flush()
                with api.lock:
                    api.sent[request_id] = time.monotonic()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self.send_response(202)
                self.end_headers()
                with api.lock:
                    if self.path.endswith("/init/error"):
                        api.init_errors.append(body)
                    else:
                        request_id = self.path.split("/")[-2]
                        elapsed = time.monotonic() - api.sent.get(request_id, api.released)
                        api.results[request_id] = (elapsed, self.path.split("/")[-1], body)
                    api.lock.notify_all()

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


def burst(label, instances, env, log):
    api = BurstApi(instances, os.environ["BURST_TOKEN"])
    base = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "me",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EC2_METADATA_DISABLED": "true",
        "JWT_SECRET": os.environ["JWT_SECRET"],
        "RUST_LOG": "warn",
    }
    base.update(env)
    processes = [
        subprocess.Popen([str(ROOT / "target" / "debug" / "me")], env=base, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(instances)
    ]
    try:
        deadline = time.monotonic() + 120
        with api.lock:
            while api.waiting < instances and not api.init_errors and time.monotonic() < deadline:
                api.lock.wait(timeout=1)
            if api.waiting < instances:
                sys.exit(f"burst ({label}): only {api.waiting} of {instances} instances started; init errors: {api.init_errors[:3]}")
            api.released = time.monotonic()
            api.lock.notify_all()
            while len(api.results) < instances and time.monotonic() - api.released < HANG_S:
                api.lock.wait(timeout=0.2)
            results = list(api.results.values())
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()
        api.server.shutdown()
    statuses = collections.Counter()
    without_retry_after = 0
    for _, kind, body in results:
        if kind != "response":
            statuses["invocation error"] += 1
            continue
        response = json.loads(body)
        status = response.get("statusCode")
        statuses[status] += 1
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        if status == 503 and "retry-after" not in headers:
            without_retry_after += 1
    unanswered = instances - len(results)
    times = sorted(elapsed for elapsed, _, _ in results)
    slowest = times[-1] if times else 0.0
    median = times[len(times) // 2] if times else 0.0
    prompt = sum(1 for t in times if t <= ACQUIRE_TIMEOUT_S + 1.0)
    if os.environ.get("BURST_DEBUG"):
        for elapsed, kind, body in sorted(results, key=lambda r: -r[0])[:8]:
            print(f"  slow: {elapsed:.2f} s {kind} {json.loads(body).get('statusCode')}")
        print("  deciles:", [round(times[int(len(times) * q / 10)], 2) for q in range(10)])
    counts = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    print(f"burst ({label}): {instances} instances at once: {counts}; {unanswered} unanswered after {HANG_S:.0f} s; "
          f"answer after the request reached the instance: median {median:.2f} s, slowest {slowest:.2f} s, "
          f"{prompt} within the acquire timeout + 1 s")
    return statuses, unanswered, without_retry_after, slowest


def main():
    instances, direct_url, pooled_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    log_dir = ROOT / ".local" / "burst"
    log_dir.mkdir(parents=True, exist_ok=True)
    problems = []
    with open(log_dir / "direct.log", "w") as log:
        statuses, unanswered, bare_503, slowest = burst("direct, max_connections 50", instances, {"DATABASE_URL": direct_url}, log)
    if unanswered:
        problems.append(f"direct: {unanswered} instances did not answer within {HANG_S:.0f} s")
    if slowest > ACQUIRE_TIMEOUT_S + 1.0:
        problems.append(f"direct: the slowest answer took {slowest:.2f} s, more than the acquire timeout + 1 s")
    if set(statuses) - {200, 503}:
        problems.append(f"direct: answers other than 200 and 503: {dict(statuses)}")
    if bare_503:
        problems.append(f"direct: {bare_503} answers of 503 had no Retry-After")
    if statuses[503] == 0:
        problems.append("direct: no instance was refused, so the drill did not reach max_connections")
    with open(log_dir / "pooled.log", "w") as log:
        pooled_env = {"DATABASE_URL": pooled_url, "DATABASE_POOLER": "transaction"}
        statuses, unanswered, _, _ = burst("through PgBouncer", instances, pooled_env, log)
    if statuses[200] != instances:
        problems.append(f"through PgBouncer: {statuses[200]} of {instances} succeeded ({dict(statuses)}, {unanswered} unanswered)")
    for problem in problems:
        print(f"error: burst {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
