"""The demo leaves nothing behind: once `cockpit --demo` has exited, its Prometheus child is gone,
nothing of it listens on the emulators' ports, and the emulators' work directories are removed."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT

SCRIPT = "node list\nmetrics panels\nvm list\n"  # the Kubernetes fakes, Prometheus, libvirt and the clouds


def _listening(p: psutil.Process) -> set[int]:
    return {c.laddr.port for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


@pytest.mark.skipif(not Path("/usr/bin/prometheus").exists(), reason="Debian's prometheus is not installed")
def test_a_demo_script_stops_every_emulator_it_started(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"  # the demo's work directories (and Prometheus's data, on its command line) land here
    tmp.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    (tmp_path / "script.cockpit").write_text(SCRIPT)
    with (tmp_path / "script.cockpit").open("rb") as stdin, (tmp_path / "out").open("wb") as out, \
            (tmp_path / "err").open("wb") as err:
        proc = psutil.Popen([sys.executable, "-m", "cockpit", "--demo", "--script", "-"], stdin=stdin,
                            stdout=out, stderr=err, env=env, cwd=tmp_path)
        ours: dict[int, psutil.Process] = {proc.pid: proc}
        ports: set[int] = set()
        deadline = time.monotonic() + 300  # a hang guard only: nothing here is timed
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(psutil.Error):  # a process that ends between two looks
                    ours |= {c.pid: c for c in proc.children(recursive=True)}
                    for p in list(ours.values()):
                        ports |= _listening(p)
                time.sleep(0.05)
            assert proc.poll() is not None, "the demo script did not end"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = (tmp_path / "out").read_text()
    assert proc.returncode == 0, (tmp_path / "err").read_text()
    assert "prom    GPU util" in output and "gpu-prod/a100-01" in output  # Prometheus and the kube fake answered
    assert ports, "the demo listened on no port while it ran"

    # Prometheus runs with its data under TMPDIR: any process still naming it is the demo's, left behind
    left = [p for p in psutil.process_iter(["cmdline", "cwd"])
            if str(tmp) in " ".join(p.info["cmdline"] or ()) + " " + (p.info["cwd"] or "")]
    for p in left:  # a failing run must not leave them to the next one
        with contextlib.suppress(psutil.Error):
            p.kill()
    assert left == [], f"still running after the demo exited: {[p.info['cmdline'] for p in left]}"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in ours.values())
    held = [c for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in ports and c.pid in ours]
    assert held == []
    assert list(tmp.iterdir()) == []  # the work directories went after the emulators had stopped
