"""One descriptor per kind of source (see base.Provider): the one place a kind's rules live.

Everything that used to branch on a kind's name (`if provider == "azure"`) asks its descriptor
instead: the hub (module, roles, SDK extra), the config (schema), costs (region, billing rules),
the provision form and `vm provision` (fields and options), the machine actions (capabilities,
destroy verb) and the catalogue refresh (price API).
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.providers import aws, azure, gcp, kubernetes, libvirt, local, mlflow, prometheus
from cockpit.providers.base import MACHINE_ACTIONS, FormField, Provider

__all__ = ["MACHINE_ACTIONS", "PROVIDERS", "FormField", "Provider", "clouds", "provider", "region_of"]

PROVIDERS: Mapping[str, Provider] = {p.kind: p for p in (
    libvirt.PROVIDER, aws.PROVIDER, gcp.PROVIDER, azure.PROVIDER, kubernetes.PROVIDER, mlflow.PROVIDER,
    local.PROVIDER, prometheus.PROVIDER)}
"""Kinds this build knows, in the order `help` and errors list them."""


def provider(kind: str) -> Provider | None:
    return PROVIDERS.get(kind)


def clouds() -> tuple[Provider, ...]:
    """The kinds priced from the catalogue (the clouds), by name."""
    return tuple(sorted((p for p in PROVIDERS.values() if p.catalogue), key=lambda p: p.kind))


def region_of(kind: str, location: str) -> str:
    """A machine's billing region from its location (a zone's region; libvirt: its host; `on-prem`
    and unknown kinds: the location as given)."""
    p = PROVIDERS.get(kind)
    return p.region(location) if p is not None else location
