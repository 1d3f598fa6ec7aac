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
from cockpit.ops.gates import SIDE_BY_SIDE, Gate, figure, parse_gate
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
    failure_limit: int | None
    """None: the record has no shape (a rollout from before one was kept): unknown, not 1."""
    promote_alias: str | None
    share: int | None
    """The canary's share of traffic now, percent, as last recorded (None before the first move)."""
    reached: int
    """The highest step it walked to (a promotion by a person skips the ones above)."""
    paused: bool
    gates: tuple[GateSeries, ...]
    canary: Mapping[str, float | None]
    stable: Mapping[str, float | None]
    """At the last reading: p95 (s), error_rate (%), rps."""
    compared_at: datetime | None
    last_reading: datetime | None
    deployment: bool
    """A plain Deployment (a canary Deployment beside it) rather than an InferenceService."""
    passed: frozenset[int] = frozenset()
    """The steps whose gates held (a `go` reading): a step a person promoted past has none."""
    replacing: str = ""
    """What the stable served when the rollout began (its model reference or storageUri)."""

    @property
    def running(self) -> bool:
        return self.op.state is OpState.RUNNING

    @property
    def promoted(self) -> bool:
        return self.op.state is OpState.OK or self.share == 100

    @property
    def split(self) -> bool:
        """Traffic is (or may be) on both sides: an abort has something to send back."""
        return self.share is None or 0 < self.share < 100

    @property
    def holds(self) -> bool:
        """It still holds its target: running (here or elsewhere), of unknown outcome, or ended with
        the traffic (maybe) split. What one-rollout-per-target and the panel's abort both ask."""
        return self.op.state in (OpState.RUNNING, OpState.UNFINISHED) or (
            self.op.state in (OpState.PAUSED, OpState.FAILED) and self.split)

    def step_marks(self) -> list[tuple[int, str]]:
        """Each planned step: `done`; `skipped` (promoted by a person before it); `next`; or, at the
        step it stands (or stopped) at, `now` while it runs, `paused`, or `stopped` (rolled back,
        aborted or failed there)."""
        at = "paused" if self.paused else "now" if self.running else "stopped"
        out = []
        for s in self.steps:
            if self.promoted:
                out.append((s, "done" if s in self.passed or s == 100 else "skipped"))
            else:
                out.append((s, "done" if s < self.reached else at if s == self.reached else "next"))
        return out

    def next_reading_in(self, now: datetime) -> float | None:
        """Seconds to the next gate reading while it runs and is not paused: the interval from the
        last reading (or move) on record, less the time since, not counting time spent paused
        (the engine's step clock stops while paused)."""
        if not self.running or self.paused or self.interval_s is None or self.share in (None, 0, 100):
            return None
        marks = [t for t in (self.last_reading, self._last_move()) if t is not None]  # the later starts the wait
        since = max(marks) if marks else self.op.applied or self.op.started
        return max(0.0, self.interval_s - ((now - since).total_seconds() - self._paused_s(since, now)))

    def _paused_s(self, since: datetime, now: datetime) -> float:
        total, paused_at = 0.0, None
        for at, f in self.op.facts:
            if at < since or "paused" not in f:
                continue
            if f["paused"] and paused_at is None:
                paused_at = at
            elif not f["paused"] and paused_at is not None:
                total += (at - paused_at).total_seconds()
                paused_at = None
        return total + ((now - paused_at).total_seconds() if paused_at is not None else 0.0)

    def _last_move(self) -> datetime | None:
        moves = [at for at, f in self.op.facts if "step" in f and "verdict" not in f]
        return moves[-1] if moves else None


def _gate(text: str) -> Gate | None:
    try:
        return parse_gate(text)
    except BadInput:
        return None


def _number(v: Any) -> float | None:
    """A recorded figure: a finite number, or +/-Inf as the record spells it; anything else (a
    string, NaN, a number too large for a float, a list) is not a figure and reads as unknown."""
    if isinstance(v, str) and v in ("+Inf", "-Inf"):
        return math.inf if v == "+Inf" else -math.inf
    if not isinstance(v, int | float) or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return None if math.isnan(f) else f


def _side(d: Any) -> dict[str, float | None]:
    return {str(k): _number(v) for k, v in d.items()} if isinstance(d, Mapping) else {}


def view(op: Operation) -> RolloutView | None:
    """The rollout an operation record tells of; None for any other operation."""
    if op.command != ROLLOUT:
        return None
    new: Mapping[str, Any] = op.new if isinstance(op.new, Mapping) else {}
    got = new.get("rollout")
    shape: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
    gates = shape.get("gates")
    texts: list[str] = [str(g) for g in gates] if isinstance(gates, list) else []
    points: dict[str, list[Point]] = {t: [] for t in texts}
    share: int | None = None
    reached = 0
    paused = False
    canary: dict[str, float | None] = {}
    stable: dict[str, float | None] = {}
    compared_at = last_reading = None
    passed: set[int] = set()
    for at, fact in op.facts:
        if isinstance(fact.get("step"), int) and not isinstance(fact.get("step"), bool):
            share = int(fact["step"])
            if "end" not in fact:
                reached = max(reached, share)
        if "paused" in fact:
            paused = bool(fact["paused"])
        for r in fact.get("readings") or []:
            if isinstance(r, Mapping):
                held = r.get("passed")
                points.setdefault(str(r.get("gate")), []).append(
                    Point(at, _number(r.get("value")), held if isinstance(held, bool) else None))
        if "readings" in fact:
            last_reading = at
            if fact.get("verdict") == "go" and type(fact.get("step")) is int:
                passed.add(int(fact["step"]))
        if "canary" in fact:
            canary, stable, compared_at = _side(fact.get("canary")), _side(fact.get("stable")), at
    if op.state is not OpState.RUNNING:
        paused = op.state is OpState.PAUSED
    planned = shape.get("steps")
    steps = tuple(s for s in planned if type(s) is int) if isinstance(planned, list) else ()
    steps = steps or _steps_from(reached)
    limit = shape.get("failures")
    interval = _number(shape.get("interval_s"))
    return RolloutView(
        op, str(shape.get("model") or "-"), shape.get("version", new.get("version")), steps, interval,
        limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        str(shape["promote_alias"]) if shape.get("promote_alias") else None, share, reached, paused,
        tuple(GateSeries(t, _gate(t), tuple(p)) for t, p in points.items()), canary, stable, compared_at,
        last_reading, bool(new.get("canary")), frozenset(passed), _replacing(op.previous))


def _replacing(previous: Any) -> str:
    if not isinstance(previous, Mapping):
        return ""
    return str(previous.get("model") or previous.get("storageUri") or "")


def _steps_from(reached: int) -> tuple[int, ...]:
    """A record without its shape (written before rollouts recorded one): the steps seen."""
    return (reached,) if reached else ()


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
    finite = [v for v in values if math.isfinite(v)]
    top = max([*finite, g.gate.threshold] if g.gate is not None else finite or [1.0])
    return 0.0, top if math.isfinite(top) and top > 0 else 1.0


def summary(v: RolloutView) -> list[str]:
    """The panel in words, for `rollout status` (script mode and a bastion without the UI)."""
    marks = ", ".join(f"{s}% {mark}" for s, mark in v.step_marks())
    lines = [f"steps: {marks}" + (f"; canary takes {v.share}% of traffic" if v.share is not None else "")]
    for g in v.gates:
        last = g.last
        readings = ", ".join(gate_value(g, p.value) for p in g.points) or "none yet"
        lines.append(f"gate {g.text}: last {gate_value(g, last.value if last else None)} (limit {limit_text(g)}), "
                     f"{g.failures} of {v.failure_limit or '?'} failures; readings {readings}")
    if v.compared_at is not None:
        def side(d: Mapping[str, float | None]) -> str:
            return " ".join(f"{k} {figure(k, d.get(k))}" for k in SIDE_BY_SIDE)

        lines.append(f"canary {side(v.canary)} · stable {side(v.stable)} (at "
                     f"{v.compared_at.astimezone():%H:%M:%S})")
    return lines
