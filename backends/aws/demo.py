"""The demo's EC2 fleet, created in moto through the real boto3 client:
`python -m backends.aws.demo ENDPOINT FLEET_JSON` (the sandbox runs it with its FLEET; the core
never imports boto3)."""

from __future__ import annotations

import json
import sys
from typing import Any

AMI = "ami-12c6146b"  # one of moto's built-in images



def seed(endpoint: str, fleets: dict[str, list[list[Any]]]) -> None:
    """`fleets`: region -> [Name, type, spot, running, tags] per instance."""
    import boto3  # type: ignore[import-untyped]

    for region, fleet in fleets.items():
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
        for name, kind, spot, running, tags in fleet:
            extra: dict[str, Any] = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
            got = ec2.run_instances(ImageId=AMI, InstanceType=kind, MinCount=1, MaxCount=1, TagSpecifications=[{
                "ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name},
                                                     *({"Key": k, "Value": v} for k, v in tags.items())]}], **extra)
            if not running:
                ec2.stop_instances(InstanceIds=[got["Instances"][0]["InstanceId"]])


if __name__ == "__main__":
    seed(sys.argv[1], json.loads(sys.argv[2]))
