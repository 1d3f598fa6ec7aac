"""The machine the cockpit runs on: CPU and memory through psutil, GPUs through NVML
(nvidia-ml-py). The zero-config default: on a GPU box or a bastion it shows that machine's truth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.local.adapter import LocalBackend

    return LocalBackend(source)
