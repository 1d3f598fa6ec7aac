"""Stopping the emulators: all at once, then their throwaway files, at exit or when asked.

Each emulator registers its stop here rather than with atexit itself. Stopped one after another,
a quit of the demo waited out every server's poll interval in turn (`serve_forever` checks for a
shutdown every half second), then a graceful Prometheus shutdown, before the process could end.
Here one exit handler runs every stop on its own thread and waits for the slowest only, then
removes the work directories (after the stops: a server may still write to its directory).
`cockpit.cli` calls `stop_all` itself once the UI has closed, so it can tell the person if that
takes a while; the exit handler then finds nothing left to do.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

log = logging.getLogger(__name__)

STOP_LIMIT_S = 10.0
"""How long the stops (and then the removals) may take before the process ends without them: a
stop that hangs must not keep the process alive; the emulators are threads or children of ours."""

_lock = threading.Lock()
_stops: list[Callable[[], None]] = []
_paths: list[Path] = []
_registered = False


def at_exit(stop: Callable[[], None]) -> None:
    """Run `stop` at exit (or at `stop_all`), alongside every other emulator's."""
    _register()
    with _lock:
        _stops.append(stop)


def remove_at_exit(path: str | Path) -> None:
    """Remove the directory `path` at exit (or at `stop_all`), once every stop has run."""
    _register()
    with _lock:
        _paths.append(Path(path))


def pending() -> bool:
    with _lock:
        return bool(_stops or _paths)


def stop_all(limit_s: float = STOP_LIMIT_S) -> None:
    """Stop every registered emulator in parallel, then remove their directories in parallel."""
    with _lock:
        stops, _stops[:] = list(_stops), []
        paths, _paths[:] = list(_paths), []
    _in_parallel([partial(_quietly, fn) for fn in stops], limit_s)
    _in_parallel([partial(shutil.rmtree, p, ignore_errors=True) for p in paths], limit_s)


def _register() -> None:
    global _registered
    with _lock:
        if not _registered:
            atexit.register(stop_all)
            _registered = True


def _quietly(stop: Callable[[], None]) -> None:
    try:
        stop()
    except Exception:  # already stopped, or stopping a broken server: nothing left to do
        log.debug("stopping an emulator failed", exc_info=True)


def _in_parallel(jobs: list[Callable[[], None]], limit_s: float) -> None:
    # daemon threads: one that hangs past the limit does not hold the interpreter's exit
    threads = [threading.Thread(target=job, name="cockpit-sandbox-stop", daemon=True) for job in jobs]
    for t in threads:
        t.start()
    deadline = time.monotonic() + limit_s
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
