"""The demo's canaries serve (cockpit.sandbox.canaries): a guarded rollout of the healthy version
promotes itself and one of the bad version (llama-70b-chat v7: three times slower, 6% errors)
rolls itself back, on the built-in gates read from the real Prometheus scraping the canary's own
series, with demo-sized intervals."""

from __future__ import annotations

import re
from pathlib import Path

from cockpit.commands import Context, build_registry
from cockpit.sandbox.canaries import canary_pods
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.kube_helpers import kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.test_rollout import canary_gone, ctx, model_env

pytestmark = [kubectl_missing, prometheus_missing]
__all__ = ["ctx"]

LINE = ("rollout start reg/llama-70b-chat --to gpu-prod/inference/llama-70b --steps 50,100 --interval 6s "
        "--prometheus prom --gate 'error_rate < 1%' --gate 'p95 < 3s' --failures 1 ")


def test_the_healthy_version_promotes_itself_and_the_bad_one_rolls_back(ctx: Context, kube: KubeFake,
                                                                      prom: PromServer, tmp_path: Path) -> None:
    prom.fleet.extra = lambda: canary_pods(kube.store, "gpu-prod")
    try:
        good = build_registry().run_line(LINE + "--version 6", ctx, yes=True)
        assert good.status == "ok", good.error
        assert model_env(kube) == "models:/llama-70b-chat/6" and canary_gone(kube)
        readings = good.outcome.data["readings"]
        assert readings and re.search(r"error_rate < 1%: 0\.\d+% ok; p95 < 3s: \d+ms ok", readings[-1])

        bad = build_registry().run_line(LINE + "--version 7", ctx, yes=True)
        assert (bad.status, bad.exit_code) == ("failed", 1), bad.error
        assert "rolled back at 50%" in str(bad.error) and "FAILS" in str(bad.error)
        assert model_env(kube) == "models:/llama-70b-chat/6" and canary_gone(kube)  # the stable stayed
    finally:
        prom.fleet.extra = lambda: ()
