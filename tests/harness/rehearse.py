"""A deploy rehearsal: what can be proved about a deploy without an AWS account, with tools this
repository did not write wherever one exists.

1. The template as CloudFormation will see it. SAM's own translator (samtranslator, shipped with
   the SAM CLI) expands template.yaml; `cfn_sections.py` checks that every intrinsic function
   stands in a section that allows it (CloudFormation refuses the template otherwise, and no
   linter here checks Rules); cloud-radar, a maintained CloudFormation renderer, evaluates the
   conditions, parameters and intrinsic functions for each mode (default, existing network,
   RDS Proxy) with the parameters' defaults. Then the rendered resources are checked against
   what the code and the docs need.
2. The release bootstraps that deploy (target/lambda/<name>/bootstrap, built as `sam build`
   builds them), run as Lambda runs them: a process with the environment the rendered template
   gives it, at the local Lambda Runtime API every harness uses (`local-runtime`, through
   `runtime_api.py`). Secrets come from the Secrets Manager emulator (moto); the database is a
   PostgreSQL cluster of its own that trusts nobody: every role logs in with its password
   (SCRAM) over TLS. `migrate` answers CloudFormation's Create, Update and Delete events and
   Secrets Manager's four rotation steps; every route is called; `maintenance` runs as its
   schedule would; in the default mode, requests from many source addresses prove the register
   budget and that the lockdown answers alike for real and unknown names; the API functions are
   seen connected as the app role only.

What this cannot prove is said in the docs/deploy.md ("What the rehearsal proves").

Usage: rehearse.py [--template-only]
  environment for the second part: SECRETS_MANAGER_TEST_ENDPOINT, REHEARSAL_ADMIN_URL (a
  superuser over TLS with a password), REHEARSAL_CA (the PEM that signed the cluster's
  certificate for "localhost"), AWS_* fake credentials; the release bootstraps built.
"""

import base64
import contextlib
import copy
import functools
import gzip
import io
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import boto3
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cfn_sections  # noqa: E402
from check_metrics import declared_metrics  # noqa: E402
from runtime_api import Function, ResponseUrl, http_event  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
MODES = ("default", "existing")
# The template is also rendered with RDS Proxy in front of the stack's database; that mode is
# not run (the proxy is AWS's; PgBouncer stands in for it in `make test`).
TEMPLATE_MODES = MODES + ("proxy",)
CA_BUNDLE = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds-ca"
EXISTING = {
    "ExistingSubnetIds": "subnet-0a,subnet-0b",
    "ExistingSecurityGroupIds": "sg-0a",
    "ExistingDatabaseSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:master",
    "ExistingDatabaseHost": "db.internal",
}
# A valid RDS Proxy name: a letter first, letters, digits and single hyphens, at most 63.
PROXY_NAME = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")


def fail(message):
    raise SystemExit(f"rehearsal: {message}")


# ------------------------------------------------------------------ 1. the template


class NoPolicies:
    def load(self):
        return {}


def source_template():
    template, problems = decode(str(ROOT / "template.yaml"))
    if problems:
        fail(f"template.yaml does not load: {problems}")
    return json.loads(json.dumps(template))


def translated():
    """template.yaml as SAM expands it: the CloudFormation that AWS sees."""
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    template = source_template()
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://rehearsal/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(template, {}, NoPolicies())


@functools.cache
def functions_by_binary():
    """binary -> logical id of its AWS::Lambda::Function, from template.yaml."""
    return {
        resource["Metadata"]["BuildProperties"]["Binary"]: name
        for name, resource in source_template()["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def mode_parameters(mode, overrides=None):
    values = {}
    if mode == "existing":
        values.update(EXISTING)
    if mode == "proxy":
        values.update(UseRdsProxy="true", DatabaseSslMode="verify-full", DatabaseCaBundleSecretArn=CA_BUNDLE)
    values.update(overrides or {})
    return {k: str(v) for k, v in values.items()}


class JsonAsYaml:
    FullLoader = None

    @staticmethod
    def dump(data):
        return json.dumps(data)

    @staticmethod
    def load(text, Loader=None):
        return json.loads(text)


def render(cfn, mode, overrides=None, stack_name="taskapi"):
    """The resources (and outputs) CloudFormation creates in `mode`, every condition and
    function evaluated by cloud-radar. A resource's Ref renders as its logical id and a GetAtt
    as "Logical.Attribute": the values AWS gives only at deploy time. A function version's Ref
    is given the shape of the ARN AWS returns, since the template splits it."""
    from cloud_radar.cf.unit import Template, _template, functions

    # cloud-radar copies the template through a YAML text for each render; the template is plain
    # JSON data, so a JSON text does the same in a fraction of the time (about 1 s a render).
    _template.yaml = JsonAsYaml
    functions.REGION_DATA = [{"code": REGION, "zones": [f"{REGION}a", f"{REGION}b"]}]
    cfn = copy.deepcopy(cfn)
    versions = {n for n, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Version"}

    def version_arns(node):
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in versions:
                function = cfn["Resources"][node["Ref"]]["Properties"]["FunctionName"]["Ref"]
                return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:1"
            return {k: version_arns(v) for k, v in node.items()}
        if isinstance(node, list):
            return [version_arns(v) for v in node]
        return node

    for resource in cfn["Resources"].values():
        resource["Properties"] = version_arns(resource.get("Properties", {}))
    Template.StackName = stack_name
    Template.AccountId = ACCOUNT
    Template.StackId = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/6a2f4e10-3c1b-11f1-9d6e-0a1b2c3d4e5f"
    with contextlib.redirect_stdout(io.StringIO()):  # cloud-radar prints what it renders
        return Template(cfn).render(mode_parameters(mode, overrides), region=REGION)


def present(items):
    """cloud-radar leaves an empty string where `Fn::If` chose `AWS::NoValue` in a list."""
    return [item for item in items if item != ""]


def secret_statements(properties):
    for policy in properties.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            yield actions, present(resources)


def role_reads(rendered, logical):
    role = rendered["Resources"][rendered["Resources"][logical]["Properties"]["Role"].split(".")[0]]
    return [r for actions, resources in secret_statements(role["Properties"]) if "secretsmanager:GetSecretValue" in actions for r in resources]


def role_actions(rendered, logical, resource):
    role = rendered["Resources"][rendered["Resources"][logical]["Properties"]["Role"].split(".")[0]]
    return {a for actions, resources in secret_statements(role["Properties"]) if resource in resources for a in actions}


def routed_methods(cfn):
    return {
        route["Properties"]["RouteKey"].split(" ")[0]
        for route in cfn["Resources"].values()
        if route["Type"] == "AWS::ApiGatewayV2::Route"
    } | {
        method.upper()
        for api in cfn["Resources"].values()
        if api["Type"] == "AWS::ApiGatewayV2::Api"
        for item in api["Properties"].get("Body", {}).get("paths", {}).values()
        for method in item
        if method != "x-amazon-apigateway-any-method" and method.upper() != "OPTIONS"
    }


def ingress_from(group, source, port):
    return any(
        rule.get("SourceSecurityGroupId") == source and int(rule["FromPort"]) <= port <= int(rule["ToPort"])
        for rule in present(group["Properties"].get("SecurityGroupIngress", []))
    )


def egress_to_vpc(group, port, vpc_cidr):
    return any(
        rule.get("CidrIp") in (vpc_cidr, "0.0.0.0/0") and int(rule["FromPort"]) <= port <= int(rule["ToPort"])
        for rule in present(group["Properties"].get("SecurityGroupEgress", []))
    )


def env_ms(env, name):
    return int(env.get(name, 0))


def check_template(cfn, mode, variants=True):
    """Every problem of the rendered template in `mode`, as readable lines."""
    problems = []

    def need(ok, message):
        if not ok:
            problems.append(f"{mode} mode: {message}")

    try:
        rendered = render(cfn, mode)
    except Exception as err:  # cloud-radar refuses what CloudFormation would refuse
        return [f"{mode} mode: the template does not render: {err}"], {}
    resources = rendered["Resources"]
    kept = set(resources)
    dropped = set(cfn["Resources"]) - kept
    types = {}
    for name, resource in resources.items():
        types.setdefault(resource["Type"], []).append(name)
    by_binary = functions_by_binary()

    # Nothing kept refers to a resource this mode does not create.
    def references(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from references(v)
        elif isinstance(node, list):
            for v in node:
                yield from references(v)
        elif isinstance(node, str):
            yield node.split(".")[0]

    for name, resource in resources.items():
        dangling = {r for r in references(resource.get("Properties", {})) if r in dropped}
        dangling |= {d for d in ([resource["DependsOn"]] if isinstance(resource.get("DependsOn"), str) else resource.get("DependsOn", [])) if d in dropped}
        need(not dangling, f"{name} refers to {sorted(dangling)}, which this mode does not create")

    # The network and the database.
    vpc_cidr = "10.40.0.0/16"
    if mode in ("default", "proxy"):
        subnets = types.get("AWS::EC2::Subnet", [])
        need(len(subnets) == 2, "two private subnets")
        need(len({resources[s]["Properties"]["AvailabilityZone"] for s in subnets}) == 2, "the subnets are in two availability zones")
        need(all(resources[s]["Properties"].get("MapPublicIpOnLaunch") is False for s in subnets), "private subnets")
        vpc = resources[types["AWS::EC2::VPC"][0]]["Properties"]
        vpc_cidr = vpc["CidrBlock"]
        need(vpc.get("EnableDnsSupport") and vpc.get("EnableDnsHostnames"), "VPC DNS support and host names (private DNS of the endpoint)")
        endpoints = {resources[e]["Properties"]["ServiceName"]: resources[e]["Properties"] for e in types.get("AWS::EC2::VPCEndpoint", [])}
        sm = endpoints.get(f"com.amazonaws.{REGION}.secretsmanager", {})
        need(sm.get("VpcEndpointType") == "Interface" and sm.get("PrivateDnsEnabled") is True, "a Secrets Manager interface endpoint with private DNS")
        s3 = endpoints.get(f"com.amazonaws.{REGION}.s3", {})
        need(s3.get("VpcEndpointType") == "Gateway" and s3.get("RouteTableIds"), "an S3 gateway endpoint on the private route table")
        need("AWS::EC2::NatGateway" not in types, "no NAT gateway")
        cluster = resources[types["AWS::RDS::DBCluster"][0]]
        props = cluster["Properties"]
        need(props.get("Engine") == "aurora-postgresql" and props.get("ManageMasterUserPassword") is True, "Aurora PostgreSQL with a managed master secret")
        need("EngineVersion" not in props or re.fullmatch(r"\d+", str(props["EngineVersion"])),
             f"the default engine version is Aurora's own, never a minor version AWS will retire ({props.get('EngineVersion')})")
        if variants:
            pinned = render(cfn, mode, {"DatabaseEngineVersion": "16.8"})["Resources"][types["AWS::RDS::DBCluster"][0]]["Properties"]
            need(pinned.get("EngineVersion") == "16.8", "DatabaseEngineVersion pins a version when given")
        need(props.get("ServerlessV2ScalingConfiguration", {}).get("MinCapacity") == 0, "minimum capacity 0 by default (auto-pause)")
        need(cluster.get("DeletionPolicy") == "Snapshot" and cluster.get("UpdateReplacePolicy") == "Snapshot", "the database snapshots on delete and replace")
        instance = resources[types["AWS::RDS::DBInstance"][0]]["Properties"]
        need(instance.get("DBInstanceClass") == "db.serverless", "a serverless v2 instance")
        need(any(resources[a]["Properties"].get("MetricName") == "DatabaseConnections" for a in types.get("AWS::CloudWatch::Alarm", [])), "a database connections alarm")
        groups = types.get("AWS::EC2::SecurityGroup", [])
        standalone = {resources[r]["Properties"]["GroupId"] for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress") for r in types.get(kind, [])}
        for group in groups:
            inline = any(k in resources[group]["Properties"] for k in ("SecurityGroupIngress", "SecurityGroupEgress"))
            need(not (inline and group in standalone), f"{group} mixes inline rules with standalone rule resources")
        need(ingress_from(resources["DatabaseSecurityGroup"], "FunctionSecurityGroup", 5432), "the database admits the functions")
        need(ingress_from(resources["EndpointSecurityGroup"], "FunctionSecurityGroup", 443), "the Secrets Manager endpoint admits the functions")
        need(egress_to_vpc(resources["FunctionSecurityGroup"], 5432, vpc_cidr) and egress_to_vpc(resources["FunctionSecurityGroup"], 443, vpc_cidr),
             "the functions may reach the database and the endpoints")
    else:
        for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::VPCEndpoint", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::EC2::SecurityGroup"):
            need(kind not in types, f"creates no {kind}")

    proxies = types.get("AWS::RDS::DBProxy", [])
    if mode == "proxy":
        need(len(proxies) == 1, "one RDS Proxy")
        proxy = resources[proxies[0]]["Properties"] if proxies else {}
        auth = (proxy.get("Auth") or [{}])[0]
        need(proxy.get("EngineFamily") == "POSTGRESQL" and proxy.get("RequireTLS") is True, "the proxy is PostgreSQL and requires TLS")
        need(auth.get("SecretArn") == "AppDatabaseSecret" and auth.get("ClientPasswordAuthType") == "POSTGRES_SCRAM_SHA_256", "the proxy authenticates the app role (its secret, SCRAM)")
        role = resources.get(str(proxy.get("RoleArn", "")).split(".")[0], {})
        reads = [s["Resource"] for p in role.get("Properties", {}).get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        need(reads == ["AppDatabaseSecret"], f"the proxy's role reads the app secret only ({reads})")
        targets = [resources[t]["Properties"] for t in types.get("AWS::RDS::DBProxyTargetGroup", [])]
        need(targets and targets[0].get("DBClusterIdentifiers") == ["DatabaseCluster"], "the proxy targets the stack's cluster")
        need("DatabaseProxyTargets" in resources.get("DatabaseMigrations", {}).get("Properties", {}).get("WaitsFor", []), "the migration (and so every function) waits for the proxy's targets")
        group = resources.get("ProxySecurityGroup", {"Properties": {}})
        need(egress_to_vpc(group, 443, vpc_cidr) and ingress_from(resources["EndpointSecurityGroup"], "ProxySecurityGroup", 443),
             "the proxy reaches the Secrets Manager endpoint from its own network interfaces (its secret)")
        need(egress_to_vpc(group, 5432, vpc_cidr) and ingress_from(resources["DatabaseSecurityGroup"], "ProxySecurityGroup", 5432), "the proxy reaches the database")
        for stack_name in ("taskapi", "a--b", "x" * 128) if variants else ("a--b",):
            name = render(cfn, mode, stack_name=stack_name)["Resources"][proxies[0]]["Properties"]["DBProxyName"]
            need(PROXY_NAME.match(name), f"the proxy's name {name!r} (stack {stack_name[:20]!r}) is not a valid DBProxyName")
    else:
        need(not proxies, "no RDS Proxy unless UseRdsProxy")

    # The HTTP API: a browser may call every routed method.
    api = resources[types["AWS::ApiGatewayV2::Api"][0]]["Properties"]
    allowed = set(api.get("Body", {}).get("x-amazon-apigateway-cors", {}).get("allowMethods", []))
    missing = routed_methods(cfn) - allowed
    need(not missing, f"CORS AllowMethods lacks {sorted(missing)}, which routes use")

    # The migrations resource and migrate.
    migrations = resources.get("DatabaseMigrations")
    need(migrations is not None, "a DatabaseMigrations custom resource")
    if migrations is None:
        return problems, rendered
    if mode in ("default", "proxy"):
        waits = migrations["Properties"].get("WaitsFor", [])
        for needed in ("DatabaseInstance", "SecretsManagerEndpoint", "S3Endpoint"):
            need(needed in waits, f"the migration waits for {needed}")
    migrate = resources[by_binary["migrate"]]["Properties"]
    migrate_env = migrate.get("Environment", {}).get("Variables", {})
    service_timeout = int(migrations["Properties"].get("ServiceTimeout", 3600))
    connect_ms = env_ms(migrate_env, "MIGRATION_CONNECT_TIMEOUT_MS")
    statement_ms = env_ms(migrate_env, "MIGRATION_STATEMENT_TIMEOUT_MS")
    need(connect_ms >= 120_000, f"migrate waits at least 2 minutes for a resuming database, so a rollback does not fail on it ({connect_ms} ms)")
    need(int(migrate.get("Timeout", 3)) * 1000 >= connect_ms + statement_ms + 30_000,
         f"migrate's Timeout ({migrate.get('Timeout')} s) covers its connect and statement timeouts")
    need(int(migrate.get("Timeout", 3)) <= service_timeout <= 900,
         f"the migration resource's ServiceTimeout ({service_timeout} s) ends CloudFormation's wait soon after migrate's own limit")

    # The app role's password changes only through a rotation that migrate carries out.
    rotations = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SecretsManager::RotationSchedule"]
    need(any(r.get("SecretId") == "AppDatabaseSecret" and r.get("RotationLambdaARN") == f"{by_binary['migrate']}.Arn" for r in rotations),
         "the app role's secret rotates through migrate, which sets the role's password")
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    need(any(p.get("Principal") == "secretsmanager.amazonaws.com" and p.get("FunctionName") == f"{by_binary['migrate']}.Arn" for p in permissions),
         "Secrets Manager may invoke migrate")
    need({"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:DescribeSecret"} <= role_actions(rendered, by_binary["migrate"], "AppDatabaseSecret"),
         "migrate may write the app secret's new version and move its stages")

    master = migrate_env.get("DATABASE_SECRET_ARN")
    bundle = [CA_BUNDLE] if mode == "proxy" else []
    alarms = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    for binary, logical in sorted(by_binary.items()):
        props = resources[logical]["Properties"]
        env = props.get("Environment", {}).get("Variables", {})
        reads = role_reads(rendered, logical)
        for name, value in env.items():
            need(isinstance(value, (str, int)) and str(value) != "", f"{binary}: {name} renders to a value ({value!r})")
        need(props.get("TracingConfig", {}).get("Mode") == "Active", f"{binary}: tracing Active")
        subnets = props.get("VpcConfig", {}).get("SubnetIds", [])
        if mode in ("default", "proxy"):
            need(sorted(subnets) == ["PrivateSubnetA", "PrivateSubnetB"], f"{binary}: runs in the stack's private subnets")
        else:
            need(subnets == ["subnet-0a", "subnet-0b"], f"{binary}: runs in the given subnets ({subnets})")
        versions = [n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Version" and r["Properties"].get("FunctionName") == logical]
        need(versions and all(resources[v].get("DeletionPolicy") == "Delete" for v in versions), f"{binary}: versions are deleted, not retained")
        if binary == "migrate":
            need(sorted(reads) == sorted([master, "AppDatabaseSecret"] + bundle), f"migrate reads the master and app secrets (and the CA bundle) only ({reads})")
            direct = "DatabaseCluster.Endpoint.Address" if mode != "existing" else "db.internal"
            need(env.get("DATABASE_HOST") == direct and env.get("DATABASE_POOLER") == "none", f"migrate connects directly ({env.get('DATABASE_HOST')})")
            need(env.get("DATABASE_SSLROOTCERT_SECRET_ARN") == (CA_BUNDLE if bundle else None), "migrate verifies the database with the CA bundle when one is given")
            continue
        if mode == "proxy":
            need(env.get("DATABASE_HOST") == "DatabaseProxy.Endpoint" and env.get("DATABASE_POOLER") == "transaction", f"{binary} connects through the proxy as behind a pooler")
            need(env.get("DATABASE_SSLMODE") == "verify-full" and "DATABASE_SSLROOTCERT_SECRET_ARN" not in env, f"{binary} verifies the proxy fully against the public roots")
            need(CA_BUNDLE not in reads, f"{binary} does not read the CA bundle it does not use")
        else:
            need(env.get("DATABASE_POOLER") == "none", f"{binary} connects directly")
        depends = resources[logical].get("DependsOn") or []
        need("DatabaseMigrations" in ([depends] if isinstance(depends, str) else depends), f"{binary} DependsOn the migration")
        need(master not in reads, f"{binary} serves requests and must not read the master secret")
        need(env.get("DATABASE_SECRET_ARN") == "AppDatabaseSecret", f"{binary} connects with the app role's secret")
        if binary in ("login", "register"):
            need(props.get("MemorySize") == 1769, f"{binary} has 1,769 MB (one vCPU) for bcrypt")
        if binary == "maintenance":
            # Scheduled, not routed: EventBridge runs it hourly; a failed run notifies, and there
            # is no traffic to shift, so no deployment group.
            rules = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
            need(any(r.get("ScheduleExpression") == "rate(1 hour)" and any(t.get("Arn") == f"{logical}Aliaslive" or logical in str(t.get("Arn")) for t in r.get("Targets", [])) for r in rules),
                 f"maintenance runs on an hourly EventBridge schedule ({rules})")
            need(any(a.get("MetricName") == "Errors" and {"Name": "FunctionName", "Value": logical} in a.get("Dimensions", []) and a.get("AlarmActions") == ["AlarmTopic"] for a in alarms.values()),
                 "a failed maintenance run notifies the alarm topic")
            need(props.get("Timeout", 3) >= 60, "maintenance has time for its batches")
            continue
        groups = [r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup" and n.startswith(logical)]
        need(groups, f"{binary}: a CodeDeploy deployment group (AutoPublishAlias with DeploymentPreference)")
        for group in groups:
            config = group.get("AlarmConfiguration", {})
            names = [a["Name"] for a in config.get("Alarms", [])]
            need(config.get("Enabled") and names, f"{binary}: the deployment rolls back on alarms")
            for name in names:
                alarm = alarms.get(name, {})
                dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
                need(alarm.get("Namespace") == "AWS/Lambda" and alarm.get("MetricName") == "Errors"
                     and dims.get("FunctionName") == logical and dims.get("Resource") == f"{logical}:live" and dims.get("ExecutedVersion") == "1",
                     f"{binary}: its deployment rolls back only on errors of the version being deployed, not on {name}")

    # One dashboard shows every metric the functions write, in the namespace they write it to,
    # beside Lambda's latency, errors, throttles and concurrency per function.
    dashboards = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    need(len(dashboards) == 1, f"one CloudWatch dashboard, not {len(dashboards)}")
    namespaces = {r["Properties"].get("Environment", {}).get("Variables", {}).get("METRICS_NAMESPACE") for r in resources.values() if r["Type"] == "AWS::Lambda::Function"}
    need(len(namespaces) == 1 and None not in namespaces, f"every function writes its metrics to one namespace: {namespaces}")
    for dashboard in dashboards:
        try:
            shown = dashboard_metrics(json.loads(dashboard["DashboardBody"]))
        except (ValueError, KeyError, TypeError) as err:
            need(False, f"the dashboard body is not a dashboard: {err}")
            continue
        for namespace in namespaces:
            for name in declared_metrics():
                need((namespace, name) in shown, f"the dashboard shows {name} from {namespace}")
        for name in ("Duration", "Errors", "Throttles", "ConcurrentExecutions"):
            need(("AWS/Lambda", name) in shown, f"the dashboard shows Lambda's {name} per function")
    return problems, rendered


def dashboard_metrics(body):
    """The (namespace, metric name) pairs a dashboard body graphs, listed or searched for."""
    shown = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric, list):
                shown.add((metric[0], metric[1]))
            else:
                for namespace, name in re.findall(r"SEARCH\('\{([^,}]+)[^}]*\}\s*MetricName=\"(\w+)\"", metric["expression"]):
                    shown.add((namespace, name))
    return shown


MONTH_HOURS = 730
PRICES = {  # us-east-1 list prices, late 2026 (docs/deploy.md, "Cost")
    "endpoint_az_hour": 0.01,
    "alarm_metric": 0.10,
    "secret": 0.40,
    "proxy_acu_hour": 0.015,
    "proxy_minimum_acus": 8,
    "dashboard": 3.00,  # a month, beyond the account's first three
}


def idle_cost(rendered):
    """Monthly cost of what the rendered stack keeps running while nobody calls it, at the
    minimum capacities (Aurora paused at 0 ACU costs storage only)."""
    resources = rendered["Resources"]
    lines = {}
    interface = [r for r in resources.values() if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("VpcEndpointType") == "Interface"]
    azs = sum(len(r["Properties"].get("SubnetIds", [])) for r in interface)
    if azs:
        lines["interface endpoint hours"] = azs * PRICES["endpoint_az_hour"] * MONTH_HOURS
    metrics = sum(len([m for m in r["Properties"].get("Metrics", []) if "MetricStat" in m]) or 1 for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm")
    lines["alarm metrics"] = metrics * PRICES["alarm_metric"]
    stack_secrets = sum(1 for r in resources.values() if r["Type"] == "AWS::SecretsManager::Secret")
    stack_secrets += sum(1 for r in resources.values() if r["Type"] == "AWS::RDS::DBCluster" and r["Properties"].get("ManageMasterUserPassword"))
    lines["secrets"] = stack_secrets * PRICES["secret"]
    dashboards = sum(1 for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard")
    if dashboards:
        lines["dashboard"] = dashboards * PRICES["dashboard"]
    if any(r["Type"] == "AWS::RDS::DBProxy" for r in resources.values()):
        lines["RDS Proxy minimum"] = PRICES["proxy_minimum_acus"] * PRICES["proxy_acu_hour"] * MONTH_HOURS
    return lines, metrics


def cost_table(cfn):
    rows = {}
    for mode in TEMPLATE_MODES:
        lines, metrics = idle_cost(render(cfn, mode))
        rows[mode] = (round(sum(lines.values()), 2), metrics, lines)
    return rows


def check_readme_costs(rows):
    readme = (ROOT / "docs" / "deploy.md").read_text()
    problems = []
    for mode, (total, metrics, _) in rows.items():
        if f"${total:.2f}" not in readme:
            problems.append(f"docs/deploy.md does not state the {mode} mode's idle cost, ${total:.2f} a month, as the template gives it")
    return problems


def self_test(cfn):
    """The checks must catch every defect the template once had; returns what they missed."""
    def res(c, name):
        return c["Resources"][name]

    def props(c, name):
        return res(c, name)["Properties"]

    def group(c, logical):
        return next(n for n in c["Resources"] if n.startswith(logical) and c["Resources"][n]["Type"] == "AWS::CodeDeploy::DeploymentGroup")

    mutations = {
        "an API function without DependsOn": lambda c: res(c, "MeFunction").pop("DependsOn"),
        "a dashboard without the logins": lambda c: props(c, "Dashboard").__setitem__(
            "DashboardBody", {"Fn::Sub": props(c, "Dashboard")["DashboardBody"]["Fn::Sub"].replace('MetricName=\\"Login\\"', 'MetricName=\\"Logins\\"')}),
        "a function writing its metrics to another namespace": lambda c: props(c, "MeFunction")["Environment"]["Variables"].__setitem__("METRICS_NAMESPACE", "Other"),
        "the migration waiting an hour": lambda c: props(c, "DatabaseMigrations").__setitem__("ServiceTimeout", 3600),
        "an API role reading the master secret": lambda c: props(c, "MeFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"].append(
            props(c, "MigrateFunction")["Environment"]["Variables"]["DATABASE_SECRET_ARN"]),
        "login at 1,024 MB": lambda c: props(c, "LoginFunction").__setitem__("MemorySize", 1024),
        "tracing off": lambda c: props(c, "TasksGetFunction").__setitem__("TracingConfig", {"Mode": "PassThrough"}),
        "a function that skips the pooler setting": lambda c: props(c, "TasksListFunction")["Environment"]["Variables"].pop("DATABASE_POOLER"),
        "a minor engine version by default (16.6)": lambda c: c["Parameters"]["DatabaseEngineVersion"].__setitem__("Default", "16.6"),
        "CORS without PUT": lambda c: props(c, "HttpApi")["Body"]["x-amazon-apigateway-cors"]["allowMethods"].remove("PUT"),
        "a proxy that cannot reach the endpoint": lambda c: props(c, "ProxySecurityGroup")["SecurityGroupEgress"].pop(),
        "an endpoint that admits only the functions": lambda c: props(c, "EndpointSecurityGroup")["SecurityGroupIngress"].pop(),
        "no rotation of the app role's password": lambda c: c["Resources"].pop("AppDatabaseSecretRotation"),
        "a deployment that rolls back on the API's 5xx": lambda c: props(c, group(c, "Me"))["AlarmConfiguration"]["Alarms"].append({"Name": {"Ref": "Api5xxAlarm"}}),
        "an error alarm on the unqualified function": lambda c: props(c, "MeVersionErrorsAlarm").__setitem__("Dimensions", [{"Name": "FunctionName", "Value": {"Ref": "MeFunction"}}]),
        "migrate waiting 30 s for the database": lambda c: props(c, "MigrateFunction")["Environment"]["Variables"].pop("MIGRATION_CONNECT_TIMEOUT_MS"),
        "migrate's 300 s limit": lambda c: props(c, "MigrateFunction").__setitem__("Timeout", 300),
        "the proxy named after the stack": lambda c: props(c, "DatabaseProxy").__setitem__("DBProxyName", {"Fn::Sub": "${AWS::StackName}-db"}),
        "a standalone rule on a group with inline rules": lambda c: c["Resources"].__setitem__("Extra", {
            "Type": "AWS::EC2::SecurityGroupEgress", "Condition": "CreateNetwork",
            "Properties": {"GroupId": {"Ref": "FunctionSecurityGroup"}, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "10.0.0.0/8"}}),
        "a reference to a resource the mode drops": lambda c: props(c, "MeFunction")["Environment"]["Variables"].__setitem__("X", {"Ref": "DatabaseProxy"}),
    }
    missed = []
    for name, mutate in mutations.items():
        mutated = copy.deepcopy(cfn)
        mutate(mutated)
        caught = any(check_template(mutated, mode, variants=False)[0] for mode in TEMPLATE_MODES)
        if not caught:
            missed.append(f"the template check missed {name}")
    return missed


# ------------------------------------------------------------------ 2. the functions


def bootstrap(binary):
    path = ROOT / "target" / "lambda" / binary / "bootstrap"
    if not path.exists():
        fail(f"{path.relative_to(ROOT)} is missing: build the release bootstraps first (tests/harness/build.sh)")
    return path


def psql(url, sql, check=True):
    result = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", url, "-c", sql], capture_output=True, text=True)
    if check and result.returncode != 0:
        fail(f"psql failed: {result.stderr.strip()}")
    return result


def with_credentials(url, user, password, database=None, **query):
    parsed = urllib.parse.urlparse(url)
    netloc = f"{urllib.parse.quote(user)}:{urllib.parse.quote(password)}@{parsed.hostname}:{parsed.port}"
    params = dict(urllib.parse.parse_qsl(parsed.query))
    params.update(query)
    return urllib.parse.urlunparse(parsed._replace(netloc=netloc, path=f"/{database or parsed.path.lstrip('/')}", query=urllib.parse.urlencode(params)))


class LateDatabase:
    """A port that refuses connections for `delay` seconds, then forwards to the database: a
    paused Aurora resuming, or the network coming up during a rollback."""

    def __init__(self, target_port, delay):
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.stopped = False
        threading.Timer(delay, self.listen).start()

    def listen(self):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stopped:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopped = True
        if hasattr(self, "server"):
            self.server.close()


def run_functions(cfn, mode, admin_url, ca_pem, log_dir):
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=os.environ["SECRETS_MANAGER_TEST_ENDPOINT"])
    suffix = secrets.token_hex(4)
    database = f"rehearsal_{mode}_{suffix}"
    parsed = urllib.parse.urlparse(admin_url)
    # The master role as RDS makes it: not a superuser; it may create roles and owns the database.
    master_user, master_password = f"rehearsal_master_{suffix}", secrets.token_urlsafe(24)
    psql(admin_url, f"create role {master_user} login createrole password '{master_password}'")
    psql(admin_url, f"create database {database} owner {master_user}")

    def secret(name, value):
        return client.create_secret(Name=f"{database}-{name}", SecretString=value)["ARN"]

    master = secret("master", json.dumps({"username": master_user, "password": master_password}))
    app_password = secrets.token_urlsafe(30)
    app = secret("app", json.dumps({"username": "taskapi_app", "password": app_password}))
    jwt = secret("jwt", secrets.token_urlsafe(48))
    ca = secret("ca", ca_pem)
    # What CloudFormation gives only at deploy time: the secrets' ARNs and the database's address
    # ("localhost", the name its certificate holds).
    attributes = {
        "AppDatabaseSecret": app,
        "JwtSecret": jwt,
        "DatabaseCluster.MasterUserSecret.SecretArn": master,
        "DatabaseCluster.Endpoint.Address": "localhost",
        "DatabaseCluster.Endpoint.Port": str(parsed.port),
    }
    overrides = {"DatabaseName": database, "BcryptCost": 10}
    if mode == "existing":
        overrides.update(ExistingDatabaseSecretArn=master, ExistingDatabaseHost="localhost", DatabasePort=parsed.port,
                         DatabaseSslMode="verify-full", DatabaseCaBundleSecretArn=ca)
    rendered = render(cfn, mode, overrides)
    by_binary = functions_by_binary()

    def environment(binary):
        env = rendered["Resources"][by_binary[binary]]["Properties"].get("Environment", {}).get("Variables", {})
        return {k: attributes.get(str(v), str(v)) for k, v in env.items()}

    started = []

    def start(binary, env):
        # Lambda's default memory is 128 MB.
        memory = int(rendered["Resources"][by_binary[binary]]["Properties"].get("MemorySize", 128))
        function = Function(bootstrap(binary), env, log_dir / f"{mode}-{binary}.log", memory=memory)
        started.append(function)
        return function

    def custom_resource(function, kind, response, properties=None, timeout=90):
        event = {
            "RequestType": kind,
            "ResponseURL": response.url,
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/taskapi/rehearsal",
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": "DatabaseMigrations",
            "PhysicalResourceId": "taskapi-database-migrations",
            "ResourceType": "Custom::DatabaseMigrations",
            "ResourceProperties": {"ServiceToken": "arn", "MigrateVersion": "1", **(properties or {})},
        }
        if kind == "Update":
            event["OldResourceProperties"] = {"ServiceToken": "arn", "MigrateVersion": "0"}
        function.api.invoke(event, timeout=timeout)
        return response.bodies.get(timeout=timeout)

    steps = []
    try:
        response = ResponseUrl()
        broken_env = environment("migrate")
        broken_env["DATABASE_SECRET_ARN"] = master + "-missing"
        reported = custom_resource(start("migrate", broken_env), "Create", response)
        if reported["Status"] != "FAILED" or master + "-missing" not in reported["Reason"]:
            fail(f"{mode}: bad configuration was not reported as FAILED: {reported}")
        steps.append("FAILED for a bad secret ARN")

        migrate = start("migrate", environment("migrate"))
        reported = custom_resource(migrate, "Create", response)
        expected = len(list((ROOT / "migrations").glob("*.sql")))
        if reported["Status"] != "SUCCESS" or reported["Data"].get("Applied") != expected:
            fail(f"{mode}: Create did not report SUCCESS with {expected} migrations: {reported}")
        steps.append(f"Create: SUCCESS, {expected} migrations")

        if mode == "default":
            # An Update (as in a rollback) while the database comes up only after 35 s, longer
            # than the 30 s migrate once waited: it must wait, not report FAILED.
            late = LateDatabase(parsed.port, delay=35)
            late_env = environment("migrate")
            late_env["DATABASE_PORT"] = str(late.port)
            began = time.monotonic()
            reported = custom_resource(start("migrate", late_env), "Update", response, timeout=240)
            late.stop()
            if reported["Status"] != "SUCCESS":
                fail(f"{mode}: Update against a database that came up after 35 s reported {reported}")
            steps.append(f"Update with the database late by 35 s: SUCCESS after {time.monotonic() - began:.0f} s")
        reported = custom_resource(migrate, "Update", response, {"MigrateVersion": "2"})
        if reported["Status"] != "SUCCESS" or reported["Data"].get("Applied") != 0:
            fail(f"{mode}: Update did not report SUCCESS with nothing left to apply: {reported}")
        steps.append("Update: SUCCESS, 0 migrations")

        functions = {binary: start(binary, environment(binary)) for binary in by_binary if binary != "migrate"}

        def call(binary, *args, **kwargs):
            kind, result = functions[binary].api.invoke(http_event(*args, **kwargs))
            if kind != "response":
                fail(f"{mode}: {binary} reported an error: {result}")
            headers = result.get("headers") or {}
            body = result.get("body")
            if body and "json" in headers.get("content-type", ""):
                body = json.loads(body)
            return result["statusCode"], body

        name = f"rehearsal_{secrets.token_hex(4)}"
        password = "violet rivers hum beneath lanterns"
        calls = [
            ("health", call("health", "GET", "/api/health", "/api/health")[0], 200),
            ("docs", call("docs", "GET", "/api/openapi.json", "/api/openapi.json")[0], 200),
        ]
        # The docs page and each asset it names, gzipped as a browser asks: bytes, which API
        # Gateway takes base64-encoded.
        status, page = call("docs", "GET", "/api/docs", "/api/docs")
        calls.append(("docs page", status, 200))
        assets = re.findall(r'"docs/([^"/]+)"', page or "")
        calls.append(("docs page names its scripts and styles", len(assets) > 0, True))
        for asset in assets:
            event = http_event("GET", f"/api/docs/{asset}", "/api/docs/{asset}", path_parameters={"asset": asset})
            event["headers"]["accept-encoding"] = "gzip, deflate, br"
            kind, result = functions["docs"].api.invoke(event)
            gzipped = kind == "response" and result.get("isBase64Encoded") and (result.get("headers") or {}).get("content-encoding") == "gzip"
            try:
                served = gzipped and len(gzip.decompress(base64.b64decode(result["body"]))) > 0
            except (ValueError, OSError):
                served = False
            calls.append((f"docs asset {asset}, gzipped in base64", result.get("statusCode") if served else "not gzip bytes", 200))
        calls += [
            ("register", call("register", "POST", "/api/users/register", "/api/users/register", {"username": name, "email": f"{name}@example.com", "password": password})[0], 201),
        ]
        status, tokens = call("login", "POST", "/api/auth/login", "/api/auth/login", {"login": name, "password": password})
        calls.append(("login", status, 200))
        status, tokens = call("refresh", "POST", "/api/auth/refresh", "/api/auth/refresh", {"refresh_token": tokens["refresh_token"]})
        calls.append(("refresh", status, 200))
        access = tokens["access_token"]
        calls.append(("me", call("me", "GET", "/api/users/me", "/api/users/me", token=access)[0], 200))
        status, task = call("tasks-create", "POST", "/api/tasks", "/api/tasks", {"title": "rehearse", "steps": [{"name": "one"}]}, token=access)
        calls.append(("tasks-create", status, 201))
        path, params = f"/api/tasks/{task['id']}", {"id": task["id"]}
        calls.append(("tasks-list", call("tasks-list", "GET", "/api/tasks", "/api/tasks", token=access)[0], 200))
        calls.append(("tasks-get", call("tasks-get", "GET", path, "/api/tasks/{id}", token=access, path_parameters=params)[0], 200))
        calls.append(("tasks-update", call("tasks-update", "PATCH", path, "/api/tasks/{id}", {"status": "in_progress"}, token=access, path_parameters=params)[0], 200))
        calls.append(("tasks-delete", call("tasks-delete", "DELETE", path, "/api/tasks/{id}", token=access, path_parameters=params)[0], 204))
        status, agent = call("agents-create", "POST", "/api/agents", "/api/agents", {"name": "rehearsal"}, token=access)
        calls.append(("agents-create", status, 201))
        agent_path, agent_params = f"/api/agents/{agent['id']}", {"id": agent["id"]}
        calls.append(("agents-list", call("agents-list", "GET", "/api/agents", "/api/agents", token=access)[0], 200))
        calls.append(("agents-get", call("agents-get", "GET", agent_path, "/api/agents/{id}", token=access, path_parameters=agent_params)[0], 200))
        # The agent's work: a key, a claim, a heartbeat, a step and a completion; a failed attempt.
        keys_path, keys_route = f"{agent_path}/keys", "/api/agents/{id}/keys"
        status, minted = call("agent-keys-create", "POST", keys_path, keys_route, {"name": "rehearsal"}, token=access, path_parameters=agent_params)
        calls.append(("agent-keys-create", status, 201))
        key = minted["key"]
        calls.append(("agent-keys-list", call("agent-keys-list", "GET", keys_path, keys_route, token=access, path_parameters=agent_params)[0], 200))
        status, work = call("tasks-create", "POST", "/api/tasks", "/api/tasks", {"title": "work", "priority": 100, "steps": [{"name": "one"}]}, token=access)
        status, claimed = call("agent-claim", "POST", "/api/agent/claim", "/api/agent/claim", {"lease_seconds": 30}, token=key)
        calls.append(("agent-claim", status, 200))
        fence, work_params = claimed["fencing_token"], {"id": claimed["id"]}
        calls.append(("agent-heartbeat", call("agent-heartbeat", "POST", f"/api/agent/tasks/{claimed['id']}/heartbeat", "/api/agent/tasks/{id}/heartbeat", {"fencing_token": fence}, token=key, path_parameters=work_params)[0], 200))
        work_step = {"id": claimed["id"], "step_id": claimed["steps"][0]["id"]}
        calls.append(("steps-update with an agent key", call("steps-update", "PATCH", f"/api/tasks/{claimed['id']}/steps/{claimed['steps'][0]['id']}", "/api/tasks/{id}/steps/{step_id}", {"status": "completed", "fencing_token": fence}, token=key, path_parameters=work_step)[0], 200))
        calls.append(("agent-complete", call("agent-complete", "POST", f"/api/agent/tasks/{claimed['id']}/complete", "/api/agent/tasks/{id}/complete", {"fencing_token": fence, "result": {"ok": True}}, token=key, path_parameters=work_params)[0], 200))
        calls.append(("agent-complete with a spent lease", call("agent-complete", "POST", f"/api/agent/tasks/{claimed['id']}/complete", "/api/agent/tasks/{id}/complete", {"fencing_token": fence}, token=key, path_parameters=work_params)[0], 409))
        call("tasks-create", "POST", "/api/tasks", "/api/tasks", {"title": "flaky", "priority": 100}, token=access)
        status, claimed = call("agent-claim", "POST", "/api/agent/claim", "/api/agent/claim", None, token=key)
        calls.append(("agent-fail", call("agent-fail", "POST", f"/api/agent/tasks/{claimed['id']}/fail", "/api/agent/tasks/{id}/fail", {"fencing_token": claimed["fencing_token"], "error": {"code": "rehearsal"}}, token=key, path_parameters={"id": claimed["id"]})[0], 200))
        key_params = {"id": agent["id"], "key_id": minted["id"]}
        calls.append(("agent-keys-delete", call("agent-keys-delete", "DELETE", f"{keys_path}/{minted['id']}", "/api/agents/{id}/keys/{key_id}", token=access, path_parameters=key_params)[0], 204))
        calls.append(("agent-claim with a revoked key", call("agent-claim", "POST", "/api/agent/claim", "/api/agent/claim", None, token=key)[0], 401))
        calls.append(("agents-update", call("agents-update", "PATCH", agent_path, "/api/agents/{id}", {"is_active": False}, token=access, path_parameters=agent_params)[0], 200))
        calls.append(("agents-delete", call("agents-delete", "DELETE", agent_path, "/api/agents/{id}", token=access, path_parameters=agent_params)[0], 204))
        status, stepped = call("tasks-create", "POST", "/api/tasks", "/api/tasks", {"title": "steps", "steps": [{"name": "one"}]}, token=access)
        step_path = f"/api/tasks/{stepped['id']}/steps/{stepped['steps'][0]['id']}"
        step_params = {"id": stepped["id"], "step_id": stepped["steps"][0]["id"]}
        calls.append(("steps-update", call("steps-update", "PATCH", step_path, "/api/tasks/{id}/steps/{step_id}", {"status": "completed"}, token=access, path_parameters=step_params)[0], 200))
        calls.append(("audit-list", call("audit-list", "GET", "/api/audit", "/api/audit", token=access)[0], 200))
        new_password = "quiet harbours keep their lanterns lit"
        calls.append(("password-change", call("password-change", "PUT", "/api/users/me/password", "/api/users/me/password", {"current_password": password, "new_password": new_password}, token=access)[0], 204))
        calls.append(("logout", call("logout", "POST", "/api/auth/logout", "/api/auth/logout", token=access)[0], 204))
        calls.append(("me after logout", call("me", "GET", "/api/users/me", "/api/users/me", token=access)[0], 401))
        status, tokens = call("login", "POST", "/api/auth/login", "/api/auth/login", {"login": name, "password": new_password})
        calls.append(("login with the new password", status, 200))
        access = tokens["access_token"]
        wrong = [f"{b}: {got} (expected {want})" for b, got, want in calls if got != want]
        if wrong:
            fail(f"{mode}: " + "; ".join(wrong))
        steps.append(f"{len(calls)} routes answered as documented")

        if mode == "default":
            steps.extend(abuse_limits(functions))

        # The scheduled maintenance, as EventBridge invokes it: it connects as the app role and
        # prunes every kind; the logout above ended a session whose refresh tokens must go.
        kind, result = functions["maintenance"].api.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        pruned = result.get("pruned", {}) if kind == "response" and isinstance(result, dict) else {}
        if kind != "response" or set(pruned) != {"sessions", "refresh_tokens", "login_throttles", "login_name_failures",
                                                  "login_address_budgets", "register_address_budgets", "login_known_addresses", "audit_logs"} \
                or pruned["refresh_tokens"] < 1:
            fail(f"{mode}: maintenance did not prune as scheduled: {kind} {result}")
        steps.append(f"maintenance pruned {pruned['refresh_tokens']} refresh tokens of ended sessions")

        # The app role's password rotates: Secrets Manager's four steps, each an invocation.
        app_url = with_credentials(admin_url, "taskapi_app", app_password, database)
        if psql(app_url, "select 1", check=False).returncode != 0:
            fail(f"{mode}: the app role does not log in with its secret's password")
        token = str(uuid.uuid4())
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            kind, result = migrate.api.invoke({"Step": step, "SecretId": app, "ClientRequestToken": token})
            if kind != "response":
                fail(f"{mode}: rotation step {step} failed: {result}")
        stages = client.describe_secret(SecretId=app)["VersionIdsToStages"]
        if "AWSCURRENT" not in stages.get(token, []):
            fail(f"{mode}: after the rotation the new version is not current: {stages}")
        # AWSCURRENT named: moto 5.2 answers a request without a stage with the secret's first
        # version even after AWSCURRENT moved (AWS answers AWSCURRENT, as the functions ask).
        rotated = json.loads(client.get_secret_value(SecretId=app, VersionStage="AWSCURRENT")["SecretString"])["password"]
        if rotated == app_password:
            fail(f"{mode}: the rotation did not change the password")
        if psql(app_url, "select 1", check=False).returncode == 0:
            fail(f"{mode}: the old password still logs in after the rotation")
        if psql(with_credentials(admin_url, "taskapi_app", rotated, database), "select 1", check=False).returncode != 0:
            fail(f"{mode}: the rotated password does not log in")
        # A warm instance keeps its open connection (a password change ends no session).
        status, _ = call("me", "GET", "/api/users/me", "/api/users/me", token=access)
        if status != 200:
            fail(f"{mode}: a warm instance answered {status} after the rotation")
        # A new instance reads the new password at start.
        fresh = start("me", environment("me"))
        kind, result = fresh.api.invoke(http_event("GET", "/api/users/me", "/api/users/me", token=access))
        if kind != "response" or result["statusCode"] != 200:
            fail(f"{mode}: a new instance answered {result} after the rotation")
        # When the warm instance's connection ends, its next one is refused with the old
        # password (28P01); it reads the secret again and is served. The request that met the
        # ended connection gets a 503 with Retry-After.
        psql(admin_url, f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{database}' and usename = 'taskapi_app'")
        answers = [call("me", "GET", "/api/users/me", "/api/users/me", token=access)[0] for _ in range(2)]
        if answers[-1] != 200 or any(a not in (200, 503) for a in answers):
            fail(f"{mode}: a warm instance answered {answers} once its connection ended after the rotation")
        steps.append("rotation: the role's password changed with its secret; warm and new instances are served")

        status, _ = call("account-delete", "DELETE", "/api/users/me", "/api/users/me", {"password": new_password}, token=access)
        if status != 204:
            fail(f"{mode}: account-delete answered {status}")
        reported = custom_resource(migrate, "Delete", response)
        if reported["Status"] != "SUCCESS":
            fail(f"{mode}: Delete did not report SUCCESS: {reported}")
        steps.append("Delete: SUCCESS")

        roles = psql(admin_url, f"select string_agg(distinct usename, ',') from pg_stat_activity where datname = '{database}' and backend_type = 'client backend' and usename <> '{parsed.username}'").stdout.strip()
        if roles != "taskapi_app":
            fail(f"{mode}: the API functions should be connected as taskapi_app only, found {roles!r}")
        tls = psql(admin_url, f"select bool_and(ssl) from pg_stat_ssl join pg_stat_activity using (pid) where datname = '{database}'").stdout.strip()
        if tls != "t":
            fail(f"{mode}: a connection to the database is not encrypted")
        print(f"rehearsal ({mode} mode, release bootstraps, passwords over TLS): " + "; ".join(steps))
    finally:
        for function in started:
            function.stop()


def abuse_limits(functions):
    """Black-box, through the release bootstraps: one address's hourly registration budget (the
    template's default, 20), and the account-wide lockdown answering alike for a real name and a
    name no account has (100 failures from 100 addresses each, then a stranger's attempt)."""
    def invoke(binary, body, source_ip):
        kind, result = functions[binary].api.invoke(http_event("POST", f"/api/{'users/register' if binary == 'register' else 'auth/login'}",
                                                               f"/api/{'users/register' if binary == 'register' else 'auth/login'}", body, source_ip=source_ip))
        if kind != "response":
            fail(f"{binary} reported an error: {result}")
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        return result["statusCode"], json.loads(result["body"]) if result.get("body") else None, headers

    password = "violet rivers hum beneath lanterns"
    prefix = f"budget_{secrets.token_hex(3)}"
    statuses = [invoke("register", {"username": f"{prefix}_{i}", "email": f"{prefix}_{i}@example.com", "password": password}, "203.0.113.77")[0]
                for i in range(21)]
    refused = invoke("register", {"username": f"{prefix}_x", "email": f"{prefix}_x@example.com", "password": password}, "203.0.113.77")
    elsewhere = invoke("register", {"username": f"{prefix}_y", "email": f"{prefix}_y@example.com", "password": password}, "203.0.113.78")[0]
    if statuses != [201] * 20 + [429] or refused[0] != 429 or not refused[2].get("retry-after") or elsewhere != 201:
        fail(f"register budget: {statuses}, then {refused[0]} {refused[2].get('retry-after')}, another address {elsewhere}")

    answers = {}
    for label, login in (("real", f"{prefix}_0"), ("unknown", f"nobody_{secrets.token_hex(4)}")):
        block = 1 if label == "real" else 2
        for i in range(100):
            status = invoke("login", {"login": login, "password": "not it, not it, not it"}, f"10.{block}.{i // 250}.{i % 250 + 1}")[0]
            if status != 401:
                fail(f"lockdown: failure {i + 1} of the {label} name answered {status}")
        status, body, headers = invoke("login", {"login": login, "password": "not it, not it, not it"}, f"192.0.2.{block}")
        answers[label] = (status, body, int(headers.get("retry-after", "0")))
    real, unknown = answers["real"], answers["unknown"]
    if real[0] != 429 or real[:2] != unknown[:2] or abs(real[2] - unknown[2]) > 1 or not 86_000 < real[2] <= 86_400:
        fail(f"lockdown: a real name answered {real}, an unknown one {unknown}")
    return ["register: 20 from one address, the 21st 429 with Retry-After, another address 201",
            f"lockdown after 100 failures: 429, Retry-After {real[2]} s, alike for a real and an unknown name"]


def main():
    cfn = translated()
    problems = cfn_sections.check(cfn) + cfn_sections.self_test(cfn)
    for mode in TEMPLATE_MODES:
        found, rendered = check_template(cfn, mode)
        problems += found
        if not found:
            print(f"rehearsal ({mode} mode): cloud-radar renders {len(rendered['Resources'])} resources; every check holds")
    problems += self_test(cfn)
    rows = cost_table(cfn)
    for mode, (total, metrics, lines) in rows.items():
        detail = ", ".join(f"{k} ${v:.2f}" for k, v in lines.items())
        print(f"idle cost ({mode} mode): ${total:.2f} a month ({detail}; {metrics} alarm metrics)")
    problems += check_readme_costs(rows)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    if "--template-only" in sys.argv:
        return 0
    log_dir = ROOT / ".local" / "rehearsal"
    log_dir.mkdir(parents=True, exist_ok=True)
    admin_url = os.environ["REHEARSAL_ADMIN_URL"]
    ca_pem = Path(os.environ["REHEARSAL_CA"]).read_text()
    for mode in MODES:
        run_functions(cfn, mode, admin_url, ca_pem, log_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
