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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from cockpit.contracts import BadInput, CockpitError
from cockpit.ops.gates import Canary, Gate, Judge, Reading, Verdict, recorded, side
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

    def stable(self) -> Canary | None:
        """Which series are the stable's, read beside the canary's so a person sees both (None when
        they cannot be told apart from the canary's: nothing is read rather than a mix)."""
        ...


class End(Enum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled back"
    PAUSED = "paused"
    ABORTED = "aborted"
    FAILED = "failed"
    """A backend error half way, and the roll back failed too: the traffic may still be split."""


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


BACK: Mapping[str, Any] = {"step": 0, "end": "rolled back"}
ALL_IN: Mapping[str, Any] = {"step": 100, "end": "promoted"}
"""The facts of the two last moves: what share of traffic the canary has after each."""


def fact(r: Reading) -> dict[str, Any]:
    """One gate's reading as data for the record (the rollout panel draws its sparkline from these)."""
    return {"gate": r.gate.text, "value": recorded(r.value), "passed": r.passed, "why": r.why}


def sides(read: Callable[[Gate, Canary], Reading], target: Target, canary: Canary,
          readings: Sequence[Reading] = ()) -> dict[str, Any]:
    """The canary's and the stable's figures, for the record (the canary's p95 is its p95 gate's
    reading when it has one). Only shown, never judged: a failure to find the stable's series
    leaves its side empty and must not end the rollout."""
    try:
        stable = target.stable()
    except CockpitError:
        stable = None
    known = {r.gate.name: r.value for r in readings if r.gate.name != "promql"}
    return {"canary": side(read, canary, known), "stable": side(read, stable)}


def parse_steps(text: str) -> tuple[int, ...]:
    """`10,25,50,100`: rising percentages ending at 100."""
    try:
        steps = tuple(int(p.strip().rstrip("%")) for p in text.split(","))
    except ValueError:
        raise BadInput(f"--steps {text!r}: whole percentages, e.g. 10,25,50,100") from None
    if (len(steps) < 2 or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps)
            or list(steps) != sorted(set(steps))):
        raise BadInput(f"--steps {text!r}: rising percentages between 1 and 100, at least one canary step, ending "
                       "at 100 (e.g. 10,25,50,100)")
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
                watch.progress("paused: no step moves until resume", {"paused": True})
            elif word == "resume" and paused:
                paused = False
                watch.progress("resumed", {"paused": False})
        if not paused and left <= 0:
            return "elapsed"
        tick = 0.1 if paused else min(0.1, left)
        started = time.monotonic()
        sleep(tick)
        if not paused:
            left -= time.monotonic() - started


def _heard(watch: Watch) -> str | None:
    """A word that arrived while the gates were read or traffic moved: abort or promote now."""
    if watch.cancelled():
        return "abort"
    return next((w for w in watch.commands() if w in ("abort", "promote")), None)


def run(spec: Spec, target: Target, read: Callable[[Gate, Canary], Reading], watch: Watch,
        sleep: Callable[[float], None] = time.sleep) -> Result:
    """Walk the steps; the first shift was made by the caller (the operation's apply). A backend
    error on the way sends the traffic back (a half-done rollout is never left split unnoticed)."""
    said: list[str] = []
    step = spec.steps[0]
    try:
        return _walk(spec, target, read, watch, sleep, said)
    except CockpitError as e:
        try:
            watch.progress(target.roll_back(), BACK)
        except CockpitError as again:
            return Result(End.FAILED, step, f"{e.message}; and the roll back failed too: {again.message}: the canary "
                          "may still take traffic (rollout abort ID sends it back)", tuple(said))
        return Result(End.ROLLED_BACK, step, f"{e.message}; traffic back to the stable", tuple(said))


def _walk(spec: Spec, target: Target, read: Callable[[Gate, Canary], Reading], watch: Watch,
          sleep: Callable[[float], None], said: list[str]) -> Result:
    judge = Judge(spec.failure_limit)

    def by_a_person(word: str, step: int) -> Result:
        if word == "abort":
            watch.progress(target.roll_back(), BACK)
            return Result(End.ABORTED, step, "aborted by a person: traffic back to the stable", tuple(said))
        watch.progress(f"promoted by a person at {step}%: the remaining steps and gates are skipped")
        watch.progress(target.promote(), ALL_IN)
        return Result(End.PROMOTED, 100, f"promoted by a person at {step}%", tuple(said))

    for n, step in enumerate(spec.steps):
        if n:
            if (word := _heard(watch)) is not None:
                return by_a_person(word, spec.steps[n - 1])
            watch.progress(target.shift(step), {"step": step})
        if step == 100:
            break
        empty = 0
        while True:
            heard = wait(spec.interval_s, watch, sleep)
            if heard in ("abort", "promote"):
                return by_a_person(heard, step)
            canary = target.canary()
            readings: Sequence[Reading] = [read(g, canary) for g in spec.gates]
            verdict, why = judge.judge(readings)
            said.append(f"{step}%: {why}")
            watch.progress(f"at {step}%: {verdict.value}: {why}",
                           {"step": step, "verdict": verdict.value, "readings": [fact(r) for r in readings]}
                           | sides(read, target, canary, readings))
            if (word := _heard(watch)) is not None:  # said while the gates were read: it wins
                return by_a_person(word, step)
            if verdict is Verdict.GO:
                break
            if verdict is Verdict.ROLL_BACK:
                watch.progress(target.roll_back(), BACK)
                return Result(End.ROLLED_BACK, step, why, tuple(said))
            if any(r.passed is None for r in readings):  # only no data pauses; a failure under the limit
                empty += 1                               # holds until the next reading decides
                if empty >= spec.max_holds:
                    return Result(End.PAUSED, step, f"no data in {empty} readings in a row at {step}%: {why}",
                                  tuple(said))
    if (word := _heard(watch)) is not None and word == "abort":
        return by_a_person(word, 100)
    watch.progress(target.promote(), ALL_IN)
    return Result(End.PROMOTED, 100, "every gate held at every step", tuple(said))
