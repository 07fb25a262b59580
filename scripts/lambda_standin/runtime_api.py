"""The Runtime API and Extensions API of one execution environment, on 127.0.0.1.

Each environment has its own server on its own port, and its bootstrap finds it in
AWS_LAMBDA_RUNTIME_API as `host:port`, the form Lambda gives. The paths are Lambda's
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and runtimes-extensions-api.html):

    GET  /2018-06-01/runtime/invocation/next          the next event (held until there is one)
    POST /2018-06-01/runtime/invocation/{id}/response
    POST /2018-06-01/runtime/invocation/{id}/error
    POST /2018-06-01/runtime/init/error
    POST /2020-01-01/extension/register               during init only
    GET  /2020-01-01/extension/event/next             held: no events are sent here

What each request means for the environment is decided by `Environment`; this module only
speaks HTTP (keep-alive, as the runtime's client and rds-enrich's extension expect).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .environment import Environment

RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"
# Bodies larger than Lambda's 6 MB synchronous limit are refused.
MAX_BODY = 6 * 1024 * 1024


class RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, environment: "Environment"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.environment = environment
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="runtime-api", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: object, client_address: object) -> None:
        # A process stopped mid-request (SIGKILL, a timeout) resets its connections.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are written apart: without this, Nagle's algorithm holds the body
    # until the client's delayed ACK of the headers (40 ms on Linux).
    disable_nagle_algorithm = True
    server: RuntimeApiServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413, {"errorType": "RequestEntityTooLarge", "errorMessage": "body"})
            return None
        return self.rfile.read(length)

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        env = self.server.environment
        if self.path == f"{RUNTIME}/invocation/next":
            invocation = env.runtime_next()
            if invocation is None:  # shutting down: the process is about to be stopped
                self.close_connection = True
                return
            # Duration starts when the event is handed over, as Lambda counts it.
            invocation.mark_delivered()
            self._send(200, None, invocation.headers(), raw=invocation.payload)
        elif self.path == f"{EXTENSION}/event/next":
            identifier = self.headers.get("Lambda-Extension-Identifier", "")
            if not env.extension_ready(identifier):
                self._send(403, {"errorType": "Extension.Unknown", "errorMessage": identifier})
                return
            env.wait_shutdown()
            self.close_connection = True
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": self.path})

    def do_POST(self) -> None:  # noqa: N802
        env = self.server.environment
        body = self._body()
        if body is None:
            return
        path = self.path
        if path.startswith(f"{RUNTIME}/invocation/") and path.endswith(("/response", "/error")):
            request_id = path[len(f"{RUNTIME}/invocation/"):].rsplit("/", 1)[0]
            if path.endswith("/response"):
                known = env.runtime_response(request_id, body)
            else:
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                known = env.runtime_error(request_id, body, error_type)
            if known:
                self._send(202, {"status": "OK"})
            else:
                self._send(400, {"errorType": "InvalidRequestID", "errorMessage": request_id})
        elif path == f"{RUNTIME}/init/error":
            env.init_error(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
            self._send(202, {"status": "OK"})
        elif path == f"{EXTENSION}/register":
            name = self.headers.get("Lambda-Extension-Name", "")
            identifier = env.extension_register(name)
            if identifier is None:
                self._send(403, {"errorType": "Extension.InvalidState",
                                 "errorMessage": "registration is only accepted during init"})
                return
            self._send(200, env.registration_answer(), {"Lambda-Extension-Identifier": identifier})
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": path})
