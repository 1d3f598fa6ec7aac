"""The EC2 backend against moto: mock_aws in-process for reads and every action (read back through
boto3), ThreadedMotoServer over HTTP for a region that keeps failing (5xx, retried, then left out
as degraded), script mode in a subprocess, and the Machines screen through Pilot."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from backends.aws import create
from cockpit.contracts import BackendError, BackendUnavailable, BadInput, NotFound
from cockpit.model import MachineState
from cockpit.sandbox import demo_config
from cockpit.sandbox.aws import MotoServer, aws_source
from screens.widgets.dialogs import ConfirmScreen
from screens.widgets.virtual_table import VirtualTable
from tests.cloud_helpers import FaultyEc2, creds, moto_server
from tests.conftest import ROOT, read_audit
from tests.ui_helpers import loaded, make_app, wait_for

REGIONS = ["us-east-1", "us-west-2"]
__all__ = ["creds", "moto_server"]


@pytest.fixture
def fleet(creds: None) -> Iterator[None]:
    with mock_aws():
        for region, specs in {"us-east-1": [("trainer-1", "p4d.24xlarge", True), ("web", "t3.large", False),
                                            ("twin", "g5.xlarge", False), ("twin", "g5.xlarge", False)],
                              "us-west-2": [("infer-1", "g5.12xlarge", False)]}.items():
            ec2 = boto3.client("ec2", region_name=region)
            for name, kind, spot in specs:
                extra = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
                ec2.run_instances(ImageId="ami-12c6146b", InstanceType=kind, MinCount=1, MaxCount=1,
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                      {"Key": "Name", "Value": name}, {"Key": "team", "Value": "ml"}]}], **extra)
        yield


def state_of(region: str, name: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    got = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])["Reservations"]
    return str(got[0]["Instances"][0]["State"]["Name"])


def test_instances_of_every_region_with_type_gpus_lifecycle_and_tags(fleet: None) -> None:
    b = create("aws", {"regions": REGIONS})
    b.ping()
    machines = {m.name: m for m in b.list_machines()}
    trainer = machines["trainer-1"]
    assert (trainer.provider, trainer.location, trainer.machine_type, trainer.lifecycle) == (
        "aws", "us-east-1a", "p4d.24xlarge", "spot")
    assert trainer.vcpus == 96 and trainer.memory_mib == 1152 * 1024 and trainer.state is MachineState.RUNNING
    assert len(trainer.gpus) == 8 and {(g.model, g.vendor, g.memory_mib) for g in trainer.gpus} == {
        ("A100", "NVIDIA", 40960)}
    assert trainer.tags == (("team", "ml"),) and trainer.uid and trainer.uid.startswith("i-")
    assert machines["web"].gpus == () and machines["web"].lifecycle == "on-demand"
    assert machines["infer-1"].location == "us-west-2a" and len(machines["infer-1"].gpus) == 4
    twins = [m for m in machines.values() if ("Name", "twin") in m.tags]
    assert len(twins) == 2 and all(m.name.startswith("i-") for m in twins)  # a shared Name is no target
    with pytest.raises(BadInput, match=r"^aws: 2 instances are named 'twin': use one of i-"):
        b.get_machine("twin")
    with pytest.raises(NotFound, match=r"^aws: no instance 'ghost' in us-east-1, us-west-2$"):
        b.get_machine("ghost")


def test_actions_read_back_through_boto3(fleet: None) -> None:
    b = create("aws", {"regions": REGIONS})
    assert b.act("trainer-1", "stop").state is MachineState.STOPPED
    assert state_of("us-east-1", "trainer-1") == "stopped"
    assert b.act("trainer-1", "start").state in (MachineState.RUNNING, MachineState.STARTING)
    assert state_of("us-east-1", "trainer-1") == "running"
    assert b.act("infer-1", "force-off").state is MachineState.STOPPED
    assert state_of("us-west-2", "infer-1") == "stopped"
    b.act("web", "reboot")
    assert state_of("us-east-1", "web") == "running"
    before = json.loads(b.destroy("web", remove_storage=False))
    assert before["InstanceType"] == "t3.large" and before["State"]["Name"] == "running"
    assert state_of("us-east-1", "web") == "terminated"
    assert b.get_machine("web").state is MachineState.TERMINATED


def test_a_failing_region_is_degraded_not_empty(moto_server: MotoServer) -> None:
    server = moto_server
    # moto answers 500 for a region it does not know: botocore retries, then that region is left out
    b = create("aws", {"regions": ["us-east-1", "ap-nowhere-9"], "endpoint_url": server.url, "max_attempts": 2})
    machines = b.list_machines()
    assert {m.name for m in machines} >= {"llm-pretrain-0", "bastion", "h100-dev"}
    assert list(b.degraded) == ["ap-nowhere-9"]
    assert b.degraded["ap-nowhere-9"].startswith("ap-nowhere-9: list instances: ")
    only_bad = create("aws", {"regions": ["ap-nowhere-9"], "endpoint_url": server.url, "max_attempts": 1})
    with pytest.raises(BackendError, match=r"^aws: ap-nowhere-9: list instances: "):
        only_bad.list_machines()


def test_throttling_is_retried_then_one_line(moto_server: MotoServer) -> None:
    proxy = FaultyEc2(moto_server.url, refuse_spot=False)
    try:
        b = create("aws", {"regions": ["us-east-1"], "endpoint_url": proxy.url, "max_attempts": 3})
        proxy.throttle = 2  # RequestLimitExceeded twice: botocore's standard mode backs off and tries again
        assert {m.name for m in b.list_machines()} >= {"llm-pretrain-0", "bastion"}
        assert proxy.throttled == 2
        proxy.throttle = 10  # it keeps coming: after 3 tries, one line
        with pytest.raises(BackendError) as e:
            b.list_machines()
        assert str(e.value) == "aws: us-east-1: list instances: RequestLimitExceeded: Request limit exceeded."
        assert proxy.throttled == 5
    finally:
        proxy.stop()


def test_no_credentials_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    b = create("aws", {"regions": ["us-east-1"], "endpoint_url": "http://127.0.0.1:9"})
    with pytest.raises(BackendUnavailable) as e:
        b.ping()
    assert str(e.value) == ("aws: no AWS credentials (boto3 looked in the environment, ~/.aws and the instance role): "
                            "run aws configure, or set profile for the source")
    with pytest.raises(BadInput, match=r"^aws: no region: set regions"):
        create("aws", {})


def test_script_mode_stops_and_terminates_with_audit(tmp_path: Path, moto_server: MotoServer) -> None:
    server = moto_server
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[sources.aws]\nkind = "aws"\nregions = ["us-east-1", "us-west-2"]\n'
                      f'endpoint_url = "{server.url}"\n')
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_EC2_METADATA_DISABLED": "true"}
    script = "vm list\nvm stop aws/llm-pretrain-1\nvm terminate aws/bastion\nvm show aws/h100-dev\n"
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-", "-o", "json",
                        "--yes"], input=script, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    listed = {m["name"]: m for m in out[0]["data"]}
    pretrain = listed["llm-pretrain-0"]
    assert pretrain["machine_type"] == "p4d.24xlarge" and pretrain["lifecycle"] == "spot"
    assert listed["notebook-l4"]["location"] == "us-west-2a" and listed["notebook-l4"]["state"] == "stopped"
    assert out[3]["data"]["gpus"][0]["model"] == "H100" and len(out[3]["data"]["gpus"]) == 8
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=server.url)
    states = {t["Value"]: i["State"]["Name"] for res in ec2.describe_instances()["Reservations"]
              for i in res["Instances"] for t in i.get("Tags", []) if t["Key"] == "Name"}
    assert states["llm-pretrain-1"] == "stopped" and states["bastion"] == "terminated"
    audit = read_audit(tmp_path / "state" / "cockpit" / "audit.jsonl")
    assert [(a["command"], a["target"], a["result"]) for a in audit] == [
        ("vm stop", "aws/llm-pretrain-1", "ok"), ("vm terminate", "aws/bastion", "ok")]
    assert audit[0]["previous"] == {"state": "running"}
    assert audit[1]["new"] == {"state": "terminated"} and audit[1]["previous"]["state"] == "running"
    assert json.loads(audit[1]["previous"]["definition"])["InstanceType"] == "t3.large"  # the instance as it was
    assert out[2]["data"] == {"ref": "aws/bastion", "destroyed": True}


async def test_machines_screen_mixes_libvirt_and_ec2(tmp_path: Path, moto_server: MotoServer) -> None:
    server = moto_server
    base = demo_config(audit_path=tmp_path / "audit.jsonl")
    config = replace(base, sources=(*base.sources, aws_source("aws", server.url)))
    app = make_app(tmp_path / "audit.jsonl", config=config, start_view="machines")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        t = app.screen.query_one("#machines-table", VirtualTable)
        keys = [c.key for c in t.columns]
        row = t.row("aws/llm-pretrain-0")
        assert row is not None
        cells = dict(zip(keys, row.cells, strict=True))
        assert (cells["state"], cells["type"], cells["gpus"], cells["host"]) == (
            "running", "p4d.24xlarge spot", "8×A100", "us-east-1a")
        assert t.row("rack-a/a100-node-01") is not None  # libvirt in the same table
        t.set_filter("aws spot")  # by provider and type, like any words of a row
        assert t.visible_keys() == ["aws/batch-embed", "aws/llm-pretrain-0", "aws/llm-pretrain-1"]
        t.set_filter("team=research")  # by tag
        assert t.visible_keys() == ["aws/h100-dev", "aws/notebook-l4"]
        t.set_filter("")
        assert dict(zip(keys, t.row("aws/h100-dev").cells, strict=True))["state"] == "stopped"  # type: ignore[union-attr]
        t.move_to("aws/infer-a10g-1")
        await pilot.press("ctrl+d")  # terminate: the typed name confirms, nothing less
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = " ".join(str(w.render()) for w in app.screen.query("#dialog-body Static"))
        assert "Terminate aws/infer-a10g-1" in body and "deleted for good" in body
        await pilot.press(*"infer-a10g-1", "enter")
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=server.url)

        def state() -> str:
            found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["infer-a10g-1"]}])
            return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])

        await wait_for(pilot, lambda: state() == "terminated", timeout=15)
