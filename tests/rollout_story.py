"""Audit lines of guarded rollouts as cockpit writes them (intent with the rollout's shape, progress
lines with their facts, an outcome), on a fixed clock: the rollout panel's snapshots and the view's
tests read them as they would read a rollout a script ran on the bastion."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

TARGET = "gpu-prod/inference/llama-70b"
SHAPE = {"model": "registry/llama-70b-chat", "version": 7, "steps": [25, 50, 100], "interval_s": 60.0,
         "gates": ["error_rate < 1%", "p95 < 3s"], "failures": 2, "prometheus": "prom",
         "promote_alias": "production"}
NEW = {"model": "models:/llama-70b-chat/7", "canary": "llama-70b-canary", "canary_replicas": 1, "rollout": SHAPE}


def reading(step: int, verdict: str, err: float | None, p95: float | None, *, stable_err: float = 0.4,
            stable_p95: float = 2.2) -> dict[str, Any]:
    def one(gate: str, value: float | None, limit: float) -> dict[str, Any]:
        return {"gate": gate, "value": value, "passed": None if value is None else value < limit,
                "why": "no data" if value is None else ""}

    return {"step": step, "verdict": verdict,
            "readings": [one("error_rate < 1%", err, 1.0), one("p95 < 3s", p95, 3.0)],
            "canary": {"p95": p95, "error_rate": err, "rps": 10.5 if err is not None else None},
            "stable": {"p95": stable_p95, "error_rate": stable_err, "rps": 37.5}}


def write(path: Path, op: str, story: list[tuple[str, str, dict[str, Any] | None]], *,
          outcome: tuple[str, str, str | None] | None, alive: bool = False) -> None:
    """One rollout's lines: `story` is (time, message, facts) for each progress line; `outcome`
    (time, result, error) ends it; without one the operation still runs when `alive` (this
    process's pid on this host: running elsewhere), else it is unfinished."""
    host, pid = (socket.gethostname(), os.getpid()) if alive else ("bastion-1", 999_999_999)
    base = {"user": "ops", "host": host, "pid": pid, "origin": "script", "source": "gpu-prod",
            "command": "rollout start", "target": TARGET, "duration_ms": 0.0, "error": None, "id": op,
            "previous": {"model": "models:/llama-70b-chat/6", "replicas": 2}}

    def line(t: str, phase: str, result: str, **kw: Any) -> str:
        return json.dumps(base | {"time": f"2026-11-23T{t}.000+00:00", "phase": phase, "result": result,
                                  "new": NEW, "message": None, "data": None} | kw) + "\n"

    lines = [line(story[0][0], "intent", "started"), line(story[0][0], "applied", "applied")]
    lines += [line(t, "progress", "running", message=m, data=d) for t, m, d in story]
    if outcome is not None:
        t, result, error = outcome
        lines.append(line(t, "outcome", result, error=error))
    with path.open("a", encoding="utf-8") as f:
        f.writelines(lines)


IN_PROGRESS = [
    ("09:26:00", f"{TARGET}: 25% to the new version (models:/llama-70b-chat/7)", {"step": 25}),
    ("09:27:00", "at 25%: hold: error_rate < 1%: no data (the query returned nothing); p95 < 3s: no data",
     reading(25, "hold", None, None)),
    ("09:28:00", "at 25%: go: error_rate < 1%: 0.42% ok; p95 < 3s: 2310ms ok", reading(25, "go", 0.42, 2.31)),
    ("09:28:01", f"{TARGET}: canary 2 pod(s) beside 2 (~50% of traffic)", {"step": 50}),
    ("09:29:01", "at 50%: hold: error_rate < 1%: 1.3% FAILS; p95 < 3s: 2450ms ok", reading(50, "hold", 1.3, 2.45)),
]
"""Running at 50% at 09:30:00 (the tests' fixed now): one reading failed, one more would roll it back."""

PROMOTED = [
    *IN_PROGRESS[:4],
    ("09:29:01", "at 50%: go: error_rate < 1%: 0.38% ok; p95 < 3s: 2280ms ok", reading(50, "go", 0.38, 2.28)),
    ("09:29:02", f"{TARGET}: promoted: the stable rolls to models:/llama-70b-chat/7; canary removed",
     {"step": 100, "end": "promoted"}),
    ("09:29:03", "registry/llama-70b-chat: production -> v7 (was v6)", None),
]

ROLLED_BACK = [
    *IN_PROGRESS,
    ("09:29:59", "at 50%: roll back: error_rate < 1%: 6.1% FAILS; p95 < 3s: 4990ms FAILS (failed 2 of 2)",
     reading(50, "roll back", 6.1, 4.99)),
    ("09:30:00", f"{TARGET}: rolled back: canary removed, all traffic on the stable",
     {"step": 0, "end": "rolled back"}),
]
