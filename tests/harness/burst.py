"""The burst drill: N instances of the `me` function start at once and each serves one request.

Usage: burst.py INSTANCES DIRECT_URL POOLED_URL   (environment: JWT_SECRET, BURST_TOKEN)

Each instance is its own process of the `me` binary, as Lambda runs it, under one local Runtime
API (`local-runtime`, the one every harness uses) that holds the requests until all
instances are waiting, then releases them together. Against PostgreSQL directly (max_connections = 50) the instances that find no
connection must answer 503 with Retry-After within the pool's acquire timeout, none 500, none
hang; through PgBouncer in transaction mode every instance must succeed.
"""

import collections
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_api import Function, RuntimeApi, RuntimeError_, http_event  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ACQUIRE_TIMEOUT_S = 2.0  # DATABASE_ACQUIRE_TIMEOUT_MS, the default
# An instance that has not answered by then hangs.
HANG_S = 30.0


def event(token):
    return http_event("GET", "/api/users/me", "/api/users/me", token=token, source_ip="198.51.100.7")


def burst(label, instances, env, log):
    """`instances` processes of `me` under one Runtime API; once every one is waiting, each gets
    one request at the same moment."""
    api = RuntimeApi()
    base = {"JWT_SECRET": os.environ["JWT_SECRET"], "RUST_LOG": "warn", **env}
    functions = [Function(ROOT / "target" / "debug" / "me", base, log, name="me", api=api) for _ in range(instances)]
    results = []
    try:
        if not api.wait_for_pollers(instances, timeout=120):
            sys.exit(f"burst ({label}): only {api.waiting} of {instances} instances started; init errors: {api.init_errors[:3]}")
        released = time.monotonic()
        request_ids = [api.submit(event(os.environ["BURST_TOKEN"])) for _ in range(instances)]
        for request_id in request_ids:
            try:
                results.append(api.result(request_id, timeout=max(0.1, HANG_S - (time.monotonic() - released))))
            except RuntimeError_:
                pass
    finally:
        for function in functions:
            function.stop()
        api.stop()
    statuses = collections.Counter()
    without_retry_after = 0
    for kind, response, _ in results:
        if kind != "response":
            statuses["invocation error"] += 1
            continue
        status = response.get("statusCode")
        statuses[status] += 1
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        if status == 503 and "retry-after" not in headers:
            without_retry_after += 1
    unanswered = instances - len(results)
    times = sorted(elapsed for _, _, elapsed in results)
    slowest = times[-1] if times else 0.0
    median = times[len(times) // 2] if times else 0.0
    prompt = sum(1 for t in times if t <= ACQUIRE_TIMEOUT_S + 1.0)
    if os.environ.get("BURST_DEBUG"):
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
        statuses, unanswered, bare_503, slowest = burst("direct, max_connections 50", instances, {"DATABASE_URL": direct_url, "DATABASE_POOLER": "none"}, log)
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
