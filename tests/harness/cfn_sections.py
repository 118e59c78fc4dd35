"""Which intrinsic functions each section of a CloudFormation template may use.

CloudFormation refuses a template whose functions stand where they are not allowed, at
change-set creation ("Template format error"), before any resource exists. cfn-lint and
`sam validate --lint` do not check the Rules section, so this does, for every section, with the
lists of CloudFormation's documentation (Template Reference: "Rule functions", "Condition
functions", "Intrinsic function reference", and the Parameters, Mappings, Resources and Outputs
section pages):

- Parameters and Mappings: no functions at all.
- Rules (RuleCondition, Assert): only the rule functions.
- Conditions: the condition functions, `Condition`, and `Ref` (of a parameter) and
  `Fn::FindInMap` inside them.
- Resources: in Properties, Metadata and UpdatePolicy every intrinsic function but the rule
  functions; `Fn::If` names a condition; `DependsOn`, `Condition`, `DeletionPolicy` and
  `UpdateReplacePolicy` are plain names.
- Outputs: every intrinsic function but the rule functions in Value and Export; `Condition` is a
  plain name.
Everywhere: `Ref` and `Fn::GetAtt` name something that exists (a parameter, a pseudo parameter,
or a resource; in Conditions and Rules, parameters only).

Usage: cfn_sections.py TEMPLATE [--self-test]   (run on the template SAM expands)
"""

import copy
import json
import sys

RULE_FUNCTIONS = {
    "Fn::And", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::Equals",
    "Fn::Not", "Fn::Or", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll", "Ref",
}
CONDITION_SECTION = {"Fn::And", "Fn::Equals", "Fn::Not", "Fn::Or", "Condition", "Ref", "Fn::FindInMap"}
INTRINSIC = {
    "Ref", "Fn::Base64", "Fn::Cidr", "Fn::FindInMap", "Fn::GetAtt", "Fn::GetAZs", "Fn::If",
    "Fn::ImportValue", "Fn::Join", "Fn::Length", "Fn::Select", "Fn::Split", "Fn::Sub",
    "Fn::ToJsonString", "Fn::Transform", "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not",
}
ANY_FUNCTION = INTRINSIC | RULE_FUNCTIONS | {"Condition"}
PSEUDO = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
    "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}


def functions_in(node, path):
    """(path, name, argument) of every function call under node."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from functions_in(item, f"{path}/{i}")
    elif isinstance(node, dict):
        if len(node) == 1:
            (key, arg), = node.items()
            if key in ANY_FUNCTION:
                yield path, key, arg
        for key, value in node.items():
            yield from functions_in(value, f"{path}/{key}")


def check(template):
    """Every misplaced function of the template, as readable lines."""
    problems = []
    parameters = set(template.get("Parameters", {}))
    resources = set(template.get("Resources", {}))
    conditions = set(template.get("Conditions", {}))

    def allow(node, path, allowed, refs, in_condition_section=False):
        for where, name, arg in functions_in(node, path):
            if name == "Condition" and not in_condition_section:
                continue  # a plain key (an IAM policy's Condition), not the function
            if name not in allowed:
                problems.append(f"{where}: {name} is not allowed here")
                continue
            if name == "Ref" and isinstance(arg, str) and arg not in refs and not ("." in arg and arg.split(".")[0] in refs):
                problems.append(f"{where}: Ref {arg} names nothing this section may refer to")
            if name == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
                if target not in resources:
                    problems.append(f"{where}: Fn::GetAtt {target} names no resource")
            if name in ("Fn::If", "Condition"):
                condition = arg[0] if name == "Fn::If" else arg
                if condition not in conditions:
                    problems.append(f"{where}: {name} names no condition ({condition})")

    for name, spec in template.get("Parameters", {}).items():
        allow(spec, f"Parameters/{name}", set(), set())
    for name, spec in template.get("Mappings", {}).items():
        allow(spec, f"Mappings/{name}", set(), set())
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule:
            allow(rule["RuleCondition"], f"Rules/{name}/RuleCondition", RULE_FUNCTIONS, parameters | PSEUDO)
        for i, assertion in enumerate(rule.get("Assertions", [])):
            allow(assertion.get("Assert"), f"Rules/{name}/Assertions/{i}/Assert", RULE_FUNCTIONS, parameters | PSEUDO)
            allow(assertion.get("AssertDescription"), f"Rules/{name}/Assertions/{i}/AssertDescription", set(), set())
    for name, condition in template.get("Conditions", {}).items():
        allow(condition, f"Conditions/{name}", CONDITION_SECTION, parameters | PSEUDO, in_condition_section=True)
    everything = parameters | PSEUDO | resources
    for name, resource in template.get("Resources", {}).items():
        base = f"Resources/{name}"
        for key in ("Properties", "Metadata", "UpdatePolicy", "CreationPolicy"):
            if key in resource:
                allow(resource[key], f"{base}/{key}", INTRINSIC - {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"}, everything)
        for key in ("DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy", "Type"):
            if key in resource:
                allow(resource[key], f"{base}/{key}", set(), set())
        depends = resource.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            if target not in resources:
                problems.append(f"{base}/DependsOn: {target} names no resource")
        if "Condition" in resource and resource["Condition"] not in conditions:
            problems.append(f"{base}/Condition: {resource['Condition']} names no condition")
    for name, output in template.get("Outputs", {}).items():
        base = f"Outputs/{name}"
        for key in ("Value", "Export"):
            if key in output:
                allow(output[key], f"{base}/{key}", INTRINSIC - {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"}, everything)
        if "Condition" in output:
            allow(output["Condition"], f"{base}/Condition", set(), set())
    return problems


def self_test(template):
    """The check must catch each misplaced function; returns what it missed."""
    def first_rule(t):
        return next(iter(t["Rules"].values()))

    def first_resource(t, kind):
        return next(r for r in t["Resources"].values() if r["Type"] == kind)

    mutations = {
        "Fn::Join in a rule (CloudFormation refuses it)": lambda t: first_rule(t).__setitem__(
            "RuleCondition", {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", [{"Ref": "ExistingSubnetIds"}]]}, ""]}]}),
        "Fn::If in a rule's assertion": lambda t: first_rule(t)["Assertions"][0].__setitem__(
            "Assert", {"Fn::If": ["CreateNetwork", True, False]}),
        "Fn::Join in a condition": lambda t: t["Conditions"].__setitem__(
            "Joined", {"Fn::Equals": [{"Fn::Join": ["", ["a", "b"]]}, "ab"]}),
        "a resource's Ref in a condition": lambda t: t["Conditions"].__setitem__(
            "ByResource", {"Fn::Equals": [{"Ref": "HttpApi"}, ""]}),
        "Fn::If in a parameter's default": lambda t: t["Parameters"]["Architecture"].__setitem__(
            "Default", {"Fn::If": ["CreateNetwork", "x86_64", "arm64"]}),
        "a rule function in a resource": lambda t: first_resource(t, "AWS::Logs::LogGroup")["Properties"].__setitem__(
            "RetentionInDays", {"Fn::ValueOf": ["LogRetentionDays", "Value"]}),
        "Fn::If naming no condition": lambda t: first_resource(t, "AWS::Logs::LogGroup")["Properties"].__setitem__(
            "RetentionInDays", {"Fn::If": ["NoSuchCondition", 1, 3]}),
        "DependsOn a function": lambda t: first_resource(t, "AWS::Logs::LogGroup").__setitem__(
            "DependsOn", {"Fn::If": ["CreateNetwork", "Vpc", "HttpApi"]}),
    }
    missed = []
    for name, mutate in mutations.items():
        mutated = copy.deepcopy(template)
        mutate(mutated)
        if not check(mutated):
            missed.append(f"the section check missed {name}")
    return missed


if __name__ == "__main__":
    template = json.load(open(sys.argv[1]))
    found = check(template) + (self_test(template) if "--self-test" in sys.argv else [])
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
