"""The Python harnesses' handle on the local Lambda Runtime API (the deploy rehearsal, the burst
drill): the `local-runtime` command (tests/runtime-api), the same emulator the bench uses.

`Function(bootstrap, env, log)` starts the binary as a process with Lambda's environment (plus
`env`), pointed at a Runtime API on a free loopback port; `function.api.invoke(event)` hands it
one event and returns ("response" | "error", the decoded body). Many processes may share one
`RuntimeApi` (`Function(..., api=shared)`): `wait_for_pollers`, `submit` and `result` then
release events to all at once and time each answer. `http_event` builds an API Gateway HTTP API
(payload 2.0) request; `ResponseUrl` plays CloudFormation's pre-signed response URL.
"""

import http.client
import json
import os
import queue
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "debug" / "local-runtime"


class RuntimeError_(Exception):
    pass


class RuntimeApi:
    """A `local-runtime serve` process: a Runtime API for one function process, or for many that
    share its events (the burst drill): events in, responses and errors out, each with the time
    from the moment the event reached a process to its answer."""

    def __init__(self):
        if not BINARY.exists():
            raise RuntimeError_(f"{BINARY.relative_to(ROOT)} is missing: cargo build -p local-runtime")
        self.process = subprocess.Popen([str(BINARY), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.address = self.process.stdout.readline().decode().strip()
        if not self.address:
            raise RuntimeError_("local-runtime serve printed no address")
        self.results = {}
        self.done = threading.Condition()

    def _call(self, method, path, body=None, timeout=30):
        host, port = self.address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def state(self):
        return json.loads(self._call("GET", "/control/state")[2])

    @property
    def waiting(self):
        return self.state()["waiting"]

    @property
    def init_errors(self):
        return self.state()["init_errors"]

    def wait_for_pollers(self, count, timeout):
        """Whether `count` processes are waiting for an event within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state["waiting"] >= count:
                return True
            if state["init_errors"]:
                return False
            time.sleep(0.05)
        return False

    def submit(self, event, timeout=3600):
        """Hands `event` to the next process that asks; returns its request id."""
        request_id = str(uuid.uuid4())

        def call():
            try:
                status, headers, body = self._call("POST", f"/control/invoke?timeout_s={timeout}", json.dumps(event).encode(), timeout + 5)
                if status != 200:
                    result = RuntimeError_(body.decode(errors="replace"))
                else:
                    result = (headers["x-outcome"], body, int(headers["x-elapsed-us"]) / 1e6)
            except OSError as error:
                result = RuntimeError_(f"the Runtime API went away: {error}")
            with self.done:
                self.results[request_id] = result
                self.done.notify_all()

        threading.Thread(target=call, daemon=True).start()
        return request_id

    def result(self, request_id, timeout=60):
        """("response" | "error", the decoded body, seconds from hand-over to answer)."""
        with self.done:
            if not self.done.wait_for(lambda: request_id in self.results, timeout=timeout):
                raise RuntimeError_(f"an invocation timed out after {timeout} s")
            result = self.results.pop(request_id)
        if isinstance(result, Exception):
            raise result
        kind, body, elapsed = result
        return kind, json.loads(body or b"null"), elapsed

    def invoke(self, event, timeout=60):
        kind, body, _ = self.result(self.submit(event, timeout), timeout)
        return kind, body

    def stop(self):
        self.process.kill()
        self.process.wait()


class Function:
    """A bootstrap running under a local Runtime API (its own, or `api` shared with others),
    with Lambda's environment (`local-runtime run`) and `env`; its output goes to `log` (a path
    or an open file)."""

    def __init__(self, bootstrap, env, log, name=None, api=None, memory=256):
        self.own_api = api is None
        self.api = api or RuntimeApi()
        name = name or os.path.basename(os.path.dirname(bootstrap))
        full_env = {"PATH": os.environ["PATH"]}
        if os.environ.get("SECRETS_MANAGER_TEST_ENDPOINT"):
            # The local stand-in for the VPC's Secrets Manager endpoint.
            full_env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = os.environ["SECRETS_MANAGER_TEST_ENDPOINT"]
        full_env.update({k: str(v) for k, v in env.items()})
        self.own_log = isinstance(log, (str, os.PathLike))
        self.log = open(log, "w") if self.own_log else log
        command = [str(BINARY), "run", "--api", self.api.address, "--name", name, "--memory", str(memory), str(bootstrap)]
        self.process = subprocess.Popen(command, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.process.kill()
        self.process.wait()
        if self.own_api:
            self.api.stop()
        if self.own_log:
            self.log.close()


class ResponseUrl:
    """CloudFormation's pre-signed response URL, played locally: records each PUT."""

    def __init__(self):
        self.bodies = queue.Queue()
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                length = int(self.headers.get("Content-Length") or 0)
                bodies.put(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response"


def http_event(method, path, route, body=None, token=None, path_parameters=None, query="", source_ip="198.51.100.9"):
    """An API Gateway HTTP API request (payload format 2.0) as Lambda receives it."""
    headers = {"content-type": "application/json", "user-agent": "rehearsal"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": dict(urllib.parse.parse_qsl(query)) or None,
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": f"local.execute-api.{REGION}.amazonaws.com",
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "rehearsal"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "27/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
