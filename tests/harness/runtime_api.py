"""The local Lambda Runtime API of the Python harnesses (the deploy rehearsal, the burst drill),
to run a built bootstrap as Lambda runs it.

`Function(bootstrap, env, log)` starts the binary as a process with Lambda's environment (plus
`env`), pointed at a Runtime API served here on a free loopback port; `function.api.invoke(event)`
hands it one event and returns ("response" | "error", the decoded body). Many processes may
share one `RuntimeApi` (`Function(..., api=shared)`): `wait_for_pollers`, `submit` and `result`
then release events to all at once and time each answer. `http_event` builds an API Gateway
HTTP API (payload 2.0) request; `ResponseUrl` plays CloudFormation's pre-signed response URL.
"""

import json
import os
import queue
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REGION = "us-east-1"


class RuntimeError_(Exception):
    pass


class Server(ThreadingHTTPServer):
    # Many instances may connect at once (the burst drill): a short listen backlog would drop
    # connections, and the retried SYNs would add whole seconds to what is measured.
    request_queue_size = 1024
    daemon_threads = True


class RuntimeApi:
    """A Runtime API for one function process, or for many that share its events (the burst
    drill): events in, responses and errors out, each with the time from the moment the event
    reached a process to its answer."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = {}
        self.sent = {}
        self.init_errors = []
        self.waiting = 0
        self.done = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                with api.done:
                    api.waiting += 1
                    api.done.notify_all()
                request_id, event = api.events.get()
                with api.done:
                    api.waiting -= 1
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 600_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", f"arn:aws:lambda:{REGION}:123456789012:function:local")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                with api.done:
                    api.sent[request_id] = time.monotonic()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.split("/")
                self.send_response(202)
                self.end_headers()
                with api.done:
                    if self.path.endswith("/init/error"):
                        api.init_errors.append(body)
                    else:
                        elapsed = time.monotonic() - api.sent.get(parts[-2], time.monotonic())
                        api.results[parts[-2]] = (parts[-1], body, elapsed)
                    api.done.notify_all()

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def wait_for_pollers(self, count, timeout):
        """Whether `count` processes are waiting for an event within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.done:
            while self.waiting < count and not self.init_errors and time.monotonic() < deadline:
                self.done.wait(timeout=0.5)
            return self.waiting >= count

    def submit(self, event):
        """Hands `event` to the next process that asks; returns its request id."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        return request_id

    def result(self, request_id, timeout=60):
        """("response" | "error", the decoded body, seconds from hand-over to answer)."""
        deadline = time.monotonic() + timeout
        with self.done:
            while request_id not in self.results and not self.init_errors:
                if time.monotonic() > deadline:
                    raise RuntimeError_(f"an invocation timed out after {timeout} s")
                self.done.wait(timeout=max(0.05, deadline - time.monotonic()))
            if request_id not in self.results:
                raise RuntimeError_(f"the function failed to start: {self.init_errors[0]!r}")
            kind, body, elapsed = self.results.pop(request_id)
        return kind, json.loads(body or b"null"), elapsed

    def invoke(self, event, timeout=60):
        kind, body, _ = self.result(self.submit(event), timeout)
        return kind, body

    def stop(self):
        self.server.shutdown()


class Function:
    """A bootstrap running under a local Runtime API (its own, or `api` shared with others),
    with Lambda's environment and `env`; its output goes to `log` (a path or an open file)."""

    def __init__(self, bootstrap, env, log, name=None, api=None):
        self.own_api = api is None
        self.api = api or RuntimeApi()
        name = name or os.path.basename(os.path.dirname(bootstrap))
        full_env = {
            "PATH": os.environ["PATH"],
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if os.environ.get("SECRETS_MANAGER_TEST_ENDPOINT"):
            # The local stand-in for the VPC's Secrets Manager endpoint.
            full_env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = os.environ["SECRETS_MANAGER_TEST_ENDPOINT"]
        full_env.update({k: str(v) for k, v in env.items()})
        self.own_log = isinstance(log, (str, os.PathLike))
        self.log = open(log, "w") if self.own_log else log
        self.process = subprocess.Popen([str(bootstrap)], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

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
