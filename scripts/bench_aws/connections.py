"""The database connections each variant opened, without connecting to the database.

From the functions themselves: each "invocation report" line of rds-enrich and
rds-enrich-naive says how many connections its process has opened so far. Read from the
function's log group with FilterLogEvents, because there each environment has a log stream
of its own (an Invoke's tail does not say which environment served it, and process ids
repeat across environments, each in its own microVM): the variant opened the sum over
its environments of each one's last count.

From RDS Proxy, when the stack has one: its CloudWatch metrics for the variant's window,
ClientConnections (open; Sum over the proxy's nodes per period, the peak period shown)
and ClientConnectionsSetupSucceeded (set up; summed over the window). RDS Proxy publishes
them every minute and CloudWatch takes a few minutes to have them: the harness waits.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Any

from .lambda_logs import connections_per_environment, parse_function_report

# FilterLogEvents pages read at most per variant (10,000 events each).
MAX_PAGES = 50


def from_log_streams(logs: Any, log_group: str, window: tuple[float, float], expected: int,
                     wait_s: float) -> dict[str, Any]:
    """Reads the functions' own reports over `window` (epoch seconds) until `expected`
    have arrived or `wait_s` has passed."""
    start_ms, end_ms = int(window[0] * 1000) - 1000, int(window[1] * 1000) + 60_000
    deadline = time.monotonic() + wait_s
    while True:
        reports = []
        token = None
        for _ in range(MAX_PAGES):
            args: dict[str, Any] = {"logGroupName": log_group, "startTime": start_ms,
                                    "endTime": end_ms, "filterPattern": '"invocation report"'}
            if token:
                args["nextToken"] = token
            page = logs.filter_log_events(**args)
            for event in page.get("events", []):
                report = parse_function_report(event.get("message", ""))
                if report is not None:
                    reports.append((event.get("logStreamName", ""), report))
            token = page.get("nextToken")
            if not token:
                break
        if len(reports) >= expected or time.monotonic() >= deadline:
            break
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    per_environment = connections_per_environment(reports)
    result: dict[str, Any] = {
        "source": f"CloudWatch Logs {log_group}: each environment's log stream",
        "reports": len(reports),
        "expected": expected,
        "environments": len({stream for stream, _ in reports}),
        "opened": sum(per_environment.values()) if per_environment else None,
        "per_environment": per_environment or {},
    }
    if per_environment is None:
        result["note"] = ("not reported: the functions' invocation report has no "
                          "connections_opened field")
    elif len(reports) < expected:
        result["note"] = (f"only {len(reports)} of {expected} reports had reached the log "
                          f"group after {wait_s:g} s: a lower bound")
    return result


def align_to_period(period_s: int) -> None:
    """Sleeps until the next metric period begins, so that two variants measured one
    after the other never share a period of the proxy's metrics."""
    time.sleep(period_s - time.time() % period_s + 0.2)


def from_proxy(cloudwatch: Any, proxy: str, window: tuple[float, float], period_s: int,
               wait_s: float) -> dict[str, Any]:
    start = math.floor(window[0] / period_s) * period_s
    end = math.ceil(window[1] / period_s) * period_s
    dimensions = [{"Name": "ProxyName", "Value": proxy}]

    def points(metric: str) -> list[tuple[float, float]]:
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS", MetricName=metric, Dimensions=dimensions,
            StartTime=datetime.fromtimestamp(start, tz=timezone.utc),
            EndTime=datetime.fromtimestamp(end, tz=timezone.utc),
            Period=period_s, Statistics=["Sum"])
        return sorted((p["Timestamp"].timestamp(), p["Sum"]) for p in answer["Datapoints"])

    deadline = time.monotonic() + wait_s
    while True:
        open_points = points("ClientConnections")
        setup_points = points("ClientConnectionsSetupSucceeded")
        if _complete(open_points, setup_points, last=end - period_s) or time.monotonic() >= deadline:
            break
        time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))
    result: dict[str, Any] = {
        "proxy": proxy,
        "period_s": period_s,
        "client_connections": [[t, v] for t, v in open_points],
        "peak_client_connections": max((v for _, v in open_points), default=None),
        "client_connections_setup_succeeded": sum(v for _, v in setup_points) if setup_points else None,
    }
    if not _complete(open_points, setup_points, last=end - period_s):
        result["note"] = f"the metrics were incomplete after waiting {wait_s:g} s"
    return result


def _complete(*series: list[tuple[float, float]], last: float) -> bool:
    """The period holding the window's end has been published, in either metric."""
    return any(points and points[-1][0] >= last for points in series)
