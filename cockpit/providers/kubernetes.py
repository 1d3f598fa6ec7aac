"""Kubernetes: one context of a kubeconfig (a cluster), its GPU nodes and what serves models on it."""

from __future__ import annotations

from cockpit.providers.base import Provider

PROVIDER = Provider(
    kind="kubernetes", title="Kubernetes", module="backends.kubernetes", roles=frozenset({"clusters"}),
    extra="kubernetes",
    capabilities=frozenset({"cordon", "drain", "scale", "restart", "rollback", "set-image", "hpa", "isvc"}),
)
