"""The machine cockpit runs on: its CPU, memory and GPUs (psutil, NVML), no SDK to install."""

from __future__ import annotations

from cockpit.providers.base import Provider

PROVIDER = Provider(kind="local", title="this host", module="backends.local", roles=frozenset({"metrics"}))
