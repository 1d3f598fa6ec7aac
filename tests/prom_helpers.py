"""A real Prometheus for the tests: Debian's binary scraping the sandbox exporter in steady mode
(constant utilisation and latency, linear counters), with half an hour of history written in
through promtool, so figures on screen and in script output can be checked exactly."""

from __future__ import annotations

import math
import shutil

import pytest

from cockpit.sandbox.prom.fleet import BUCKETS, SERVED, Fleet, Served

prometheus_missing = pytest.mark.skipif(
    shutil.which("prometheus") is None and not shutil.which("/usr/bin/prometheus"),
    reason="Debian's prometheus package is not installed (./dev test installs it)")


def served(workload: str, cluster: str = "gpu-prod") -> Served:
    return next(s for s in SERVED if s.workload == workload and s.cluster == cluster)


def expected_quantile(q: float, s: Served) -> float:
    """What histogram_quantile gives for the exporter's buckets: linear inside the bucket."""
    cdf = Fleet(steady=True).latency_cdf(s)
    lower, below = 0.0, 0.0
    for le, share in zip(BUCKETS, cdf, strict=True):
        if share >= q:
            return lower + (le - lower) * (q - below) / (share - below)
        lower, below = le, share
    return math.inf
