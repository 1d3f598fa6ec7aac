"""What the Compute Engine and Azure fakes share: a threaded JSON-over-HTTP(S) server on a local
port, routes as (method, regex) -> handler, and faults a test can queue (throttling with a
Retry-After, 5xx) so the adapters' retries meet the answers a real cloud gives under load.

Neither cloud has an emulator; these speak the public REST shapes the real SDK clients expect,
and only what cockpit uses of them.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from cockpit.sandbox import stopping

Obj = dict[str, Any]
Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Route = Callable[..., Reply]


class HttpError(Exception):
    """A handler's way to answer with an error body in the cloud's own shape."""

    def __init__(self, status: int, body: Obj, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class Fault:
    """Answer the next `count` requests whose path contains `where` with `status`."""

    where: str
    status: int
    count: int
    body: Obj
    retry_after: float | None = None


class JsonFake:
    """Subclasses fill `routes` and say how an error body looks (`error_body`)."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request, for tests that count calls."""
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.scheme = "http"
        self.token: str | None = None
        """When set, a request without `Authorization: Bearer <token>` gets 401."""
        self.public: tuple[str, ...] = ()
        """Path prefixes that need no token (a public API served beside an authenticated one)."""

    def route(self, method: str, pattern: str, handler: Route) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def error_body(self, status: int, message: str) -> Obj:
        return {"error": {"code": status, "message": message}}

    def fail(self, where: str, status: int, count: int = 1, retry_after: float | None = None,
             message: str = "injected by the test") -> None:
        with self.lock:
            self.faults.append(Fault(where, status, count, self.error_body(status, message), retry_after))

    # -- serving -----------------------------------------------------------------------------
    def handle(self, method: str, target: str, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, parts.path))
            if self.token is not None and not parts.path.startswith(self.public or ("\0",)) and (
                    headers.get("Authorization") or "") != f"Bearer {self.token}":
                return 401, self.error_body(401, "the access token is missing or invalid"), {
                    "WWW-Authenticate": 'Bearer error="invalid_token"'}
            for fault in self.faults:
                if fault.count > 0 and fault.where in parts.path:
                    fault.count -= 1
                    extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                    return fault.status, fault.body, extra
            for m, pattern, handler in self.routes:
                found = pattern.match(parts.path)
                if m == method and found:
                    try:
                        reply = handler(*found.groups(), query=query, body=body, headers=headers)
                    except HttpError as e:
                        return e.status, e.body, e.headers
                    return (reply[0], reply[1], reply[2] if len(reply) == 3 else {})
        return 404, self.error_body(404, f"no route for {method} {parts.path}"), {}

    def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> JsonFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    if "x-www-form-urlencoded" in (self.headers.get("content-type") or ""):  # AWS query APIs
                        body: Any = dict(parse_qsl(raw.decode()))
                    else:
                        body = json.loads(raw) if raw else None
                except ValueError:
                    extra: dict[str, str] = {}
                    status, payload = 400, fake.error_body(400, "the body is not JSON")
                else:
                    status, payload, extra = fake.handle(self.command, self.path, body, self.headers)
                text = isinstance(payload, str)  # an XML answer (AWS query APIs), sent as it is
                out = b"" if payload is None else str(payload).encode() if text else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                if "Content-Type" not in extra:
                    self.send_header("Content-Type", "text/xml" if text else "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
            self.scheme = "https"
        self._server = server
        threading.Thread(target=server.serve_forever, name=type(self).__name__, daemon=True).start()
        stopping.at_exit(self.stop)
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
