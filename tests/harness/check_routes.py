"""Checks that the API is wired the same way everywhere.

- the (method, path -> function) routes of template.yaml equal the `cargo lambda watch` router
  in Cargo.toml, and the (method, path) operations of openapi.yaml;
- the functions of template.yaml (by binary) equal the crates in functions/, and every crate
  has at least one route but `migrate` (CloudFormation and Secrets Manager invoke it) and
  `maintenance`, which has an EventBridge schedule instead;
- each function's role may read exactly the secrets its code loads: the API functions the app
  role's database secret, plus the JWT secret where the function's state loads it; `migrate` the
  master (migrator) secret and the app secret; no other secret, no wildcard, the JWT ARN in the
  environment of those that use it, and the master secret nowhere near a request function;
- the release profile states its panic strategy.

`--self-test` also proves the check fails when a route is missing on either side, when a
function is not routed, and when a role reads a secret its code does not use.

Run with the project venv's Python (it has cfn-lint, whose loader reads CloudFormation tags).
"""

import copy
import sys
import tomllib
from pathlib import Path

import yaml
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
UNROUTED = {"migrate", "maintenance"}
SECRET_READ = "secretsmanager:GetSecretValue"


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def load():
    template, problems = decode(str(ROOT / "template.yaml"))
    if problems:
        raise SystemExit(f"template.yaml does not load: {problems}")
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    cargo["openapi"] = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    crates = {}
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        name = tomllib.loads(manifest.read_text())["package"]["name"]
        src = manifest.parent / "src"
        crates[name] = (src / "main.rs").read_text() + (src / "lib.rs").read_text()
    return template, cargo, crates


def openapi_operations(document):
    return {
        (method.upper(), path)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    }


def template_functions(template):
    """binary -> (resource properties)"""
    functions = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        functions[binary] = resource.get("Properties", {})
    return functions


def template_routes(template):
    routes = set()
    for binary, properties in template_functions(template).items():
        for event in properties.get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                props = event["Properties"]
                routes.add((props["Method"].upper(), props["Path"], binary))
    return routes


def router_routes(cargo):
    router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes = set()
    for path, targets in router.items():
        if isinstance(targets, str):
            routes.add(("ANY", path, targets))
            continue
        for target in targets:
            routes.add((target["method"].upper(), path, target["function"]))
    return routes


def secret_reads(properties):
    """The Resource entries of every statement that allows reading secrets."""
    reads = []
    for policy in properties.get("Policies", []):
        statements = policy.get("Statement", []) if isinstance(policy, dict) else []
        for statement in statements:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if any(a == SECRET_READ or a.endswith("*") for a in actions if a.startswith("secretsmanager:")):
                resources = statement.get("Resource", [])
                reads.extend(resources if isinstance(resources, list) else [resources])
    return reads


# The shared states (shared/src/state.rs) that load the token secret.
JWT_STATES = (
    "shared::state::Api as State",
    "shared::state::PasswordCheck as State",
    "shared::state::Refresh as State",
)


# The shared state that loads nothing (the contract is built into `docs`).
BARE_STATE = "shared::state::Bare as State"


def environment(properties):
    return properties.get("Environment", {}).get("Variables", {})


def master_secret(functions):
    """The master (migrator) secret: what the migrate function connects with."""
    return environment(functions.get("migrate", {})).get("DATABASE_SECRET_ARN")


def ca_bundle(condition):
    """The optional CA bundle secret (DatabaseCaBundleSecretArn), readable where it is used."""
    return {"Fn::If": [condition, {"Ref": "DatabaseCaBundleSecretArn"}, {"Ref": "AWS::NoValue"}]}


def needs_jwt(source):
    """Whether the function's state loads the token secret at start-up."""
    return any(name in source for name in JWT_STATES + ("JwtSecret::load", "TokenKeys::load"))


# The release profile's panic strategy, stated so cargo-lambda does not substitute "abort".
PANIC_STRATEGY = "abort"


def check(template, cargo, crates):
    problems = []
    panic = cargo.get("profile", {}).get("release", {}).get("panic")
    if panic != PANIC_STRATEGY:
        problems.append(
            f"Cargo.toml [profile.release] panic is {panic!r}; it must say {PANIC_STRATEGY!r} "
            "(chosen by measurement; see the comment there)"
        )
    in_template = template_routes(template)
    in_router = router_routes(cargo)
    for route in sorted(in_template - in_router):
        problems.append(f"route {route} is in template.yaml but not in the Cargo.toml watch router")
    for route in sorted(in_router - in_template):
        problems.append(f"route {route} is in the Cargo.toml watch router but not in template.yaml")
    documented = openapi_operations(cargo["openapi"])
    deployed = {(method, path) for method, path, _ in in_template}
    for operation in sorted(deployed - documented):
        problems.append(f"route {operation} is in template.yaml but not documented in openapi.yaml")
    for operation in sorted(documented - deployed):
        problems.append(f"openapi.yaml documents {operation}, which template.yaml does not route")

    functions = template_functions(template)
    for name in sorted(set(crates) - set(functions)):
        problems.append(f"crate functions/{name} has no function in template.yaml")
    for name in sorted(set(functions) - set(crates)):
        problems.append(f"template.yaml builds {name!r}, which is not a crate in functions/")
    routed = {function for _, _, function in in_template | in_router}
    for name in sorted(set(crates) - UNROUTED - routed):
        problems.append(f"crate functions/{name} has no route")
    schedules = [e for e in functions.get("maintenance", {}).get("Events", {}).values() if e.get("Type") == "Schedule"]
    if "maintenance" in crates and len(schedules) != 1:
        problems.append("maintenance needs exactly one Schedule event (EventBridge), which runs it")

    master = master_secret(functions)
    for name, properties in sorted(functions.items()):
        if name not in crates:
            continue
        reads = secret_reads(properties)
        if name == "migrate":
            expected = [master, {"Ref": "AppDatabaseSecret"}, ca_bundle("HasDatabaseCaBundle")]
        elif BARE_STATE in crates[name]:
            # Nothing to load, so nothing to read: no secret at all.
            expected = []
        else:
            expected = [{"Ref": "AppDatabaseSecret"}, ca_bundle("FunctionsUseCaBundle")]
            if needs_jwt(crates[name]):
                expected.append({"Ref": "JwtSecret"})
            if master in reads or master in environment(properties).values():
                problems.append(f"{name} serves requests but may read the database master secret")
        if sorted(map(str, reads)) != sorted(map(str, expected)):
            problems.append(f"{name} may read secrets {reads}, but its code uses exactly {expected}")
        jwt_env = environment(properties).get("JWT_SECRET_ARN")
        if needs_jwt(crates[name]) != (jwt_env == {"Ref": "JwtSecret"}):
            problems.append(f"{name}: JWT_SECRET_ARN in its environment does not match its use of token keys")
    return problems


def self_test(template, cargo, crates):
    """Each mutation must be caught."""
    def drop_template_route(t, c, k):
        function = next(p for b, p in template_functions(t).items() if p.get("Events"))
        function["Events"].popitem()

    def drop_router_route(t, c, k):
        router = c["workspace"]["metadata"]["lambda"]["watch"]["router"]
        router.pop(next(iter(router)))

    def drop_documented_operation(t, c, k):
        c["openapi"]["paths"]["/api/tasks/{id}"].pop("patch")

    def extra_crate(t, c, k):
        k["tasks-archive"] = "fn main() {}"

    def wider_role(t, c, k):
        health = template_functions(t)["health"]
        health["Policies"][0]["Statement"][0]["Resource"] = [{"Ref": "AppDatabaseSecret"}, ca_bundle("FunctionsUseCaBundle"), {"Ref": "JwtSecret"}]

    def api_reads_master(t, c, k):
        functions = template_functions(t)
        me = functions["me"]
        me["Policies"][0]["Statement"][0]["Resource"].append(master_secret(functions))

    def silent_panic_strategy(t, c, k):
        c["profile"]["release"].pop("panic")

    def wildcard_role(t, c, k):
        login = template_functions(t)["login"]
        login["Policies"][0]["Statement"][0]["Resource"] = "*"

    failures = []
    for mutate in (drop_template_route, drop_router_route, drop_documented_operation, extra_crate, wider_role, api_reads_master, wildcard_role, silent_panic_strategy):
        t, c, k = copy.deepcopy(template), copy.deepcopy(cargo), dict(crates)
        mutate(t, c, k)
        if not check(t, c, k):
            failures.append(f"the check missed: {mutate.__name__}")
    return failures


def main():
    template, cargo, crates = load()
    problems = check(template, cargo, crates)
    if "--self-test" in sys.argv:
        problems += self_test(template, cargo, crates)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    routes = len(template_routes(template))
    print(f"routes, functions and secret access agree: {routes} routes, {len(crates)} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
