"""A whole run: read the stack, print the plan, and, only with --yes, run the burst and the
memory sweep, put the configuration back, write results.json and render the report
(`cargo run -p bench --bin bench -- aws-report DIR`, the same report code and charts as `make bench`).

Endpoints, region and credentials come from boto3's own chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL_<SERVICE>, ...): the end-to-end test points Lambda and CloudWatch Logs at
the stand-in and CloudFormation and CloudWatch at moto, and nothing else differs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import burst, plan, stack as stacks, sweep
from .changes import Guard, Interrupted, interrupt_once
from .prices import Prices

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench-aws", description="The article's experiment on a stack deployed with "
        "template.yaml (DeployNaive=true): the burst, naive against global, and the memory "
        "setting. Prints the plan and its cost and changes nothing unless --yes is given.")
    p.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    p.add_argument("--region", help="default: AWS_REGION, else AWS_DEFAULT_REGION or the profile's")
    p.add_argument("--yes", action="store_true", help="run the plan (without it: a dry run)")
    p.add_argument("--restore", action="store_true",
                   help="only put back what an interrupted run left changed, then exit")
    p.add_argument("--phases", default="burst,sweep", help="burst, sweep or both (default)")
    p.add_argument("--invocations", type=int, default=2000, help="per variant (default 2000)")
    p.add_argument("--concurrency", type=int, default=20, help="default 20")
    p.add_argument("--memory-sizes", default="128,256,512,1024,1769",
                   help="MB, comma-separated (default 128,256,512,1024,1769)")
    p.add_argument("--cold", type=int, default=5, help="cold starts per size (default 5)")
    p.add_argument("--warm", type=int, default=20, help="warm invocations per size (default 20)")
    p.add_argument("--sweep-functions", default="RdsEnrichNaiveFunction,RdsEnrichFunction",
                   help="stack output keys (also S3GetObjectFunction, DecryptEnvFunction)")
    p.add_argument("--ids", default="1-100", help="ids the MySQL functions look up, FIRST-LAST")
    p.add_argument("--s3-key", default="bench-aws/missing.txt",
                   help="key of s3-get-object's events (a missing key is a NotFound answer)")
    defaults = Prices()
    p.add_argument("--price-x86-64", type=float, default=defaults.x86_64_per_gb_second,
                   help=f"$ per GB-second (default {defaults.x86_64_per_gb_second}, "
                   f"us-east-1, {defaults.date})")
    p.add_argument("--price-arm64", type=float, default=defaults.arm64_per_gb_second,
                   help=f"$ per GB-second (default {defaults.arm64_per_gb_second})")
    p.add_argument("--price-requests", type=float, default=defaults.per_million_requests,
                   help=f"$ per million requests (default {defaults.per_million_requests})")
    p.add_argument("--assumed-duration-ms", type=float, default=100.0,
                   help="per invocation, for the cost estimate only (default 100)")
    p.add_argument("--logs-wait", type=float, default=120.0,
                   help="seconds to wait for the reports to reach CloudWatch Logs (default 120)")
    p.add_argument("--metrics-wait", type=float, default=420.0,
                   help="seconds to wait for the proxy's metrics (default 420)")
    p.add_argument("--metric-period", type=int, default=60,
                   help="the proxy's metric period in seconds (RDS Proxy: 60)")
    p.add_argument("--out", type=Path, default=ROOT / "target" / "bench-aws")
    p.add_argument("--no-render", action="store_true", help="write results.json only")
    args = p.parse_args(argv)
    args.phases = tuple(x for x in args.phases.split(",") if x)
    if not args.phases or set(args.phases) - {"burst", "sweep"}:
        p.error("--phases: burst, sweep or burst,sweep")
    try:
        args.memory_sizes = tuple(int(x) for x in args.memory_sizes.split(","))
        first, last = (int(x) for x in args.ids.split("-"))
    except ValueError:
        p.error("--memory-sizes: MB numbers; --ids: FIRST-LAST")
    if any(not 128 <= m <= 10240 for m in args.memory_sizes):
        p.error("--memory-sizes: Lambda takes 128 to 10240 MB")
    if not 1 <= first <= last:
        p.error("--ids: 1 <= FIRST <= LAST")
    args.ids = (first, last)
    args.sweep_functions = tuple(x for x in args.sweep_functions.split(",") if x)
    unknown = set(args.sweep_functions) - set(stacks.FUNCTIONS)
    if unknown:
        p.error(f"--sweep-functions: unknown {sorted(unknown)}")
    for name in ("invocations", "concurrency", "cold", "warm", "metric_period"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def payloads(args: argparse.Namespace, stack: stacks.Stack):
    first, last = args.ids
    bucket = stack.outputs.get("ObjectsBucket", "")

    def payload(output: str, i: int) -> dict[str, Any]:
        kind = stacks.FUNCTIONS[output][1]
        if kind == "id":
            return {"id": first + i % (last - first + 1)}
        if kind == "webhook":
            # A function URL request without a signature: the harness does not hold the
            # secret, so decrypt-env answers 401, without a KMS call.
            return {"version": "2.0", "rawPath": "/", "headers": {},
                    "requestContext": {"http": {"method": "POST", "path": "/"}},
                    "body": json.dumps({"n": i}), "isBase64Encoded": False}
        return {"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": stack.region,
            "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket,
                                                        "arn": f"arn:aws:s3:::{bucket}"},
                   "object": {"key": args.s3_key, "size": 0}},
        }]}

    return payload


def say(message: str) -> None:
    print(f"bench-aws: {message}", flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    session = boto3.session.Session(region_name=args.region or os.environ.get("AWS_REGION"))
    if session.region_name is None:
        print("bench-aws: no region: set AWS_REGION (or a profile's region)", file=sys.stderr)
        return 2
    invoke_timeout = 900 + 30  # Lambda's longest timeout, and a margin
    lam = session.client("lambda", config=Config(
        read_timeout=invoke_timeout, connect_timeout=10,
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=max(args.concurrency, args.cold) + 4))
    clients = {"lambda": lam, "cloudformation": session.client("cloudformation"),
               "logs": session.client("logs"), "cloudwatch": session.client("cloudwatch")}
    state = args.out / args.stack / "restore.json"
    guard = Guard(lam, state, args.stack)
    if args.restore:
        if not guard.pending:
            say(f"nothing to restore ({state} does not exist)")
            return 0
        for line in guard.restore():
            say(f"restored {line}")
        return 0
    if guard.pending:
        say(f"{state} is left from a run that was killed before it could put the configuration "
            f"back ({', '.join(guard.saved)}). Run with --restore first.")
        return 2

    settings = plan.Settings(phases=args.phases, invocations=args.invocations,
                             concurrency=args.concurrency, memory_sizes=args.memory_sizes,
                             cold=args.cold, warm=args.warm, sweep=args.sweep_functions,
                             assumed_ms=args.assumed_duration_ms)
    prices = Prices(args.price_x86_64, args.price_arm64, args.price_requests)
    wanted = sorted(set(stacks.BURST if "burst" in args.phases else ())
                    | set(args.sweep_functions if "sweep" in args.phases else ()))
    try:
        stack = stacks.describe(clients["cloudformation"], lam, args.stack, wanted)
    except (stacks.StackError, ClientError, BotoCoreError) as error:
        say(f"cannot read the stack: {error}")
        return 2
    say(plan.describe(stack, settings, prices).replace("\n", "\nbench-aws: "))
    if not args.yes:
        say("dry run: nothing was invoked or changed. Add --yes to run this plan.")
        return 0

    run_id = uuid.uuid4().hex[:8]
    started = datetime.now(timezone.utc)
    out = args.out / args.stack / started.strftime("%Y-%m-%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "format": 1,
        "stack": {"name": stack.name, "region": stack.region,
                  "parameters": stack.shown_parameters, "outputs": stack.outputs},
        "endpoints": {name: client.meta.endpoint_url for name, client in clients.items()},
        "started_at": started.isoformat(),
        "prices": {"x86_64_per_gb_second": prices.x86_64_per_gb_second,
                   "arm64_per_gb_second": prices.arm64_per_gb_second,
                   "per_million_requests": prices.per_million_requests,
                   "as_of": prices.date if prices == Prices() else "given on the command line"},
        "plan": plan.describe(stack, settings, prices),
    }
    status = 0
    stop = threading.Event()
    interrupt_once()
    payload = payloads(args, stack)
    wait = {"logs_s": args.logs_wait, "metrics_s": args.metrics_wait,
            "metric_period_s": args.metric_period}
    try:
        if "burst" in args.phases:
            burst.run(lam, clients["logs"], clients["cloudwatch"], stack, guard, settings,
                      run_id, stop, payload, wait, say, results.setdefault("burst", {}))
        if "sweep" in args.phases:
            sweep.run(lam, stack, guard, settings, run_id, stop, payload, say,
                      results.setdefault("sweep", {}))
    except Interrupted as interruption:
        stop.set()
        name = str(interruption)
        say(f"{name}: stopping")
        results["interrupted"] = name
        status = 143 if name == "SIGTERM" else 130
    except Exception as error:
        stop.set()
        say(f"failed: {error}")
        results["error"] = str(error)
        status = 1
    finally:
        if guard.pending:
            say("putting the configuration back")
            try:
                results["restored"] = guard.restore()
                for line in results["restored"]:
                    say(f"restored {line}")
            except Exception as error:
                say(f"RESTORE FAILED: {error}. Run again with --restore.")
                results["restore_error"] = str(error)
                status = status or 1
    # Everything is put back: from here, Ctrl-C just stops the process.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    for phase in ("burst", "sweep"):
        if not results.get(phase):  # interrupted before it measured anything
            results.pop(phase, None)
    results["finished_at"] = datetime.now(timezone.utc).isoformat()
    (out / "results.json").write_text(json.dumps(results, indent=1))
    say(f"results: {out / 'results.json'}")
    if not args.no_render:
        render(out)
    return status


def render(out: Path) -> None:
    # BENCH_AWS_REPORT_BIN: a bench binary already built (the end-to-end test's), instead
    # of cargo building it.
    binary = os.environ.get("BENCH_AWS_REPORT_BIN")
    command = ([binary] if binary else ["cargo", "run", "-q", "-p", "bench", "--bin", "bench", "--"]) \
        + ["aws-report", str(out)]
    say("rendering the report: " + " ".join(command))
    try:
        done = subprocess.run(command, cwd=ROOT, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as error:
        say(f"the report was not rendered ({error}); results.json is kept")
        return
    if done.returncode == 0:
        say(f"report: {out / 'report.md'}")
    else:
        say("the report was not rendered; results.json is kept")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
