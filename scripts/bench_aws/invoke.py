"""Timed invocations through the Invoke API with LogType=Tail, one or many at once.

Every invocation is recorded whatever happens to it: Lambda's report and the function's
own, parsed from the log tail, the round trip seen by the client, and the error if any.
Concurrent invocations run in worker threads that stop taking new work once `stop` is
set; the main thread waits for them in short joins, so that Ctrl-C and SIGTERM reach it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

try:  # `make test` runs these modules' unit tests before anything installs boto3
    from botocore.exceptions import BotoCoreError, ClientError

    API_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)
except ImportError:
    API_ERRORS = ()

from .lambda_logs import FunctionReport, PlatformReport, parse_tail

# Consecutive failed API calls (not function errors) after which a run stops: throttling
# that retries do not absorb, missing permissions, an endpoint gone.
MAX_API_ERRORS_IN_A_ROW = 10


class TooManyErrors(Exception):
    pass


@dataclass
class Record:
    i: int
    start_s: float  # since the start of the batch
    started_at: float  # epoch seconds
    client_ms: float  # the Invoke round trip as the harness saw it
    function_error: str | None  # X-Amz-Function-Error: the function failed
    api_error: str | None  # the Invoke call itself failed
    retries: int
    report: PlatformReport | None
    own: FunctionReport | None

    @property
    def ok(self) -> bool:
        return self.function_error is None and self.api_error is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def invoke_once(lam: Any, name: str, payload: dict[str, Any], i: int, t0: float) -> Record:
    """`name`: a function's name, or an alias's ARN or name:alias."""
    started_at, start = time.time(), time.perf_counter()
    try:
        response = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(),
                              LogType="Tail")
        response["Payload"].read()
    except API_ERRORS as error:
        return Record(i, start - t0, started_at, (time.perf_counter() - start) * 1000, None,
                      str(error), 0, None, None)
    client_ms = (time.perf_counter() - start) * 1000
    try:
        tail = base64.b64decode(response.get("LogResult") or "", validate=True)
    except ValueError:  # binascii.Error: not the tail Lambda sends; no reports then
        tail = b""
    text = tail.decode("utf-8", errors="replace")
    metadata = response.get("ResponseMetadata") or {}
    # Lambda's report of this request: the Invoke answer's request id is the invocation's.
    parsed = parse_tail(text, request_id=metadata.get("RequestId"))
    if parsed.platform is None:
        parsed = parse_tail(text)
    return Record(i, start - t0, started_at, client_ms, response.get("FunctionError"), None,
                  metadata.get("RetryAttempts", 0), parsed.platform, parsed.function)


def run_concurrently(lam: Any, name: str, payload: Callable[[int], dict[str, Any]], count: int,
                     concurrency: int, stop: threading.Event,
                     time_limit_s: float = 3600.0) -> list[Record]:
    """`count` invocations by `concurrency` workers, each taking the next index as it
    finishes one. Returns the records in order of start. Raises TooManyErrors when the API
    keeps failing, and whatever interrupted the main thread (after the workers stopped)."""
    records: list[Record] = []
    lock = threading.Lock()
    state = {"next": 0, "errors_in_a_row": 0}
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s

    def worker() -> None:
        while not stop.is_set() and time.perf_counter() < deadline:
            with lock:
                i = state["next"]
                if i >= count:
                    return
                state["next"] += 1
            try:
                record = invoke_once(lam, name, payload(i), i, t0)
            except Exception as error:  # recorded, so that no worker dies and no index is lost
                record = Record(i, time.perf_counter() - t0, time.time(), 0.0, None,
                                f"harness: {error!r}", 0, None, None)
            with lock:
                records.append(record)
                state["errors_in_a_row"] = state["errors_in_a_row"] + 1 if record.api_error else 0
                if state["errors_in_a_row"] >= MAX_API_ERRORS_IN_A_ROW:
                    stop.set()

    threads = [threading.Thread(target=worker, daemon=True, name=f"invoke-{k}")
               for k in range(min(concurrency, count))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join(60)
        raise
    records.sort(key=lambda r: r.start_s)
    if state["errors_in_a_row"] >= MAX_API_ERRORS_IN_A_ROW:
        last = records[-1].api_error if records else "?"
        raise TooManyErrors(f"{name}: {MAX_API_ERRORS_IN_A_ROW} failed Invoke calls in a row; "
                            f"the last: {last}")
    return records
