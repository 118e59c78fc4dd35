"""cfn-lint on template.yaml, with AWS's serverless rules (cfn-lint-serverless) as well.

Every cfn-lint finding fails. Of the serverless rules, two findings remain, one per function,
and each is accepted for a reason this script verifies in the template rather than trusts:

- WS1000 (tracing should be Active): the rule reads `Tracing` as a literal and cannot follow
  `!Ref TracingMode`; the parameter's default is Active, which the rehearsal also checks
  rendered.
- WS1004 (a log group with retention per function): the rule looks for a log group named
  /aws/lambda/<function>; the functions log to one shared group (LoggingConfig.LogGroup ->
  FunctionLogs) whose retention is LogRetentionDays.
- ES1007 and ES4000 (an asynchronous event source without an on-failure destination or a
  dead-letter queue), on the maintenance function's schedule only: its events carry no input, so
  a lost run holds nothing to redeliver (the next run deletes what it would have), and its
  Errors alarm notifies the alarm topic.
Any other serverless finding fails.
"""

import json
import subprocess
import sys
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]


def lint(*extra):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROOT / "template.yaml"), "--format", "json", *extra],
        capture_output=True, text=True,
    )
    # cfn-lint's exit status is a bitmask of what it found (2 errors, 4 warnings, 8 notes).
    if result.returncode >= 16 or result.returncode == 1 or not result.stdout.strip().startswith("["):
        raise SystemExit(f"cfn-lint did not run: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def accepted(template):
    """The serverless findings the template answers, each with the fact that answers it."""
    globals_ = template["Globals"]["Function"]
    reasons = {}
    tracing = template["Parameters"]["TracingMode"]["Default"]
    if globals_.get("Tracing") == {"Ref": "TracingMode"} and tracing == "Active":
        reasons["WS1000"] = "Tracing is !Ref TracingMode, whose default is Active"
    log_group = globals_.get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
    if log_group and template["Resources"][log_group]["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionDays"}:
        reasons["WS1004"] = f"every function logs to {log_group}, kept LogRetentionDays days"
    resources = template["Resources"]
    for name, resource in resources.items():
        if resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary") != "maintenance":
            continue
        events = resource["Properties"].get("Events", {})
        content_free = events and all(e["Type"] == "Schedule" and "Input" not in e.get("Properties", {}) for e in events.values())
        alarmed = any(
            r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "Errors"
            and {"Name": "FunctionName", "Value": {"Ref": name}} in r["Properties"].get("Dimensions", [])
            and r["Properties"].get("AlarmActions")
            for r in resources.values())
        if content_free and alarmed:
            reason = f"{name}'s schedule carries no input and its Errors alarm notifies"
            reasons["ES1007"] = reasons["ES4000"] = (reason, f"{name}/")
    return reasons


def main():
    template, problems = decode(str(ROOT / "template.yaml"))
    if problems:
        raise SystemExit(f"template.yaml does not load: {problems}")
    template = json.loads(json.dumps(template))
    failures = [f"{m['Rule']['Id']} {m['Message']} ({m['Location']['Path']})" for m in lint()]
    reasons = accepted(template)
    kept = {}
    for finding in lint("-a", "cfn_lint_serverless.rules"):
        rule = finding["Rule"]["Id"]
        reason = reasons.get(rule)
        # A reason that names its function covers that function's findings only.
        if reason and (isinstance(reason, str) or reason[1] in finding["Message"]):
            kept[rule] = kept.get(rule, 0) + 1
        elif not any(f.startswith(rule + " ") for f in failures):
            failures.append(f"{rule} {finding['Message']}")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    if failures:
        return 1
    summary = "; ".join(
        f"{rule} on {count} functions, accepted: {reasons[rule] if isinstance(reasons[rule], str) else reasons[rule][0]}"
        for rule, count in sorted(kept.items()))
    print(f"cfn-lint and its serverless rules: no finding but {summary or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
