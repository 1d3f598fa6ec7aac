"""The demo's canaries serve (cockpit.sandbox.canaries): a guarded rollout of the healthy version
promotes itself and one of the bad version (llama-70b-chat v7: three times slower, 6% errors)
rolls itself back, on the built-in gates read from a real Prometheus scraping the canary's own
series, with demo-sized intervals. Its own Prometheus: the canaries' series must not reach the
session's, which other tests (the Metrics snapshots) read."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import Context, build_registry
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from cockpit.ops.journal import Journal
from cockpit.sandbox import kube_source, prom_source
from cockpit.sandbox.canaries import canary_pods
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.conftest import FIXED_NOW
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.test_rollout import canary_gone, model_env

pytestmark = [kubectl_missing, prometheus_missing]

LINE = ("rollout start reg/llama-70b-chat --to gpu-prod/inference/llama-70b --steps 50,100 --interval 6s "
        "--prometheus prom --gate 'error_rate < 1%' --gate 'p95 < 3s' --failures 1 ")


@pytest.fixture
def demo(kube: KubeFake, db: Path, tmp_path: Path) -> Iterator[Context]:
    """The demo's wiring: a Prometheus whose exporter serves the cluster's canary pods too."""
    server = PromServer(Path(tempfile.mkdtemp(prefix="cockpit-test-canary-prom-")), steady=True, scrape_s=2.0)
    server.fleet.extra = lambda: canary_pods(kube.store, "gpu-prod")
    server.start()
    server.wait_for_data('up{job="dcgm-demo"} == 1')
    sources = (kube_source("gpu-prod", kube.kubeconfig),
               SourceConfig("reg", "mlflow", timeout_seconds=60, settings={"tracking_uri": f"sqlite:///{db}"}),
               prom_source("prom", server.url))
    h = Hub(Config(sources=sources, audit_path=tmp_path / "audit.jsonl"), now=lambda: FIXED_NOW)
    try:
        yield Context(hub=h, audit=AuditLog(h.config.audit_path), origin="script", journal=Journal(h.now))
    finally:
        h.close()
        server.stop()


def test_the_healthy_version_promotes_itself_and_the_bad_one_rolls_back(demo: Context, kube: KubeFake) -> None:
    good = build_registry().run_line(LINE + "--version 6", demo, yes=True)
    assert good.status == "ok", good.error
    assert model_env(kube) == "models:/llama-70b-chat/6" and canary_gone(kube)
    readings = good.outcome.data["readings"]
    assert readings and re.search(r"error_rate < 1%: 0\.\d+% ok; p95 < 3s: (\d+ms|[12]\.\d\ds) ok", readings[-1])

    bad = build_registry().run_line(LINE + "--version 7", demo, yes=True)
    assert (bad.status, bad.exit_code) == ("failed", 1), bad.error
    assert "rolled back at 50%" in str(bad.error) and "FAILS" in str(bad.error)
    assert model_env(kube) == "models:/llama-70b-chat/6" and canary_gone(kube)  # the stable stayed
