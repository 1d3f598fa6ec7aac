"""`vm provision` on the three clouds through the command registry (as the script mode and the
`:` line run it): the dry-run plan, real creation read back through each SDK, spot refused and
the on-demand fallback as a visible step, refusal without it, and bad arguments as one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from azure.mgmt.compute import ComputeManagementClient

from cockpit.audit import AuditLog
from cockpit.commands import Context, build_registry
from cockpit.config import Config, SourceConfig
from cockpit.hub import Hub
from cockpit.prices import current
from cockpit.sandbox import demo_config
from cockpit.sandbox.aws import MotoServer, aws_source
from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, ArmFake
from cockpit.sandbox.gcp import DEMO_PROJECT, GceFake, gcp_source
from tests.cloud_helpers import FaultyEc2, arm, arm_settings, creds, gce, moto_server
from tests.conftest import FIXED_NOW, ROOT, read_audit
from tests.test_azure import Token
from tests.test_gcp import sdk

__all__ = ["arm", "creds", "gce", "moto_server"]

IMAGE = "projects/debian-cloud/global/images/family/debian-12"
AGE = current().describe(FIXED_NOW.date())
"""How the plans name the catalogue, on the hub's fixed clock."""
SUBNET = "/subscriptions/x/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/default"


@pytest.fixture
def clouds(tmp_path: Path, moto_server: MotoServer, gce: GceFake, arm: ArmFake) -> Iterator[Context]:
    proxy = FaultyEc2(moto_server.url)
    base = demo_config(audit_path=tmp_path / "audit.jsonl")
    azure = SourceConfig("azure", "azure", timeout_seconds=30, settings=arm_settings(arm, tmp_path))
    spotless = aws_source("spotless", proxy.url, regions=("us-east-1",))
    spotless = replace(spotless, settings=dict(spotless.settings) | {"max_attempts": 1})
    config: Config = replace(base, sources=(*(s for s in base.sources if s.kind == "libvirt"),
                                            aws_source("aws", moto_server.url), spotless,
                                            gcp_source("gcp", gce.url), azure))
    hub = Hub(config, now=lambda: FIXED_NOW)
    yield Context(hub=hub, audit=AuditLog(config.audit_path), origin="script")
    hub.close()
    proxy.stop()


def run(ctx: Context, line: str) -> Any:
    return build_registry().run_line(line, ctx)


def test_aws_dry_run_then_real_then_the_fallback(clouds: Context, moto_server: MotoServer) -> None:
    line = ("vm provision aws/us-east-1 --type g5.xlarge --image ami-12c6146b --name train --count 2 --spot "
            "--max-price 0.5 --tag team=ml --disk 200G")
    planned = run(clouds, line + " --dry-run")
    assert planned.status == "planned" and planned.plan is not None
    assert planned.plan.summary == (
        "provision 2 × g5.xlarge (4 vCPU, 16G, 1×A10G) in aws/us-east-1 as train-0 .. train-1, spot at most $0.5/h, "
        # aws,g5.xlarge,A10G,1,4,16,us-east-1,1.006,0.397
        f"image ami-12c6146b, tags team=ml; $0.397/h each, $0.794/h for 2 spot ({AGE})")
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_server.url)

    def named(name: str) -> list[dict[str, Any]]:
        return [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])["Reservations"]
                for i in r["Instances"]]

    assert named("train-0") == []  # a dry run creates nothing
    done = run(clouds, line + " --yes")
    assert done.status == "ok", done.error
    assert done.outcome.text.splitlines() == ["aws/train-0: created (running, g5.xlarge spot)",
                                              "aws/train-1: created (running, g5.xlarge spot)"]
    (made,) = named("train-1")
    assert (made["InstanceType"], made["InstanceLifecycle"]) == ("g5.xlarge", "spot")
    assert {t["Key"]: t["Value"] for t in made["Tags"]} == {"Name": "train-1", "team": "ml"}
    audit = read_audit(clouds.hub.config.audit_path)
    assert audit[-1]["command"] == "vm provision" and audit[-1]["new"]["machines"] == ["aws/train-0", "aws/train-1"]

    refused = run(clouds, "vm provision spotless/us-east-1 --type g5.xlarge --image ami-12c6146b --name spot1 "
                          "--spot --yes")
    assert refused.status == "failed" and "InsufficientInstanceCapacity" in str(refused.error)
    fell = run(clouds, "vm provision spotless/us-east-1 --type g5.xlarge --image ami-12c6146b --name spot2 "
                       "--spot --fallback on-demand --yes")
    assert fell.status == "ok", fell.error
    assert fell.outcome.text.splitlines() == [
        "spot capacity refused in us-east-1 (InsufficientInstanceCapacity: We currently do not have sufficient "
        "capacity in the Availability Zone you requested.): asking for on-demand instead (--fallback on-demand)",
        "spotless/spot2: created (running, g5.xlarge)"]
    (second,) = named("spot2")
    assert "InstanceLifecycle" not in second  # on-demand, as the step said
    assert read_audit(clouds.hub.config.audit_path)[-1]["new"]["steps"][0].startswith(
        "spot capacity refused")
    # the step is in the operation's story too, as it happened (op show)
    lines, _ = AuditLog(clouds.hub.config.audit_path).lines()
    assert [x.message for x in lines if x.phase == "progress"][-1].startswith("spot capacity refused")


def test_aws_vm_show_lists_the_disk_it_was_provisioned_with(clouds: Context, moto_server: MotoServer) -> None:
    done = run(clouds, "vm provision aws/us-east-1 --type g5.xlarge --image ami-12c6146b --name big-disk "
                       "--disk 200G --yes")
    assert done.status == "ok", done.error
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_server.url)
    (raw,) = [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["big-disk"]}])[
        "Reservations"] for i in r["Instances"]]
    (mapping,) = raw["BlockDeviceMappings"]
    vid = mapping["Ebs"]["VolumeId"]
    assert ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Size"] == 200  # what EC2 now holds
    shown = run(clouds, "vm show aws/big-disk")
    assert shown.status == "ok", shown.error
    lines = shown.outcome.text.splitlines()
    disks = lines[lines.index("Disks:") + 1:lines.index("NICs:")]
    assert [d.split() for d in disks] == [[mapping["DeviceName"], "disk", vid, "200G"]]
    (disk,) = shown.outcome.data["disks"]
    assert disk["capacity_bytes"] == 200 * 2**30 and disk["source"] == vid


def test_gcp_and_azure_vm_show_list_the_disk_they_were_provisioned_with(clouds: Context, gce: GceFake,
                                                                       arm: ArmFake, tmp_path: Path) -> None:
    done = run(clouds, f"vm provision gcp/us-central1-b --type g2-standard-4 --image {IMAGE} --name big-disk "
                       "--disk 200G --yes")
    assert done.status == "ok", done.error
    assert sdk(gce).get(project=DEMO_PROJECT, zone="us-central1-b", instance="big-disk").disks[0].disk_size_gb == 200
    shown = run(clouds, "vm show gcp/big-disk")
    assert shown.status == "ok", shown.error
    (disk,) = shown.outcome.data["disks"]
    assert (disk["target"], disk["source"], disk["capacity_bytes"]) == ("big-disk", "big-disk", 200 * 2**30)
    assert "  big-disk disk   big-disk  200G" in shown.outcome.text.splitlines()

    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6mZ4 ops@bastion\n")
    done = run(clouds, "vm provision azure/eastus --type Standard_D4s_v5 --image Canonical:ubuntu-24_04-lts:server:"
                       f"latest --name big-disk --group ml-train --subnet {SUBNET} --ssh-key {key} --disk 200G --yes")
    assert done.status == "ok", done.error
    client = ComputeManagementClient(Token(), DEMO_SUBSCRIPTION, base_url=arm.url,
                                     connection_verify=str(tmp_path / "ca.pem"))
    assert client.virtual_machines.get("ml-train", "big-disk").storage_profile.os_disk.disk_size_gb == 200
    shown = run(clouds, "vm show azure/big-disk")
    assert shown.status == "ok", shown.error
    (disk,) = shown.outcome.data["disks"]
    assert (disk["target"], disk["capacity_bytes"]) == ("os", 200 * 2**30)
    assert any(line.split()[::3] == ["os", "200G"] for line in shown.outcome.text.splitlines())


def test_gcp_dry_run_real_and_stockout_fallback(clouds: Context, gce: GceFake) -> None:
    line = (f"vm provision gcp/us-central1-b --type g2-standard-4 --image {IMAGE} --name infer --count 2 --spot "
            "--fallback on-demand --tag team=serving")
    planned = run(clouds, line + " --dry-run")
    assert planned.plan.summary == (
        "provision 2 × g2-standard-4 (4 vCPU, 16G, 1×L4) in gcp/us-central1-b as infer-0 .. infer-1, spot, "
        f"on-demand if spot is refused, image {IMAGE}, tags team=serving; "
        # gcp,g2-standard-4,L4,1,4,16,us-central1,0.70683,0.28184
        f"$0.282/h each, $0.564/h for 2 spot, $0.707/h each on-demand if it falls back ({AGE})")
    gce.stocked_out.add("us-central1-b")
    done = run(clouds, line + " --yes")
    assert done.status == "ok", done.error
    assert done.outcome.text.splitlines()[0] == (
        "spot capacity refused in us-central1-b (ZONE_RESOURCE_POOL_EXHAUSTED): asking for on-demand instead "
        "(--fallback on-demand)")
    got = sdk(gce).get(project=DEMO_PROJECT, zone="us-central1-b", instance="infer-1")
    assert (got.status, got.scheduling.provisioning_model, dict(got.labels)) == ("RUNNING", "STANDARD",
                                                                                  {"team": "serving"})
    t4 = run(clouds, f"vm provision gcp/europe-west4-a --type n1-standard-8 --image {IMAGE} --name t4-box "
                     "--accelerator nvidia-tesla-t4:2 --yes")
    assert t4.status == "ok", t4.error
    attached = sdk(gce).get(project=DEMO_PROJECT, zone="europe-west4-a", instance="t4-box").guest_accelerators[0]
    assert (attached.accelerator_type.rsplit("/", 1)[1], attached.accelerator_count) == ("nvidia-tesla-t4", 2)
    again = run(clouds, line + " --dry-run")
    assert again.status == "failed" and again.error == "gcp: infer-0, infer-1 already exist in us-central1-b"


def test_azure_dry_run_real_and_allocation_fallback(clouds: Context, arm: ArmFake, tmp_path: Path) -> None:
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6mZ4 ops@bastion\n")
    line = (f"vm provision azure/eastus --type Standard_NC24ads_A100_v4 --image Canonical:ubuntu-24_04-lts:server:"
            f"latest --name ft --spot --max-price 1.2 --fallback on-demand --group ml-train --subnet {SUBNET} "
            f"--ssh-key {key}")
    planned = run(clouds, line + " --dry-run")
    assert planned.plan.summary == (
        "provision 1 × Standard_NC24ads_A100_v4 (24 vCPU, 220G, 1×A100) in azure/eastus as ft, spot at most "
        "$1.2/h, on-demand if spot is refused, image Canonical:ubuntu-24_04-lts:server:latest; "
        # azure,Standard_NC24ads_A100_v4,A100-80GB,1,24,220,eastus,3.673,0.444433
        f"$0.444/h each spot, $3.67/h each on-demand if it falls back ({AGE})")
    arm.no_spot.add("eastus")
    done = run(clouds, line + " --yes")
    assert done.status == "ok", done.error
    assert done.outcome.text.splitlines() == [
        "spot capacity refused in eastus (AllocationFailed): asking for on-demand instead (--fallback on-demand)",
        "azure/ft: created (running, Standard_NC24ads_A100_v4)"]
    client = ComputeManagementClient(Token(), DEMO_SUBSCRIPTION, base_url=arm.url,
                                     connection_verify=str(tmp_path / "ca.pem"))
    vm = client.virtual_machines.get("ml-train", "ft").as_dict()
    assert vm["properties"]["priority"] == "Regular"
    assert vm["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"].startswith(
        "ssh-ed25519 ")
    audit = clouds.hub.config.audit_path.read_text()
    assert "AAAAC3NzaC1lZDI1NTE5AAAAIJ6mZ4" not in audit  # the key is recorded as given, not copied


@pytest.mark.parametrize(("line", "error"), [
    ("vm provision aws/us-east-1 --type g5.xlarge --image ami-12c6146b", "--name: required for EC2"),
    ("vm provision aws/us-east-1 --type g5.xlarge --image ami-12c6146b --name a --max-price 1",
     "--max-price: only with --spot (on-demand capacity has one price)"),
    ("vm provision aws/us-east-1 --type g5.xlarge --image ami-12c6146b --name a --template gpu-small",
     "--template: not for EC2 (see 'help vm provision')"),
    ("vm provision aws/eu-west-1 --type g5.xlarge --image ami-12c6146b --name a",
     "aws: region 'eu-west-1' is not one of the source's (us-east-1, us-west-2)"),
    ("vm provision aws/us-east-1 --type g9.huge --image ami-12c6146b --name a",
     "--type: no instance type 'g9.huge' in us-east-1"),
    ("vm provision aws/us-east-1 --type g5.xlarge --image ami-00000000 --name a", "--image: no AMI 'ami-00000000' in "
     "us-east-1"),
    ("vm provision gcp/us-central1-a --type a2-highgpu-1g --image x --name a --spot --max-price 2",
     "--max-price: not for Compute Engine (spot VMs have no maximum price)"),
    ("vm provision azure/eastus --type Standard_D4s_v5 --image a:b:c:d --name a", "--group: required for Azure (the "
     "resource group)"),
    ("vm provision rack-a/new-vm --type g5.xlarge", "--type: not for libvirt (see 'help vm provision')"),
    ("vm provision aws/us-east-1 --type g5.xlarge --image ami-12c6146b --name a --spot --max-price 0",
     "--max-price: 0 is out of range (more than 0, less than 10000 $/h)"),
])
def test_bad_arguments_are_one_line(clouds: Context, line: str, error: str) -> None:
    r = run(clouds, line + " --dry-run")
    assert r.status in ("invalid", "failed") and r.error == error and r.exit_code == 2


def test_script_mode_dry_run_prints_the_plan(tmp_path: Path, gce: GceFake) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[sources.gcp]\nkind = "gcp"\nprojects = ["{DEMO_PROJECT}"]\n'
                      f'endpoint = "{gce.url}"\nanonymous = true\n')
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    line = f"vm provision gcp/us-central1-a --type a2-highgpu-1g --image {IMAGE} --name ft --spot\n"
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-", "--dry-run"],
                       input=line, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "provision 1 × a2-highgpu-1g (12 vCPU, 85G, 1×A100) in gcp/us-central1-a as ft, spot" in r.stdout
    assert ("POST", f"/compute/v1/projects/{DEMO_PROJECT}/zones/us-central1-a/instances") not in gce.requests
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-"],
                       input=line, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 3 and "--yes" in r.stderr  # a mutation in script mode needs --yes or --dry-run


def test_the_comparator_asks_each_cloud_what_a_region_offers(clouds: Context) -> None:
    """The catalogue lists what a cloud sells somewhere; the comparator asks the account's own cloud
    whether the region sells it (picking `azure eastus Standard_ND96asr_v4` used to end in `no size`)."""
    from cockpit.state.offers import offered

    hub = clouds.hub
    aws = offered(hub, "aws", "us-east-1", ["p4d.24xlarge", "x9.nope"])
    assert aws["p4d.24xlarge"] is None and aws["x9.nope"] == "us-east-1 does not offer x9.nope"
    far = offered(hub, "aws", "ap-south-1", ["p4d.24xlarge"])["p4d.24xlarge"]
    assert far is not None and far.startswith("ap-south-1 is not one of aws's regions")
    azure = offered(hub, "azure", "eastus", ["Standard_NC24ads_A100_v4", "Standard_ND96asr_v4"])
    assert azure == {"Standard_NC24ads_A100_v4": None, "Standard_ND96asr_v4": "eastus has no size Standard_ND96asr_v4"}
    gcp = offered(hub, "gcp", "us-central1", ["a2-highgpu-1g", "zz-nope-1"])
    assert gcp["a2-highgpu-1g"] is None and gcp["zz-nope-1"] is not None and "zz-nope-1" in gcp["zz-nope-1"]
    assert offered(hub, "oracle", "x", ["t"]) == {"t": "no writable oracle source in the config"}
