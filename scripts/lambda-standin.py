#!/usr/bin/env python3
"""A local stand-in for the Lambda API, so that `make bench-aws` runs end to end without an
AWS account (tests/tests/bench_aws.rs). On 127.0.0.1 only.

It serves Invoke (with LogType=Tail), GetFunction, Get/UpdateFunctionConfiguration (with
LastUpdateStatus InProgress, then Successful) and CloudWatch Logs' FilterLogEvents, and runs
each invocation in a real bootstrap taken out of the function's zip: one process per
execution environment, as many as the invocations in flight need, new ones after a
configuration update. It writes the REPORT line (or, with JSON logs, the platform.report
record) as Lambda formats it, from what it measured: see lambda_standin/environment.py.

Why not `cargo lambda watch --only-lambda-apis`, which the other end-to-end tests use: its
Runtime API has one queue per function name that every process polls, so it cannot tell
which environment took an event, when an environment's init ended, or keep an old
configuration's environments out after an update; Lambda's Duration, Init Duration and Max
Memory Used need all three. So each environment here gets a Runtime API of its own
(lambda_standin/runtime_api.py).

    scripts/lambda-standin.py --config CONFIG.json --state-dir DIR --port-file FILE

CONFIG: {"region", "account", "update_seconds", "max_environments", "functions": [{
"FunctionName", "zip", "MemorySize", "Timeout", "LogFormat" (JSON or Text),
"ReservedConcurrentExecutions", "Variables"}], "proxy": {"name", "upstream" (host:port),
"cloudwatch_endpoint", "period_s"}}. In Variables, "{proxy}" stands for the proxy's
host:port. It runs until SIGTERM or SIGINT, then shuts every environment down.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lambda_standin.api import StandInServer  # noqa: E402
from lambda_standin.function import Function  # noqa: E402
from lambda_standin.proxy import CountingProxy  # noqa: E402


def extract_bootstrap(zip_path: Path, into: Path) -> Path:
    into = into.resolve()
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extract("bootstrap", into)
    binary = into / "bootstrap"
    binary.chmod(0o755)
    return binary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()

    config = json.loads(args.config.read_text())
    region = config.get("region", "us-east-1")
    proxy = None
    if "proxy" in config:
        p = config["proxy"]
        host, port = p["upstream"].rsplit(":", 1)
        proxy = CountingProxy(p["name"], (host, int(port)), p["cloudwatch_endpoint"], region,
                              int(p.get("period_s", 60)))
    functions = {}
    for spec in config["functions"]:
        name = spec["FunctionName"]
        zip_path = Path(spec["zip"])
        if proxy is not None:
            spec = {**spec, "Variables": {key: value.replace("{proxy}", proxy.address)
                                          for key, value in spec.get("Variables", {}).items()}}
        functions[name] = Function(
            spec, bootstrap=extract_bootstrap(zip_path, args.state_dir / "bin" / name),
            zip_path=zip_path, region=region, account=config.get("account", "123456789012"),
            logs_dir=args.state_dir / "logs", update_seconds=float(config.get("update_seconds", 1)),
            max_environments=int(config.get("max_environments", 32)))

    server = StandInServer(args.port, functions)
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    port = server.server_address[1]
    if args.port_file:
        args.port_file.write_text(f"{port}\n")
    print(f"lambda stand-in on 127.0.0.1:{port}: {', '.join(functions)}"
          + (f"; proxy {proxy.name} on {proxy.address}" if proxy else ""), flush=True)
    stopping.wait()
    server.shutdown()
    for function in functions.values():
        function.shutdown()
    if proxy is not None:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
