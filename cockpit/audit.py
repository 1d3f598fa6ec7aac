"""The audit log: JSON lines, written ahead of every mutation, from the UI and the script mode alike.

Each change is an operation with an id. Its record of *intent* (what, on which target, the
previous value) is written and flushed before the change is made, so a change that crashes the
process half way, or a disk that fills while it runs, still leaves a trace; if the intent cannot be
written, the change is refused. The *outcome* follows as a second line with the same id. A change
cockpit refused (read-only, no --yes) is one line of its own. `read()` joins the lines of one
operation back into one entry; an intent without an outcome reads as `unfinished`.

The previous value is what makes an undo possible (a destroyed domain's XML, the replica count
before a scale, the alias before a promote), so it is always written. The file is created with mode
0600: it names hosts and machines an outsider should not list. A file at the path that is not a
regular file, or that another user owns, is never written to and never chmod-ed.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import stat
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.contracts import CockpitError
from cockpit.secrets import redact
from cockpit.serialize import to_jsonable

INTENT, OUTCOME, REFUSED = "intent", "outcome", "refused"
APPLIED, PROGRESS, CONTROL = "applied", "progress", "control"
"""Between intent and outcome: the change was made (the watch that follows it may take minutes),
and each step of that watch worth keeping (cockpit.ops rebuilds operations from these); a control
line is a person's word to a running operation from another process (abort, pause, resume)."""


class AuditUnwritable(CockpitError):
    """The audit log cannot take a record; a change that needs one is refused (exit code 1)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: str
    user: str
    host: str
    origin: str
    source: str | None
    command: str
    target: str | None
    previous: Any
    new: Any
    result: str
    duration_ms: float
    error: str | None = None
    id: str | None = None
    """The operation's id: the intent and outcome lines of one change share it."""
    phase: str | None = None
    """intent | applied | progress | outcome | refused; None on lines written before operations had ids."""
    message: str | None = None
    """A progress line's step (`gpu-prod/inference/llama: 2 of 3 new pods ready`); a control
    line's verb (`abort`, `pause`, `resume`, `promote`)."""
    pid: int | None = None
    """The process that wrote the line: whether an operation's process still lives, on this host."""
    data: Any = None
    """A progress line's facts as data (a rollout's step, its gates' readings, the canary's and the
    stable's figures), so a panel can draw from the record what the message says in words."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return str(os.getuid())


def new_operation_id() -> str:
    return uuid.uuid4().hex[:12]


class AuditLog:
    def __init__(self, path: Path, *, record_refusals: bool = True) -> None:
        self.path = path
        self.record_refusals = record_refusals

    def append(self, entry: AuditEntry) -> None:
        """Write one line and flush it to disk; raise AuditUnwritable (one line, the path and why)."""
        record = to_jsonable(entry)
        record["command"] = redact(record["command"])
        if record["error"]:
            record["error"] = redact(record["error"])
        if record.get("message"):  # a step's text may carry a backend's words (and a token in them)
            record["message"] = redact(record["message"])
        line = (json.dumps(record, sort_keys=False, separators=(",", ":")) + "\n").encode()
        where = f"cannot write the audit log {self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:
            raise AuditUnwritable(f"{where}: {self.path.parent} is not a directory") from None
        except OSError as e:
            raise AuditUnwritable(f"{where}: {_why(e)}") from None
        try:
            mode = os.lstat(self.path).st_mode
            if not stat.S_ISREG(mode):  # a directory, link, fifo, device: never ours to write
                raise AuditUnwritable(f"{where}: {'is a directory' if stat.S_ISDIR(mode) else 'not a regular file'}")
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as e:
            raise AuditUnwritable(f"{where}: {_why(e)}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise AuditUnwritable(f"{where}: not a regular file")
            if st.st_uid != os.geteuid():
                raise AuditUnwritable(f"{where}: owned by another user")
            if os.write(fd, line) != len(line):
                raise AuditUnwritable(f"{where}: short write (disk full?)")
            os.fsync(fd)
        except OSError as e:
            raise AuditUnwritable(f"{where}: {_why(e)}") from None
        finally:
            os.close(fd)

    def lines(self) -> tuple[list[AuditEntry], int]:
        """Every line as written, oldest first; returns (lines, number of unreadable lines skipped)."""
        if not self.path.exists():
            return [], 0
        out: list[AuditEntry] = []
        bad = 0
        try:
            f = self.path.open(encoding="utf-8", errors="replace")
        except OSError:
            return [], 0
        with f:
            for raw in f:
                try:
                    out.append(AuditEntry(**json.loads(raw)))
                except (ValueError, TypeError):
                    bad += 1
        return out, bad

    def read(self, limit: int | None = None) -> tuple[list[AuditEntry], int]:
        """One entry per operation, oldest first; returns (entries, number of unreadable lines skipped).

        An operation's outcome line completes its intent line; an intent with no outcome (the
        process died, or the outcome could not be written) reads as `unfinished`. Its applied and
        progress lines are the operation's story (`op show`), not entries of their own."""
        lines, bad = self.lines()
        entries: list[AuditEntry] = []
        by_id: dict[str, int] = {}
        for e in lines:
            if e.phase in (APPLIED, PROGRESS, CONTROL):
                continue
            if e.id is None or e.phase == REFUSED:
                entries.append(e)
            elif e.phase == INTENT:
                by_id[e.id] = len(entries)
                entries.append(replace(e, result="unfinished"))
            elif e.id in by_id:
                i = by_id.pop(e.id)
                entries[i] = replace(e, time=entries[i].time, previous=entries[i].previous)
            else:
                entries.append(e)  # an outcome whose intent line was lost
        if limit is not None:
            entries = entries[-limit:]
        return entries, bad


def _why(e: OSError) -> str:
    return e.strerror or type(e).__name__


def make_entry(*, origin: str, source: str | None, command: str, target: str | None, previous: Any,
               new: Any, result: str, duration_s: float, error: str | None = None, op_id: str | None = None,
               phase: str | None = None, message: str | None = None, data: Any = None) -> AuditEntry:
    return AuditEntry(
        time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        user=current_user(), host=socket.gethostname(), origin=origin, source=source, pid=os.getpid(),
        command=command, target=target, previous=to_jsonable(previous), new=to_jsonable(new),
        result=result, duration_ms=round(duration_s * 1000, 1), error=error, id=op_id, phase=phase,
        message=message, data=to_jsonable(data),
    )


_UNSHOWN = frozenset({"definition", "steps", "rollout"})
"""Keys too long for one line (a domain's XML, a provision's progress, a rollout's steps and gates):
`audit` JSON keeps them."""


def change_text(previous: Any, new: Any) -> str:
    """One line saying what a change did, for every kind of change: `running → stopped`,
    `0 → 25` (canary traffic), `min 1 → 2, max 4 → 8`, `unschedulable no → yes, evicted 5`.
    One place, so the Audit screen and `cockpit audit` never disagree (the Audit screen used to
    keep only state, replicas, alias and version, and showed `- → -` for the rest)."""
    before = _fields(previous)
    after = _fields(new)
    if not before and not after:
        return f"{_value(previous)} → {_value(new)}"
    if new is None:  # failed, or not finished: what it was, and nothing known after
        return f"{_brief(before)} → -"
    keys = [k for k in (*before, *(k for k in after if k not in before)) if k not in _UNSHOWN]
    if len(keys) == 1 and keys[0] in before and keys[0] in after:
        k = keys[0]
        said = f"{_value(before[k])} → {_value(after[k])}"
        return said if k in _SELF_EVIDENT else f"{k} {said}"
    same = [f"{k}={before[k]}" for k in keys if k in after and before.get(k) == after[k]
            and isinstance(after[k], str) and len(after[k]) <= 40]
    parts = []
    for k in keys:
        if k in before and k in after:
            if before[k] != after[k]:
                parts.append(f"{k} {_value(before[k])} → {_value(after[k])}")
        elif k in after:
            parts.append(f"{k} {_value(after[k])}")
        else:
            parts.append(f"{k} was {_value(before[k])}")
    text = ", ".join(parts) or "no change"
    return f"{', '.join(same)}: {text}" if same else text


_SELF_EVIDENT = frozenset({"state", "replicas", "canaryTrafficPercent"})
"""Keys whose value says what it is (`running → stopped`): shown without the key's name."""


def _brief(fields: dict[str, Any]) -> str:
    shown = {k: v for k, v in fields.items() if k not in _UNSHOWN}
    if len(shown) == 1:
        return _value(next(iter(shown.values())))
    return ", ".join(f"{k}={_value(v)}" for k, v in shown.items()) or "-"


def _fields(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list | tuple):
        return str(len(v)) if len(v) > 3 else ",".join(_value(x) for x in v) or "none"
    if isinstance(v, dict):
        return ",".join(f"{k}={_value(x)}" for k, x in v.items()) or "-"
    return str(v)
