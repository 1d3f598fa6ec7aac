"""The audit log: one JSON line per mutation, from the UI and the script mode alike.

The previous value is what makes an undo possible (a destroyed domain's XML, the replica count
before a scale, the alias before a promote), so it is always written, even when the change failed.
The file is created with mode 0600: it names hosts and machines an outsider should not list.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.secrets import redact
from cockpit.serialize import to_jsonable


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


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return str(os.getuid())


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: AuditEntry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = to_jsonable(entry)
        record["command"] = redact(record["command"])
        if record["error"]:
            record["error"] = redact(record["error"])
        line = json.dumps(record, sort_keys=False, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self, limit: int | None = None) -> tuple[list[AuditEntry], int]:
        """Newest last; returns (entries, number of unreadable lines skipped)."""
        if not self.path.exists():
            return [], 0
        entries: list[AuditEntry] = []
        bad = 0
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for raw in f:
                try:
                    d = json.loads(raw)
                    entries.append(AuditEntry(**d))
                except (ValueError, TypeError):
                    bad += 1
        if limit is not None:
            entries = entries[-limit:]
        return entries, bad


def make_entry(*, origin: str, source: str | None, command: str, target: str | None, previous: Any,
               new: Any, result: str, duration_s: float, error: str | None = None) -> AuditEntry:
    return AuditEntry(
        time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        user=current_user(), host=socket.gethostname(), origin=origin, source=source,
        command=command, target=target, previous=to_jsonable(previous), new=to_jsonable(new),
        result=result, duration_ms=round(duration_s * 1000, 1), error=error,
    )
