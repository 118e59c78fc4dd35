"""A deploy rehearsal: what can be proved about `sam deploy` without an AWS account.

1. The template as CloudFormation will see it: SAM's own translator (samtranslator, shipped with
   the SAM CLI) expands template.yaml, and the conditions are evaluated for each mode, default
   (the stack builds its VPC, endpoints and Aurora) and existing network. Then the resources,
   dependencies, timeouts, roles and secret access the README promises are asserted.
2. The built functions, run as Lambda runs them: each debug `bootstrap` (target/debug/<name>)
   as a process with the environment the translated template gives it, at a local Lambda Runtime
   API served here. Secrets come from the Secrets Manager emulator (moto), the database is the
   local PostgreSQL. `migrate` is driven by a real CloudFormation custom-resource event with a
   local response URL; it migrates and provisions the app role; then each route is called once,
   the API functions connected as that role.

What this cannot prove is said in the README ("What the rehearsal proves").

Usage: rehearse.py  (environment: SECRETS_MANAGER_TEST_ENDPOINT, ADMIN_DATABASE_URL; the
debug binaries built; AWS_* fake credentials)
"""

import copy
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import logging

import boto3
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
MODES = ("default", "existing")
# The template is also checked with RDS Proxy in front of the stack's database; that mode is
# not run (the proxy is AWS's; PgBouncer stands in for it in `make test`).
TEMPLATE_MODES = MODES + ("proxy",)
CA_BUNDLE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-ca"


def fail(message):
    raise SystemExit(f"rehearsal: {message}")


# ------------------------------------------------------------------ 1. the template


class NoPolicies:
    def load(self):
        return {}


def translated():
    # samtranslator logs a line per function about feature toggles it does not have.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    template, problems = decode(str(ROOT / "template.yaml"))
    if problems:
        fail(f"template.yaml does not load: {problems}")
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://rehearsal/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(template, {}, NoPolicies())


def parameters(template, mode, overrides):
    values = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    values.update(
        {
            "AWS::Region": REGION,
            "AWS::StackName": "taskapi",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
    )
    if mode == "existing":
        values.update(
            ExistingSubnetIds="subnet-0a,subnet-0b",
            ExistingSecurityGroupIds="sg-0a",
            ExistingDatabaseSecretArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:master",
            ExistingDatabaseHost="db.internal",
        )
    if mode == "proxy":
        values.update(UseRdsProxy="true", DatabaseSslMode="verify-full", DatabaseCaBundleSecretArn=CA_BUNDLE)
    values.update(overrides)
    return values


class Resolver:
    """Evaluates a translated template's conditions and intrinsic functions for one mode."""

    def __init__(self, template, params, attributes):
        self.template = template
        self.params = params
        self.attributes = attributes  # "Logical" or "Logical.Attr" -> value
        self.conditions = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def list_param(self, name):
        value = self.params[name]
        spec = self.template["Parameters"].get(name, {})
        if spec.get("Type") in ("CommaDelimitedList",) or spec.get("Type", "").startswith("List<"):
            return [] if value in ("", None) else value.split(",")
        return value

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.params:
                    return self.list_param(arg)
                return self.attributes.get(arg, f"<{arg}>")
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self.attributes.get(name, f"<{name}>")
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return a == b
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(x) for x in arg)
            if key == "Fn::Or":
                return any(self.value(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                items = self.value(arg[1])
                items = items if isinstance(items, list) else [items]
                return arg[0].join(str(i) for i in items)
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                for name in set(part.split("}")[0] for part in text.split("${")[1:]):
                    text = text.replace("${" + name + "}", str(self.value({"Ref": name}) if "." not in name else self.attributes.get(name, name)))
                return text
            if key in ("Fn::Select", "Fn::GetAZs", "Fn::Cidr", "Fn::Split", "Fn::FindInMap", "Fn::ImportValue", "Fn::Base64"):
                return f"<{key}>"
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def resources(self):
        """The resources this mode creates, with their properties resolved."""
        out = {}
        for name, resource in self.template["Resources"].items():
            condition = resource.get("Condition")
            if condition and not self.condition(condition):
                continue
            resolved = dict(resource)
            resolved["Properties"] = self.value(resource.get("Properties", {}))
            out[name] = resolved
        return out


NO_VALUE = object()


def functions_by_binary(raw):
    """binary -> logical id of the AWS::Lambda::Function, from the Serverless template."""
    template, _ = decode(str(ROOT / "template.yaml"))
    return {
        resource["Metadata"]["BuildProperties"]["Binary"]: name
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def role_reads(cfn, resources, logical):
    role_name = cfn["Resources"][logical]["Properties"]["Role"]["Fn::GetAtt"][0]
    reads = []
    for policy in resources[role_name]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("secretsmanager:") for a in actions):
                resource = statement["Resource"]
                reads.extend(resource if isinstance(resource, list) else [resource])
    return reads


def migrations_waits(resources):
    return resources.get("DatabaseMigrations", {}).get("Properties", {}).get("WaitsFor", [])


def check_template(cfn, mode, attributes):
    params = parameters(cfn, mode, {})
    resolver = Resolver(cfn, params, attributes)
    resources = resolver.resources()
    by_binary = functions_by_binary(cfn)
    problems = []

    def need(ok, message):
        if not ok:
            problems.append(f"{mode} mode: {message}")

    types = {}
    for name, resource in resources.items():
        types.setdefault(resource["Type"], []).append(name)
    network = ["AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::VPCEndpoint", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance"]
    if mode in ("default", "proxy"):
        need(len(types.get("AWS::EC2::Subnet", [])) == 2, "two private subnets")
        azs = {json.dumps(cfn["Resources"][s]["Properties"]["AvailabilityZone"]) for s in types.get("AWS::EC2::Subnet", [])}
        need(len(azs) == 2, "the subnets are in two availability zones")
        need(all(resources[s]["Properties"].get("MapPublicIpOnLaunch") is False for s in types.get("AWS::EC2::Subnet", [])), "private subnets")
        vpc = resources[types["AWS::EC2::VPC"][0]]["Properties"]
        need(vpc.get("EnableDnsSupport") and vpc.get("EnableDnsHostnames"), "VPC DNS support and host names (private DNS of the endpoint)")
        endpoints = {resources[e]["Properties"]["ServiceName"]: resources[e]["Properties"] for e in types.get("AWS::EC2::VPCEndpoint", [])}
        sm = endpoints.get(f"com.amazonaws.{REGION}.secretsmanager", {})
        need(sm.get("VpcEndpointType") == "Interface" and sm.get("PrivateDnsEnabled") is True, "a Secrets Manager interface endpoint with private DNS")
        s3 = endpoints.get(f"com.amazonaws.{REGION}.s3", {})
        need(s3.get("VpcEndpointType") == "Gateway" and s3.get("RouteTableIds"), "an S3 gateway endpoint on the private route table")
        need("AWS::EC2::NatGateway" not in types, "no NAT gateway")
        cluster_name = types["AWS::RDS::DBCluster"][0]
        cluster = resources[cluster_name]
        props = cluster["Properties"]
        need(props.get("Engine") == "aurora-postgresql" and props.get("ManageMasterUserPassword") is True, "Aurora PostgreSQL with a managed master secret")
        need(props.get("ServerlessV2ScalingConfiguration", {}).get("MinCapacity") == 0, "minimum capacity 0 by default (auto-pause)")
        need(cluster.get("DeletionPolicy") == "Snapshot" and cluster.get("UpdateReplacePolicy") == "Snapshot", "the database snapshots on delete and replace")
        instance = resources[types["AWS::RDS::DBInstance"][0]]["Properties"]
        need(instance.get("DBInstanceClass") == "db.serverless", "a serverless v2 instance")
        need(any(resources[a]["Properties"].get("MetricName") == "DatabaseConnections" for a in types.get("AWS::CloudWatch::Alarm", [])), "a database connections alarm")
    else:
        for kind in network:
            need(kind not in types, f"creates no {kind}")
    proxies = types.get("AWS::RDS::DBProxy", [])
    if mode == "proxy":
        need(len(proxies) == 1, "one RDS Proxy")
        proxy = resources[proxies[0]]["Properties"] if proxies else {}
        auth = (proxy.get("Auth") or [{}])[0]
        need(proxy.get("EngineFamily") == "POSTGRESQL" and proxy.get("RequireTLS") is True, "the proxy is PostgreSQL and requires TLS")
        need(auth.get("SecretArn") == attributes["AppDatabaseSecret"] and auth.get("ClientPasswordAuthType") == "POSTGRES_SCRAM_SHA_256",
             "the proxy authenticates the app role (its secret, SCRAM)")
        role = resources.get(str(proxy.get("RoleArn", "")).strip("<>").split(".")[0], {})
        reads = [s["Resource"] for p in role.get("Properties", {}).get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        need(reads == [attributes["AppDatabaseSecret"]], f"the proxy's role reads the app secret only ({reads})")
        targets = [resources[t]["Properties"] for t in types.get("AWS::RDS::DBProxyTargetGroup", [])]
        need(targets and targets[0].get("DBClusterIdentifiers") == ["<DatabaseCluster>"], "the proxy targets the stack's cluster")
        need("<DatabaseProxyTargets>" in migrations_waits(resources), "the migration (and so every function) waits for the proxy's targets")
    else:
        need(not proxies, "no RDS Proxy unless UseRdsProxy")

    migrations = resources.get("DatabaseMigrations")
    need(migrations is not None, "a DatabaseMigrations custom resource")
    if mode in ("default", "proxy"):
        waits = migrations["Properties"].get("WaitsFor", [])
        for needed in ("DatabaseInstance", "SecretsManagerEndpoint", "S3Endpoint"):
            need(f"<{needed}>" in waits, f"the migration waits for {needed}")
    timeout = int(migrations["Properties"].get("ServiceTimeout", 3600))
    need(timeout <= 600, f"the migration resource's ServiceTimeout is at most 600 s (it is {timeout})")

    master = resolver.value(cfn["Resources"][by_binary["migrate"]]["Properties"]["Environment"]["Variables"]["DATABASE_SECRET_ARN"])
    for binary, logical in sorted(by_binary.items()):
        function = resources[logical]
        props = function["Properties"]
        env = props.get("Environment", {}).get("Variables", {})
        reads = role_reads(cfn, resources, logical)
        need(props.get("TracingConfig", {}).get("Mode") == "Active", f"{binary}: tracing Active")
        vpc = props.get("VpcConfig", {})
        if mode in ("default", "proxy"):
            need(all(s in ("<PrivateSubnetA>", "<PrivateSubnetB>") for s in vpc.get("SubnetIds", [])) and len(vpc.get("SubnetIds", [])) == 2, f"{binary}: runs in the stack's private subnets")
        else:
            need(vpc.get("SubnetIds") == ["subnet-0a", "subnet-0b"], f"{binary}: runs in the given subnets")
        versions = [n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Version" and r["Properties"].get("FunctionName", {}) == f"<{logical}>"]
        need(versions and all(resources[v].get("DeletionPolicy") == "Delete" for v in versions), f"{binary}: versions are deleted, not retained")
        bundle = [CA_BUNDLE] if mode == "proxy" else []
        if binary == "migrate":
            need(sorted(reads) == sorted([master, attributes["AppDatabaseSecret"]] + bundle), f"migrate reads the master and app secrets (and the CA bundle) only ({reads})")
            direct = "<DatabaseCluster.Endpoint.Address>" if mode != "existing" else "db.internal"
            need(env.get("DATABASE_HOST") == direct and env.get("DATABASE_POOLER") == "none", f"migrate connects directly ({env.get('DATABASE_HOST')})")
            need(env.get("DATABASE_SSLROOTCERT_SECRET_ARN") == (CA_BUNDLE if bundle else None), "migrate verifies the database with the CA bundle when one is given")
            continue
        if mode == "proxy":
            need(env.get("DATABASE_HOST") == "<DatabaseProxy.Endpoint>" and env.get("DATABASE_POOLER") == "transaction", f"{binary} connects through the proxy as behind a pooler")
            need(env.get("DATABASE_SSLMODE") == "verify-full" and "DATABASE_SSLROOTCERT_SECRET_ARN" not in env, f"{binary} verifies the proxy fully against the public roots")
            need(CA_BUNDLE not in reads, f"{binary} does not read the CA bundle it does not use")
        else:
            need(env.get("DATABASE_POOLER") == "none", f"{binary} connects directly")
        need("DatabaseMigrations" in (function.get("DependsOn") or []) or function.get("DependsOn") == "DatabaseMigrations", f"{binary} DependsOn the migration")
        need(master not in reads, f"{binary} serves requests and must not read the master secret")
        need(env.get("DATABASE_SECRET_ARN") == attributes["AppDatabaseSecret"], f"{binary} connects with the app role's secret")
        if binary in ("login", "register"):
            need(props.get("MemorySize") == 1769, f"{binary} has 1,769 MB (one vCPU) for bcrypt")
        groups = [n for n, r in resources.items() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup" and logical in n]
        need(groups, f"{binary}: a CodeDeploy deployment group (AutoPublishAlias with DeploymentPreference)")
        for group in groups:
            alarms = resources[group]["Properties"].get("AlarmConfiguration", {})
            need(alarms.get("Enabled") and alarms.get("Alarms"), f"{binary}: the deployment rolls back on alarms")
    return problems, resolver, resources


# ------------------------------------------------------------------ 2. the functions


class RuntimeApi:
    """A local Lambda Runtime API for one function process."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = {}
        self.init_error = None
        self.done = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    request_id, event = api.events.get()
                    body = json.dumps(event).encode()
                    self.send_response(200)
                    self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                    self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:rehearsal")
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.split("/")
                self.send_response(202)
                self.end_headers()
                with api.done:
                    if self.path.endswith("/init/error"):
                        api.init_error = body
                    else:
                        api.results[parts[-2]] = (parts[-1], body)
                    api.done.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event, timeout=60):
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        deadline = time.time() + timeout
        with self.done:
            while request_id not in self.results and self.init_error is None:
                if not self.done.wait(timeout=max(0.1, deadline - time.time())) and time.time() > deadline:
                    fail("an invocation timed out")
        if self.init_error is not None:
            fail(f"the function failed to start: {self.init_error!r}")
        kind, body = self.results[request_id]
        return kind, json.loads(body or b"null")


class Function:
    def __init__(self, binary, env, log_dir):
        self.binary = binary
        self.api = RuntimeApi()
        full_env = {
            "PATH": os.environ["PATH"],
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": binary,
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            # The local stand-in for the VPC's Secrets Manager endpoint.
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": os.environ["SECRETS_MANAGER_TEST_ENDPOINT"],
        }
        full_env.update({k: str(v) for k, v in env.items()})
        self.log = open(log_dir / f"{binary}.log", "w")
        self.process = subprocess.Popen([str(ROOT / "target" / "debug" / binary)], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.api.server.shutdown()
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


def custom_resource_event(kind, response_url):
    return {
        "RequestType": kind,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/taskapi/rehearsal",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "DatabaseMigrations",
        "PhysicalResourceId": "taskapi-database-migrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "arn", "MigrateVersion": "1"},
    }


def http_event(method, path, route, body=None, token=None, path_parameters=None, query=""):
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
            "apiId": "rehearsal",
            "domainName": "rehearsal.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "rehearsal",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.9", "userAgent": "rehearsal"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "27/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def psql_binary():
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), reverse=True)), None)
    if not found:
        fail("psql not found: install the PostgreSQL client")
    return str(found)


def psql(url, sql):
    return subprocess.run([psql_binary(), "-X", "-q", "-t", "-A", "-d", url, "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


def run_functions(cfn, mode, admin_url, log_dir):
    database = f"rehearsal_{mode}_{secrets.token_hex(4)}"
    psql(admin_url, f"create database {database}")
    parsed = urllib.parse.urlparse(admin_url)
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=os.environ["SECRETS_MANAGER_TEST_ENDPOINT"])

    def secret(name, value):
        return client.create_secret(Name=f"{database}-{name}", SecretString=value)["ARN"]

    # The master secret as RDS manages it: username and password only (the local cluster trusts
    # loopback, so the password is not checked here).
    master = secret("master", json.dumps({"username": parsed.username, "password": secrets.token_urlsafe(16)}))
    app = secret("app", json.dumps({"username": "taskapi_app", "password": secrets.token_urlsafe(30)}))
    jwt = secret("jwt", secrets.token_urlsafe(48))
    attributes = {
        "AppDatabaseSecret": app,
        "JwtSecret": jwt,
        "DatabaseCluster.MasterUserSecret.SecretArn": master,
        "DatabaseCluster.Endpoint.Address": parsed.hostname,
        "DatabaseCluster.Endpoint.Port": parsed.port,
    }
    overrides = {"DatabaseName": database, "BcryptCost": 10}
    if mode == "existing":
        overrides.update(ExistingDatabaseSecretArn=master, ExistingDatabaseHost=parsed.hostname, DatabasePort=parsed.port)
    resolver = Resolver(cfn, parameters(cfn, mode, overrides), attributes)
    resources = resolver.resources()
    by_binary = functions_by_binary(cfn)

    def environment(binary):
        env = dict(resources[by_binary[binary]]["Properties"].get("Environment", {}).get("Variables", {}))
        # Not the template's `require`: the local cluster has no TLS (README).
        env["DATABASE_SSLMODE"] = "disable"
        return env

    started = []
    try:
        # migrate, as CloudFormation drives it: a failure first (bad configuration), then Create.
        response = ResponseUrl()
        broken_env = environment("migrate")
        broken_env["DATABASE_SECRET_ARN"] = master + "-missing"
        broken = Function("migrate", broken_env, log_dir)
        started.append(broken)
        broken.api.invoke(custom_resource_event("Create", response.url))
        reported = response.bodies.get(timeout=30)
        if reported["Status"] != "FAILED" or master + "-missing" not in reported["Reason"]:
            fail(f"{mode}: bad configuration was not reported as FAILED: {reported}")

        migrate = Function("migrate", environment("migrate"), log_dir)
        started.append(migrate)
        migrate.api.invoke(custom_resource_event("Create", response.url))
        reported = response.bodies.get(timeout=60)
        expected = len(list((ROOT / "migrations").glob("*.sql")))
        if reported["Status"] != "SUCCESS" or reported["Data"].get("Applied") != expected:
            fail(f"{mode}: migrate did not report SUCCESS with {expected} migrations: {reported}")
        migrate.api.invoke(custom_resource_event("Delete", response.url))
        if response.bodies.get(timeout=30)["Status"] != "SUCCESS":
            fail(f"{mode}: Delete did not report SUCCESS")

        functions = {}
        for binary in by_binary:
            if binary != "migrate":
                functions[binary] = Function(binary, environment(binary), log_dir)
                started.append(functions[binary])

        def call(binary, *args, **kwargs):
            kind, result = functions[binary].api.invoke(http_event(*args, **kwargs))
            if kind != "response":
                fail(f"{mode}: {binary} reported an error: {result}")
            body = json.loads(result["body"]) if result.get("body") else None
            return result["statusCode"], body, {k.lower(): v for k, v in (result.get("headers") or {}).items()}

        name = f"rehearsal_{secrets.token_hex(4)}"
        password = "violet rivers hum beneath lanterns"
        calls = [
            ("health", call("health", "GET", "/api/health", "/api/health")[0], 200),
            ("register", call("register", "POST", "/api/users/register", "/api/users/register", {"username": name, "email": f"{name}@example.com", "password": password})[0], 201),
        ]
        status, tokens, _ = call("login", "POST", "/api/auth/login", "/api/auth/login", {"login": name, "password": password})
        calls.append(("login", status, 200))
        status, tokens, _ = call("refresh", "POST", "/api/auth/refresh", "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        calls.append(("refresh", status, 200))
        access = tokens["access_token"]
        calls.append(("me", call("me", "GET", "/api/users/me", "/api/users/me", token=access)[0], 200))
        status, task, _ = call("tasks-create", "POST", "/api/tasks", "/api/tasks", {"title": "rehearse", "steps": [{"name": "one"}]}, token=access)
        calls.append(("tasks-create", status, 201))
        path = f"/api/tasks/{task['id']}"
        params = {"id": task["id"]}
        calls.append(("tasks-list", call("tasks-list", "GET", "/api/tasks", "/api/tasks", token=access)[0], 200))
        calls.append(("tasks-get", call("tasks-get", "GET", path, "/api/tasks/{id}", token=access, path_parameters=params)[0], 200))
        calls.append(("tasks-update", call("tasks-update", "PATCH", path, "/api/tasks/{id}", {"status": "in_progress"}, token=access, path_parameters=params)[0], 200))
        calls.append(("tasks-delete", call("tasks-delete", "DELETE", path, "/api/tasks/{id}", token=access, path_parameters=params)[0], 204))
        status, agent, _ = call("agents-create", "POST", "/api/agents", "/api/agents", {"name": "rehearsal"}, token=access)
        calls.append(("agents-create", status, 201))
        agent_path, agent_params = f"/api/agents/{agent['id']}", {"id": agent["id"]}
        calls.append(("agents-list", call("agents-list", "GET", "/api/agents", "/api/agents", token=access)[0], 200))
        calls.append(("agents-get", call("agents-get", "GET", agent_path, "/api/agents/{id}", token=access, path_parameters=agent_params)[0], 200))
        calls.append(("agents-update", call("agents-update", "PATCH", agent_path, "/api/agents/{id}", {"is_active": False}, token=access, path_parameters=agent_params)[0], 200))
        calls.append(("agents-delete", call("agents-delete", "DELETE", agent_path, "/api/agents/{id}", token=access, path_parameters=agent_params)[0], 204))
        status, stepped, _ = call("tasks-create", "POST", "/api/tasks", "/api/tasks", {"title": "steps", "steps": [{"name": "one"}]}, token=access)
        step_path = f"/api/tasks/{stepped['id']}/steps/{stepped['steps'][0]['id']}"
        step_params = {"id": stepped["id"], "step_id": stepped["steps"][0]["id"]}
        calls.append(("steps-update", call("steps-update", "PATCH", step_path, "/api/tasks/{id}/steps/{step_id}", {"status": "completed"}, token=access, path_parameters=step_params)[0], 200))
        calls.append(("audit-list", call("audit-list", "GET", "/api/audit", "/api/audit", token=access)[0], 200))
        new_password = "quiet harbours keep their lanterns lit"
        calls.append(("password-change", call("password-change", "PUT", "/api/users/me/password", "/api/users/me/password", {"current_password": password, "new_password": new_password}, token=access)[0], 204))
        calls.append(("logout", call("logout", "POST", "/api/auth/logout", "/api/auth/logout", token=access)[0], 204))
        calls.append(("me after logout", call("me", "GET", "/api/users/me", "/api/users/me", token=access)[0], 401))
        status, tokens, _ = call("login", "POST", "/api/auth/login", "/api/auth/login", {"login": name, "password": new_password})
        calls.append(("login with the new password", status, 200))
        calls.append(("account-delete", call("account-delete", "DELETE", "/api/users/me", "/api/users/me", {"password": new_password}, token=tokens["access_token"])[0], 204))
        wrong = [f"{b}: {got} (expected {want})" for b, got, want in calls if got != want]
        if wrong:
            fail(f"{mode}: " + "; ".join(wrong))
        roles = psql(admin_url, f"select string_agg(distinct usename, ',') from pg_stat_activity where datname = '{database}'")
        if roles != "taskapi_app":
            fail(f"{mode}: the API functions should be connected as taskapi_app only, found {roles!r}")
        print(f"rehearsal ({mode} mode): migrate reported FAILED for bad configuration, then SUCCESS with {expected} migrations; "
              f"{len(calls)} routes answered as documented, connected as taskapi_app")
    finally:
        for function in started:
            function.stop()


def self_test(cfn, placeholder):
    """Each mutation of the expanded template must be caught, in both modes."""
    def resource(c, name):
        return c["Resources"][name]

    mutations = {
        "an API function without DependsOn": lambda c: resource(c, "MeFunction").pop("DependsOn"),
        "the migration waiting an hour": lambda c: resource(c, "DatabaseMigrations")["Properties"].__setitem__("ServiceTimeout", 3600),
        "an API role reading the master secret": lambda c: resource(c, "MeFunctionRole")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"].append(
            resource(c, "MigrateFunction")["Properties"]["Environment"]["Variables"]["DATABASE_SECRET_ARN"]),
        "login at 1,024 MB": lambda c: resource(c, "LoginFunction")["Properties"].__setitem__("MemorySize", 1024),
        "tracing off": lambda c: resource(c, "TasksGetFunction")["Properties"].__setitem__("TracingConfig", {"Mode": "PassThrough"}),
        "a function that skips the pooler setting": lambda c: resource(c, "TasksListFunction")["Properties"]["Environment"]["Variables"].pop("DATABASE_POOLER"),
    }
    missed = []
    for name, mutate in mutations.items():
        for mode in TEMPLATE_MODES:
            mutated = copy.deepcopy(cfn)
            mutate(mutated)
            if not check_template(mutated, mode, placeholder)[0]:
                missed.append(f"the check missed {name} ({mode} mode)")
    return missed


def main():
    cfn = translated()
    log_dir = ROOT / ".local" / "rehearsal"
    log_dir.mkdir(parents=True, exist_ok=True)
    placeholder = {
        "AppDatabaseSecret": "<AppDatabaseSecret>",
        "JwtSecret": "<JwtSecret>",
        "DatabaseCluster.MasterUserSecret.SecretArn": "<master secret>",
    }
    problems = []
    for mode in TEMPLATE_MODES:
        found, _, resources = check_template(cfn, mode, placeholder)
        problems += found
        if not found:
            print(f"rehearsal ({mode} mode): {len(resources)} CloudFormation resources as the template expands; every check holds")
    problems += self_test(cfn, placeholder)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    if "--template-only" in sys.argv:
        return 0
    admin_url = os.environ["ADMIN_DATABASE_URL"]
    for mode in MODES:
        run_functions(cfn, mode, admin_url, log_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
