"""HTTP to one cluster through the official client's ApiClient: its kubeconfig loading, auth
(tokens, client certificates, exec plugins) and TLS, with raw JSON in and out.

Errors become the cockpit's typed errors here, once, with the verb and resource a person
would recognise ("forbidden: list nodes").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from backends._lazy import require
from cockpit.contracts import (
    BackendError,
    BackendFault,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    CockpitError,
    Conflict,
    Forbidden,
    NotFound,
)

JSON = "application/json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class Gone(BackendError):
    """410: the resourceVersion is too old; the watcher must relist."""


class TooManyRequests(Conflict):
    """429: for an eviction, a PodDisruptionBudget does not allow it now."""


def default_kubeconfig() -> str:
    import os

    env = os.environ.get("KUBECONFIG", "")
    return env.split(os.pathsep)[0] if env else str(Path.home() / ".kube" / "config")


def describe(method: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """`list nodes`, `patch deployments/llama`, `watch pods` from a request, for messages."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts and parts[0] in ("api", "apis"):
        parts = parts[2:] if parts[0] == "api" else parts[3:]
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) > 2:
        parts = parts[2:]
    verb = VERBS.get(method, method.lower())
    if method == "GET" and len(parts) == 1:
        verb = "watch" if (query or {}).get("watch") else "list"
    return f"{verb} {'/'.join(parts)}"


class Transport:
    def __init__(self, source: str, kubeconfig: str | None, context: str | None, timeout: float) -> None:
        kcfg: Any = require("kubernetes.config", "kubernetes")

        self.source = source
        self.timeout = timeout
        self.kubeconfig = str(Path(kubeconfig).expanduser()) if kubeconfig else default_kubeconfig()
        if not Path(self.kubeconfig).exists():
            raise BackendUnavailable(f"{source}: kubeconfig {self.kubeconfig} does not exist")
        try:
            contexts, current = kcfg.list_kube_config_contexts(self.kubeconfig)
            names = [c["name"] for c in contexts]
            if context is not None and context not in names:
                raise BadInput(f"{source}: context {context!r} is not in {self.kubeconfig} "
                               f"(contexts: {', '.join(names) or 'none'})")
            self.context = context or current["name"]
            self.client = kcfg.new_client_from_config(config_file=self.kubeconfig, context=self.context,
                                                      persist_config=False)
        except (kcfg.ConfigException, OSError, ValueError, KeyError, TypeError) as e:
            raise BackendUnavailable(f"{source}: cannot load kubeconfig {self.kubeconfig}: "
                                     f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        self.server = str(self.client.configuration.host)

    def _send(self, method: str, path: str, query: Mapping[str, Any] | None, body: Any, content_type: str | None,
              timeout: float | tuple[float, float] | None) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type or JSON
        try:
            m, url, hdrs, b, post = self.client.param_serialize(
                method, path, query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
                header_params=headers, body=body, auth_settings=["BearerToken"])
            return self.client.call_api(m, url, hdrs, b, post, _request_timeout=timeout or self.timeout)
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise BackendTimeout(f"{self.source}: {describe(method, path, query)}: no answer from "
                                 f"{self.server}") from None
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as e:
            reason = getattr(e, "reason", None) or e
            raise BackendUnavailable(f"{self.source}: cannot reach {self.server}: "
                                     f"{str(reason).splitlines()[0][:160]}") from None

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
                content_type: str | None = None, timeout: float | None = None) -> Any:
        resp = self._send(method, path, query, body, content_type, timeout)
        data = resp.read()
        if resp.status >= 400:
            raise self.error(resp.status, data, method, path, query)
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise BackendFault(f"{self.source}: {describe(method, path, query)}: the server answered "
                               f"something that is not JSON") from None

    def stream(self, path: str, query: Mapping[str, Any], read_timeout: float) -> Iterator[dict[str, Any]]:
        """Open a watch (raising at once if the server refuses it); the iterator yields one
        decoded event per line until the server ends the stream."""
        resp = self._send("GET", path, query, None, None, (min(self.timeout, 10.0), read_timeout))
        if resp.status >= 400:
            raise self.error(resp.status, resp.read(), "GET", path, query)
        return self._lines(resp.response, path)

    def _lines(self, raw: Any, path: str) -> Iterator[dict[str, Any]]:
        import urllib3

        buf = b""
        try:
            for chunk in raw.stream(amt=None, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            if "timed out" in str(e).lower():
                return  # a quiet watch whose read timed out: start the next one
            raise BackendUnavailable(f"{self.source}: watch {path.rsplit('/', 1)[-1]} broke: "
                                     f"{str(e).splitlines()[0][:160]}") from None
        except ValueError:
            raise BackendError(f"{self.source}: watch {path}: a line that is not JSON") from None
        finally:
            raw.release_conn()

    def error(self, status: int, data: bytes, method: str, path: str,
              query: Mapping[str, Any] | None) -> CockpitError:
        try:
            body = json.loads(data)
            message = str(body.get("message") or "") if isinstance(body, dict) else ""
        except ValueError:
            message = data[:200].decode("utf-8", "replace").strip()
        what = describe(method, path, query)
        prefix = f"{self.source}: "
        if status == 401:
            return BackendUnavailable(f"{prefix}unauthorized: the credentials of context {self.context!r} "
                                      "were refused")
        if status == 403:
            return Forbidden(f"{prefix}forbidden: {what}")
        if status == 404:
            return NotFound(f"{prefix}{what}: not found")
        if status == 409:
            return Conflict(f"{prefix}{what}: conflict: {message}")
        if status == 410:
            return Gone(f"{prefix}{what}: {message or 'resource version too old'}")
        if status == 422:
            return BadInput(f"{prefix}{what}: rejected: {message}")
        if status == 429:
            return TooManyRequests(f"{prefix}{what}: {message or 'too many requests'}")
        return (BackendFault if status >= 500 else BackendError)(f"{prefix}{what}: HTTP {status}: {message}")

    def close(self) -> None:
        self.client.close()
