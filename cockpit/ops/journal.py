"""Every change is an operation: applied (the one SDK call), then watched (a rollout followed to
done, failed or timed out), each phase written to the audit log under one id.

Why apply and watch apart: a rollout may take minutes. The person who asked for it wants it
visible from any screen, with its progress and how long it has run, and able to stop following
it, while the change itself (already made) goes on. And a process that dies half way (a lost SSH
session, ctrl-c) must leave a record that the next start finds: "deploy rollback
gpu-prod/inference/llama-70b, applied at 14:02, outcome unknown".

The `Journal` is this process's live view (the UI lists and cancels from it); `operations()`
rebuilds every operation, this process's and earlier ones', from the audit log's lines.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from cockpit.audit import APPLIED, CONTROL, INTENT, OUTCOME, PROGRESS, AuditEntry


class OpState(Enum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled back"
    """A guarded rollout whose gate failed: traffic went back to the stable."""
    PAUSED = "paused"
    """A guarded rollout that stopped where it was (no data): traffic is still split."""
    UNFINISHED = "unfinished"
    """Begun by a process that ended before it did: its outcome is unknown."""

    @classmethod
    def of_result(cls, result: str) -> OpState:
        """The state an outcome line's result word says (anything else failed)."""
        return {"ok": cls.OK, "cancelled": cls.CANCELLED, "rolled back": cls.ROLLED_BACK,
                "paused": cls.PAUSED}.get(result, cls.FAILED)


class Watch(Protocol):
    """What a watch gets: a way to say how far it got, to know whether to stop, and the words a
    person sent it since it last asked (`abort`, `pause`, `resume`, `promote`)."""

    def progress(self, message: str, data: Mapping[str, Any] | None = None) -> None: ...

    def cancelled(self) -> bool: ...

    def commands(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    command: str
    target: str | None
    source: str | None
    origin: str
    user: str
    started: datetime
    state: OpState
    applied: datetime | None = None
    ended: datetime | None = None
    steps: tuple[tuple[datetime, str], ...] = ()
    error: str | None = None
    previous: Any = None
    new: Any = None
    here: bool = False
    """Run by this process: followed live, and cancellable from here."""
    host: str = ""
    pid: int | None = None
    """Where its process runs (from its intent line): whether that process still lives."""
    facts: tuple[tuple[datetime, Mapping[str, Any]], ...] = ()
    """Its steps' facts as data, where a step has them (a rollout's shifts and readings)."""

    def last(self) -> str:
        """The last thing it said: its last step, its error, else its state."""
        if self.error:
            return self.error
        return self.steps[-1][1] if self.steps else self.state.value

    def elapsed_s(self, now: datetime) -> float:
        """How long it ran: until it ended, until now while it runs, and for one whose process died,
        until the last thing known of it (not a clock that goes on counting for a dead process)."""
        end = self.ended or now
        if self.state is OpState.UNFINISHED:
            end = self.steps[-1][0] if self.steps else self.applied or self.started
        return max(0.0, (end - self.started).total_seconds())

    def elapsed_text(self, now: datetime, decimals: int = 0) -> str:
        """`4s` (`0.4s` with a decimal), `3m05s`: how long it ran, as lists and the Operations view show it."""
        s = self.elapsed_s(now)
        return f"{s:.{decimals}f}s" if s < 60 else f"{int(s // 60)}m{int(s % 60):02d}s"

    def describe(self) -> str:
        """One line for the Overview and `op list`: `deploy rollback gpu-prod/inference/llama-70b,
        applied at 14:02:10, outcome unknown`."""
        what = f"{self.command} {self.target or self.source or ''}".rstrip()
        if self.state is OpState.UNFINISHED:
            when = (f"applied at {_clock(self.applied)}" if self.applied
                    else f"begun at {_clock(self.started)}, not known to be applied")
            return f"{what}, {when}, outcome unknown"
        return f"{what}: {self.state.value}" + (f" ({self.last()})" if self.state is not OpState.OK else "")


def alive(host: str, pid: int | None) -> bool | None:
    """Whether a process still lives: known on this host (True, False), None elsewhere."""
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clock(when: datetime | None) -> str:
    return "-" if when is None else when.astimezone().strftime("%H:%M:%S")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def operations(lines: Iterable[AuditEntry], running: Iterable[str] = ()) -> list[Operation]:
    """Every operation the audit lines tell of, oldest first: an intent begins one, `applied`
    and `progress` lines add to it, the outcome ends it. One with no outcome is running if this
    process runs it (`running`), else unfinished: its process ended first."""
    live = set(running)
    ops: dict[str, Operation] = {}
    for e in lines:
        if e.id is None:
            continue
        op = ops.get(e.id)
        if e.phase == INTENT:
            # no outcome yet: running here, running in another process that still lives, or unfinished
            running_elsewhere = e.id not in live and alive(e.host, e.pid) is True
            ops[e.id] = Operation(e.id, e.command, e.target, e.source, e.origin, e.user, _time(e.time),
                                  OpState.RUNNING if e.id in live or running_elsewhere else OpState.UNFINISHED,
                                  previous=e.previous, new=e.new, here=e.id in live, host=e.host, pid=e.pid)
        elif op is None:
            continue  # an outcome or a refusal with no intent: the Audit screen lists it, no operation to follow
        elif e.phase == APPLIED:
            ops[e.id] = replace(op, applied=_time(e.time), new=e.new if e.new is not None else op.new)
        elif e.phase == PROGRESS:
            at = _time(e.time)
            facts = (*op.facts, (at, e.data)) if isinstance(e.data, Mapping) else op.facts
            ops[e.id] = replace(op, steps=(*op.steps, (at, e.message or "")), facts=facts)
        elif e.phase == CONTROL:
            ops[e.id] = replace(op, steps=(*op.steps, (_time(e.time), f"{e.message} asked by {e.user}@{e.host}")))
        elif e.phase == OUTCOME:
            state = OpState.of_result(e.result)
            ops[e.id] = replace(op, state=state, ended=_time(e.time), error=e.error,
                                new=e.new if e.new is not None else op.new)
    return list(ops.values())


def overlay(logged: Iterable[Operation], live: Iterable[Operation]) -> list[Operation]:
    """The audit log's operations with this process's live ones over them, oldest first: the one
    picture `op list` and the Operations view both show."""
    found = {op.id: op for op in logged} | {op.id: op for op in live}
    return sorted(found.values(), key=lambda op: op.started)


class Journal:
    """This process's operations as they run: the UI lists them, a watch asks whether it was
    cancelled, and a listener hears of every step (on the thread that made it)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ops: dict[str, Operation] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._words: dict[str, list[str]] = {}
        self._listeners: list[Callable[[Operation], None]] = []

    def subscribe(self, fn: Callable[[Operation], None]) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def begin(self, op_id: str, command: str, target: str | None, source: str | None, origin: str, user: str,
              previous: Any) -> None:
        with self._lock:
            self._ops[op_id] = Operation(op_id, command, target, source, origin, user, self._clock(),
                                         OpState.RUNNING, previous=previous, here=True)
            self._cancel[op_id] = threading.Event()
        self._tell(op_id)

    def applied(self, op_id: str, new: Any) -> None:
        self._change(op_id, applied=self._clock(), new=new)

    def progress(self, op_id: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        with self._lock:
            op = self._ops.get(op_id)
            if op is not None:
                at = self._clock()
                facts = (*op.facts, (at, data)) if data is not None else op.facts
                self._ops[op_id] = replace(op, steps=(*op.steps, (at, message)), facts=facts)
        self._tell(op_id)

    def end(self, op_id: str, state: OpState, error: str | None, new: Any) -> None:
        self._change(op_id, state=state, ended=self._clock(), error=error, **({"new": new} if new is not None else {}))

    def cancel(self, op_id: str) -> bool:
        """Ask a running operation's watch to stop; False when there is none running here."""
        with self._lock:
            op, flag = self._ops.get(op_id), self._cancel.get(op_id)
        if op is None or flag is None or op.state is not OpState.RUNNING:
            return False
        flag.set()
        return True

    def tell(self, op_id: str, verb: str) -> bool:
        """Give a running operation a person's word (pause, resume, promote, abort)."""
        op = self.get(op_id)
        if op is None or op.state is not OpState.RUNNING:
            return False
        with self._lock:
            self._words.setdefault(op_id, []).append(verb)
        return True

    def words(self, op_id: str) -> list[str]:
        """The words told to this operation since the last call (each is heard once)."""
        with self._lock:
            return self._words.pop(op_id, [])

    def cancelled(self, op_id: str) -> bool:
        flag = self._cancel.get(op_id)
        return flag is not None and flag.is_set()

    def get(self, op_id: str) -> Operation | None:
        with self._lock:
            return self._ops.get(op_id)

    def all(self) -> list[Operation]:
        with self._lock:
            return list(self._ops.values())

    def running(self) -> list[Operation]:
        return [op for op in self.all() if op.state is OpState.RUNNING]

    def _change(self, op_id: str, **changes: Any) -> None:
        with self._lock:
            op = self._ops.get(op_id)
            if op is not None:
                self._ops[op_id] = replace(op, **changes)
        self._tell(op_id)

    def _tell(self, op_id: str) -> None:
        op = self.get(op_id)
        if op is not None:
            for fn in list(self._listeners):
                fn(op)
