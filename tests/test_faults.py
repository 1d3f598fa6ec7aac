"""Faults, for every source kind: an endpoint that hangs, one that answers HTTP 500, one that resets
the connection. Each is a real `cockpit` subprocess against a misbehaving server on 127.0.0.1
(tests/fault_server.py): it must exit 1, show the source as degraded or down with a reason (never
ok), say so on stderr in one line naming the source, with no traceback, and it must end: a hung
SDK call must not keep the process alive after the hub gave up on it (issue 14, item 13).

The subprocess `timeout=` below is only a hang guard (generous for a loaded 2-core machine); no
test asserts how long anything took."""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import json
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.config import SourceConfig, load_config
from cockpit.contracts import ANY_SOURCE, MACHINES, SERIES, BackendTimeout
from cockpit.hub import Hub
from tests.conftest import ROOT, HangingSocket
from tests.fault_server import MODES, FaultServer

SOURCE = "flaky"
SUBSCRIPTION = "0b5c7e9a-1d3f-4a6b-8c0e-2f4a6c8e0b1d"
TOKEN_ENV = "COCKPIT_FAULT_TEST_TOKEN"
KINDS = ("aws", "gcp", "azure", "kubernetes", "mlflow", "prometheus")
LIST = {"aws": "vm list", "gcp": "vm list", "azure": "vm list", "libvirt": "vm list", "kubernetes": "node list",
        "mlflow": "model list", "prometheus": "metrics panels"}
"""One read of each kind's role, beside `sources`."""
TIMEOUT = {"gcp": 8.0, "mlflow": 8.0}
"""timeout_seconds per kind (default 3). The hub's first call on a source also imports its SDK and
builds the backend: google-cloud-compute (~2 s) and mlflow (~3 s) alone can spend 3 s on a loaded
2-core machine, and the fault would then never be reached (the server would see no request)."""
SDKS = {"aws": "boto3", "gcp": "google.cloud.compute_v1", "azure": "azure.mgmt.compute",
        "kubernetes": "kubernetes", "mlflow": "mlflow", "prometheus": "prometheus_api_client", "libvirt": "libvirt"}


def need_sdk(kind: str) -> None:
    pytest.importorskip(SDKS[kind], reason=f"the {kind} SDK is not installed")


def timeout_of(kind: str) -> float:
    return TIMEOUT.get(kind, 3.0)


# -- the misbehaving endpoint and the config that points a source at it ----------------------------
@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str, str], FaultServer]]:
    """`serve(kind, mode)`: a fault server for that kind (https with a fresh trustme CA for Azure,
    its PEM at tmp_path/ca.pem), stopped after the test."""
    servers: list[FaultServer] = []

    def start(kind: str, mode: str) -> FaultServer:
        tls = None
        if kind == "azure":
            from cockpit.sandbox.azure import tls as make_tls

            tls = make_tls(str(tmp_path / "ca.pem"))
        server = FaultServer(mode, tls)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def source_toml(kind: str, url: str, tmp_path: Path) -> str:
    """The kind's own keys for a source at `url`, with its SDK's retries kept few."""
    if kind == "aws":
        return f'endpoint_url = "{url}"\nregions = ["us-east-1"]\nmax_attempts = 2\n'
    if kind == "gcp":
        return f'endpoint = "{url}"\nanonymous = true\nprojects = ["gpu-lab"]\nmax_attempts = 2\n'
    if kind == "azure":
        return (f'endpoint = "{url}"\nca_bundle = "{tmp_path / "ca.pem"}"\ntoken_env = "{TOKEN_ENV}"\n'
                f'subscriptions = ["{SUBSCRIPTION}"]\nmax_attempts = 2\n')
    if kind == "kubernetes":
        from cockpit.sandbox.kube.server import write_kubeconfig

        write_kubeconfig(tmp_path / "kubeconfig", url, ["admin"])
        return f'kubeconfig = "{tmp_path / "kubeconfig"}"\ncontext = "admin"\n'
    if kind == "mlflow":
        return f'tracking_uri = "{url}"\n'
    if kind == "prometheus":
        return f'url = "{url}"\n'
    if kind == "libvirt":
        return f'uri = "{url}"\n'
    raise AssertionError(kind)


def write_config(tmp_path: Path, kind: str, url: str, timeout: float) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'local_machine = false\n\n[sources.{SOURCE}]\nkind = "{kind}"\ntimeout_seconds = {timeout:g}\n'
                    + source_toml(kind, url, tmp_path))
    return path


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            # fake credentials: the request must leave, and reach the fault
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            TOKEN_ENV: "fault-test-token",
            # mlflow's own retries back off for seconds; the other kinds get max_attempts in the config
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


def cockpit(tmp_path: Path, config: Path, timeout: float, *args: str) -> subprocess.CompletedProcess[str]:
    guard = 3 * timeout + 15  # a hang guard only: the process must end, however slow the machine
    try:
        return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], capture_output=True,
                              text=True, env=env_for(tmp_path), cwd=tmp_path, timeout=guard)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`cockpit {' '.join(args)}` was still running {guard:g}s after it started (timeout_seconds = "
                    f"{timeout:g}): a call the hub gave up on keeps the process alive\nstdout: {e.stdout!r}\n"
                    f"stderr: {e.stderr!r}")


def health_row(stdout: str) -> dict[str, str]:
    """The `sources` table's row for the source, by column."""
    lines = stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    assert header == ["SOURCE", "KIND", "HEALTH", "READ-ONLY", "LATENCY", "REASON"], stdout
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=len(header) - 1) for line in lines[1:]]
    mine = [r for r in rows if r[0] == SOURCE]
    assert len(mine) == 1, stdout
    return dict(zip(header, mine[0] + [""] * (len(header) - len(mine[0])), strict=True))


def one_line_naming_the_source(r: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{r.stderr}"
    assert SOURCE in lines[0], lines[0]
    return lines[0]


def check_reason(mode: str, reason: str) -> None:
    """What each fault must be reported as, beyond "not ok"."""
    assert reason.startswith(f"{SOURCE}:"), reason
    if mode in ("500", "reset"):
        # it answered (or broke) at once: that, not the hub's timeout, is what the person reads
        assert "no answer within" not in reason, reason
    if mode == "500":
        assert "cannot reach" not in reason, f"a source that answers 500 was reached: {reason}"
    if mode == "reset":
        assert not re.search(r"in time|timed out", reason), f"a connection reset is not a timeout: {reason}"


# -- the matrix: every kind x every fault x (sources, the kind's list) --------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_sources_reports_the_fault(tmp_path: Path, serve: Callable[[str, str], FaultServer], kind: str,
                                   mode: str) -> None:
    need_sdk(kind)
    server = serve(kind, mode)
    r = cockpit(tmp_path, write_config(tmp_path, kind, server.url, timeout_of(kind)), timeout_of(kind), "sources")
    assert r.returncode == 1, (r.stdout, r.stderr)
    row = health_row(r.stdout)
    # a source that answers 500 answered: it is degraded (BackendFault), not unreachable
    expected = {"hang": {"degraded"}, "500": {"degraded"}, "reset": {"degraded", "down"}}[mode]
    assert row["HEALTH"] in expected, row
    check_reason(mode, row["REASON"])
    line = one_line_naming_the_source(r)
    assert f"({SOURCE}: {row['HEALTH']})" in line, line
    assert server.requests >= 1, "the request never reached the fault server: this tested nothing"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_list_fails_in_one_line(tmp_path: Path, serve: Callable[[str, str], FaultServer], kind: str,
                                mode: str) -> None:
    need_sdk(kind)
    server = serve(kind, mode)
    r = cockpit(tmp_path, write_config(tmp_path, kind, server.url, timeout_of(kind)), timeout_of(kind),
                *LIST[kind].split())
    assert r.returncode == 1, (r.stdout, r.stderr)
    line = one_line_naming_the_source(r)
    check_reason(mode, line.removeprefix("cockpit: "))
    assert server.requests >= 1, "the request never reached the fault server: this tested nothing"


# libvirt speaks its own RPC over a unix socket, not HTTP: there is no HTTP 500 to give it, and a
# unix socket has no TCP reset. Only the hang applies (conftest's HangingSocket accepts libvirt's
# connection and never answers).
@pytest.fixture
def hanging_libvirt() -> Iterator[HangingSocket]:
    import shutil

    d = Path(tempfile.mkdtemp(prefix="ck-"))  # unix socket paths are limited to ~100 bytes
    hs = HangingSocket(d / "hang.sock")
    yield hs
    hs.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("command", ["sources", LIST["libvirt"]])
def test_libvirt_hang(tmp_path: Path, hanging_libvirt: HangingSocket, command: str) -> None:
    need_sdk("libvirt")
    config = write_config(tmp_path, "libvirt", hanging_libvirt.uri, 3.0)
    r = cockpit(tmp_path, config, 3.0, *command.split())
    assert r.returncode == 1, (r.stdout, r.stderr)
    line = one_line_naming_the_source(r)
    if command == "sources":
        row = health_row(r.stdout)
        assert row["HEALTH"] == "degraded", row
        check_reason("hang", row["REASON"])
        assert f"({SOURCE}: degraded)" in line, line
    assert hanging_libvirt.clients, "libvirt never connected to the hanging socket: this tested nothing"


# -- item 13: nothing is left that the interpreter would join at exit --------------------------------
def joined_at_exit() -> list[str]:
    """Threads Python waits for when the main thread ends: non-daemon threads (threading._shutdown),
    and live ThreadPoolExecutor workers (concurrent.futures joins them in its atexit hook)."""
    main = threading.main_thread()
    plain = [f"thread {t.name}" for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
    workers = [f"executor worker {t.name}" for t in list(concurrent.futures.thread._threads_queues)
               if t.is_alive()]
    return plain + workers


def test_probe_sees_an_executor_worker() -> None:
    """The check below can fail: a ThreadPoolExecutor worker stuck in a call is what it finds."""
    release = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stuck")
    pool.submit(release.wait)
    try:
        assert any(w.startswith("executor worker stuck") for w in joined_at_exit())
    finally:
        release.set()
        pool.shutdown(wait=True)
    assert not [w for w in joined_at_exit() if "stuck" in w]


def listing(hub: Hub, kind: str, cfg: SourceConfig) -> Any:
    """The read that fans out over the source's scopes or panels (`backends._fanout`)."""
    if kind == "prometheus":
        from cockpit.promql import snapshot

        return hub.call(cfg.name, SERIES, lambda b: snapshot(b, cfg))
    return hub.call(cfg.name, MACHINES, lambda b: b.list_machines())


@pytest.mark.parametrize("kind", ["aws", "gcp", "azure", "prometheus"])
def test_hung_call_leaves_nothing_to_join_at_exit(tmp_path: Path, serve: Callable[[str, str], FaultServer],
                                                  monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    need_sdk(kind)
    for k, v in env_for(tmp_path).items():
        if k.startswith(("AWS_", "COCKPIT_")):
            monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = serve(kind, "hang")
    hub = Hub(load_config(write_config(tmp_path, kind, server.url, 2.0)))
    try:
        # build the backend first (SDK import, no request), so the 2 s below are the source's alone
        hub.call(SOURCE, ANY_SOURCE, lambda b: None, timeout=120)
        assert joined_at_exit() == [], "something already waits to be joined before the hung call"
        with pytest.raises(BackendTimeout, match=rf"^{SOURCE}: no answer within 2s"):
            listing(hub, kind, hub.source(SOURCE))
        assert server.requests >= 1, "the request never reached the hung server: this tested nothing"
        # the hub gave up; the SDK call still hangs on the socket. Nothing of it may hold the exit.
        assert joined_at_exit() == []
    finally:
        hub.close()


# -- a Prometheus that answers 500 to everything ----------------------------------------------------
def test_prometheus_500_fails_panels_and_is_degraded(tmp_path: Path,
                                                     serve: Callable[[str, str], FaultServer]) -> None:
    need_sdk("prometheus")
    server = serve("prometheus", "500")
    config = write_config(tmp_path, "prometheus", server.url, 3.0)
    script = tmp_path / "ops.cockpit"
    script.write_text("metrics panels\nsources\n")
    r = cockpit(tmp_path, config, 3.0, "--script", str(script), "-o", "json", "--keep-going")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    panels, sources = (json.loads(x) for x in r.stdout.splitlines())
    assert panels["command"] == "metrics panels" and panels["exit_code"] == 1, panels
    assert re.match(rf"^{SOURCE}: query: HTTP 500", panels["error"]), panels
    assert sources["exit_code"] == 1, sources
    (row,) = sources["data"]
    assert row["source"] == SOURCE and row["health"] == "degraded", row
    assert re.match(rf"^{SOURCE}: ping: HTTP 500", row["reason"]), row
    assert sources["error"] == f"1 of 1 source not ok ({SOURCE}: degraded)"
    assert server.requests >= 2
