"""Microsoft Azure: virtual machines in one or more subscriptions."""

from __future__ import annotations

import re

from cockpit.providers.base import FormField, Provider
from cockpit.providers.clouds import CLOUD_CAPABILITIES, CLOUD_ROLES, COUNT, NAME, SPOT, TAGS


def region(location: str) -> str:
    """eastus-1 (a zonal VM) -> eastus."""
    return re.sub(r"-\d+$", "", location)


def billed_off(native_state: str) -> bool:
    """A VM powered off but still allocated bills until it is deallocated (the portal's Stop deallocates)."""
    return "allocated" in native_state and "deallocated" not in native_state


def geography(region: str) -> str:
    """Azure's `eastus` and `westeurope` read as `us-eastus` and `europe-westeurope`, as EC2's
    `us-east-1` and Compute Engine's `europe-west4` already do, so a prefix picks a geography."""
    for geo, pattern in (("us", r"us\d*$"), ("europe", r"europe$|^uk|^france|^germany|^norway|^sweden|^switzerland"),
                         ("asia", r"asia|^japan|^korea|^india")):
        if re.search(pattern, region):
            return f"{geo}-{region}"
    return region


PROVIDER = Provider(
    kind="azure", title="Azure", module="backends.azure", roles=CLOUD_ROLES, extra="azure",
    capabilities=CLOUD_CAPABILITIES,
    destroy_verb="terminate", destroy_note="with the disks and NICs whose deleteOption is Delete",
    where="region",
    form=(
        FormField("where", "region", "eastus", required=True),
        FormField("--type", "size", "Standard_NC24ads_A100_v4", required=True),
        FormField("--image", "image", "Canonical:ubuntu-24_04-lts:server:latest", required=True),
        NAME, COUNT, *SPOT,
        FormField("--max-price", "spot max $/h", "1.20"),
        FormField("--group", "resource group", "ml-train", required=True, why="the resource group"),
        FormField("--subnet", "subnet id", "/subscriptions/...", required=True,
                  why="a subnet's resource id: the VM's NIC is created in it"),
        FormField("--ssh-key", "ssh public key", "~/.ssh/id_ed25519.pub", required=True,
                  why="the admin user's public key"),
        FormField("--disk", "OS disk", "256G"),
        TAGS,
    ),
    not_taken={"--accelerator": "a size comes with its GPUs"},
    region=region, catalogue=True, billed_off=billed_off, geography=geography,
    spot_labels=(("kubernetes.azure.com/scalesetpriority", "spot"),),
    node_labels=("kubernetes.azure.com/",),
    price_api="Azure retail prices API",
)
