"""What the demo's emulators share: a local port chosen up front (so a source's URL is known when
the config is built) and a start that happens once, on first use, from the hub's prepare hook."""

from __future__ import annotations

import importlib
import socket
import threading

from cockpit.contracts import SDK_IMPORT_LOCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LazyService:
    """Subclasses say how to start in `_start`; `ensure` runs it once, whichever thread asks first.

    `imports` are the modules the emulator pulls in (its own and those its server threads load on
    the first request). They are imported first under the process-wide SDK import lock: an emulator
    importing `requests` or `cryptography` in one thread while a source's SDK imports them in
    another can hand one of them a half-initialised module (CI saw `module 'requests' has no
    attribute 'exceptions'` from the gcp source while moto was starting)."""

    imports: tuple[str, ...] = ()

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
                with SDK_IMPORT_LOCK:
                    self._warm()
                self._start()
                self._started = True

    def _warm(self) -> None:
        for module in self.imports:
            importlib.import_module(module)

    def _start(self) -> None:
        raise NotImplementedError
