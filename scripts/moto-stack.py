#!/usr/bin/env python3
"""Creates the stack of template.yaml on moto's CloudFormation, as `sam deploy` would on
AWS, and prints what was created, as JSON, for tests/tests/template.rs to check.

    scripts/moto-stack.py --endpoint http://127.0.0.1:45123 --stack NAME [Name=Value ...]

What `sam deploy` does first is done here too: the zips from `make zip` are uploaded to a
bucket (moto's S3) and the template transformed (moto does not run the SAM transform):
scripts/sam-transform.py with --code-bucket. The stack's own conditions are left to
moto's CloudFormation to evaluate.
"""

import ast
import json
import os
import subprocess
import sys
import time

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTIONS = ["rds-enrich", "rds-enrich-naive", "s3-get-object", "decrypt-env"]


def document(policy):
    """The policy document as a dict: moto returns it as the text of a Python dict."""
    doc = policy["PolicyDocument"]
    return ast.literal_eval(doc) if isinstance(doc, str) else doc


def main(argv):
    endpoint = argv[argv.index("--endpoint") + 1]
    stack = argv[argv.index("--stack") + 1]
    params = [a for a in argv if "=" in a and not a.startswith("--")]
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client = lambda name: session.client(name, endpoint_url=endpoint)  # noqa: E731
    s3, cfn, lam = client("s3"), client("cloudformation"), client("lambda")
    iam, logs = client("iam"), client("logs")

    code_bucket = f"{stack}-code"
    s3.create_bucket(Bucket=code_bucket)
    zips = {}
    for fn in FUNCTIONS:
        path = os.path.join(ROOT, "target/lambda", fn, "bootstrap.zip")
        s3.upload_file(path, code_bucket, f"{fn}.zip")
        zips[fn] = os.path.getsize(path)

    transformed = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts/sam-transform.py"),
         "--code-bucket", code_bucket, *params],
        check=True, capture_output=True, text=True,
    ).stdout
    template = json.loads(transformed)
    cfn.create_stack(
        StackName=stack,
        TemplateBody=transformed,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in (p.split("=", 1) for p in params)
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    for _ in range(600):
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    created = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    functions = {}
    for fn in FUNCTIONS:
        try:
            config = lam.get_function(FunctionName=f"{stack}-{fn}")["Configuration"]
        except lam.exceptions.ResourceNotFoundException:
            continue
        functions[fn] = config
    roles = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in created
        if r["ResourceType"] == "AWS::IAM::Role"
    }
    policies = {
        logical: {
            name: document(iam.get_role_policy(RoleName=physical, PolicyName=name))
            for name in iam.list_role_policies(RoleName=physical)["PolicyNames"]
        }
        for logical, physical in roles.items()
    }
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{stack}-")["logGroups"]
    bucket = dict(p.split("=", 1) for p in params).get("ObjectsBucketName")
    notification = s3.get_bucket_notification_configuration(Bucket=bucket) if bucket else {}
    notification.pop("ResponseMetadata", None)
    json.dump(
        {
            "status": status,
            "policies": policies,
            "log_groups": {g["logGroupName"]: g.get("retentionInDays") for g in groups},
            "bucket_notification": notification,
            "zip_bytes": zips,
            "functions": functions,
            "created": sorted(
                {
                    r["LogicalResourceId"]: r["ResourceType"]
                    for r in created
                    if r["LogicalResourceId"]  # moto lists one nameless entry
                }.items()
            ),
            "template": sorted(
                (name, r["Type"]) for name, r in template["Resources"].items()
            ),
            "roles": roles,
        },
        sys.stdout,
        indent=1,
        default=str,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
