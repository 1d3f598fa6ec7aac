"""The demo's canaries serve (cockpit.sandbox.canaries): a guarded rollout of the healthy version
promotes itself and one of the bad version (llama-70b-chat v7: three times slower, 6% errors)
rolls itself back, on the built-in gates read from a real Prometheus scraping the canary's own
series, with demo-sized intervals. Its own Prometheus: the canaries' series must not reach the
session's, which other tests (the Metrics snapshots) read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.commands import Context, build_registry
from cockpit.sandbox.kube.server import KubeFake
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.rollout_helpers import own_prometheus, rollout_context
from tests.test_rollout import canary_gone, model_env

pytestmark = [kubectl_missing, prometheus_missing]

LINE = ("rollout start reg/llama-70b-chat --to gpu-prod/inference/llama-70b --steps 50,100 --interval 6s "
        "--prometheus prom --gate 'error_rate < 1%' --gate 'p95 < 3s' --failures 1 ")


@pytest.fixture
def demo(kube: KubeFake, db: Path, tmp_path: Path) -> Iterator[Context]:
    """The demo's wiring: a Prometheus whose exporter serves the cluster's canary pods too."""
    with own_prometheus(kube) as server, rollout_context(kube, db, tmp_path, server.url) as ctx:
        yield ctx


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
