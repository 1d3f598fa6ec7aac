"""Amazon EC2: instances in one or more regions of an account."""

from __future__ import annotations

import re

from cockpit.providers.base import FormField, Provider
from cockpit.providers.clouds import CLOUD_CAPABILITIES, CLOUD_ROLES, COUNT, NAME, SPOT, TAGS


def region(zone: str) -> str:
    """us-east-1a -> us-east-1 (a region passes unchanged)."""
    return re.sub(r"(?<=\d)[a-z]$", "", zone)


PROVIDER = Provider(
    kind="aws", title="EC2", module="backends.aws", roles=CLOUD_ROLES, extra="aws",
    capabilities=CLOUD_CAPABILITIES,
    destroy_verb="terminate", destroy_note="with the EBS volumes marked DeleteOnTermination",
    where="region", where_setting="regions",
    form=(
        FormField("where", "region", "us-east-1", required=True),
        FormField("--type", "instance type", "g5.xlarge", required=True),
        FormField("--image", "AMI", "ami-0123456789abcdef0", required=True),
        NAME, COUNT, *SPOT,
        FormField("--max-price", "spot max $/h", "0.50"),
        FormField("--disk", "root disk", "200G"),
        FormField("--subnet", "subnet id", "subnet-..."),
        TAGS,
    ),
    not_taken={"--accelerator": "an instance type comes with its GPUs",
               "--ssh-key": "key pairs are set in AWS",
               "--group": "EC2 has no resource groups"},
    region=region, catalogue=True,
    spot_labels=(("eks.amazonaws.com/capacityType", "spot"), ("karpenter.sh/capacity-type", "spot")),
    node_labels=("eks.amazonaws.com/", "karpenter.k8s.aws/", "alpha.eksctl.io/"),
    price_api="AWS Price List API",
)
