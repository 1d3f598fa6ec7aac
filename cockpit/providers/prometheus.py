"""Prometheus (or anything speaking its HTTP API: Thanos, Mimir, VictoriaMetrics): series to read."""

from __future__ import annotations

from cockpit.providers.base import Provider

PROVIDER = Provider(kind="prometheus", title="Prometheus", module="backends.prometheus",
                    roles=frozenset({"series"}), extra="prometheus")
