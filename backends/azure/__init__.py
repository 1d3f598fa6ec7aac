"""Azure VMs through azure-mgmt-compute, in one or more subscriptions. The SDK costs most of a
second to import: `create` defers it to the first call on the source, in a hub worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.azure.adapter import AzureBackend

    return AzureBackend(source, settings)
