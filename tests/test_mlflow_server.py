"""The registry over HTTP: a real `mlflow server` subprocess on a copy of the seeded registry, the
script mode driving every model command against it, MlflowClient reading back over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

MLFLOW = Path(sys.executable).with_name("mlflow")
pytestmark = pytest.mark.skipif(not MLFLOW.exists(), reason="the mlflow server is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("mlflow-server")
    shutil.copy(seeded_db, d / "registry.db")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen([str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{d / 'registry.db'}",
                             "--default-artifact-root", str(d / "artifacts"), "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, cwd=d)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("mlflow server did not start")
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(10)


def cockpit(tmp_path: Path, url: str, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.reg]\nkind = "mlflow"\ntracking_uri = "{url}"\ntimeout_seconds = 60\n')
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-", *args],
                          input=script, capture_output=True, text=True, env=env, timeout=120)


def client(url: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def test_every_model_command_over_http(server: str, tmp_path: Path) -> None:
    script = """\
model list
model show bge-reranker
model compare fraud-detector 4 5
model alias-history fraud-detector --alias production
model promote fraud-detector 5 --alias production
model rollback fraud-detector --alias production
model promote bge-reranker 1 --alias staging
model tag bge-reranker owner=search-team
"""
    r = cockpit(tmp_path, server, script, "-o", "json", "--yes")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["status"] for o in out] == ["ok"] * 8
    assert {m["name"]: m["latest_version"] for m in out[0]["data"]}["fraud-detector"] == 5  # int, not "5"
    assert [v["version"] for v in out[1]["data"]["versions"]] == [2, 1]
    assert {row["key"]: row["differs"] for row in out[2]["data"]["rows"]}["auc"] is True
    c = client(server)
    model = c.get_registered_model("fraud-detector")
    assert int(model.aliases["production"]) == 4  # promoted to 5, rolled back to 4
    history = json.loads(model.tags["cockpit.alias_history.production"])
    assert [(h["previous"], h["version"]) for h in history][-2:] == [(4, 5), (5, 4)]
    assert int(c.get_registered_model("bge-reranker").aliases["staging"]) == 1
    assert c.get_registered_model("bge-reranker").tags["owner"] == "search-team"


def test_a_registry_that_is_not_there(tmp_path: Path) -> None:
    r = cockpit(tmp_path, f"http://127.0.0.1:{free_port()}", "model list\n")
    assert r.returncode == 1 and "reg: cannot reach the registry" in r.stderr and "Traceback" not in r.stderr
