#!/usr/bin/env python3
"""Creates the stack of template.yaml on moto's CloudFormation, as `sam deploy` would on
AWS, and prints what was created, as JSON, for tests/tests/template.rs to check.

    scripts/moto-stack.py --endpoint http://127.0.0.1:45123 --stack NAME [--prerequisites]
                          [Name=Value ...]

What `sam deploy` does first is done here too: the zips from `make zip` are uploaded to a
bucket (moto's S3) and the template transformed (moto does not run the SAM transform):
scripts/sam-transform.py with --code-bucket. The stack's own conditions are left to
moto's CloudFormation to evaluate.

--prerequisites: first create in moto what the parameters point to in an account (a VPC
with two subnets, the database's security group, a layer for RDS's CA bundle) and pass
VpcId, SubnetIds, DatabaseSecurityGroupId and DatabaseCaLayerArn for them.
"""

import ast
import io
import json
import os
import subprocess
import sys
import time
import zipfile

import boto3
from moto.cloudformation.parsing import resource_class_from_type

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTIONS = ["rds-enrich", "rds-enrich-naive", "s3-get-object", "decrypt-env"]


def document(doc):
    """A policy document as a dict: moto returns some as text (JSON or a Python dict)."""
    if not isinstance(doc, str):
        return doc
    try:
        return json.loads(doc)
    except ValueError:
        return ast.literal_eval(doc)


def prerequisites(ec2, lam):
    """What a real account would already have, as parameters."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=az)[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate(["us-east-1a", "us-east-1b"])
    ]
    database = ec2.create_security_group(
        GroupName="database", Description="the database", VpcId=vpc
    )["GroupId"]
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("rds/global-bundle.pem", "placeholder: moto never runs the function\n")
    layer = lam.publish_layer_version(
        LayerName="rds-ca", Content={"ZipFile": bundle.getvalue()}
    )["LayerVersionArn"]
    return {
        "VpcId": vpc,
        "SubnetIds": ",".join(subnets),
        "DatabaseSecurityGroupId": database,
        "DatabaseCaLayerArn": layer,
    }


def rules(group):
    """A security group's rules, as comparable dicts."""
    def flat(permissions):
        out = []
        for p in permissions:
            base = {"IpProtocol": p["IpProtocol"], "FromPort": p.get("FromPort"),
                    "ToPort": p.get("ToPort")}
            for pair in p.get("UserIdGroupPairs", []):
                out.append({**base, "GroupId": pair["GroupId"]})
            for r in p.get("IpRanges", []):
                out.append({**base, "CidrIp": r["CidrIp"]})
            for r in p.get("Ipv6Ranges", []):
                out.append({**base, "CidrIpv6": r["CidrIpv6"]})
            for r in p.get("PrefixListIds", []):
                out.append({**base, "PrefixListId": r["PrefixListId"]})
        return out

    return {"ingress": flat(group["IpPermissions"]), "egress": flat(group["IpPermissionsEgress"])}


def main(argv):
    endpoint = argv[argv.index("--endpoint") + 1]
    stack = argv[argv.index("--stack") + 1]
    params = dict(a.split("=", 1) for a in argv if "=" in a and not a.startswith("--"))
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    client = lambda name: session.client(name, endpoint_url=endpoint)  # noqa: E731
    s3, cfn, lam = client("s3"), client("cloudformation"), client("lambda")
    iam, logs, ec2 = client("iam"), client("logs"), client("ec2")
    sqs, kms = client("sqs"), client("kms")

    network = prerequisites(ec2, lam) if "--prerequisites" in argv else {}
    params.update(network)

    code_bucket = f"{stack}-code"
    s3.create_bucket(Bucket=code_bucket)
    zips = {}
    for fn in FUNCTIONS:
        path = os.path.join(ROOT, "target/lambda", fn, "bootstrap.zip")
        s3.upload_file(path, code_bucket, f"{fn}.zip")
        zips[fn] = os.path.getsize(path)

    transformed = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts/sam-transform.py"),
         "--code-bucket", code_bucket, *(f"{k}={v}" for k, v in params.items())],
        check=True, capture_output=True, text=True,
    ).stdout
    template = json.loads(transformed)
    # moto skips the resource types it does not implement, but fails the whole stack on an
    # output that references one: such outputs are left out here (and reported).
    unsupported = {
        name for name, r in template["Resources"].items()
        if resource_class_from_type(r["Type"]) is None
    }
    left_out = sorted(
        name for name, output in template.get("Outputs", {}).items()
        if any(f'"{r}"' in json.dumps(output["Value"]) for r in unsupported)
    )
    for name in left_out:
        del template["Outputs"][name]
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    for _ in range(600):
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not described["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    created = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in created
        if r["LogicalResourceId"]  # moto lists one nameless entry
    }
    of_type = lambda t: {  # noqa: E731
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in created if r["ResourceType"] == t
    }

    functions = {}
    for logical, name in of_type("AWS::Lambda::Function").items():
        config = lam.get_function(FunctionName=name)["Configuration"]
        try:
            config["Policy"] = document(lam.get_policy(FunctionName=name)["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            config["Policy"] = None
        functions[logical] = config
    roles = of_type("AWS::IAM::Role")
    policies = {
        logical: {
            name: document(iam.get_role_policy(RoleName=name_, PolicyName=name)["PolicyDocument"])
            for name in iam.list_role_policies(RoleName=name_)["PolicyNames"]
        }
        for logical, name_ in roles.items()
    }
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{stack}/")["logGroups"]
    security_groups = {
        logical: rules(ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0])
        for logical, group_id in of_type("AWS::EC2::SecurityGroup").items()
    }
    if network:
        security_groups["(DatabaseSecurityGroupId)"] = rules(
            ec2.describe_security_groups(GroupIds=[network["DatabaseSecurityGroupId"]])[
                "SecurityGroups"][0]
        )
    queues = {
        logical: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for logical, url in of_type("AWS::SQS::Queue").items()
    }
    keys = {
        logical: {
            "Policy": document(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]),
            "Aliases": [a["AliasName"] for a in kms.list_aliases(KeyId=key)["Aliases"]],
            "RotationEnabled": kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"],
        }
        for logical, key in of_type("AWS::KMS::Key").items()
    }
    bucket = params.get("ObjectsBucketName")
    notification = s3.get_bucket_notification_configuration(Bucket=bucket) if bucket else {}
    notification.pop("ResponseMetadata", None)
    json.dump(
        {
            "status": described["StackStatus"],
            "status_reason": described.get("StackStatusReason"),
            "parameters": params,
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
            "outputs_left_out": left_out,
            "unsupported": sorted(unsupported),
            "physical": physical,
            "policies": policies,
            "log_groups": {g["logGroupName"]: g.get("retentionInDays") for g in groups},
            "security_groups": security_groups,
            "queues": queues,
            "keys": keys,
            "bucket_notification": notification,
            "bucket_versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status")
            if bucket else None,
            "zip_bytes": zips,
            "functions": functions,
            "created": sorted(
                {
                    r["LogicalResourceId"]: r["ResourceType"]
                    for r in created
                    if r["LogicalResourceId"]
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
