"""Kubernetes: nodes and their GPUs, Deployments, HPAs and KServe InferenceServices, through the
official `kubernetes` client, for one kubeconfig context per source.

`create` is what the hub calls; the client is imported inside it, never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.kubernetes.adapter import KubeBackend

    namespaces = settings.get("namespaces")
    return KubeBackend(
        source,
        kubeconfig=settings.get("kubeconfig"),
        context=settings.get("context"),
        namespaces=tuple(namespaces) if namespaces else None,
        read_only=bool(settings.get("read_only", False)),
        request_timeout=float(settings.get("request_timeout", 15.0)),
    )
