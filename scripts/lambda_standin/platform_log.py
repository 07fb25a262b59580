"""The lines Lambda itself writes into an invocation's logs, in the function's log format.

Text: START / END / REPORT as https://docs.aws.amazon.com/lambda/latest/dg/golang-logging.html
shows them (tab-separated fields, a trailing tab, Init Duration on a cold start only).
JSON: `platform.start` and `platform.report` records with the fields of
https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    # "success", "error", "timeout", "failure" (the telemetry schema's Status values).
    status: str


def _time(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def start(log_format: str, request_id: str, version: str, epoch_s: float) -> list[str]:
    if log_format == "JSON":
        record = {"requestId": request_id, "version": version}
        return [json.dumps({"time": _time(epoch_s), "type": "platform.start", "record": record},
                           separators=(",", ":"))]
    return [f"START RequestId: {request_id} Version: {version}"]


def end(log_format: str, request_id: str) -> list[str]:
    # JSON system logs have no END record: platform.report closes the invocation.
    return [] if log_format == "JSON" else [f"END RequestId: {request_id}"]


def report(log_format: str, r: Report, epoch_s: float) -> list[str]:
    if log_format == "JSON":
        metrics: dict[str, float | int] = {
            "durationMs": round(r.duration_ms, 3),
            "billedDurationMs": r.billed_duration_ms,
            "memorySizeMB": r.memory_size_mb,
            "maxMemoryUsedMB": r.max_memory_used_mb,
        }
        if r.init_duration_ms is not None:
            metrics["initDurationMs"] = round(r.init_duration_ms, 3)
        record = {"requestId": r.request_id, "metrics": metrics, "status": r.status}
        return [json.dumps({"time": _time(epoch_s), "type": "platform.report", "record": record},
                           separators=(",", ":"))]
    fields = [
        f"REPORT RequestId: {r.request_id}",
        f"Duration: {r.duration_ms:.2f} ms",
        f"Billed Duration: {r.billed_duration_ms} ms",
        f"Memory Size: {r.memory_size_mb} MB",
        f"Max Memory Used: {r.max_memory_used_mb} MB",
    ]
    if r.init_duration_ms is not None:
        fields.append(f"Init Duration: {r.init_duration_ms:.2f} ms")
    if r.status != "success":
        fields.append(f"Status: {r.status}")
    return ["\t".join(fields) + "\t"]


def init_start(log_format: str, function_name: str, version: str, epoch_s: float) -> list[str]:
    if log_format == "JSON":
        record = {"initializationType": "on-demand", "phase": "init",
                  "runtimeVersion": "provided:al2023", "functionName": function_name,
                  "functionVersion": version}
        return [json.dumps({"time": _time(epoch_s), "type": "platform.initStart",
                            "record": record}, separators=(",", ":"))]
    return ["INIT_START Runtime Version: provided:al2023"]
