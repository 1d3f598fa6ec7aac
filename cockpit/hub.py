"""The hub owns one backend instance per configured source and runs every call on it.

Backends are blocking SDKs. The hub builds them lazily (the SDK is imported only when a source
of that kind is first used), runs each call in a daemon thread with the source's timeout, and
keeps a health record per source. Daemon threads, not a ThreadPoolExecutor: a call that hangs
forever must not stop the process from exiting (the executor joins its threads at exit).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from cockpit.config import Config, SourceConfig
from cockpit.contracts import (
    SDK_IMPORT_LOCK,
    BackendFactory,
    BackendFault,
    BackendTimeout,
    BackendUnavailable,
    BadInput,
    CockpitError,
    Refused,
    Role,
    SourceBackend,
)
from cockpit.model import HealthState, SourceHealth
from cockpit.providers import PROVIDERS
from cockpit.secrets import redact

log = logging.getLogger(__name__)
T = TypeVar("T")
B = TypeVar("B", bound=SourceBackend)

MAX_CALLS_PER_SOURCE = 4
BUILD_TIMEOUT_S = 120.0
"""How long a first call waits for its backend to be built (SDK import, clients) before the
source's own timeout starts; a backend whose construction connects (libvirt) has no such grace."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Slot:
    """Per-source state: the backend once built, its health, and a bound on calls in flight."""

    def __init__(self, cfg: SourceConfig) -> None:
        self.cfg = cfg
        self.backend: Any = None
        self.build_lock = threading.Lock()
        self.calls = threading.BoundedSemaphore(MAX_CALLS_PER_SOURCE)
        self.health = SourceHealth(cfg.name, cfg.kind, HealthState.UNKNOWN, "not contacted yet")


class Hub:
    def __init__(self, config: Config, *, now: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self._now = now
        self._slots = {s.name: _Slot(s) for s in config.sources}
        self._lock = threading.Lock()
        self._health_listeners: list[Callable[[SourceHealth], None]] = []

    def now(self) -> datetime:
        """The hub's clock; screens use it for ages so a test can fix time in one place."""
        return self._now()

    # -- sources -----------------------------------------------------------------------------
    def sources(self, role: str | None = None) -> list[SourceConfig]:
        return [s.cfg for s in self._slots.values()
                if role is None or ((kind := PROVIDERS.get(s.cfg.kind)) is not None and kind.plays(role))]

    def source(self, name: str) -> SourceConfig:
        slot = self._slots.get(name)
        if slot is None:
            known = ", ".join(self._slots) or "none configured"
            raise BadInput(f"unknown source {name!r} (known: {known})")
        return slot.cfg

    def is_read_only(self, name: str) -> bool:
        return self.config.read_only or self.source(name).read_only

    def require_writable(self, name: str) -> None:
        if self.config.read_only:
            raise Refused("refused: cockpit runs read-only (--read-only or read_only = true)")
        if self.source(name).read_only:
            raise Refused(f"refused: source {name!r} is read-only in the config")

    def health(self, name: str) -> SourceHealth:
        return self._slots[name].health

    def health_all(self) -> list[SourceHealth]:
        return [s.health for s in self._slots.values()]

    def on_health(self, listener: Callable[[SourceHealth], None]) -> None:
        self._health_listeners.append(listener)

    # -- calls -------------------------------------------------------------------------------
    def call(self, source: str, role: Role[B], fn: Callable[[B], T], *, timeout: float | None = None) -> T:
        """Run `fn(backend)` in a thread, the backend typed by the role asked for (mypy checks
        what `fn` calls on it); raise BackendTimeout if it does not finish in time, and BadInput
        at once, asking nothing, if the source's kind does not play that role."""
        slot = self._slots.get(source)
        if slot is None:
            self.source(source)  # raises the BadInput naming the known sources
            raise AssertionError("unreachable")
        _check_role(slot.cfg, role)
        limit = timeout if timeout is not None else slot.cfg.timeout_seconds
        started = time.monotonic()
        if not slot.calls.acquire(timeout=limit):
            err = BackendTimeout(f"{source}: {MAX_CALLS_PER_SOURCE} earlier calls still waiting on the source")
            self._record(slot, err, None)
            raise err
        fut: Future[T] = Future()
        built = threading.Event()
        info = PROVIDERS.get(slot.cfg.kind)
        first = slot.backend is None and info is not None and not info.connects

        def run() -> None:
            try:
                backend: B = self._backend(slot)  # the kind plays the role: checked above
                built.set()
                fut.set_result(fn(backend))
            except BaseException as e:  # handed to the caller through the future
                fut.set_exception(e)
            finally:
                built.set()
                slot.calls.release()

        threading.Thread(target=run, name=f"cockpit-{source}", daemon=True).start()
        if first and built.wait(BUILD_TIMEOUT_S):
            # importing an SDK and building its clients (seconds on a busy machine, one at a time) is
            # not the source's answer time: the source's timeout starts when the request can be sent
            started = time.monotonic()
        remaining = max(0.0, limit - (time.monotonic() - started))
        try:
            result = fut.result(timeout=remaining)
        except FutureTimeout:
            err = BackendTimeout(f"{source}: no answer within {limit:g}s (timeout_seconds)")
            self._record(slot, err, None)
            raise err from None
        except CockpitError as e:
            e.message = redact(e.message)
            e.args = (e.message,)
            self._record(slot, e, time.monotonic() - started)
            raise
        except Exception as e:
            log.exception("unexpected error from source %s", source)
            wrapped = BackendFault(f"{source}: unexpected {type(e).__name__}: {redact(str(e))}")
            self._record(slot, wrapped, time.monotonic() - started)
            raise wrapped from None
        self._record(slot, None, time.monotonic() - started)
        return result

    def call_many(self, sources: list[str], role: Role[B], fn: Callable[[B], T]) -> dict[str, T | CockpitError]:
        """`call` on several sources at once; a failing source gives its error, not an exception."""
        results: dict[str, T | CockpitError] = {}

        def one(name: str) -> None:
            try:
                results[name] = self.call(name, role, fn)
            except CockpitError as e:
                results[name] = e

        threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {n: results[n] for n in sources}

    def close(self) -> None:
        for slot in self._slots.values():
            backend, slot.backend = slot.backend, None
            if backend is not None:
                threading.Thread(target=_quiet_close, args=(backend,), daemon=True).start()

    # -- internals ---------------------------------------------------------------------------
    def _backend(self, slot: _Slot) -> Any:
        with slot.build_lock:
            if slot.backend is None:
                info = PROVIDERS.get(slot.cfg.kind)
                if info is None:
                    raise BadInput(f"source {slot.cfg.name!r}: unknown kind {slot.cfg.kind!r}")
                prepare = self.config.prepare.get(slot.cfg.name)
                if prepare is not None:
                    prepare()
                settings = dict(slot.cfg.settings) | {"read_only": self.is_read_only(slot.cfg.name)}
                with SDK_IMPORT_LOCK:  # building a backend imports its SDK: one at a time, process-wide
                    create: BackendFactory = importlib.import_module(info.module).create
                # a constructor that only reads files and builds clients runs under the lock too (SDK
                # clients import more on creation); one that connects would hold every source up
                with contextlib.nullcontext() if info.connects else SDK_IMPORT_LOCK:
                    slot.backend = create(slot.cfg.name, settings)
            return slot.backend

    def _record(self, slot: _Slot, error: CockpitError | None, elapsed: float | None) -> None:
        latency = None if elapsed is None else round(elapsed * 1000, 1)
        old = slot.health
        now = self._now()
        if error is None:
            new = SourceHealth(slot.cfg.name, slot.cfg.kind, HealthState.OK, None, now, latency)
        elif isinstance(error, (BackendTimeout, BackendFault)):
            new = SourceHealth(slot.cfg.name, slot.cfg.kind, HealthState.DEGRADED, error.message,
                               old.as_of, latency)
        elif isinstance(error, BackendUnavailable):
            with slot.build_lock:
                dropped, slot.backend = slot.backend, None
            if dropped is not None:
                threading.Thread(target=_quiet_close, args=(dropped,), daemon=True).start()
            new = SourceHealth(slot.cfg.name, slot.cfg.kind, HealthState.DOWN, error.message, old.as_of, latency)
        else:
            # The source answered; the operation itself failed (not found, conflict...).
            new = SourceHealth(slot.cfg.name, slot.cfg.kind, HealthState.OK, None, now, latency)
        # `since`: when the source entered its state (down since T), kept while the state holds
        new = replace(new, since=old.since if new.state is old.state else now)
        slot.health = new
        if new.state != old.state or new.reason != old.reason:
            for listener in list(self._health_listeners):
                listener(new)


def _check_role(cfg: SourceConfig, role: Role[SourceBackend]) -> None:
    """Refuse, in one line, a role the source's kind does not play (an unknown kind is left to
    `_backend`, which names it)."""
    info = PROVIDERS.get(cfg.kind)
    if role.every_kind or info is None or info.plays(role.name):
        return
    having = sorted(k for k, p in PROVIDERS.items() if p.plays(role.name))
    raise BadInput(f"{cfg.name}: a {cfg.kind} source has no {role.name} role "
                   f"({', '.join(having) or 'no kind'} sources have it)")


def _quiet_close(backend: Any) -> None:
    try:
        backend.close()
    except Exception:  # closing a broken connection may fail; nothing left to do
        log.debug("close failed", exc_info=True)
