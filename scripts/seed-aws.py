#!/usr/bin/env python3
"""Seeds a moto server for the end-to-end tests: a bucket of objects with plain and awkward
keys and explicit content types, and a KMS key with an ENCRYPTED_KEY made the way the
Lambda console's helper makes it. Prints KEY=VALUE lines for the tests' env file."""

import argparse
import base64
import json

import boto3

# key -> content type. Awkward keys: S3 events URL-encode them (space as '+').
OBJECTS = {
    "plain.txt": "text/plain",
    "with space.txt": "text/plain; charset=utf-8",
    "a+b.json": "application/json",
    "café/ñandú.html": "text/html",
    "nested/deep/path/data.csv": "text/csv",
    "100% done & dusted!.bin": "application/octet-stream",
    "image (1).png": "image/png",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", default="lambda-reuse-objects")
    parser.add_argument("--function-name", default="decrypt-env")
    parser.add_argument("--plaintext", default="correct horse battery staple")
    args = parser.parse_args()

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=args.endpoint)
    kms = session.client("kms", endpoint_url=args.endpoint)

    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if args.bucket not in existing:
        s3.create_bucket(Bucket=args.bucket)
    for key, content_type in OBJECTS.items():
        s3.put_object(Bucket=args.bucket, Key=key, Body=key.encode(), ContentType=content_type)

    # A versioned bucket whose one key was overwritten with another content type: an event
    # about the first version must get the first version's type.
    versioned = args.bucket + "-versions"
    if versioned not in existing:
        s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=versioned, Key="report", Body=b"v1", ContentType="text/plain")
    s3.put_object(Bucket=versioned, Key="report", Body=b"{}", ContentType="application/json")

    key_id = kms.create_key(Description="lambda-reuse e2e")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=args.plaintext.encode(),
                       EncryptionContext={"LambdaFunctionName": args.function_name})["CiphertextBlob"]

    print(f"S3_BUCKET={args.bucket}")
    print(f"S3_OBJECTS={json.dumps(OBJECTS, ensure_ascii=True)}")
    print(f"S3_VERSIONED_BUCKET={versioned}")
    print(f"S3_OLD_VERSION={old['VersionId']}")
    print(f"KMS_KEY_ID={key_id}")
    print(f"ENCRYPTED_KEY={base64.b64encode(blob).decode()}")
    print(f"ENCRYPTED_KEY_PLAINTEXT={args.plaintext}")
    print(f"ENCRYPTED_KEY_FUNCTION_NAME={args.function_name}")


if __name__ == "__main__":
    main()
