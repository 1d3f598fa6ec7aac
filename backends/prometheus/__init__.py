"""Prometheus (and what speaks its HTTP API: Thanos, Mimir, VictoriaMetrics) through
prometheus-api-client, without its pandas extras: instant and range queries, panels run in
parallel, each failing on its own ("query timed out after 10s") rather than the whole screen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.prometheus.adapter import PrometheusBackend

    return PrometheusBackend(source, settings)
