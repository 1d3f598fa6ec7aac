"""An emulator in a child process: started, waited for until its URL answers, stopped.

Prometheus is a binary and runs as a child anyway. moto runs as one too (`python -m moto.server`)
rather than as threads of the cockpit: in-process it imported moto, requests and cryptography in its
own threads while the sources' SDKs imported the same modules in theirs (a half-initialised
`requests` reached the gcp source), and its Flask app shared the UI's interpreter lock.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from cockpit.contracts import BackendUnavailable


class Child:
    """One server process whose output goes to `log`; `name` is how errors call it."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str, timeout: float) -> None:
        """Start it and return once `ready_url` answers 200; a child that exits first is reported
        with the last line it wrote (`AddressInUse` for a port taken meanwhile, and so on)."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BackendUnavailable(f"{self.name} exited at start: {self.last_line()}")
            try:
                with urllib.request.urlopen(ready_url, timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.1)
        self.stop(graceful=False)
        raise BackendUnavailable(f"{self.name} did not become ready within {timeout:g}s")

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def last_line(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
        return lines[-1] if lines else "no output"

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM (or SIGKILL when its data is thrown away next), then SIGKILL if it hangs."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if graceful:
            proc.terminate()
        else:
            proc.kill()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
