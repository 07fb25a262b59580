"""The Lambda API and CloudWatch Logs' FilterLogEvents on 127.0.0.1, as boto3 calls them.

Lambda (REST-JSON, https://docs.aws.amazon.com/lambda/latest/api/):
    POST /2015-03-31/functions/{name}/invocations     Invoke (RequestResponse, DryRun;
                                                      LogType Tail: X-Amz-Log-Result)
    GET  /2015-03-31/functions/{name}                 GetFunction (the boto3 waiter
                                                      function_updated_v2 polls it)
    GET  /2015-03-31/functions/{name}/configuration   GetFunctionConfiguration
    PUT  /2015-03-31/functions/{name}/configuration   UpdateFunctionConfiguration
CloudWatch Logs (JSON 1.1, X-Amz-Target Logs_20140328.FilterLogEvents): one log stream per
environment, in the function's log group; filter patterns of plain and quoted terms.

For the tests only, under /_standin/: GET stats (calls per operation; per function its
invocations, cold starts, peak of invocations in flight, environments) and POST fail
(?operation=...&after=N: that operation's call after the next N answers AccessDenied).
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import threading
import traceback
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .function import ApiError, Function, InitFailed

FUNCTIONS = re.compile(r"^/2015-03-31/functions/([^/]+)(/invocations|/configuration)?/?$")
MAX_PAYLOAD = 6 * 1024 * 1024


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, functions: dict[str, Function]):
        super().__init__(("127.0.0.1", port), _Handler)
        self.functions = functions
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, int] = {}  # operation -> answers left before it fails
        self.lock = threading.Lock()

    def count(self, operation: str) -> None:
        with self.lock:
            self.calls[operation] += 1
            left = self.faults.get(operation)
            if left is None:
                return
            if left > 0:
                self.faults[operation] = left - 1
                return
            del self.faults[operation]
        raise ApiError(403, "AccessDeniedException",
                       f"injected by the stand-in's test hook: {operation} denied")

    def function(self, name: str) -> Function:
        # A name, an ARN or a partial ARN, with an optional :$LATEST qualifier.
        name = unquote(name)
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else ""
        name = name.split(":", 1)[0]
        function = self.functions.get(name)
        if function is None:
            raise ApiError(404, "ResourceNotFoundException", f"Function not found: {name}")
        return function


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written apart: see runtime_api._Handler.
    disable_nagle_algorithm = True
    body = b""
    server: StandInServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _read(self) -> bytes:
        """The request's body, read whole before anything can fail: a body left unread
        would be taken for the next request on the connection."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_PAYLOAD:
            self.close_connection = True
            raise ApiError(413, "RequestTooLargeException", "Request must be smaller than 6 MB")
        return self.rfile.read(length)

    def _json_body(self) -> dict[str, Any]:
        raw = self.body
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "InvalidRequestContentException", "the body is not JSON")
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidRequestContentException", "the body is not an object")
        return body

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json", request_id: str | None = None) -> None:
        self.send_response(status)
        # Invoke answers with the invocation's request id, as Lambda does.
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, error: ApiError, json11: bool) -> None:
        if json11:
            body = {"__type": error.code, "message": error.message}
            self._send(error.status, json.dumps(body).encode(), content_type="application/x-amz-json-1.1")
        else:
            body = {"Type": "User", "message": error.message}
            self._send(error.status, json.dumps(body).encode(), {"x-amzn-ErrorType": error.code})

    def _route(self, method: str) -> None:
        json11 = "X-Amz-Target" in self.headers
        try:
            self.body = self._read()
            url = urlsplit(self.path)
            if url.path.startswith("/_standin/"):
                return self._hook(method, url.path, parse_qs(url.query))
            if json11:
                return self._logs()
            match = FUNCTIONS.match(url.path)
            if not match:
                raise ApiError(404, "UnknownOperationException", f"{method} {url.path}")
            function = self.server.function(match.group(1))
            query = parse_qs(url.query)
            qualifier = (query.get("Qualifier") or ["$LATEST"])[0]
            if qualifier != "$LATEST":
                raise ApiError(404, "ResourceNotFoundException",
                               f"this stand-in has $LATEST only, not {qualifier}")
            kind = match.group(2)
            if method == "POST" and kind == "/invocations":
                return self._invoke(function)
            if method == "GET" and kind == "/configuration":
                self.server.count("GetFunctionConfiguration")
                return self._send(200, json.dumps(function.configuration()).encode())
            if method == "PUT" and kind == "/configuration":
                self.server.count("UpdateFunctionConfiguration")
                answer = function.update(self._json_body())
                return self._send(200, json.dumps(answer).encode())
            if method == "GET" and kind is None:
                self.server.count("GetFunction")
                body = {"Configuration": function.configuration(),
                        "Code": {"RepositoryType": "S3", "Location": "http://127.0.0.1/code"}}
                return self._send(200, json.dumps(body).encode())
            raise ApiError(404, "UnknownOperationException", f"{method} {url.path}")
        except ApiError as error:
            self._error(error, json11)
        except Exception as error:  # a bug of the stand-in: answered, and printed
            traceback.print_exc()
            self._error(ApiError(500, "ServiceException", repr(error)), json11)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def _invoke(self, function: Function) -> None:
        self.server.count("Invoke")
        payload = self.body or b"{}"
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return self._send(204, b"")
        if invocation_type != "RequestResponse":
            raise ApiError(400, "InvalidParameterValueException",
                           f"this stand-in runs RequestResponse and DryRun, not {invocation_type}")
        try:
            json.loads(payload)
        except ValueError:
            raise ApiError(400, "InvalidRequestContentException",
                           "Could not parse request body into json")
        request_id = str(uuid.uuid4())
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        try:
            result = function.invoke(request_id, payload)
        except InitFailed as failed:
            body = {"errorType": "Runtime.InitError", "errorMessage": str(failed)}
            headers["X-Amz-Function-Error"] = "Unhandled"
            return self._send(200, json.dumps(body).encode(), headers, request_id=request_id)
        outcome = result.outcome
        if outcome.kind != "ok":
            headers["X-Amz-Function-Error"] = "Unhandled"
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(outcome.tail.encode()).decode()
        self._send(200, outcome.body, headers, request_id=request_id)

    def _logs(self) -> None:
        target = self.headers.get("X-Amz-Target", "")
        if target != "Logs_20140328.FilterLogEvents":
            raise ApiError(400, "UnknownOperationException", target)
        self.server.count("FilterLogEvents")
        body = self._json_body()
        group = body.get("logGroupName")
        functions = [f for f in self.server.functions.values()
                     if f.configuration()["LoggingConfig"]["LogGroup"] == group]
        if not functions:
            raise ApiError(400, "ResourceNotFoundException", "The specified log group does not exist.")
        start, end = body.get("startTime", 0), body.get("endTime", 2**63)
        terms = _terms(body.get("filterPattern") or "")
        events = sorted(
            (ts, stream, message)
            for f in functions for stream, ts, message in f.log_events()
            if start <= ts <= end and all(term in message for term in terms)
        )
        offset = int(body.get("nextToken") or 0)
        limit = min(int(body.get("limit") or 10000), 10000)
        page = events[offset:offset + limit]
        answer: dict[str, Any] = {"events": [
            {"logStreamName": stream, "timestamp": ts, "message": message, "ingestionTime": ts,
             "eventId": f"{ts}-{offset + i}"}
            for i, (ts, stream, message) in enumerate(page)
        ]}
        if offset + limit < len(events):
            answer["nextToken"] = str(offset + limit)
        self._send(200, json.dumps(answer).encode(), content_type="application/x-amz-json-1.1")

    def _hook(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        if method == "GET" and path == "/_standin/stats":
            stats = {"calls": dict(self.server.calls), "functions": {
                name: {**f.stats, "environments": f.environments()}
                for name, f in self.server.functions.items()}}
            return self._send(200, json.dumps(stats).encode())
        if method == "POST" and path == "/_standin/fail":
            operation = (query.get("operation") or [""])[0]
            after = int((query.get("after") or ["0"])[0])
            with self.server.lock:
                self.server.faults[operation] = after
            return self._send(200, b"{}")
        raise ApiError(404, "UnknownOperationException", path)


def _terms(pattern: str) -> list[str]:
    """CloudWatch Logs' plain filter pattern: every term must appear; a quoted term is
    one phrase. JSON and space-delimited patterns are not supported here."""
    if pattern.startswith(("{", "[")):
        raise ApiError(400, "InvalidParameterException",
                       "this stand-in supports plain and quoted terms only")
    try:
        return shlex.split(pattern)
    except ValueError:
        raise ApiError(400, "InvalidParameterException", f"bad filter pattern {pattern!r}")
