"""The rollout engine's decisions (cockpit.ops.rollout) on a recording target: a backend error
half way sends the traffic back, a word said while the gates are read wins over a promotion, a
failing gate rolls back at its limit however high (only no data pauses); and the control inbox
keeps hearing after the audit log is rotated. Operations whose process still lives are running."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cockpit.audit import AuditLog, make_entry
from cockpit.contracts import BackendError
from cockpit.ops import rollout
from cockpit.ops.control import Inbox
from cockpit.ops.gates import Canary, Gate, Reading, parse_gate, reading
from cockpit.ops.journal import OpState, operations
from tests.conftest import FIXED_NOW


@dataclass
class Recorder:
    """A Target that moves nothing but remembers where the traffic is (the engine's only contract)."""

    percent: int = 10
    fail_at: int | None = None
    moves: list[str] = field(default_factory=list)

    def shift(self, percent: int) -> str:
        if percent == self.fail_at:
            raise BackendError("gpu-prod: 409 conflict")
        self.percent = percent
        self.moves.append(f"shift {percent}")
        return f"shift {percent}"

    def promote(self) -> str:
        self.percent = 100
        self.moves.append("promote")
        return "promote"

    def roll_back(self) -> str:
        self.percent = 0
        self.moves.append("roll back")
        return "roll back"

    def canary(self) -> Canary:
        return Canary({"pod": "~x-.*"})

    def stable(self) -> Canary:
        return Canary({"pod": "~x-[a-z0-9]+-[a-z0-9]+"})


@dataclass
class Listener:
    """A Watch: steps said, and words a person sends (queued by the test)."""

    words: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    facts: list[Mapping[str, Any]] = field(default_factory=list)
    cancel: bool = False

    def progress(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.said.append(message)
        if data is not None:
            self.facts.append(data)

    def cancelled(self) -> bool:
        return self.cancel

    def commands(self) -> list[str]:
        out, self.words = self.words, []
        return out


def reads(value: float | None) -> object:
    def read(gate: Gate, canary: Canary) -> Reading:
        return reading(gate, [] if value is None else [value], FIXED_NOW)

    return read


P95 = parse_gate("p95 < 800ms")


def test_a_backend_error_half_way_sends_the_traffic_back() -> None:
    target = Recorder(fail_at=50)
    done = rollout.run(rollout.Spec((10, 50, 100), 0, (P95,)), target, reads(0.3), Listener())  # type: ignore[arg-type]
    assert done.end is rollout.End.ROLLED_BACK and "409 conflict" in done.why
    assert target.percent == 0 and target.moves[-1] == "roll back"


def test_an_abort_said_while_the_gates_are_read_wins_over_promotion() -> None:
    target, watch = Recorder(), Listener()

    def read(gate: Gate, canary: Canary) -> Reading:
        watch.words.append("abort")  # arrives during the (slow) query
        return reading(gate, [0.3], FIXED_NOW)

    done = rollout.run(rollout.Spec((10, 100), 0, (P95,)), target, read, watch)
    assert done.end is rollout.End.ABORTED and target.percent == 0 and "promote" not in target.moves


def test_a_failing_gate_rolls_back_at_its_limit_however_high() -> None:
    target = Recorder()
    done = rollout.run(rollout.Spec((10, 100), 0, (P95,), failure_limit=5), target, reads(1.5),  # type: ignore[arg-type]
                       Listener())
    assert done.end is rollout.End.ROLLED_BACK and "(failed 5 of 5)" in done.why and target.percent == 0


def test_no_data_pauses_where_it_is() -> None:
    target = Recorder()
    done = rollout.run(rollout.Spec((10, 100), 0, (P95,)), target, reads(None), Listener())  # type: ignore[arg-type]
    assert done.end is rollout.End.PAUSED and target.percent == 10 and "no data in 3 readings" in done.why


def test_the_inbox_hears_after_the_log_is_rotated(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text("")
    inbox = Inbox(log, "op1")

    def word(path: Path, verb: str) -> None:
        with path.open("a") as f:
            f.write(json.dumps({"id": "op1", "phase": "control", "message": verb}) + "\n")

    with log.open("a") as f:  # a line written in two pieces: heard once whole
        f.write('{"id": "op1", "phase": "con')
    assert inbox.poll() == []
    with log.open("a") as f:
        f.write('trol", "message": "pause"}\n')
    assert inbox.poll() == ["pause"]
    log.rename(tmp_path / "audit.jsonl.1")  # logrotate: a new file at the path
    word(log, "abort")
    assert inbox.poll() == ["abort"]
    log.write_text("")  # copytruncate
    word(log, "resume")
    assert inbox.poll() == ["resume"]


def test_an_operation_whose_process_lives_is_running_elsewhere(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    entry = make_entry(origin="script", source="gpu-prod", command="rollout start", target="gpu-prod/inference/x",
                       previous=None, new=None, result="started", duration_s=0.0, op_id="0123456789ab", phase="intent")
    audit.append(entry)  # this (live) process wrote it, and its journal does not run it
    lines, _ = audit.lines()
    (op,) = operations(lines)
    assert op.state is OpState.RUNNING and not op.here
    (gone,) = operations([replace(lines[0], pid=None, host="elsewhere")])
    assert gone.state is OpState.UNFINISHED
