"""What the rollout tests stand up: a Prometheus of their own (a rollout's canary series, or one
the test stops, must not reach the session's, which the Metrics snapshots read), and the sources
and context a rollout runs with (the Kubernetes fake, the MLflow registry, that Prometheus)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cockpit.audit import AuditLog
from cockpit.commands import Context
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from cockpit.ops.journal import Journal
from cockpit.sandbox import kube_source, prom_source
from cockpit.sandbox.canaries import canary_pods
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.prom import PromServer
from tests.conftest import FIXED_NOW


@contextmanager
def own_prometheus(kube: KubeFake | None = None) -> Iterator[PromServer]:
    """Debian's Prometheus over the steady demo exporter; with `kube`, the cluster's canary and
    predictor pods serve in it too (the demo's wiring), with the figures of the model they run."""
    server = PromServer(Path(tempfile.mkdtemp(prefix="cockpit-test-own-prom-")), steady=True, scrape_s=2.0)
    if kube is not None:
        server.fleet.extra = lambda: canary_pods(kube.store, "gpu-prod")
    server.start()
    try:
        server.wait_for_data('up{job="dcgm-demo"} == 1')
        yield server
    finally:
        server.stop()


def rollout_sources(kube: KubeFake, db: Path, prom_url: str) -> tuple[SourceConfig, ...]:
    return (kube_source("gpu-prod", kube.kubeconfig),
            SourceConfig("reg", "mlflow", timeout_seconds=60, settings={"tracking_uri": f"sqlite:///{db}"}),
            prom_source("prom", prom_url))


@contextmanager
def rollout_context(kube: KubeFake, db: Path, tmp_path: Path, prom_url: str) -> Iterator[Context]:
    """A script-mode context over those sources, its audit log in `tmp_path`, on the fixed clock."""
    h = Hub(Config(sources=rollout_sources(kube, db, prom_url), audit_path=tmp_path / "audit.jsonl"),
            now=lambda: FIXED_NOW)
    try:
        yield Context(hub=h, audit=AuditLog(h.config.audit_path), origin="script", journal=Journal(h.now))
    finally:
        h.close()
