"""What an invocation's logs say about it: Lambda's report, and the function's own.

Lambda ends every invocation's logs with its report of it. With the function's log format
Text, that is a REPORT line (https://docs.aws.amazon.com/lambda/latest/dg/golang-logging.html):

    REPORT RequestId: <id>\tDuration: 38.66 ms\tBilled Duration: 39 ms\tMemory Size: 128 MB\t
    Max Memory Used: 54 MB\tInit Duration: 203.69 ms\t

(Init Duration only on a cold start). With JSON (what template.yaml sets, and the only
format of Lambda Managed Instances) it is a `platform.report` record, the schema of
https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html: on Managed
Instances its metrics hold `durationMs` alone (no billed duration, memory or init).

The functions also log their own "invocation report" (bins/src/lib.rs, `report`): the time
inside the handler, whether it was the process's first invocation and, for the MySQL
functions, how many connections the process has opened so far.

Nothing here raises on what it reads: a line that is not a report is None.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class PlatformReport:
    """Lambda's report of one invocation (milliseconds, MB). None: Lambda did not say."""

    request_id: str
    duration_ms: float
    billed_duration_ms: float | None = None
    memory_size_mb: int | None = None
    max_memory_used_mb: int | None = None
    # Present on the first invocation of an environment only: it was a cold start.
    init_duration_ms: float | None = None
    # "timeout", "error", ... when Lambda states one; a plain REPORT line of a success
    # states none.
    status: str | None = None

    @property
    def cold(self) -> bool:
        return self.init_duration_ms is not None


@dataclass(frozen=True)
class FunctionReport:
    """The function's own "invocation report" line (bins/src/lib.rs, `report`)."""

    duration_us: int
    cold: bool
    ok: bool
    pid: int | None = None
    started_at_us: int | None = None
    # Connections this process has opened so far (rds-enrich, rds-enrich-naive); None
    # when the function does not report it.
    connections_opened: int | None = None


# One "Name: value unit" field of a REPORT line. Fields are separated by tabs in the
# logs, by runs of spaces where a page rendered them. Matches are found left to right, so
# "Billed Duration" and "Init Duration" are read whole, never as their inner "Duration".
_FIELD = re.compile(
    r"(Billed Duration|Init Duration|Restore Duration|Duration|Memory Size|"
    r"Max Memory Used|Status|Error Type):[ \t]*([^\t]*?)(?=\t|\s{2,}|\s*$)"
)
_NUMBER = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(ms|MB)?$")


def parse_report_line(line: str) -> PlatformReport | None:
    """A Text-format REPORT line, or None."""
    line = line.strip("\r\n")
    head = "REPORT RequestId: "
    if not line.startswith(head):
        return None
    rest = line[len(head):]
    request_id, _, fields_text = rest.partition("\t")
    if not fields_text:
        # Rendered with spaces instead of tabs.
        request_id, _, fields_text = rest.partition(" ")
    request_id = request_id.strip()
    if not request_id:
        return None
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(fields_text):
        fields.setdefault(match.group(1), match.group(2).strip())

    def number(name: str) -> float | None:
        found = _NUMBER.match(fields.get(name, ""))
        if not found:
            return None
        value = float(found.group(1))
        return value if math.isfinite(value) else None

    duration = number("Duration")
    if duration is None:
        return None
    memory = number("Memory Size")
    used = number("Max Memory Used")
    return PlatformReport(
        request_id=request_id,
        duration_ms=duration,
        billed_duration_ms=number("Billed Duration"),
        memory_size_mb=int(memory) if memory is not None else None,
        max_memory_used_mb=int(used) if used is not None else None,
        init_duration_ms=number("Init Duration"),
        status=fields.get("Status") or None,
    )


def _finite(value: Any) -> float | None:
    # JSON booleans are ints to Python; a report never holds one.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def parse_platform_record(record: Any) -> PlatformReport | None:
    """A JSON-format `platform.report` record (already decoded), or None."""
    if not isinstance(record, dict) or record.get("type") != "platform.report":
        return None
    body = record.get("record")
    if not isinstance(body, dict):
        return None
    request_id = body.get("requestId")
    metrics = body.get("metrics")
    if not isinstance(request_id, str) or not request_id or not isinstance(metrics, dict):
        return None
    duration = _finite(metrics.get("durationMs"))
    if duration is None:
        return None
    memory = _finite(metrics.get("memorySizeMB"))
    used = _finite(metrics.get("maxMemoryUsedMB"))
    status = body.get("status")
    return PlatformReport(
        request_id=request_id,
        duration_ms=duration,
        billed_duration_ms=_finite(metrics.get("billedDurationMs")),
        memory_size_mb=int(memory) if memory is not None else None,
        max_memory_used_mb=int(used) if used is not None else None,
        init_duration_ms=_finite(metrics.get("initDurationMs")),
        status=status if isinstance(status, str) and status != "success" else None,
    )


def _json(line: str) -> Any:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


def parse_platform_report(line: str) -> PlatformReport | None:
    """A report in either format, or None."""
    return parse_report_line(line) or parse_platform_record(_json(line))


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


_TEXT_FIELD = re.compile(r"(\w+)=(\S+)")


def parse_function_report(line: str) -> FunctionReport | None:
    """The function's "invocation report" line, JSON or text, or None.

    JSON: {"level":"INFO","fields":{"message":"invocation report","duration_us":123,
    "cold":true,...},...}. Text: `INFO <spans>: invocation report duration_us=123 cold=true ...`.
    """
    record = _json(line)
    if isinstance(record, dict):
        fields = record.get("fields")
        if not isinstance(fields, dict) or fields.get("message") != "invocation report":
            return None
    else:
        marker = "invocation report "
        at = line.find(marker)
        if at < 0:
            return None
        fields = {}
        for key, raw in _TEXT_FIELD.findall(line[at + len(marker):]):
            if raw in ("true", "false"):
                fields[key] = raw == "true"
            elif raw.isdigit():
                fields[key] = int(raw)
            else:
                fields[key] = raw
    duration = _count(fields.get("duration_us"))
    cold, ok = fields.get("cold"), fields.get("ok")
    if duration is None or not isinstance(cold, bool) or not isinstance(ok, bool):
        return None
    return FunctionReport(
        duration_us=duration,
        cold=cold,
        ok=ok,
        pid=_count(fields.get("pid")),
        started_at_us=_count(fields.get("started_at_us")),
        connections_opened=_count(fields.get("connections_opened")),
    )


@dataclass(frozen=True)
class Tail:
    """What an Invoke's log tail (`LogType=Tail`: its last 4 KB) held."""

    platform: PlatformReport | None
    function: FunctionReport | None


def parse_tail(text: str, request_id: str | None = None) -> Tail:
    """The reports in a decoded log tail. With `request_id`, only Lambda's report of that
    request is taken. The tail may start in the middle of a line: that line is skipped
    like any other that is not a report."""
    platform: PlatformReport | None = None
    function: FunctionReport | None = None
    for line in text.splitlines():
        report = parse_platform_report(line)
        if report is not None and (request_id is None or report.request_id == request_id):
            platform = report
            continue
        own = parse_function_report(line)
        if own is not None:
            function = own
    return Tail(platform=platform, function=function)


def connections_per_environment(
    reports: Iterable[tuple[str, FunctionReport]],
) -> dict[str, int] | None:
    """The connections each environment opened: its last (largest: the count only grows)
    `connections_opened`, keyed by environment (its log stream). None when no report
    carries the field."""
    opened: dict[str, int] = {}
    for environment, report in reports:
        if report.connections_opened is not None:
            opened[environment] = max(opened.get(environment, 0), report.connections_opened)
    return opened or None
