"""A guarded rollout: traffic to the canary in steps, each held for an interval, gates read at
the end of each; promote at the last step, roll back when a gate fails past its limit, pause
when the gates have no data (no data is never a pass).

The engine knows nothing of Kubernetes or Prometheus: a `Target` moves traffic (an
InferenceService's canaryTrafficPercent; a canary Deployment beside the stable), a reader reads a
gate, and the operation's `Watch` takes each step into the audit log and says when a person
stopped it (abort: traffic back to the stable). So every decision is one testable function of
its readings, and the same loop runs for both kinds of workload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from cockpit.contracts import BadInput
from cockpit.ops.gates import Canary, Gate, Judge, Reading, Verdict
from cockpit.ops.journal import Watch


class Target(Protocol):
    def shift(self, percent: int) -> str:
        """Send `percent` of traffic to the canary; says what it did."""
        ...

    def promote(self) -> str:
        """All traffic to the canary, which becomes the stable."""
        ...

    def roll_back(self) -> str:
        """All traffic back to the stable."""
        ...

    def canary(self) -> Canary:
        """Which series are the canary's (read after each shift: a new revision has a new name)."""
        ...


class End(Enum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled back"
    PAUSED = "paused"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class Spec:
    steps: tuple[int, ...]
    interval_s: float
    gates: tuple[Gate, ...]
    failure_limit: int = 1
    max_holds: int = 3
    """Readings in a row without a verdict (no data) before the rollout pauses where it is."""


@dataclass(frozen=True, slots=True)
class Result:
    end: End
    step: int
    """The traffic percent it reached."""
    why: str
    readings: tuple[str, ...] = ()


def parse_steps(text: str) -> tuple[int, ...]:
    """`10,25,50,100`: rising percentages ending at 100."""
    try:
        steps = tuple(int(p.strip().rstrip("%")) for p in text.split(","))
    except ValueError:
        raise BadInput(f"--steps {text!r}: whole percentages, e.g. 10,25,50,100") from None
    if not steps or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise BadInput(f"--steps {text!r}: rising percentages between 1 and 100, ending at 100 (e.g. 10,25,50,100)")
    return steps


def wait(seconds: float, watch: Watch, sleep: Callable[[float], None] = time.sleep) -> str:
    """Hold for `seconds` of running time, hearing a person every tenth of a second: `elapsed`,
    `abort` (cancelled, or told so) or `promote` (told to skip the rest). A `pause` stops the
    clock until `resume`; the wait then runs its remaining time."""
    left = seconds
    paused = False
    while True:
        if watch.cancelled():
            return "abort"
        for word in watch.commands():
            if word in ("abort", "promote"):
                return word
            if word == "pause" and not paused:
                paused = True
                watch.progress("paused: no step moves until resume")
            elif word == "resume" and paused:
                paused = False
                watch.progress("resumed")
        if not paused and left <= 0:
            return "elapsed"
        tick = 0.1 if paused else min(0.1, left)
        started = time.monotonic()
        sleep(tick)
        if not paused:
            left -= time.monotonic() - started


def run(spec: Spec, target: Target, read: Callable[[Gate, Canary], Reading], watch: Watch,
        sleep: Callable[[float], None] = time.sleep) -> Result:
    """Walk the steps; the first shift was made by the caller (the operation's apply)."""
    judge = Judge(spec.failure_limit)
    said: list[str] = []
    for n, step in enumerate(spec.steps):
        if n:
            watch.progress(target.shift(step))
        if step == 100:
            break
        holds = 0
        while True:
            heard = wait(spec.interval_s, watch, sleep)
            if heard == "abort":
                watch.progress(target.roll_back())
                return Result(End.ABORTED, step, "aborted by a person: traffic back to the stable", tuple(said))
            if heard == "promote":
                watch.progress(f"promoted by a person at {step}%: the remaining steps and gates are skipped")
                watch.progress(target.promote())
                return Result(End.PROMOTED, 100, f"promoted by a person at {step}%", tuple(said))
            canary = target.canary()
            readings: Sequence[Reading] = [read(g, canary) for g in spec.gates]
            verdict, why = judge.judge(readings)
            said.append(f"{step}%: {why}")
            watch.progress(f"at {step}%: {verdict.value}: {why}")
            if verdict is Verdict.GO:
                break
            if verdict is Verdict.ROLL_BACK:
                watch.progress(target.roll_back())
                return Result(End.ROLLED_BACK, step, why, tuple(said))
            holds += 1
            if holds >= spec.max_holds:
                return Result(End.PAUSED, step, f"no verdict after {holds} readings at {step}%: {why}", tuple(said))
    watch.progress(target.promote())
    return Result(End.PROMOTED, 100, "every gate held at every step", tuple(said))
