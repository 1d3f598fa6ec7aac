"""How one operation is written down as it goes: the audit log's lines (intent before the change,
applied once made, progress as its watch sees it, outcome at the end, all under one id) and this
process's journal, in step.

Only the intent is write-ahead (no record, no change: the caller refuses). An applied or progress
line that cannot be written loses a detail of the story, not the change, so it is not an error;
the outcome's writer says when the end could not be recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from cockpit.audit import APPLIED, INTENT, OUTCOME, PROGRESS, AuditLog, AuditUnwritable, current_user, make_entry
from cockpit.ops.control import Inbox
from cockpit.ops.journal import Journal, OpState

log = logging.getLogger(__name__)

CURRENT: ContextVar[OpRecorder | None] = ContextVar("cockpit_operation", default=None)
"""The operation the running code belongs to (set by the registry around a change's apply and
watch), so a step reported from deep in a command lands in that operation's record."""


def report(message: str, fallback: Callable[[str], None] | None = None) -> None:
    """A step of the change under way: recorded in its operation (audit, journal, the person's
    progress display); outside one, just shown through `fallback`."""
    op = CURRENT.get()
    if op is not None:
        op.progress(message)
    elif fallback is not None:
        fallback(message)


class OpRecorder:
    def __init__(self, audit: AuditLog, journal: Journal | None, op_id: str, *, origin: str, source: str | None,
                 command: str, target: str | None, previous: Any, planned: Any,
                 echo: Callable[[str], None] | None = None) -> None:
        self.audit = audit
        self.journal = journal
        self.id = op_id
        self._fields = {"origin": origin, "source": source, "command": command, "target": target,
                        "previous": previous}
        self._planned = planned
        self._echo = echo
        self._inbox: Inbox | None = None

    def _write(self, phase: str, new: Any, result: str, took: float, error: str | None = None,
               message: str | None = None, data: Any = None) -> None:
        self.audit.append(make_entry(**self._fields, new=new if new is not None else self._planned, result=result,
                                     duration_s=took, error=error, op_id=self.id, phase=phase, message=message,
                                     data=data))

    def intent(self) -> None:
        """Written and flushed before the change; raises AuditUnwritable (the change must not run)."""
        self._write(INTENT, None, "started", 0.0)
        self._inbox = Inbox(self.audit.path, self.id)  # control lines written from now on are for us
        if self.journal is not None:
            f = self._fields
            self.journal.begin(self.id, str(f["command"]), f["target"], f["source"], str(f["origin"]),
                               current_user(), f["previous"])

    def applied(self, new: Any, took: float) -> None:
        try:
            self._write(APPLIED, new, "applied", took)
        except AuditUnwritable:
            log.warning("operation %s: the applied record could not be written", self.id, exc_info=True)
        if self.journal is not None:
            self.journal.applied(self.id, new)

    # -- the Watch a plan's watch gets ------------------------------------------------------------
    def progress(self, message: str, data: Mapping[str, Any] | None = None) -> None:
        try:
            self._write(PROGRESS, None, "running", 0.0, message=message, data=data)
        except AuditUnwritable:
            log.warning("operation %s: a progress record could not be written", self.id, exc_info=True)
        if self.journal is not None:
            self.journal.progress(self.id, message, data)
        if self._echo is not None:
            self._echo(message)

    def cancelled(self) -> bool:
        return self.journal is not None and self.journal.cancelled(self.id)

    def commands(self) -> list[str]:
        """Words for this operation: from this process's journal, and control lines other
        processes wrote to the audit log since it began."""
        words = self.journal.words(self.id) if self.journal is not None else []
        if self._inbox is None:
            self._inbox = Inbox(self.audit.path, self.id)
        return [*words, *self._inbox.poll()]

    def outcome(self, new: Any, result: str, took: float, error: str | None) -> AuditUnwritable | None:
        """Record how it ended; the error when that record could not be written (the caller says so)."""
        problem = None
        try:
            self._write(OUTCOME, new, result, took, error)
        except AuditUnwritable as e:
            problem = e
        if self.journal is not None:
            state = OpState.of_result(result)
            self.journal.end(self.id, state, error, new)
        return problem
