#!/usr/bin/env python3
"""Transforms template.yaml into plain CloudFormation JSON, offline, as `sam deploy` would
have CloudFormation do: with aws-sam-translator (pinned in scripts/tool-versions).

    scripts/sam-transform.py [--code-bucket BUCKET] [Name=Value ...] > template.json

--code-bucket: each `CodeUri: target/lambda/<fn>/bootstrap.zip` becomes
s3://BUCKET/<fn>.zip, where the caller has uploaded the zip (what `sam package` does).
Without it a placeholder bucket is used: enough to read the policies.
Name=Value: template parameters (SAM resolves a few of them, e.g. in AutoPublishAlias).
--resolve: also evaluate the template's Conditions for these parameters (and their
defaults): resources and outputs whose condition is false are dropped, each Fn::If is
replaced by its branch and AWS::NoValue removed. What is left is what CloudFormation would
create: the tests read the policies from it.
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


def resolve(template, params):
    """Evaluates Conditions and Fn::If for `params` (defaults filled in)."""
    values = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    values.update(params)
    conditions = template.get("Conditions", {})

    def value(x):
        if isinstance(x, dict) and "Ref" in x:
            return values[x["Ref"]]
        return x

    def holds(c):
        if isinstance(c, dict) and len(c) == 1:
            (fn, args), = c.items()
            if fn == "Fn::Equals":
                return value(args[0]) == value(args[1])
            if fn == "Fn::Not":
                return not holds(args[0])
            if fn == "Fn::And":
                return all(holds(a) for a in args)
            if fn == "Fn::Or":
                return any(holds(a) for a in args)
            if fn == "Condition":
                return holds(conditions[args])
        raise ValueError(f"unsupported condition {c!r}")

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return walk(yes if holds(conditions[name]) else no)
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
            condition = entries[name].get("Condition")
            if condition and not holds(conditions[condition]):
                del entries[name]
    template["Resources"] = walk(template["Resources"])
    template["Outputs"] = walk(template.get("Outputs", {}))
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
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    output = transform(template, params, NoManagedPolicies())
    if do_resolve:
        output = resolve(output, params)
    json.dump(output, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
