"""The article's burst: N invocations at concurrency C of rds-enrich-naive, then of
rds-enrich, each from new environments (so that its cold starts are counted), then the
connections each variant opened."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from . import connections
from .changes import Guard
from .invoke import run_concurrently
from .plan import Settings
from .stack import BURST, Stack


def run(lam: Any, logs: Any, cloudwatch: Any, stack: Stack, guard: Guard, s: Settings,
        run_id: str, stop: threading.Event, payload: Callable[[str, int], dict[str, Any]],
        wait: dict[str, float], say: Callable[[str], None], result: dict[str, Any]) -> None:
    """Fills `result` as it goes: what was measured before an interruption is kept."""
    functions = [stack.functions[output] for output in BURST]
    for f in functions:
        if f.managed_instances:
            # The `live` alias serves a published version: $LATEST's configuration is not
            # what it runs, so environments are not forced (nor changed) there.
            say(f"burst: {f.name} is on Managed Instances: its environments are as they are")
            continue
        say(f"burst: new environments for {f.name}")
        guard.change(f.name, f.memory_mb, f"{run_id}-burst")
    result.update(invocations=s.invocations, concurrency=s.concurrency, variants=[])
    period = int(wait["metric_period_s"])
    for n, f in enumerate(functions):
        if stack.proxy_name and n > 0:
            # The proxy's metrics come per period: the variants must not share one.
            connections.align_to_period(period)
        say(f"burst: {s.invocations} invocations of {f.key} ({f.name}) at concurrency "
            f"{s.concurrency}")
        started = time.time()
        records = run_concurrently(lam, f.target, lambda i, f=f: payload(f.output, i),
                                   s.invocations, s.concurrency, stop)
        finished = time.time()
        result["variants"].append({
            "key": f.key, "function": f.name, "memory_mb": f.memory_mb,
            "architecture": f.architecture, "log_format": f.log_format,
            "window": [started, finished],
            "invocations": [r.to_json() for r in records],
        })
        failed = sum(1 for r in records if not r.ok)
        say(f"burst: {f.key}: {len(records)} invocations in {finished - started:.1f} s, "
            f"{failed} failed")
    for variant, f in zip(result["variants"], functions):
        window = (variant["window"][0], variant["window"][1])
        say(f"burst: {f.key}: reading the functions' reports from {f.log_group}")
        try:
            variant["connections"] = connections.from_log_streams(
                logs, f.log_group, window, len(variant["invocations"]), wait["logs_s"])
        except (ClientError, BotoCoreError) as error:  # e.g. no logs:FilterLogEvents
            say(f"burst: {f.key}: the log group was not read: {error}")
        if stack.proxy_name:
            say(f"burst: {f.key}: reading {stack.proxy_name}'s metrics from CloudWatch")
            try:
                variant["proxy"] = connections.from_proxy(cloudwatch, stack.proxy_name, window,
                                                          period, wait["metrics_s"])
            except (ClientError, BotoCoreError) as error:
                say(f"burst: {f.key}: the proxy's metrics were not read: {error}")
