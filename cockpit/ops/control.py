"""A person's word to a running operation: abort, pause, resume, promote.

Within one process (the UI) the journal carries it. From another process (`rollout abort ID` on a
bastion while a CI job runs the rollout) it is a control line in the audit log, under the
operation's id: the running process reads the log's new lines as its watch waits, so the word is
both delivered and on record (who, when). An operation whose process is gone cannot hear it; the
caller then acts itself (an abort restores the stable).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from cockpit.audit import CONTROL, AuditLog, make_entry
from cockpit.ops.journal import Operation

VERBS = ("abort", "pause", "resume", "promote")


class Inbox:
    """The control lines for one operation, read as they are appended after it began."""

    def __init__(self, path: Path, op_id: str) -> None:
        self._path = path
        self._id = op_id
        self._offset = path.stat().st_size if path.exists() else 0
        self._rest = b""

    def poll(self) -> list[str]:
        try:
            with self._path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return []
        self._offset += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        out = []
        for raw in lines:
            try:
                d = json.loads(raw)
            except ValueError:
                continue
            if isinstance(d, dict) and d.get("phase") == CONTROL and d.get("id") == self._id and d.get("message"):
                out.append(str(d["message"]))
        return out


def send(audit: AuditLog, op: Operation, verb: str, origin: str) -> None:
    """Write the word to the log (raises AuditUnwritable: a word that cannot be recorded is not sent)."""
    audit.append(make_entry(origin=origin, source=op.source, command=f"rollout {verb}", target=op.target,
                            previous=None, new=None, result=verb, duration_s=0.0, op_id=op.id, phase=CONTROL,
                            message=verb))


def alive(op: Operation) -> bool | None:
    """Whether the process that runs `op` still lives: known on this host, None elsewhere."""
    if op.pid is None or op.host != socket.gethostname():
        return None
    try:
        os.kill(op.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
