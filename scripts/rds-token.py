#!/usr/bin/env python3
"""RDS IAM authentication tokens, the way botocore makes them: what the tests compare
rds-enrich's tokens with, and what stands in for RDS when MariaDB checks one.

  rds-token.py generate --host H --port P --user U --region R --time EPOCH
      Prints botocore's generate_db_auth_token for that moment, signed with
      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.

  rds-token.py verify --credentials FILE --region R --endpoint HOST:PORT
      MariaDB's PAM module (pam_exec, expose_authtok) runs this at each login of a user
      identified via PAM: the token arrives on stdin, the user in PAM_USER. Accepts it if
      it is exactly the token botocore makes for that user, endpoint, region and its own
      X-Amz-Date with the credentials in FILE ("KEY SECRET") and the session token it
      carries (temporary credentials, as Lambda's are: RDS checks that token with STS; this
      stand-in only checks that the signature covers it), and that date is less than 15
      minutes old. Exit status 0 accepts; anything else refuses.
"""

import argparse
import datetime
import os
import sys
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import botocore.session

MAX_AGE = datetime.timedelta(seconds=900)
CLOCK_SKEW = datetime.timedelta(seconds=60)


def botocore_token(host, port, user, region, at, key, secret, session_token=None):
    session = botocore.session.get_session()
    client = session.create_client(
        "rds",
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=session_token,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        return client.generate_db_auth_token(host, port, user, Region=region)


def generate(args):
    at = datetime.datetime.fromtimestamp(args.time, datetime.timezone.utc).replace(tzinfo=None)
    print(
        botocore_token(
            args.host,
            args.port,
            args.user,
            args.region,
            at,
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_SESSION_TOKEN") or None,
        )
    )


def verify(args):
    token = sys.stdin.buffer.read().rstrip(b"\0\n").decode()
    user = os.environ.get("PAM_USER", "")
    key, secret = open(args.credentials).read().split()
    query = parse_qs(urlsplit("https://" + token).query)
    stamp = query.get("X-Amz-Date", [""])[0]
    at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if not (now - MAX_AGE <= at <= now + CLOCK_SKEW):
        sys.exit(f"token dated {stamp}: expired or from the future")
    host, _, port = args.endpoint.rpartition(":")
    session_token = query.get("X-Amz-Security-Token", [None])[0]
    expected = botocore_token(host, int(port), user, args.region, at, key, secret, session_token)
    if token != expected:
        sys.exit("token does not match: forged, another user, endpoint or key")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--host", required=True)
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--user", required=True)
    g.add_argument("--region", required=True)
    g.add_argument("--time", type=int, required=True)
    v = sub.add_parser("verify")
    v.add_argument("--credentials", required=True)
    v.add_argument("--region", required=True)
    v.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    {"generate": generate, "verify": verify}[args.command](args)


if __name__ == "__main__":
    main()
