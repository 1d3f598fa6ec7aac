"""The Prometheus HTTP API through PrometheusConnect. Credentials (basic auth or a bearer token,
from the config, an environment variable or a file) go into the session and nowhere else.

Errors are typed from what Prometheus answers: 400 bad_data is the user's PromQL (BadInput with
Prometheus' own words), 503 timeout or a read timeout is BackendTimeout, 401/403 Forbidden, a
refused connection BackendUnavailable.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends._fanout import fan_out
from backends._lazy import require
from cockpit.contracts import (
    BackendError,
    BackendFault,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    CockpitError,
    Forbidden,
)
from cockpit.model_metrics import Labels, PanelResult, PanelSpec, Series

ALIGN_S = 5.0
STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)$", re.S)


def credentials(source: str, settings: Mapping[str, Any]) -> tuple[dict[str, str] | None, tuple[str, str] | None]:
    """(headers, basic auth) from the settings; a named variable or file that is missing is a
    config problem, said as such (the value itself never appears)."""
    def env(key: str) -> str:
        name = str(settings[key])
        value = os.environ.get(name)
        if not value:
            raise BadInput(f"{source}: {key}: environment variable {name} is not set")
        return value

    token = settings.get("bearer_token")
    if settings.get("bearer_token_env"):
        token = env("bearer_token_env")
    if settings.get("bearer_token_file"):
        path = Path(str(settings["bearer_token_file"])).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise BadInput(f"{source}: bearer_token_file: cannot read {path}: {e.strerror}") from None
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    user = settings.get("username")
    if user:
        password = env("password_env") if settings.get("password_env") else str(settings.get("password") or "")
        return None, (str(user), password)
    return None, None


def _labels(metric: Mapping[str, str]) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in metric.items()))


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def to_series(result: Any) -> tuple[Series, ...]:
    """Vector, matrix, scalar or string answers as Series; a scalar or a string has no labels.
    The client hands over the result without its resultType: a scalar's value is a number
    written as a string ("0.5", "NaN", "+Inf"), a string's is anything else."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        value = result[1]
        try:
            return (Series((), ((float(result[0]), float(value)),)),)
        except (TypeError, ValueError):
            return (Series((), ((float(result[0]), math.nan),), text=str(value)),)
    out = []
    for item in result or []:
        if "values" in item:
            points = tuple((float(t), _float(v)) for t, v in item["values"])
        else:
            t, v = item.get("value", (0, "NaN"))
            points = ((float(t), _float(v)),)
        out.append(Series(_labels(item.get("metric") or {}), points))
    out.sort(key=lambda s: s.labels)
    return tuple(out)


class PrometheusBackend:
    kind = "prometheus"

    def __init__(self, source: str, settings: Mapping[str, Any]) -> None:
        pac = require("prometheus_api_client", "prometheus")
        retry_mod = require("urllib3.util.retry", "prometheus")
        self.source = source
        self.url = str(settings["url"]).rstrip("/")
        self.timeout = float(settings.get("query_timeout") or 10.0)
        headers, auth = credentials(source, settings)
        verify = settings.get("verify_tls", True)
        # one retry on a dropped connection or a 502/504 from a proxy; a slow query is not retried
        retry = retry_mod.Retry(total=1, backoff_factor=0.2, status_forcelist=[502, 504], raise_on_status=False)
        self._conn = pac.PrometheusConnect(url=self.url, headers=headers, auth=auth, disable_ssl=verify is False,
                                           retry=retry, timeout=self.timeout)
        if isinstance(verify, str):
            self._conn._session.verify = verify  # a CA bundle path
        self._requests = require("requests", "prometheus")
        self._last: tuple[Any, tuple[PanelResult, ...]] | None = None

    # -- errors ------------------------------------------------------------------------------
    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        rq = self._requests
        try:
            return fn(*args, **kwargs)
        except rq.exceptions.Timeout:
            raise BackendTimeout(f"{self.source}: {what} timed out after {self.timeout:g}s") from None
        except rq.exceptions.ConnectionError as e:
            reason = str(e.args[0]) if e.args else type(e).__name__
            reason = re.sub(r".*\] ", "", reason.split("Caused by ")[-1]).strip("')(\"")
            raise BackendUnavailable(f"{self.source}: cannot reach Prometheus at {self.url}: {reason[:120]}") from None
        except rq.exceptions.RequestException as e:
            raise BackendFault(f"{self.source}: {what}: {type(e).__name__}: {e}") from None
        except ValueError:  # a 200 that is not JSON: a login page or another service on that port
            raise BackendFault(f"{self.source}: {self.url} did not answer with the Prometheus API") from None
        except Exception as e:
            if type(e).__name__ != "PrometheusApiClientException":
                raise
            raise self._http_error(what, str(e)) from None

    def _http_error(self, what: str, message: str) -> CockpitError:
        m = STATUS.match(message)
        code, body = (int(m.group(1)), m.group(2)) if m else (0, message)
        try:
            raw = ast.literal_eval(body)
            doc = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
            kind, text = str(doc.get("errorType", "")), str(doc.get("error", ""))
        except (ValueError, SyntaxError, AttributeError):
            kind, text = "", ""
        if code in (401, 403):
            return Forbidden(f"{self.source}: Prometheus refused the credentials (HTTP {code}): check username/"
                             "password or the bearer token")
        if kind == "timeout" or (code == 503 and "timeout" in text):
            return BackendTimeout(f"{self.source}: {what} timed out ({text or 'HTTP 503'})")
        if kind in ("bad_data", "execution") or code in (400, 422):
            return BadInput(f"{self.source}: PromQL: {text or f'HTTP {code}'}")
        error = BackendFault if code >= 500 or code == 0 else BackendError
        return error(f"{self.source}: {what}: HTTP {code}{': ' + text if text else ''}")

    # -- queries -----------------------------------------------------------------------------
    def ping(self) -> None:
        self._call("ping", self._conn.custom_query, "1")

    def query(self, promql: str, at: float | None = None) -> tuple[Series, ...]:
        params = {"time": f"{at:.3f}"} if at is not None else None
        return to_series(self._call("query", self._conn.custom_query, promql, params=params))

    def query_range(self, promql: str, start: float, end: float, step: float) -> tuple[Series, ...]:
        result = self._call("query", self._conn.custom_query_range, promql,
                            start_time=datetime.fromtimestamp(start, UTC), end_time=datetime.fromtimestamp(end, UTC),
                            step=f"{step:g}s", params={"timeout": f"{self.timeout:g}s"})
        return to_series(result)

    def panels(self, specs: Sequence[PanelSpec], window_s: float, step_s: float,
               now: float | None = None) -> tuple[PanelResult, ...]:
        """Every panel over [now - window, now], in parallel. The end is aligned to 5 s (or the step,
        when finer), so refreshes within those seconds give the same points: rows that did not
        change are not redrawn."""
        align = min(step_s, ALIGN_S)
        end = math.floor((now if now is not None else time.time()) / align) * align
        start = end - window_s
        key = (tuple(specs), window_s, step_s, end)
        if self._last is not None and self._last[0] == key:
            return self._last[1]  # the Metrics screen asks at 2 Hz; the answer moves every 5 s

        def one(spec: PanelSpec) -> PanelResult | BackendUnavailable | BackendFault:
            try:
                series = self.query_range(spec.query, start, end, step_s)
            except (BackendUnavailable, BackendFault) as e:
                return e
            except CockpitError as e:
                return PanelResult(spec, (), e.message.removeprefix(f"{self.source}: "))
            return PanelResult(spec, series, "" if series else spec.missing)

        results = fan_out(one, specs, workers=4, name=f"prom-{self.source}")
        down = [r for r in results if isinstance(r, BackendUnavailable)]
        if down:
            raise down[0]
        faults = [r for r in results if isinstance(r, BackendFault)]
        if faults and len(faults) == len(results):
            raise faults[0]  # a Prometheus that fails every query is unhealthy, not a page of empty panels
        answer = tuple(r if isinstance(r, PanelResult) else PanelResult(s, (), r.message.removeprefix(
            f"{self.source}: ")) for s, r in zip(specs, results, strict=True))
        if not faults:
            self._last = (key, answer)  # a panel that failed is asked again next time
        return answer

    def watch(self, on_change: Callable[[str], None]) -> None:
        return None

    def close(self) -> None:
        self._conn.close()


if TYPE_CHECKING:  # the roles cockpit.providers gives "prometheus": mypy checks the class against each role's Protocol
    from cockpit.contracts import SeriesBackend

    _series: type[SeriesBackend] = PrometheusBackend
