"""The HTTP side of the fake API server: routing, verbs, watch streams, kubeconfig.

`KubeFake` starts it on a free loopback port in a thread and writes a kubeconfig for it:

    with KubeFake() as kube:
        subprocess.run(["kubectl", "--kubeconfig", kube.kubeconfig, "get", "nodes"])
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube import tables
from cockpit.sandbox.kube.patch import PatchError, json_patch, merge_patch, strategic_merge
from cockpit.sandbox.kube.resources import ResourceType
from cockpit.sandbox.kube.selectors import SelectorError, field_selector, label_selector
from cockpit.sandbox.kube.store import ApiError, Obj, Store

MAX_WATCH_SECONDS = 600


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- plumbing ------------------------------------------------------------------------------
    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, ApiError(400, "BadRequest", "the request body is not JSON").status())
            return
        try:
            result = self.server.api.handle(method, url.path, self.query, body, self.headers, self)
        except ApiError as e:
            self._send(e.code, e.status())
            return
        except (PatchError, SelectorError) as e:
            self._send(400, ApiError(400, "BadRequest", str(e)).status())
            return
        if result is not None:
            code, payload = result
            self._send(code, payload)

    def _send(self, code: int, payload: Obj) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stream(self, events: Callable[[], list[Obj] | None], deadline: float) -> None:
        """A watch: chunked JSON lines until the deadline or the client goes away."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                batch = events()
                if batch is None:
                    break
                for ev in batch:
                    line = json.dumps(ev).encode() + b"\n"
                    self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
                if time.monotonic() >= deadline:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: Api, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.api = api
        self.connections: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (or a connection dropped at stop) is normal here: say nothing."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError | ValueError):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Close every open connection, keep-alive ones too, as a stopping API server does."""
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Api:
    """The verbs, independent of HTTP, so the controller and tests share one implementation."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.closed = False
        self.forbidden: set[tuple[str, str, str]] = set()  # (user, verb, plural) refused with 403
        self.on_eviction: Callable[[str, str], None] | None = None
        self.watch_lag = 0.0
        """Seconds each batch of watch events waits before it is sent: a real API server's watch
        (etcd, then its watch cache, then the connection) lags the write a client got its answer for."""

    def handle(self, method: str, path: str, q: dict[str, str], body: Any, headers: Any,
               handler: Handler) -> tuple[int, Obj] | None:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"]:
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-cockpit-fake", "platform": "linux/amd64",
                         "goVersion": "go1.22", "compiler": "gc", "buildDate": "2026-01-01T00:00:00Z",
                         "gitCommit": "0000000", "gitTreeState": "clean"}
        if parts == ["api"]:
            return 200, res.api_versions()
        if parts == ["apis"]:
            return 200, res.api_group_list()
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return 200, {"status": "ok"}
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 2:
            if len(parts) == 2:
                versions = res.groups().get(parts[1])
                if versions is None:
                    raise ApiError(404, "NotFound", f"no API group {parts[1]!r}")
                return 200, {"kind": "APIGroup", "apiVersion": "v1", **res.api_group(parts[1], versions)}
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        if not rest:
            listing = res.resource_list(group, version)
            if listing is None:
                raise ApiError(404, "NotFound", f"no API {group}/{version}")
            return 200, listing
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, plural, name, sub = rest[1], rest[2], (rest[3] if len(rest) > 3 else ""), (
                rest[4] if len(rest) > 4 else "")
        else:
            ns, plural, name, sub = "", rest[0], (rest[1] if len(rest) > 1 else ""), (rest[2] if len(rest) > 2 else "")
        t = res.find(group, version, plural)
        if t is None:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({path})")
        user = _user(headers)
        verb = _verb(method, name, q)
        if (user, verb, plural) in self.forbidden:
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            raise ApiError(403, "Forbidden", f'{plural}{"." + group if group else ""} is forbidden: User "{user}" '
                           f'cannot {verb} resource "{plural}" in API group "{group}" {scope}')
        if t.namespaced and name and not ns and plural != "namespaces":
            raise ApiError(404, "NotFound", f"{plural} is namespaced: use /namespaces/NS/{plural}/{name}")
        dry = q.get("dryRun") == "All"
        if sub == "scale":
            return self._scale(method, t, ns, name, body, headers)
        if sub == "eviction" and method == "POST":
            return self._evict(ns, name)
        if method == "GET" and not name:
            if q.get("watch") in ("1", "true"):
                self._watch(t, ns, q, handler, as_table=tables.wants_table(headers.get("Accept", "")))
                return None
            listing = self._list(t, ns, q)
            if tables.wants_table(headers.get("Accept", "")):
                out = tables.table(t.plural, listing["items"], listing["metadata"]["resourceVersion"])
                if listing["metadata"].get("continue"):
                    out["metadata"]["continue"] = listing["metadata"]["continue"]
                return 200, out
            return 200, listing
        if method == "GET":
            obj = self.store.get(t, ns, name)
            if tables.wants_table(headers.get("Accept", "")):
                return 200, tables.table(t.plural, [obj], obj["metadata"]["resourceVersion"])
            return 200, obj
        if method == "POST" and not name:
            obj = dict(body or {})
            if dry:
                return 201, obj
            return 201, self.store.create(t, ns, obj)
        if method == "PUT":
            expect = ((body or {}).get("metadata") or {}).get("resourceVersion")
            return 200, self.store.update(t, ns, name, body or {}, subresource=sub, expect_rv=expect)
        if method == "PATCH":
            current = self.store.get(t, ns, name)
            patched = apply_patch(current, body, headers.get("Content-Type", ""))
            if dry:
                return 200, patched
            return 200, self.store.update(t, ns, name, patched, subresource=sub)
        if method == "DELETE" and name:
            obj = self.store.delete(t, ns, name)
            return 200, obj
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {path}")

    def _list(self, t: ResourceType, ns: str, q: dict[str, str]) -> Obj:
        """A list, paged when `limit` is given: `continue` carries the last key (opaque to clients)."""
        pred = _predicate(q)
        limit = int(q["limit"]) if q.get("limit", "").isdigit() and int(q["limit"]) > 0 else 0
        if not limit and not q.get("continue"):
            items, rv = self.store.select(t, ns, pred)
            return {"kind": t.list_kind, "apiVersion": t.group_version, "metadata": {"resourceVersion": str(rv)},
                    "items": items}
        after = None
        if q.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                after = (str(token["after"][0]), str(token["after"][1]))
            except (ValueError, KeyError, IndexError, TypeError):
                raise ApiError(400, "BadRequest", "continue key is not valid") from None
        items, rv, last = self.store.page(t, ns, pred, after, limit or 500)
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if last is not None:
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"after": list(last)}).encode()).decode()
        return {"kind": t.list_kind, "apiVersion": t.group_version, "metadata": meta, "items": items}

    def _watch(self, t: ResourceType, ns: str, q: dict[str, str], handler: Handler, as_table: bool = False) -> None:
        pred = _predicate(q)

        def wrap(obj: Obj) -> Obj:  # `kubectl get -w` wants each event's object as a one-row Table
            return tables.table(t.plural, [obj], obj["metadata"].get("resourceVersion", "")) if as_table else obj

        timeout = min(float(q.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
        deadline = time.monotonic() + timeout
        start = q.get("resourceVersion", "")
        state = {"rv": 0, "first": True}
        if start in ("", "0"):
            items, rv = self.store.select(t, ns, pred)
            initial = [{"type": "ADDED", "object": wrap(o)} for o in items]
            state["rv"] = rv
        else:
            initial = []
            state["rv"] = int(start)
            try:
                self.store.events_since(t, state["rv"])
            except ApiError as e:
                initial = [{"type": "ERROR", "object": e.status()}]
                handler.stream(lambda: initial if state.pop("first", False) else None, deadline)
                return

        def events() -> list[Obj] | None:
            if state.pop("first", False) and initial:
                return initial
            if self.closed:
                return None  # the server is stopping: end the stream, as an API server restart would
            with self.store.cond:
                batch = self.store.events_since(t, state["rv"])
                if not batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self.store.cond.wait(min(left, 1.0))
                    batch = self.store.events_since(t, state["rv"])
            out = []
            for erv, typ, obj in batch:
                state["rv"] = erv
                if (not ns or obj["metadata"].get("namespace") == ns) and pred(obj):
                    out.append({"type": typ, "object": wrap(obj)})
            if out and self.watch_lag:
                time.sleep(self.watch_lag)
            return out

        handler.stream(events, deadline)

    def _scale(self, method: str, t: ResourceType, ns: str, name: str, body: Any, headers: Any) -> tuple[int, Obj]:
        obj = self.store.get(t, ns, name)
        if method in ("PUT", "PATCH"):
            scale = scale_of(obj)
            new = apply_patch(scale, body, headers.get("Content-Type", "")) if method == "PATCH" else body
            replicas = (new or {}).get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", "spec.replicas: Invalid value: must be a non-negative integer")
            obj["spec"]["replicas"] = replicas
            obj = self.store.update(t, ns, name, obj)
        return 200, scale_of(obj)

    def _evict(self, ns: str, name: str) -> tuple[int, Obj]:
        pods = res.find("", "v1", "pods")
        assert pods is not None
        pod = self.store.get(pods, ns, name)
        if self.on_eviction is not None:
            self.on_eviction(ns, name)  # the controller checks disruption budgets and raises 429
        self.store.delete(pods, ns, name)
        return 201, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {},
                     "details": {"name": pod["metadata"]["name"], "kind": "pods"}}


def scale_of(obj: Obj) -> Obj:
    meta = obj["metadata"]
    labels = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in labels.items())}}


def apply_patch(current: Obj, body: Any, content_type: str) -> Obj:
    ctype = content_type.split(";")[0].strip()
    if ctype == "application/json-patch+json":
        out = json_patch(current, body)
    elif ctype == "application/merge-patch+json":
        out = merge_patch(current, body)
    elif ctype == "application/strategic-merge-patch+json":
        out = strategic_merge(current, body)
    else:
        raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                       f"accepted media types include: application/json-patch+json, application/merge-patch+json, "
                       f"application/strategic-merge-patch+json (got {ctype!r})")
    if not isinstance(out, dict):
        raise ApiError(422, "Invalid", "the patch did not produce an object")
    return out


def _predicate(q: dict[str, str]) -> Callable[[Obj], bool]:
    labels = label_selector(q["labelSelector"]) if q.get("labelSelector") else None
    fields = field_selector(q["fieldSelector"]) if q.get("fieldSelector") else None

    def pred(obj: Obj) -> bool:
        if labels is not None and not labels((obj.get("metadata") or {}).get("labels") or {}):
            return False
        return fields is None or fields(obj)

    return pred


def _user(headers: Any) -> str:
    auth = headers.get("Authorization", "")
    return auth.split(" ", 1)[1].split(":", 1)[0] if auth.startswith("Bearer ") else "system:anonymous"


def _verb(method: str, name: str, q: dict[str, str]) -> str:
    if method == "GET":
        return "watch" if q.get("watch") in ("1", "true") else ("get" if name else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]


def write_kubeconfig(path: Path, server: str, users: list[str]) -> None:
    """One context per user (bearer token `USER:fake`), named after the user; the first is current."""
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "cockpit-fake", "cluster": {"server": server}}],
        "users": [{"name": u, "user": {"token": f"{u}:fake"}} for u in users],
        "contexts": [{"name": u, "context": {"cluster": "cockpit-fake", "user": u, "namespace": "default"}}
                     for u in users],
        "current-context": users[0],
    }
    path.write_text(json.dumps(config, indent=2))


class KubeFake:
    """Start the fake on 127.0.0.1 (a free port) in a thread; stop it on exit."""

    def __init__(self, workdir: Path, users: tuple[str, ...] = ("admin", "viewer")) -> None:
        from cockpit.sandbox.kube.controller import Controller
        from cockpit.sandbox.kube.kserve import KServeController

        self.store = Store()
        self.api = Api(self.store)
        self.controller = Controller(self.store)
        self.kserve = KServeController(self.store)
        self.api.on_eviction = self.controller.check_eviction
        self.workdir = workdir
        self.users = users
        self.httpd: FakeServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def start(self, port: int = 0) -> KubeFake:
        """Serve on `port` (0: a free one); a restart passes the old port so clients reconnect."""
        self.httpd = FakeServer(self.api, port)
        self.api.closed = False
        threading.Thread(target=self.httpd.serve_forever, name="kube-fake", daemon=True).start()
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_kubeconfig(self.kubeconfig, self.url, list(self.users))
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.api.closed = True
            self.httpd.shutdown()
            self.httpd.drop_connections()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> KubeFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
