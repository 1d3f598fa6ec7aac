"""A guarded rollout as a person follows it: its steps done and to come, where the traffic is,
each gate's readings over time against its threshold, the canary's and the stable's figures side
by side at the last reading, and whether it waits, is paused or has ended.

Built only from the operation's record (its intent's shape, its progress lines' facts), never from
the process running it, so the panel shows the same rollout whether it runs here, in a script on
the bastion, or ended yesterday; and a figure on it is one that was read and written down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.contracts import BadInput
from cockpit.ops.gates import Gate, parse_gate
from cockpit.ops.journal import Operation, OpState

ROLLOUT = "rollout start"


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    value: float | None
    """None: no data at that reading (never a pass)."""
    passed: bool | None


@dataclass(frozen=True, slots=True)
class GateSeries:
    text: str
    """As given (`p95 < 3s`)."""
    gate: Gate | None
    """Parsed, for its unit and threshold; None if the record's text no longer parses."""
    points: tuple[Point, ...] = ()

    @property
    def failures(self) -> int:
        return sum(p.passed is False for p in self.points)

    @property
    def last(self) -> Point | None:
        return self.points[-1] if self.points else None

    def values(self) -> list[float]:
        """The readings as numbers, NaN where there was no data (a gap in the sparkline)."""
        return [math.nan if p.value is None else p.value for p in self.points]


@dataclass(frozen=True, slots=True)
class RolloutView:
    op: Operation
    model: str
    version: Any
    steps: tuple[int, ...]
    interval_s: float | None
    failure_limit: int
    promote_alias: str | None
    share: int | None
    """The canary's share of traffic now, percent, as last recorded (None before the first move)."""
    reached: int
    """The highest step it reached."""
    paused: bool
    gates: tuple[GateSeries, ...]
    canary: Mapping[str, float | None]
    stable: Mapping[str, float | None]
    """At the last reading: p95 (s), error_rate (%), rps."""
    compared_at: datetime | None
    last_reading: datetime | None
    deployment: bool
    """A plain Deployment (a canary Deployment beside it) rather than an InferenceService."""

    @property
    def running(self) -> bool:
        return self.op.state is OpState.RUNNING

    def step_marks(self) -> list[tuple[int, str]]:
        """Each planned step with `done`, `next`, or at the step it stands (or stopped) at: `now`
        while it runs, `paused`, or `stopped` (rolled back, aborted or failed there)."""
        promoted = self.op.state is OpState.OK or self.share == 100
        at = "paused" if self.paused else "now" if self.running else "stopped"
        return [(s, "done" if promoted or s < self.reached else at if s == self.reached else "next")
                for s in self.steps]

    def next_reading_in(self, now: datetime) -> float | None:
        """Seconds to the next gate reading while it runs and is not paused (from the last fact on record)."""
        if not self.running or self.paused or self.interval_s is None or self.share in (None, 0, 100):
            return None
        since = self.last_reading or self._last_move() or self.op.applied or self.op.started
        return max(0.0, self.interval_s - (now - since).total_seconds())

    def _last_move(self) -> datetime | None:
        moves = [at for at, f in self.op.facts if "step" in f and "verdict" not in f]
        return moves[-1] if moves else None


def _gate(text: str) -> Gate | None:
    try:
        return parse_gate(text)
    except BadInput:
        return None


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _side(d: Any) -> dict[str, float | None]:
    return {str(k): _number(v) for k, v in d.items()} if isinstance(d, Mapping) else {}


def view(op: Operation) -> RolloutView | None:
    """The rollout an operation record tells of; None for any other operation."""
    if op.command != ROLLOUT:
        return None
    new: Mapping[str, Any] = op.new if isinstance(op.new, Mapping) else {}
    got = new.get("rollout")
    shape: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
    texts: list[str] = [str(g) for g in shape.get("gates") or []]
    points: dict[str, list[Point]] = {t: [] for t in texts}
    share: int | None = None
    reached = 0
    paused = False
    canary: dict[str, float | None] = {}
    stable: dict[str, float | None] = {}
    compared_at = last_reading = None
    for at, fact in op.facts:
        if isinstance(fact.get("step"), int) and not isinstance(fact.get("step"), bool):
            share = int(fact["step"])
            if "end" not in fact:
                reached = max(reached, share)
            elif share == 100:
                reached = 100
        if "paused" in fact:
            paused = bool(fact["paused"])
        for r in fact.get("readings") or []:
            if isinstance(r, Mapping):
                passed = r.get("passed")
                points.setdefault(str(r.get("gate")), []).append(
                    Point(at, _number(r.get("value")), passed if isinstance(passed, bool) else None))
        if "readings" in fact:
            last_reading = at
        if "canary" in fact:
            canary, stable, compared_at = _side(fact.get("canary")), _side(fact.get("stable")), at
    if op.state is not OpState.RUNNING:
        paused = op.state is OpState.PAUSED
    steps = tuple(int(s) for s in shape.get("steps") or [] if isinstance(s, int)) or _steps_from(reached)
    limit = shape.get("failures")
    interval = _number(shape.get("interval_s"))
    return RolloutView(
        op, str(shape.get("model") or "-"), shape.get("version", new.get("version")), steps, interval,
        limit if isinstance(limit, int) else 1, shape.get("promote_alias") or None, share, reached, paused,
        tuple(GateSeries(t, _gate(t), tuple(p)) for t, p in points.items()), canary, stable, compared_at,
        last_reading, bool(new.get("canary")))


def _steps_from(reached: int) -> tuple[int, ...]:
    """A record without its shape (written before rollouts recorded one): the steps seen."""
    return (reached,) if reached else ()


def figure(name: str, value: float | None) -> str:
    """A side-by-side figure as the panel shows it: `1.81s`/`620ms`, `0.41%`, `21.0/s`; `-` unread."""
    if value is None:
        return "-"
    if name in ("p50", "p95", "p99"):
        return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"
    if name in ("error_rate", "gpu_util"):
        return f"{value:.2f}%"
    if name == "rps":
        return f"{value:.1f}/s"
    return f"{value:.4g}"


def gate_value(g: GateSeries, value: float | None) -> str:
    """A gate's reading in its own unit."""
    if g.gate is None or g.gate.name == "promql":
        return "-" if value is None else f"{value:.4g}"
    return figure(g.gate.name, value)


def limit_text(g: GateSeries) -> str:
    """`< 3.00s`, `< 1.00%`: the threshold as the readings show."""
    if g.gate is None:
        return "?"
    return f"{g.gate.op} {gate_value(g, g.gate.threshold)}"


def chart_bounds(g: GateSeries, values: Sequence[float]) -> tuple[float, float]:
    """The sparkline's range takes in the threshold, so a bar's height says how near the limit it is:
    a reading just under `p95 < 3s` stands almost full height, one far under it stays low."""
    finite = [v for v in values if not math.isnan(v)]
    top = max([*finite, g.gate.threshold] if g.gate is not None else finite or [1.0])
    return 0.0, top if top > 0 else 1.0


def summary(v: RolloutView) -> list[str]:
    """The panel in words, for `rollout status` (script mode and a bastion without the UI)."""
    marks = ", ".join(f"{s}% {mark}" for s, mark in v.step_marks())
    lines = [f"steps: {marks}" + (f"; canary takes {v.share}% of traffic" if v.share is not None else "")]
    for g in v.gates:
        last = g.last
        readings = ", ".join(gate_value(g, p.value) for p in g.points) or "none yet"
        lines.append(f"gate {g.text}: last {gate_value(g, last.value if last else None)} (limit {limit_text(g)}), "
                     f"{g.failures} of {v.failure_limit} failures; readings {readings}")
    if v.compared_at is not None:
        def side(d: Mapping[str, float | None]) -> str:
            return " ".join(f"{k} {figure(k, d.get(k))}" for k in ("p95", "error_rate", "rps"))

        lines.append(f"canary {side(v.canary)} · stable {side(v.stable)} (at "
                     f"{v.compared_at.astimezone():%H:%M:%S})")
    return lines
