"""One function of the stand-in: its configuration as the Lambda API shows it, its update
states, and the execution environments that serve it.

As on classic Lambda: an invocation goes to an idle environment of the current
configuration, else to a new one (a cold start), up to the function's concurrency limit
(then TooManyRequestsException). UpdateFunctionConfiguration answers at once with
LastUpdateStatus InProgress, while invocations still go to the old configuration; after
`update_seconds` the new one applies and the status is Successful. From then every
invocation runs in a new environment: idle old ones are shut down at once, busy ones once
their invocation ends.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .environment import Environment, Outcome

# Variables Lambda sets itself; UpdateFunctionConfiguration refuses them.
RESERVED = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}
# What this stand-in lets UpdateFunctionConfiguration change (Lambda allows more).
UPDATABLE = {"MemorySize", "Timeout", "Environment", "Description"}


class ApiError(Exception):
    """An error the Lambda API would answer: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class InitFailed(Exception):
    """The environment's init failed: Lambda answers the invocation with an error."""


@dataclass(frozen=True)
class InvokeResult:
    outcome: Outcome
    cold: bool


def _timestamp() -> str:
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Function:
    def __init__(self, spec: dict[str, Any], *, bootstrap: Path, zip_path: Path, region: str,
                 account: str, logs_dir: Path, update_seconds: float, max_environments: int):
        name = spec["FunctionName"]
        self.bootstrap = bootstrap
        self.region = region
        self.logs_dir = logs_dir / name
        self.update_seconds = update_seconds
        log_format = spec.get("LogFormat", "JSON")
        logging_config = {"LogFormat": log_format, "LogGroup": f"/aws/lambda/{name}"}
        if log_format == "JSON":
            logging_config.update(ApplicationLogLevel="INFO", SystemLogLevel="INFO")
        code = zip_path.read_bytes()
        self.config: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "Runtime": "provided.al2023",
            "Role": f"arn:aws:iam::{account}:role/{name}",
            "Handler": "bootstrap",
            "CodeSize": len(code),
            "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode(),
            "Description": "",
            "Timeout": int(spec.get("Timeout", 10)),
            "MemorySize": int(spec.get("MemorySize", 128)),
            "LastModified": _timestamp(),
            "Version": "$LATEST",
            "Environment": {"Variables": dict(spec.get("Variables", {}))},
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": str(uuid.uuid4()),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": logging_config,
        }
        self.limit = min(int(spec.get("ReservedConcurrentExecutions", 1000)), max_environments)

        self._lock = threading.Lock()
        self._generation = 0
        self._idle: list[Environment] = []
        self._busy: set[Environment] = set()
        self._starting = 0
        self._all: list[Environment] = []  # every environment ever, for the log streams
        self.stats = {"invocations": 0, "cold_starts": 0, "throttles": 0, "updates": 0,
                      "in_flight": 0, "peak_in_flight": 0}

    @property
    def name(self) -> str:
        return self.config["FunctionName"]

    def configuration(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.config)

    # ---- UpdateFunctionConfiguration --------------------------------------------------
    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - UPDATABLE - {"RevisionId"}
        if unknown:
            raise ApiError(400, "InvalidParameterValueException",
                           f"this stand-in cannot change {sorted(unknown)}")
        new = {key: value for key, value in changes.items() if key in UPDATABLE}
        memory = new.get("MemorySize")
        if memory is not None and not (isinstance(memory, int) and 128 <= memory <= 10240):
            raise ApiError(400, "InvalidParameterValueException",
                           f"MemorySize {memory!r}: must be 128 to 10240")
        timeout = new.get("Timeout")
        if timeout is not None and not (isinstance(timeout, int) and 1 <= timeout <= 900):
            raise ApiError(400, "InvalidParameterValueException", f"Timeout {timeout!r}")
        variables = (new.get("Environment") or {}).get("Variables") or {}
        reserved = sorted(set(variables) & RESERVED)
        if reserved:
            raise ApiError(400, "InvalidParameterValueException",
                           "Lambda was unable to configure your environment variables because "
                           f"the environment variables you have provided contains reserved keys "
                           f"that are currently not supported for modification. Reserved keys "
                           f"used in this request: {', '.join(reserved)}")
        with self._lock:
            if self.config["LastUpdateStatus"] == "InProgress":
                raise ApiError(409, "ResourceConflictException",
                               "The operation cannot be performed at this time. An update is in "
                               f"progress for resource: {self.config['FunctionArn']}")
            revision = changes.get("RevisionId")
            if revision is not None and revision != self.config["RevisionId"]:
                raise ApiError(412, "PreconditionFailedException",
                               "The Revision Id provided does not match the latest Revision Id.")
            self.config["LastUpdateStatus"] = "InProgress"
            self.config["LastModified"] = _timestamp()
            self.config["RevisionId"] = str(uuid.uuid4())
            self.stats["updates"] += 1
            answer = copy.deepcopy(self.config)
            answer.update(copy.deepcopy(new))
        timer = threading.Timer(self.update_seconds, self._apply, args=(new,))
        timer.daemon = True
        timer.start()
        return answer

    def _apply(self, new: dict[str, Any]) -> None:
        with self._lock:
            self.config.update(copy.deepcopy(new))
            self.config["LastUpdateStatus"] = "Successful"
            self.config["RevisionId"] = str(uuid.uuid4())
            self._generation += 1
            retired, self._idle = self._idle, []
        for environment in retired:
            environment.shutdown()

    # ---- Invoke -----------------------------------------------------------------------
    def _acquire(self) -> tuple[Environment | None, dict[str, Any]]:
        """An idle environment of the current configuration, or None with the
        configuration a new one must be started with (a place is kept for it)."""
        stale = []
        try:
            with self._lock:
                while self._idle:
                    environment = self._idle.pop()  # the most recently used
                    if environment.alive and environment.generation == self._generation:
                        self._busy.add(environment)
                        return environment, {}
                    stale.append(environment)
                if len(self._busy) + self._starting >= self.limit:
                    self.stats["throttles"] += 1
                    raise ApiError(429, "TooManyRequestsException", "Rate Exceeded.")
                self._starting += 1
                return None, {"config": copy.deepcopy(self.config),
                              "generation": self._generation}
        finally:
            for environment in stale:
                environment.shutdown()

    def _start(self, config: dict[str, Any], generation: int) -> Environment:
        logging_config = config["LoggingConfig"]
        return Environment(
            function_name=config["FunctionName"], function_arn=config["FunctionArn"],
            bootstrap=self.bootstrap, variables=config["Environment"]["Variables"],
            memory_mb=config["MemorySize"], timeout_s=config["Timeout"],
            log_format=logging_config["LogFormat"], log_group=logging_config["LogGroup"],
            log_level=logging_config.get("ApplicationLogLevel"), region=self.region,
            logs_dir=self.logs_dir, generation=generation)

    def invoke(self, request_id: str, payload: bytes) -> InvokeResult:
        environment, start = self._acquire()
        cold = environment is None
        with self._lock:
            self.stats["invocations"] += 1
            self.stats["in_flight"] += 1
            self.stats["peak_in_flight"] = max(self.stats["peak_in_flight"],
                                               self.stats["in_flight"])
        try:
            if environment is None:
                try:
                    environment = self._start(start["config"], start["generation"])
                finally:
                    with self._lock:
                        self._starting -= 1
                        if environment is not None:
                            self._busy.add(environment)
                            self._all.append(environment)
                            self.stats["cold_starts"] += 1
                if not environment.wait_init():
                    environment.shutdown()
                    raise InitFailed(f"RequestId: {request_id} Error: Runtime failed to "
                                     f"initialise ({environment.init_failure or 'exited or timed out'})")
            outcome = environment.invoke(request_id, payload)
            return InvokeResult(outcome=outcome, cold=cold)
        finally:
            with self._lock:
                self.stats["in_flight"] -= 1
            if environment is not None:
                self._release(environment)

    def _release(self, environment: Environment) -> None:
        retire = False
        with self._lock:
            self._busy.discard(environment)
            if not environment.alive:
                pass
            elif environment.generation != self._generation:
                retire = True
            else:
                self._idle.append(environment)
        if retire:
            environment.shutdown()

    # ---- the log group ------------------------------------------------------------------
    def log_events(self) -> list[tuple[str, int, str]]:
        """(stream, timestamp ms, message) of every environment this function had."""
        with self._lock:
            environments = list(self._all)
        events = []
        for environment in environments:
            if environment.alive:
                environment.log.collect()
            events.extend((environment.log.name, ts, message)
                          for ts, message in environment.log.snapshot())
        return events

    def environments(self) -> int:
        with self._lock:
            return len(self._all)

    def shutdown(self) -> None:
        with self._lock:
            environments = list(self._all)
            self._idle = []
        for environment in environments:
            environment.shutdown()
