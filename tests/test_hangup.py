"""A dropped SSH session (SIGHUP) or a SIGTERM ends cockpit and every child the demo started."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT


def _prometheus_children(pid: int) -> list[psutil.Process]:
    try:
        return [c for c in psutil.Process(pid).children(recursive=True) if "prometheus" in c.name()]
    except psutil.NoSuchProcess:
        return []


def _drain(fd: int, done: threading.Event) -> None:
    while not done.is_set():
        if select.select([fd], [], [], 0.1)[0]:
            try:
                os.read(fd, 65536)
            except OSError:  # the other side closed
                return


@pytest.mark.skipif(not Path("/usr/bin/prometheus").exists(), reason="Debian's prometheus is not installed")
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_the_demo_ui_stops_its_children_on_hangup(tmp_path: Path, sig: signal.Signals) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "120", "LINES": "40"}
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "--demo"], stdin=follower, stdout=follower,
                            stderr=follower, env=env, cwd=tmp_path, start_new_session=True)
    os.close(follower)
    done = threading.Event()
    drainer = threading.Thread(target=_drain, args=(leader, done), daemon=True)  # as a terminal reads
    drainer.start()
    try:
        children: list[psutil.Process] = []
        deadline = time.monotonic() + 120  # a hang guard: the demo's Prometheus starts after the first frame
        while not children and time.monotonic() < deadline and proc.poll() is None:
            children = _prometheus_children(proc.pid)
            time.sleep(0.2)
        assert children, "the demo never started its Prometheus"
        proc.send_signal(sig)
        proc.wait(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], f"still running after {sig.name}: {[p.pid for p in alive]}"
    finally:
        done.set()
        drainer.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for c in _prometheus_children(proc.pid):
            c.kill()
        os.close(leader)
