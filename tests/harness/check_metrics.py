"""Reads the functions' log from a `make dev` run (`cargo lambda watch`) and checks the metrics
they wrote in CloudWatch's embedded metric format (EMF), as CloudWatch Logs would read them:
- every EMF line is a valid document: `_aws.Timestamp` in milliseconds, one namespace,
  dimension sets naming keys the line carries, every metric's value there (a count of at least
  1, or a list of non-negative numbers), and the Lambda request id as a property;
- every metric has the name, unit and dimensions `shared/src/metrics.rs` declares (`METRICS`),
  and its dimension values are the ones the code writes (outcomes, statuses, function names);
- every declared metric appears at least once (the black-box suite, the drill and the browser
  test between them log in, refresh, register, move tasks and steps, and take the database
  away).

Usage: check_metrics.py [--self-test] [--namespace NS] LOG
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATUSES = {"pending", "in_progress", "completed", "failed", "cancelled"}
# The values each dimension may take, as shared::metrics writes them.
VALUES = {
    ("Login", "Outcome"): {"success", "wrong_password", "throttled", "locked"},
    ("Refresh", "Outcome"): {"success", "reuse", "refused"},
    ("TaskStatusChange", "Status"): STATUSES,
    ("StepStatusChange", "Status"): STATUSES,
}


def declared_metrics(source=ROOT / "shared/src/metrics.rs"):
    """{name: (unit, dimension or None)} from the METRICS table of shared/src/metrics.rs."""
    text = source.read_text()
    table = text[text.index("pub const METRICS"):]
    table = table[: table.index("];")]
    found = {}
    for name, unit, dimension in re.findall(r'\(\s*"(\w+)",\s*Unit::(\w+),\s*(None|Some\("\w+"\))', table):
        found[name] = (unit, None if dimension == "None" else dimension[6:-2])
    if not found:
        raise SystemExit("check_metrics: no METRICS table in shared/src/metrics.rs")
    return found


def documents(text):
    """The EMF documents of the log, with their line numbers."""
    for number, line in enumerate(text.splitlines(), 1):
        start = line.find('{"_aws"')
        if start < 0:
            continue
        try:
            yield number, json.loads(line[start:])
        except json.JSONDecodeError as err:
            yield number, err


def problems(text, declared, namespace="TaskApi", functions=None):
    found = []
    seen = set()
    for number, document in documents(text):
        where = f"line {number}"
        if isinstance(document, Exception):
            found.append(f"{where}: an EMF line that is not JSON: {document}")
            continue
        aws = document.get("_aws", {})
        if not isinstance(aws.get("Timestamp"), int) or aws["Timestamp"] < 10**12:
            found.append(f"{where}: _aws.Timestamp is not milliseconds since the epoch: {aws.get('Timestamp')!r}")
        if not document.get("RequestId"):
            found.append(f"{where}: no RequestId property")
        directives = aws.get("CloudWatchMetrics", [])
        if len(directives) != 1:
            found.append(f"{where}: {len(directives)} metric directives, not one")
            continue
        directive = directives[0]
        if directive.get("Namespace") != namespace:
            found.append(f"{where}: namespace {directive.get('Namespace')!r}, not {namespace!r}")
        dimension_sets = directive.get("Dimensions", [])
        keys = [key for keys in dimension_sets for key in keys]
        if len(dimension_sets) != 1 or any(key not in document for key in keys):
            found.append(f"{where}: dimension sets {dimension_sets} are not one set of keys the line carries")
            continue
        for metric in directive.get("Metrics", []):
            name = metric.get("Name")
            if name not in declared:
                found.append(f"{where}: {name!r} is not a metric shared/src/metrics.rs declares")
                continue
            unit, dimension = declared[name]
            seen.add(name)
            if metric.get("Unit") != unit:
                found.append(f"{where}: {name} has the unit {metric.get('Unit')!r}, not {unit!r}")
            if keys != ([dimension] if dimension else []):
                found.append(f"{where}: {name} has the dimensions {keys}, not {[dimension] if dimension else []}")
                continue
            if dimension:
                value = document[dimension]
                allowed = VALUES.get((name, dimension), functions)
                if not isinstance(value, str) or not value or (allowed is not None and value not in allowed):
                    found.append(f"{where}: {name}'s {dimension} is {value!r}, not one of {sorted(allowed or [])}")
            value = document.get(name)
            if unit == "Count":
                if not isinstance(value, int) or value < 1:
                    found.append(f"{where}: {name} counts {value!r}, not a whole number of at least 1")
            elif not (isinstance(value, list) and value and all(isinstance(v, (int, float)) and v >= 0 for v in value)):
                found.append(f"{where}: {name} holds {value!r}, not a list of non-negative numbers")
    for name in sorted(set(declared) - seen):
        found.append(f"{name} never appeared: no request counted it")
    return found


def self_test(declared):
    def line(name, value, unit="Count", dims=None, **extra):
        dims = dims or {}
        return json.dumps({
            "_aws": {"Timestamp": 1796247562126, "CloudWatchMetrics": [{"Namespace": "TaskApi", "Dimensions": [list(dims)], "Metrics": [{"Name": name, "Unit": unit}]}]},
            **dims, "RequestId": "r1", name: value, **extra,
        })

    good = [
        line("Login", 1, dims={"Outcome": "success"}),
        line("Refresh", 1, dims={"Outcome": "reuse"}),
        line("Registration", 1),
        line("TaskStatusChange", 2, dims={"Status": "completed"}),
        line("StepStatusChange", 1, dims={"Status": "in_progress"}),
        line("DatabaseAcquireTime", [0.4, 12.5], unit="Milliseconds", dims={"FunctionName": "login"}),
        line("DatabaseUnavailable", 1, dims={"FunctionName": "me"}),
    ]
    text = "\n".join(["[watch] a line that is not EMF", *good])
    assert problems(text, declared, functions={"login", "me"}) == [], problems(text, declared, functions={"login", "me"})
    wrong = {
        "a wrong unit": line("Login", 1, unit="Milliseconds", dims={"Outcome": "success"}),
        "an outcome the code never writes": line("Login", 1, dims={"Outcome": "maybe"}),
        "a missing dimension": line("Login", 1),
        "an extra dimension": line("Registration", 1, dims={"Outcome": "success"}),
        "an unknown metric": line("Logins", 1, dims={"Outcome": "success"}),
        "a histogram of a negative time": line("DatabaseAcquireTime", [-1.0], unit="Milliseconds", dims={"FunctionName": "login"}),
        "a zero count": line("Registration", 0),
        "another namespace": line("Registration", 1).replace('"TaskApi"', '"Other"'),
        "no request id": line("Registration", 1).replace('"RequestId": "r1", ', ""),
        "a broken line": '{"_aws": {',
    }
    missed = [what for what, bad in wrong.items() if not any("never appeared" not in p for p in problems("\n".join([*good, bad]), declared, functions={"login", "me"}))]
    assert not missed, f"check_metrics does not catch: {missed}"
    assert any("DatabaseUnavailable never appeared" in p for p in problems("\n".join(good[:-1]), declared)), "a metric nobody counted"


def main(argv):
    args = list(argv)
    declared = declared_metrics()
    if "--self-test" in args:
        args.remove("--self-test")
        self_test(declared)
    namespace = "TaskApi"
    if "--namespace" in args:
        i = args.index("--namespace")
        namespace = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        raise SystemExit(__doc__)
    import tomllib
    router = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["lambda"]["watch"]["router"]
    functions = {handler["function"] for handlers in router.values() for handler in handlers}
    found = problems(Path(args[0]).read_text(errors="replace"), declared, namespace, functions)
    if found:
        print("\n".join(found), file=sys.stderr)
        raise SystemExit(f"check_metrics: {len(found)} problem(s) in {args[0]}")
    count = sum(1 for _ in documents(Path(args[0]).read_text(errors="replace")))
    print(f"check_metrics: {count} EMF lines; all {len(declared)} metrics appear with their units and dimensions")


if __name__ == "__main__":
    main(sys.argv[1:])
