"""The gates of a guarded rollout: what must hold of the canary at each step, read from Prometheus.

`--gate 'p95 < 800ms'`, `--gate 'error_rate < 1%'`, `--gate 'gpu_util < 95%'`, `--gate 'rps > 5'`,
`--gate 'promql:sum(rate(x[1m])) < 3'`: in the manner of Argo Rollouts' AnalysisTemplate
(successCondition, failureLimit) and Flagger's thresholds. Built-in names become the PromQL the
Metrics screen uses, narrowed to the canary's series (its KServe revision or its own pods), so a
bad canary is not averaged away by a good stable.

The one rule that matters most: no data is never a pass. A gate whose query returns nothing (the
canary has no traffic yet, Prometheus is down) holds the rollout where it is; only readings decide.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from cockpit.contracts import BadInput

OPS: Mapping[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                     ">=": operator.ge}
BUILTIN: Mapping[str, str] = {"p95": "s", "p99": "s", "p50": "s", "error_rate": "%", "gpu_util": "%", "rps": ""}
"""Gate names and the unit each reads in (a latency's threshold may be given in ms or s)."""
_GATE = re.compile(r"^\s*(?P<name>[a-z0-9_]+|promql:(?P<expr>.+?))\s*(?P<op><=|>=|<|>)\s*"
                   r"(?P<num>-?\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?\s*$", re.S)


@dataclass(frozen=True, slots=True)
class Gate:
    text: str
    """As given: `p95 < 800ms`."""
    name: str
    """A built-in name, or `promql`."""
    op: str
    threshold: float
    """In the gate's unit: seconds for latencies, percent for rates and utilisation."""
    unit: str
    expr: str = ""
    """A `promql:` gate's expression (its value is the first series' last point)."""

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)


def parse_gate(text: str) -> Gate:
    """One `--gate` value; a one-line BadInput naming what is wrong and what is accepted."""
    m = _GATE.match(text)
    if not m:
        raise BadInput(f"--gate {text!r}: not NAME OP NUMBER[UNIT] (e.g. 'p95 < 800ms', 'error_rate < 1%', "
                       "'promql:EXPR < 3')")
    name = "promql" if m.group("expr") else m.group("name")
    unit = m.group("unit") or ""
    num = float(m.group("num"))
    if name == "promql":
        if unit:
            raise BadInput(f"--gate {text!r}: a promql gate compares the query's value as it is (no unit)")
        return Gate(text.strip(), name, m.group("op"), num, "", m.group("expr").strip())
    if name not in BUILTIN:
        raise BadInput(f"--gate {text!r}: no gate {name!r} (gates: {', '.join(BUILTIN)}, or promql:EXPR)")
    want = BUILTIN[name]
    if want == "s":
        if unit not in ("ms", "s"):
            raise BadInput(f"--gate {text!r}: a latency needs ms or s (e.g. 800ms)")
        num = num / 1000 if unit == "ms" else num
        unit = "s"
    elif unit != want:
        example = f" (e.g. 1{want})" if want else ""
        raise BadInput(f"--gate {text!r}: {name} reads in {want or 'plain numbers'}{example}")
    return Gate(text.strip(), name, m.group("op"), num, want)


@dataclass(frozen=True, slots=True)
class Canary:
    """Which series are the canary's: label matchers (a KServe revision, a canary Deployment's pods)."""

    matchers: Mapping[str, str]
    window: str = "2m"
    requests_metric: str = "http_requests_total"
    latency_metric: str = "http_request_duration_seconds"
    error_selector: str = 'code=~"5.."'

    def selector(self, extra: str = "") -> str:
        """`{namespace="inference",pod=~"llama-predictor-00002-.*"}`: a value starting with `~` is a regex."""
        parts = [f'{k}=~"{v[1:]}"' if v.startswith("~") else f'{k}="{v}"' for k, v in sorted(self.matchers.items())]
        return "{" + ",".join([*parts, *([extra] if extra else [])]) + "}"


def query(gate: Gate, c: Canary) -> str:
    """The PromQL a gate reads, narrowed to the canary's series."""
    if gate.name == "promql":
        return gate.expr
    req, lat, w = c.requests_metric, c.latency_metric, c.window
    if gate.name in ("p50", "p95", "p99"):
        q = gate.name[1:]
        return f"histogram_quantile(0.{q}, sum by (le) (rate({lat}_bucket{c.selector()}[{w}])))"
    if gate.name == "error_rate":  # no 5xx series at all is 0 errors, when there is traffic
        return (f"(sum(rate({req}{c.selector(c.error_selector)}[{w}])) or vector(0)) / "
                f"sum(rate({req}{c.selector()}[{w}])) * 100")
    if gate.name == "rps":
        return f"sum(rate({req}{c.selector()}[{w}]))"
    return f"avg(DCGM_FI_DEV_GPU_UTIL{c.selector()})"  # gpu_util


@dataclass(frozen=True, slots=True)
class Reading:
    gate: Gate
    value: float | None
    """None: no data (the query returned nothing, NaN, or failed): never a pass."""
    at: datetime
    why: str = ""
    """Why there is no value (the query's error, or `no data`)."""

    @property
    def passed(self) -> bool | None:
        return None if self.value is None else self.gate.holds(self.value)

    def describe(self) -> str:
        if self.value is None:
            return f"{self.gate.text}: no data ({self.why or 'the query returned nothing'})"
        return f"{self.gate.text}: {figure(self.gate.name, self.value)} {'ok' if self.passed else 'FAILS'}"


def figure(name: str, value: float | None) -> str:
    """A reading as every place shows it (the gate's verdict, the panel, `rollout status`):
    `620ms`/`2.21s`, `0.41%`, `21.0/s`; `+Inf` for a quantile above the histogram's top bucket;
    `-` for no data."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if name in ("p50", "p95", "p99"):
        return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"
    if name in ("error_rate", "gpu_util"):
        return f"{value:.2f}%"
    if name == "rps":
        return f"{value:.1f}/s"
    return f"{value:.4g}"


def recorded(value: float | None) -> float | str | None:
    """A reading as the audit log keeps it: standard JSON, so +/-Inf (a p95 above the top bucket)
    is written as Prometheus spells it rather than as JSON's non-standard Infinity."""
    if value is not None and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def reading(gate: Gate, values: Sequence[float | None], at: datetime, why: str = "") -> Reading:
    """A gate's reading from its query's values (the first series' last point)."""
    value = next((v for v in values if v is not None and not math.isnan(v)), None)
    return Reading(gate, value, at, why if value is None else "")


SIDE_BY_SIDE: tuple[str, ...] = ("p95", "error_rate", "rps")
"""What a person compares between the canary and the stable at each reading."""


def side(read: Callable[[Gate, Canary], Reading], c: Canary | None,
         known: Mapping[str, float | None] | None = None) -> dict[str, float | str | None]:
    """One side's p95 (s), error rate (%) and RPS, read the way the gates of those names are, as
    the record keeps them; nothing when the side's series are not known. `known`: figures a gate
    of that name has just read, taken as they are (read again, they would differ by a moment's
    traffic, and the panel would show two values for one reading)."""
    if c is None:
        return {}
    have = known or {}
    return {name: recorded(have[name] if name in have else read(Gate(name, name, ">", 0.0, BUILTIN[name]), c).value)
            for name in SIDE_BY_SIDE}


class Verdict(Enum):
    GO = "go"
    """Every gate read and held: on to the next step."""
    HOLD = "hold"
    """Some gate had no data: stay at this step and read again (no data is never a pass)."""
    ROLL_BACK = "roll back"
    """A gate failed as many times as allowed: traffic back to the stable."""


@dataclass
class Judge:
    """Counts each gate's failures over the rollout; a gate that fails `failure_limit` times rolls
    it back (Argo's failureLimit, counted over the whole analysis). A failure under the limit
    holds the step, so the next reading decides."""

    failure_limit: int = 1
    failures: dict[str, int] = field(default_factory=dict)

    def judge(self, readings: Sequence[Reading]) -> tuple[Verdict, str]:
        """The verdict and why, in one line naming each gate's reading."""
        said = "; ".join(r.describe() for r in readings)
        failed = [r for r in readings if r.passed is False]
        for r in failed:
            self.failures[r.gate.text] = self.failures.get(r.gate.text, 0) + 1
        over = [r for r in failed if self.failures[r.gate.text] >= self.failure_limit]
        if over:
            return Verdict.ROLL_BACK, f"{said} (failed {self.failures[over[0].gate.text]} of {self.failure_limit})"
        if failed or any(r.passed is None for r in readings):
            return Verdict.HOLD, said
        return Verdict.GO, said
