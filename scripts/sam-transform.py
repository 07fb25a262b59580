#!/usr/bin/env python3
"""Transforms template.yaml into plain CloudFormation JSON, offline, as `sam deploy` would
have CloudFormation do: with aws-sam-translator (pinned in scripts/tool-versions).

    scripts/sam-transform.py [--code-bucket BUCKET] [Name=Value ...] > template.json

--code-bucket: each `CodeUri: target/lambda/<fn>/bootstrap.zip` becomes
s3://BUCKET/<fn>.zip, where the caller has uploaded the zip (what `sam package` does).
Without it a placeholder bucket is used: enough to read the policies.
Name=Value: template parameters (SAM resolves a few of them, e.g. in AutoPublishAlias).
--resolve: also check the parameters as CloudFormation would before creating anything
(each one known and given or defaulted, AllowedValues, AllowedPattern, MinValue,
MaxValue, MaxLength, then the template's Rules: a failed assertion exits 2 with its
AssertDescription), and evaluate the Conditions for them: resources and outputs whose
condition is false are dropped, each Fn::If is replaced by its branch and AWS::NoValue
removed, and the Conditions go. What is left is what CloudFormation would create: the
tests read the policies from it, and make lint scans it (each parameter's Default is set
to the value given, so the linters resolve Refs to it).
Region and account are pseudo parameters: AWS_DEFAULT_REGION (default us-east-1).
"""

import json
import os
import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name: nothing to look up in IAM."""

    def load(self):
        return {}


NO_VALUE = object()


class Refused(Exception):
    """Parameters CloudFormation would refuse before creating anything."""


def check_parameters(declared, params):
    """The parameter values (given, else defaulted) after CloudFormation's own checks."""
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise Refused(f"unknown parameters {unknown}")
    values = {}
    for name, spec in declared.items():
        if name in params:
            value = params[name]
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise Refused(f"parameter {name} has no value and no default")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise Refused(f"{name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise Refused(f"{name}={value!r} does not match {pattern}")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            raise Refused(f"{name} is longer than {spec['MaxLength']}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise Refused(f"{name}={value!r} is not a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise Refused(f"{name}={value} is below {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise Refused(f"{name}={value} is above {spec['MaxValue']}")
        values[name] = value
    return values


def holds(c, values, conditions):
    """Evaluates a condition (or a rule's condition or assertion) for `values`."""

    def value(x):
        if isinstance(x, dict) and "Ref" in x:
            return values[x["Ref"]]
        return x

    if isinstance(c, dict) and len(c) == 1:
        (fn, args), = c.items()
        if fn == "Fn::Equals":
            return value(args[0]) == value(args[1])
        if fn == "Fn::Not":
            return not holds(args[0], values, conditions)
        if fn == "Fn::And":
            return all(holds(a, values, conditions) for a in args)
        if fn == "Fn::Or":
            return any(holds(a, values, conditions) for a in args)
        if fn == "Fn::Contains":
            return value(args[1]) in [value(a) for a in args[0]]
        if fn == "Condition":
            return holds(conditions[args], values, conditions)
    raise ValueError(f"unsupported condition {c!r}")


def check(template, params):
    """The parameter values, after CloudFormation's checks and the template's Rules."""
    values = check_parameters(template.get("Parameters", {}), params)
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not holds(rule["RuleCondition"], values, {}):
            continue
        for assertion in rule["Assertions"]:
            if not holds(assertion["Assert"], values, {}):
                raise Refused(f"rule {name}: {assertion.get('AssertDescription', '')}".strip())
    return values


def resolve(template, values):
    """Evaluates Conditions and Fn::If for the checked parameter `values`."""
    conditions = template.get("Conditions", {})

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return walk(yes if holds(conditions[name], values, conditions) else no)
            if node == {"Ref": "AWS::NoValue"}:
                return NO_VALUE
            out = {k: walk(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(node, list):
            return [v for v in (walk(x) for x in node) if v is not NO_VALUE]
        return node

    for section in ("Resources", "Outputs"):
        entries = template.get(section, {})
        for name in list(entries):
            condition = entries[name].pop("Condition", None)
            if condition and not holds(conditions[condition], values, conditions):
                del entries[name]
    template["Resources"] = walk(template["Resources"])
    template["Outputs"] = walk(template.get("Outputs", {}))
    template.pop("Conditions", None)
    for name, spec in template.get("Parameters", {}).items():
        number = spec.get("Type") == "Number" and re.fullmatch(r"-?[0-9]+", values[name])
        spec["Default"] = int(values[name]) if number else values[name]
    return template


def main(argv):
    bucket = "placeholder-code-bucket"
    params = {}
    do_resolve = False
    args = iter(argv)
    for arg in args:
        if arg == "--code-bucket":
            bucket = next(args)
        elif arg == "--resolve":
            do_resolve = True
        else:
            name, _, value = arg.partition("=")
            params[name] = value
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "template.yaml")) as f:
        template = yaml_parse(f.read())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        code = props.get("CodeUri")
        if isinstance(code, str):
            match = re.fullmatch(r"target/lambda/([a-z0-9-]+)/bootstrap\.zip", code)
            if not match:
                sys.exit(f"unexpected CodeUri {code!r}")
            props["CodeUri"] = f"s3://{bucket}/{match.group(1)}.zip"
    if do_resolve:
        try:
            values = check(template, params)
        except Refused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            sys.exit(2)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    output = transform(template, params, NoManagedPolicies())
    if do_resolve:
        output = resolve(output, values)
    json.dump(output, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
