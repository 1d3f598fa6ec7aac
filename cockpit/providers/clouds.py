"""What the three clouds' descriptors share: their roles, actions and the provision form's common fields."""

from __future__ import annotations

from cockpit.providers.base import MACHINE_ACTIONS, FormField

CLOUD_ROLES = frozenset({"machines", "provisioning", "spend", "prices"})
"""A cloud account: its machines, instances from a type and an image, its billing, its price API."""
CLOUD_CAPABILITIES = MACHINE_ACTIONS | {"destroy", "provision"}
TAGS = FormField("--tag", "tags", "team=ml env=dev", many=True)
SPOT = (FormField("--spot", "spot capacity", flag=True),
        FormField("--fallback", "on-demand if spot is refused", flag=True))
COUNT = FormField("--count", "count", "1")


NAME = FormField("--name", "name", "train", required=True)
