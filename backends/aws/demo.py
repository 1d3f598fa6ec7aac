"""The demo's EC2 fleet, created in moto through the real boto3 client:
`python -m backends.aws.demo ENDPOINT` (the sandbox runs it; the core never imports boto3)."""

from __future__ import annotations

import sys
from typing import Any

AMI = "ami-12c6146b"  # one of moto's built-in images

FLEET: dict[str, tuple[tuple[str, str, bool, bool, dict[str, str]], ...]] = {
    # region: (Name, type, spot, running, tags)
    "us-east-1": (
        ("llm-pretrain-0", "p4d.24xlarge", True, True, {"team": "llm-pretrain", "env": "prod"}),
        ("llm-pretrain-1", "p4d.24xlarge", True, True, {"team": "llm-pretrain", "env": "prod"}),
        ("infer-a10g-1", "g5.xlarge", False, True, {"team": "serving", "env": "prod"}),
        ("h100-dev", "p5.48xlarge", False, False, {"team": "research", "env": "dev"}),
        ("bastion", "t3.large", False, True, {"team": "platform"}),
    ),
    "us-west-2": (
        ("batch-embed", "g5.12xlarge", True, True, {"team": "search", "env": "prod"}),
        ("notebook-l4", "g6.xlarge", False, False, {"team": "research", "env": "dev"}),
    ),
}



def seed(endpoint: str) -> None:
    import boto3  # type: ignore[import-untyped]

    for region, fleet in FLEET.items():
        ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
        for name, kind, spot, running, tags in fleet:
            extra: dict[str, Any] = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
            got = ec2.run_instances(ImageId=AMI, InstanceType=kind, MinCount=1, MaxCount=1, TagSpecifications=[{
                "ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name},
                                                     *({"Key": k, "Value": v} for k, v in tags.items())]}], **extra)
            if not running:
                ec2.stop_instances(InstanceIds=[got["Instances"][0]["InstanceId"]])


if __name__ == "__main__":
    seed(sys.argv[1])
