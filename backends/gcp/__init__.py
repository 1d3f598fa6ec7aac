"""Google Compute Engine through google-cloud-compute, in one or more projects. The client costs
about a second to import: `create` defers it to the first call on the source, in a hub worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.gcp.adapter import GcpBackend

    return GcpBackend(source, settings)
