"""The `:` command line's history: the lines a person ran, oldest first, kept across runs in the
state directory (like a shell's), so that Up brings back yesterday's `deploy scale ...`.

A line is kept only when it is clean (no control or bidi characters: it is shown again as typed)
and holds no secret (cockpit.secrets.redact would change it: a token typed into a URI stays out of
the file, as it stays out of the logs). The file is private (0600), written whole and atomically,
and a file that cannot be read or written leaves the history in memory only: it is a convenience,
never a reason for an error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from cockpit.sanitise import is_clean
from cockpit.secrets import redact

LIMIT = 500
"""Lines kept: enough for weeks of an operator's commands, small enough to read at every start."""


def write_private(path: Path, lines: Sequence[str]) -> None:
    """Write `lines` to `path` atomically (a reader never sees half a file) and privately (0600
    from creation: a fleet's names and commands are not for everyone on a bastion)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in lines))
    os.replace(tmp, path)


def keepable(line: str) -> bool:
    return bool(line) and is_clean(line) and redact(line) == line


class History:
    """Up and Down through past lines, shell style: Up from a line already typed goes to earlier
    lines that start with it; Down past the newest gives back what was being typed."""

    def __init__(self, path: Path | None, limit: int = LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.lines: list[str] = self._load()
        self._pos: int | None = None
        self._draft = ""

    def _load(self) -> list[str]:
        if self.path is None:
            return []
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if keepable(line)][-self.limit:]

    def add(self, line: str) -> None:
        """Remember a line that was run (an earlier copy of it moves to the end)."""
        self.reset()
        line = line.strip()
        if not keepable(line):
            return
        self.lines = [*(x for x in self.lines if x != line), line][-self.limit:]
        if self.path is not None:
            with contextlib.suppress(OSError):  # a read-only home: the history lives as long as this run
                write_private(self.path, self.lines)

    def reset(self) -> None:
        """Forget where Up/Down had got to (the line was run, closed or edited)."""
        self._pos = None

    def older(self, current: str) -> str | None:
        """The line before the one shown, among those starting with what was typed; None at the oldest."""
        if self._pos is None:
            self._draft, self._pos = current, len(self.lines)
        for i in range(self._pos - 1, -1, -1):
            if self.lines[i].startswith(self._draft):
                self._pos = i
                return self.lines[i]
        return None

    def newer(self) -> str | None:
        """The line after the one shown; past the newest, what was typed; None when not browsing."""
        if self._pos is None:
            return None
        for i in range(self._pos + 1, len(self.lines)):
            if self.lines[i].startswith(self._draft):
                self._pos = i
                return self.lines[i]
        self._pos = None
        return self._draft
