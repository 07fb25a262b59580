"""One execution environment: a real bootstrap process and the Runtime API it polls.

It lives as Lambda's do: init (exec of the bootstrap until its runtime has asked for work
and every extension it registered has polled), one invocation at a time, then shutdown
(SIGTERM when an extension is registered, as Lambda sends it, then SIGKILL after 500 ms).
Lambda's own lines (START, END, REPORT or their JSON records) go into the environment's log
stream with the process's output. Duration is from the event handed to the runtime to its
response; Init Duration from exec to the end of init; Max Memory Used is the process's
peak resident set (VmHWM). Nothing here limits the process's memory or CPU to the memory
size: on Lambda CPU grows with it, here it does not.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import platform_log
from .runtime_api import RuntimeApiServer

# Lambda's limit on init: past it the environment fails.
INIT_LIMIT_S = 10.0
# How long a runtime with a registered extension has after SIGTERM.
SHUTDOWN_GRACE_S = 0.5
# The Invoke API returns the last 4 KB of the invocation's logs.
TAIL_BYTES = 4096


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    delivered_at: float | None = None
    answered_at: float | None = None
    body: bytes = b""
    error_type: str | None = None
    failed: bool = False

    def mark_delivered(self) -> None:
        self.delivered_at = time.perf_counter()

    def headers(self) -> dict[str, str]:
        return {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                                       "Parent=0000000000000000;Sampled=0",
        }


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended, and what Lambda would report of it."""

    # "ok", "error" (the function answered an error), "timeout", "exit" (the process died).
    kind: str
    body: bytes
    error_type: str | None
    report: platform_log.Report
    tail: str


class LogStream:
    """An environment's log stream: the process's output, read from its file, and
    Lambda's lines, each an event stamped when it was read or written."""

    def __init__(self, path: Path, name: str):
        self.path = path
        self.name = name
        self.events: list[tuple[int, str]] = []
        self._offset = 0
        self._lock = threading.Lock()

    def collect(self) -> None:
        """Reads the complete lines the process has written so far."""
        with self._lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self._offset)
                    data = f.read()
            except OSError:
                return
            complete = data.rfind(b"\n") + 1
            if not complete:
                return
            self._offset += complete
            now = int(time.time() * 1000)
            for line in data[:complete].decode("utf-8", errors="replace").splitlines():
                self.events.append((now, line))

    def emit(self, lines: list[str]) -> None:
        with self._lock:
            now = int(time.time() * 1000)
            self.events.extend((now, line) for line in lines)

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def text_since(self, mark: int) -> str:
        with self._lock:
            return "".join(line + "\n" for _, line in self.events[mark:])

    def snapshot(self) -> list[tuple[int, str]]:
        with self._lock:
            return list(self.events)


class Environment:
    def __init__(self, *, function_name: str, function_arn: str, bootstrap: Path,
                 variables: dict[str, str], memory_mb: int, timeout_s: int, log_format: str,
                 log_group: str, log_level: str | None, region: str, logs_dir: Path,
                 generation: int):
        self.function_name = function_name
        self.function_arn = function_arn
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.log_format = log_format
        self.generation = generation
        self.version = "$LATEST"
        today = datetime.now(timezone.utc).strftime("%Y/%m/%d")
        stream = f"{today}/[{self.version}]{uuid.uuid4().hex}"
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.log = LogStream(logs_dir / f"{stream.rsplit(']', 1)[1]}.log", stream)

        self._lock = threading.Lock()
        self._events: queue.Queue[Invocation] = queue.Queue()
        self._current: Invocation | None = None
        self._stopping = threading.Event()
        self._init_done = threading.Event()
        self._runtime_polled = False
        self._extensions: dict[str, bool] = {}  # identifier -> has polled
        self.init_ms: float | None = None
        self.init_failure: str | None = None
        self.served = 0

        self.api = RuntimeApiServer(self)
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **variables,
            # Lambda's own variables: a function cannot set these (function.RESERVED).
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": self.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "LAMBDA_TASK_ROOT": str(bootstrap.parent),
            "LAMBDA_RUNTIME_DIR": str(bootstrap.parent),
            "_HANDLER": "bootstrap",
        }
        if log_format == "JSON":
            environment["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            if log_level:
                environment["AWS_LAMBDA_LOG_LEVEL"] = log_level
        self.log.emit(platform_log.init_start(log_format, function_name, self.version, time.time()))
        self._spawned_at = time.perf_counter()
        try:
            with open(self.log.path, "ab") as out:
                self.process = subprocess.Popen(
                    [str(bootstrap)], env=environment, cwd=str(bootstrap.parent),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
        except OSError:
            self.api.stop()
            raise

    # ---- called by the Runtime API --------------------------------------------------
    def _check_init(self) -> None:
        # Under self._lock. Init ends once the runtime and every extension have polled.
        if (not self._init_done.is_set() and self._runtime_polled
                and all(self._extensions.values())):
            self.init_ms = (time.perf_counter() - self._spawned_at) * 1000
            self._init_done.set()

    def runtime_next(self) -> Invocation | None:
        with self._lock:
            self._runtime_polled = True
            self._check_init()
        while not self._stopping.is_set():
            try:
                return self._events.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _answer(self, request_id: str, body: bytes, failed: bool, error_type: str | None) -> bool:
        with self._lock:
            invocation = self._current
            if invocation is None or invocation.request_id != request_id or invocation.done.is_set():
                return False
            invocation.answered_at = time.perf_counter()
            invocation.body, invocation.failed, invocation.error_type = body, failed, error_type
            invocation.done.set()
            return True

    def runtime_response(self, request_id: str, body: bytes) -> bool:
        return self._answer(request_id, body, False, None)

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        return self._answer(request_id, body, True, error_type or "Unhandled")

    def init_error(self, body: bytes, error_type: str | None) -> None:
        with self._lock:
            self.init_failure = error_type or "Runtime.InitError"

    def extension_register(self, name: str) -> str | None:
        with self._lock:
            if self._init_done.is_set() or not name:
                return None
            identifier = str(uuid.uuid4())
            self._extensions[identifier] = False
            return identifier

    def registration_answer(self) -> dict[str, str]:
        return {"functionName": self.function_name, "functionVersion": self.version,
                "handler": "bootstrap"}

    def extension_ready(self, identifier: str) -> bool:
        with self._lock:
            if identifier not in self._extensions:
                return False
            self._extensions[identifier] = True
            self._check_init()
            return True

    def wait_shutdown(self) -> None:
        self._stopping.wait()

    # ---- called by the function -----------------------------------------------------
    def wait_init(self) -> bool:
        """Waits for the end of init; False if init failed (the process exited, reported
        an init error, or did not finish within Lambda's 10 s)."""
        limit = time.perf_counter() + INIT_LIMIT_S
        while not self._init_done.wait(0.01):
            if self.process.poll() is not None or self.init_failure or time.perf_counter() > limit:
                self.log.collect()
                return False
        self.log.collect()
        return True

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self._stopping.is_set()

    def max_memory_used_mb(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(1, math.ceil(int(line.split()[1]) / 1024))
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def invoke(self, request_id: str, payload: bytes) -> Outcome:
        """Runs one invocation on this environment (one at a time)."""
        cold = self.served == 0
        self.served += 1
        start_mark = self.log.mark()
        self.log.emit(platform_log.start(self.log_format, request_id, self.version, time.time()))
        deadline_ms = int((time.time() + self.timeout_s) * 1000)
        invocation = Invocation(request_id, payload, deadline_ms, self.function_arn)
        with self._lock:
            self._current = invocation
        self._events.put(invocation)
        limit = time.perf_counter() + self.timeout_s
        kind = "ok"
        while not invocation.done.wait(0.005):
            if self.process.poll() is not None:
                kind = "exit"
                break
            if time.perf_counter() > limit:
                kind = "timeout"
                break
        with self._lock:
            self._current = None
            if invocation.done.is_set():
                kind = "error" if invocation.failed else "ok"
        end = invocation.answered_at or time.perf_counter()
        duration_ms = (end - (invocation.delivered_at or end)) * 1000
        if kind == "timeout":
            duration_ms = self.timeout_s * 1000.0
        init_ms = self.init_ms if cold else None
        memory_used = self.max_memory_used_mb()
        self.log.collect()
        body, error_type = invocation.body, invocation.error_type
        status = {"ok": "success", "error": "error", "timeout": "timeout", "exit": "failure"}[kind]
        if kind == "timeout":
            message = f"{_now()} {request_id} Task timed out after {self.timeout_s:.2f} seconds"
            self.log.emit([message])
            body, error_type = json.dumps({"errorMessage": message}).encode(), "Unhandled"
        elif kind == "exit":
            code = self.process.poll()
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
            self.log.emit([message])
            body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
            error_type = "Unhandled"
        report = platform_log.Report(
            request_id=request_id,
            duration_ms=duration_ms,
            # Custom runtimes are billed for init too (and every runtime since 2025-08-01).
            billed_duration_ms=max(1, math.ceil(duration_ms + (init_ms or 0.0))),
            memory_size_mb=self.memory_mb,
            max_memory_used_mb=memory_used,
            init_duration_ms=init_ms,
            status=status,
        )
        self.log.emit(platform_log.end(self.log_format, request_id))
        self.log.emit(platform_log.report(self.log_format, report, time.time()))
        tail = self.log.text_since(start_mark).encode()[-TAIL_BYTES:]
        if kind in ("timeout", "exit"):
            # Lambda resets an environment after a timeout or a crash.
            self.shutdown()
        return Outcome(kind=kind, body=body, error_type=error_type, report=report,
                       tail=tail.decode("utf-8", errors="replace"))

    def shutdown(self) -> None:
        """Stops the environment as Lambda does: SIGTERM first when an extension is
        registered (the runtime then has 500 ms), else SIGKILL."""
        if self._stopping.is_set() and self.process.poll() is not None:
            return
        self._stopping.set()
        if self.process.poll() is None:
            if self._extensions:
                self._signal(signal.SIGTERM)
                try:
                    self.process.wait(SHUTDOWN_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass
            if self.process.poll() is None:
                self._signal(signal.SIGKILL)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.log.collect()
        self.api.stop()

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.kill(self.process.pid, sig)
        except ProcessLookupError:
            pass


def _now() -> str:
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
