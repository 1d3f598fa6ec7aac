"""Google Compute Engine: instances in the zones of one or more projects."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cockpit.providers.base import MACHINE_ACTIONS, FormField, Provider
from cockpit.providers.clouds import CLOUD_ROLES, COUNT, NAME, SPOT, TAGS


def region(zone: str) -> str:
    """us-central1-a -> us-central1 (a region passes unchanged)."""
    return re.sub(r"-[a-z]$", "", zone)


def zone_in(region: str, zones: Sequence[str]) -> str:
    """Compute Engine provisions in a zone: the source's own in that region, else the region's `-a`."""
    mine = [z for z in zones if z.startswith(region + "-")]
    return mine[0] if mine else f"{region}-a"


PROVIDER = Provider(
    kind="gcp", title="Compute Engine", module="backends.gcp",
    # no `spend` role: Google gives billed cost only as a BigQuery export (see spend_unread)
    roles=CLOUD_ROLES - {"spend"}, extra="gcp",
    capabilities=(MACHINE_ACTIONS - {"force-off"}) | {"destroy", "provision"},
    refusals={"force-off": "its stop always lets the guest shut down; there is no power-off at once: use stop"},
    destroy_verb="terminate", destroy_note="with the disks marked autoDelete",
    where="zone", where_setting="zones",
    form=(
        FormField("where", "zone", "us-central1-a", required=True),
        FormField("--type", "machine type", "a2-highgpu-1g", required=True),
        FormField("--image", "image", "family/debian-12", required=True),
        NAME, COUNT, *SPOT,
        FormField("--accelerator", "GPUs (N1)", "nvidia-tesla-t4:1", many=True),
        FormField("--disk", "boot disk", "200G"),
        FormField("--group", "project", "first of the source's"),
        TAGS,
    ),
    not_taken={"--max-price": "spot VMs have no maximum price",
               "--subnet": "the default network is used",
               "--ssh-key": "OS Login is used"},
    zone_in=zone_in,
    region=region, catalogue=True,
    gpus_apart=lambda machine_type: machine_type.startswith("n1-"),  # N1 + attached GPUs, each priced
    spot_labels=(("cloud.google.com/gke-spot", "true"),),
    node_labels=("cloud.google.com/",),
    price_api="Cloud Billing Catalog API",
    spend_unread="Compute Engine's actual spend is not read: Google gives it only as a Cloud Billing export to "
                 "BigQuery (console: Billing > Billing export); its burn rate is shown from the catalogue",
)
