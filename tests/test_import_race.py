"""Two SDKs imported at once from hub worker threads must not see each other's half-imported modules.

Before the process-wide SDK import lock, about one demo start in three failed the Kubernetes and
Compute Engine sources for the whole run with `module 'requests' has no attribute 'exceptions'`
(kubernetes' kube_config and google.auth both import requests), while `sources` said ok. Each run
here is a cold interpreter building both backends in parallel through the hub, as the demo does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest.importorskip("kubernetes")
pytest.importorskip("google.cloud.compute_v1")

CHILD = """
import json, sys
from cockpit.config import load_config
from cockpit.contracts import ANY_SOURCE
from cockpit.hub import Hub

from pathlib import Path
hub = Hub(load_config(Path(sys.argv[1])))
got = hub.call_many(["k8s", "gce", "k8s-2", "gce-2"], ANY_SOURCE, lambda b: type(b).__name__)
print(json.dumps({n: (r if isinstance(r, str) else "error: " + r.message) for n, r in got.items()}
                 | {"health": {h.source: h.state.value for h in hub.health_all()}}))
"""

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "http://127.0.0.1:9"}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
users:
- name: u
  user: {token: not-a-secret}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    cfg = tmp_path / "config.toml"
    sources = ""
    for suffix in ("", "-2"):
        sources += f"""
[sources.k8s{suffix}]
kind = "kubernetes"
kubeconfig = "{tmp_path / 'kubeconfig'}"

[sources.gce{suffix}]
kind = "gcp"
endpoint = "http://127.0.0.1:9"
anonymous = true
projects = ["demo"]
"""
    cfg.write_text(sources)
    return cfg


def test_two_sdks_imported_at_once_in_cold_interpreters(tmp_path: Path, config: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    failures = []
    for attempt in range(20):
        r = subprocess.run([sys.executable, "-c", CHILD, str(config)], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        health = got.pop("health")
        if got != {"k8s": "KubeBackend", "gce": "GcpBackend", "k8s-2": "KubeBackend", "gce-2": "GcpBackend"}:
            failures.append((attempt, got, health))
    assert failures == []


CLOUDS = """
import json, sys
from cockpit.contracts import ANY_SOURCE
from cockpit.hub import Hub
from cockpit.sandbox import demo_config, stopping
from cockpit.sandbox.aws import LazyAws
from cockpit.sandbox.azure import LazyAzure
from cockpit.sandbox.gcp import LazyGce

hub = Hub(demo_config(aws=LazyAws(), gcp=LazyGce(), azure=LazyAzure(), audit_path=None))
got = hub.call_many(["aws", "gcp", "azure"], ANY_SOURCE, lambda b: len(b.list_machines()))
print(json.dumps({n: (r if isinstance(r, int) else "error: " + r.message) for n, r in got.items()}
                 | {"moto in this process": "moto" in sys.modules}))
hub.close()
stopping.stop_all()
"""


def test_the_demo_clouds_start_at_once_and_moto_runs_in_its_own_process(tmp_path: Path) -> None:
    """CI saw `gcp: unexpected AttributeError: module 'requests' has no attribute 'exceptions'` from
    `cockpit --demo sources`: moto, started in-process by the AWS source's prepare hook, imported
    requests outside the SDK import lock while google.auth imported it under the lock. moto now runs
    as a child process, and the other emulators' imports take the lock."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", CLOUDS], capture_output=True, text=True, env=env, timeout=240)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert got.pop("moto in this process") is False
        assert all(isinstance(n, int) and n > 0 for n in got.values()), got
