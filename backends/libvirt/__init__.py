"""libvirt: HPC VMs with GPU PCI passthrough, on any URI libvirt accepts.

`create` is what the hub calls; the SDK (libvirt-python) is imported inside it, never at
import time of this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.libvirt.adapter import LibvirtBackend

    return LibvirtBackend(
        source,
        uri=str(settings["uri"]),
        location=settings.get("location"),
        read_only=bool(settings.get("read_only", False)),
    )
