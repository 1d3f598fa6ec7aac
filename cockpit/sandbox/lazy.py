"""What the demo's emulators share: a local port chosen up front (so a source's URL is known when
the config is built) and a start that happens once, on first use, from the hub's prepare hook."""

from __future__ import annotations

import socket
import threading


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LazyService:
    """Subclasses say how to start in `_start`; `ensure` runs it once, whichever thread asks first."""

    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Lock()
        self._started = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ensure(self) -> None:
        with self._lock:
            if not self._started:
                self._start()
                self._started = True

    def _start(self) -> None:
        raise NotImplementedError
