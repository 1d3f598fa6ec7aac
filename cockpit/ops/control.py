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
from pathlib import Path

from cockpit.audit import CONTROL, AuditLog, make_entry
from cockpit.ops.journal import Operation, alive

VERBS = ("abort", "pause", "resume", "promote")


class Inbox:
    """The control lines for one operation, read as they are appended after it began."""

    def __init__(self, path: Path, op_id: str) -> None:
        self._path = path
        self._id = op_id
        st = path.stat() if path.exists() else None
        self._offset = st.st_size if st else 0
        self._inode = st.st_ino if st else None
        self._head = _head(path)
        """The log's first bytes: a log truncated and written again (copytruncate) starts otherwise."""
        self._rest = b""

    def poll(self) -> list[str]:
        try:
            with self._path.open("rb") as f:
                st = os.fstat(f.fileno())
                head = f.read(len(self._head)) if self._head else b""
                if st.st_ino != self._inode or st.st_size < self._offset or head != self._head:
                    self._inode, self._offset, self._rest = st.st_ino, 0, b""  # rotated or truncated: a new log
                    f.seek(0)
                    self._head = f.read(HEAD)
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


HEAD = 64


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(HEAD)
    except OSError:
        return b""


def send(audit: AuditLog, op: Operation, verb: str, origin: str) -> None:
    """Write the word to the log (raises AuditUnwritable: a word that cannot be recorded is not sent)."""
    audit.append(make_entry(origin=origin, source=op.source, command=f"rollout {verb}", target=op.target,
                            previous=None, new=None, result=verb, duration_s=0.0, op_id=op.id, phase=CONTROL,
                            message=verb))


def alive_op(op: Operation) -> bool | None:
    """Whether the process that runs `op` still lives: known on this host, None elsewhere."""
    return alive(op.host, op.pid)
