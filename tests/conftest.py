"""Shared fixtures. Everything runs against real components: libvirt's own test driver on the
shipped demo hosts, real subprocesses for the script mode, Textual's Pilot for the UI."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXED_NOW = datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC)

os.environ["TZ"] = "UTC"
if hasattr(time, "tzset"):
    time.tzset()


@pytest.fixture(autouse=True)
def isolated_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the developer's real config, audit log or cockpit.log."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    from cockpit.prices import current

    current.cache_clear()  # the catalogue is read once per process: a refresh in one test stays in it
    return tmp_path


@pytest.fixture(autouse=True)
def fresh_process_caches() -> Iterator[None]:
    """Every process-wide memory of an answer starts empty and is left empty, so that no test
    passes (or fails) because of the one that ran before it: the kept billing answers, the price
    catalogue read from the cache file, the last cost allocations."""
    from cockpit.allocation import _MEMO
    from cockpit.prices import current
    from cockpit.state.spend import forget

    def clear() -> None:
        forget()
        current.cache_clear()
        _MEMO.clear()

    clear()
    yield
    clear()


@pytest.fixture
def demo_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    from cockpit.sandbox import demo_config as make

    return make(audit_path=tmp_path / "audit.jsonl")


@pytest.fixture
def hub(demo_config):  # type: ignore[no-untyped-def]
    from cockpit.hub import Hub

    h = Hub(demo_config, now=lambda: FIXED_NOW)
    yield h
    h.close()


@pytest.fixture
def ctx(hub):  # type: ignore[no-untyped-def]
    from cockpit.audit import AuditLog
    from cockpit.commands import Context

    return Context(hub=hub, audit=AuditLog(hub.config.audit_path), origin="script")


@pytest.fixture
def registry():  # type: ignore[no-untyped-def]
    from cockpit.commands import build_registry

    return build_registry()


class HangingSocket:
    """A unix socket that accepts libvirt's connection and never answers: a source that hangs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.clients: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.clients.append(conn)  # read nothing, answer nothing
            except (TimeoutError, OSError):
                continue

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.path}"

    def close(self) -> None:
        self._stop = True
        for c in self.clients:
            c.close()
        self.sock.close()


@pytest.fixture
def hanging_socket(tmp_path: Path) -> Iterator[HangingSocket]:
    # unix socket paths are limited to ~100 bytes; tmp_path can be longer
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="ck-"))
    hs = HangingSocket(d / "hang.sock")
    yield hs
    hs.close()


def with_sources(config, *sources):  # type: ignore[no-untyped-def]
    return replace(config, sources=tuple(config.sources) + tuple(sources))


def cockpit_cmd() -> list[str]:
    return [sys.executable, "-m", "cockpit"]


@pytest.fixture
def kube(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The demo's Kubernetes cluster in the API fake, on a fixed clock, stopped after the test."""
    from tests.kube_helpers import reset_clock, seeded_fake

    fake = seeded_fake(tmp_path / "kube", FIXED_NOW)
    yield fake
    fake.stop()
    reset_clock()


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's MLflow registry (sqlite). Seeding takes seconds (mlflow creates its schema):
    once per session, copied per test by `db`."""
    from backends.mlflow.demo import backdate, seed

    d = tmp_path_factory.mktemp("mlflow-seed")
    seed(f"sqlite:///{d / 'registry.db'}", d / "artifacts")
    backdate(d / "registry.db", FIXED_NOW)
    return d / "registry.db"


@pytest.fixture
def db(seeded_db: Path, tmp_path: Path) -> Path:
    import shutil

    path = tmp_path / "registry.db"
    shutil.copy(seeded_db, path)
    return path


def audit_entries(ctx):  # type: ignore[no-untyped-def]
    """The audit log a command context wrote, as dicts, oldest first."""
    return read_audit(ctx.audit.path)


def read_audit(path: Path) -> list[dict[str, Any]]:
    """An audit log file as cockpit reads it back: one dict per operation (its intent and outcome
    lines joined) or refusal, oldest first."""
    from dataclasses import asdict

    from cockpit.audit import AuditLog

    return [asdict(e) for e in AuditLog(path).read()[0]]


@pytest.fixture(scope="session")
def prom() -> Iterator[Any]:
    """Debian's real Prometheus scraping the sandbox exporter in steady mode (constant GPU figures,
    linear counters) every 2 s, with seven minutes of history at that spacing written in through promtool."""
    import tempfile

    from cockpit.sandbox.prom import PromServer

    server = PromServer(Path(tempfile.mkdtemp(prefix="cockpit-test-prom-")), steady=True, history_s=420,
                        scrape_s=2.0).start()
    # history answers at once; the live scrape (and so rate() over the newest points) needs a few seconds
    server.wait_for_data('up{job="dcgm-demo"} == 1')
    time.sleep(max(0.0, server.started + 6 - time.time()))
    yield server
    server.stop()
