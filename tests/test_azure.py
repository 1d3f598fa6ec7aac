"""The Azure backend against the local https fake of Resource Manager, through the real
azure-mgmt-compute client with a bearer token: reads (power states, sizes from the SKUs, spot,
tags, paging, resource groups), every action read back through the SDK, throttling and 5xx, a
failing subscription left out as degraded, credentials, and script mode in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient

from backends.azure import create
from cockpit.contracts import BackendError, BadInput, Conflict, Forbidden
from cockpit.model import MachineState
from cockpit.sandbox.azure import DEMO_SUBSCRIPTION, TOKEN_ENV, ArmFake
from tests.cloud_helpers import OTHER_SUBSCRIPTION, TOKEN, arm, arm_settings
from tests.conftest import FIXED_NOW, ROOT, read_audit

__all__ = ["arm"]


class Token:
    def get_token(self, *scopes: str, **kw: Any) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


def power(fake: ArmFake, tmp_path: Path, group: str, name: str) -> str:
    """The VM's power state as the SDK reads it back."""
    client = ComputeManagementClient(Token(), DEMO_SUBSCRIPTION, base_url=fake.url,
                                     connection_verify=str(tmp_path / "ca.pem"))
    view = client.virtual_machines.get(group, name, expand="instanceView").instance_view
    return next(s.code for s in view.statuses if s.code.startswith("PowerState/")).split("/")[1]


def test_vms_with_power_state_size_gpus_spot_and_tags(arm: ArmFake, tmp_path: Path) -> None:
    b = create("azure", arm_settings(arm, tmp_path))
    b.ping()
    machines = {m.name: m for m in b.list_machines()}
    assert sorted(machines) == ["jumpbox", "nc-a100-spot", "nd-h100-0", "nv-a10-serve", "t4-batch"]
    nd = machines["nd-h100-0"]
    assert (nd.provider, nd.location, nd.machine_type, nd.lifecycle, nd.state) == (
        "azure", "eastus-1", "Standard_ND96isr_H100_v5", "on-demand", MachineState.RUNNING)
    assert (nd.vcpus, nd.memory_mib) == (96, 1900 * 1024)
    assert len(nd.gpus) == 8 and {(g.model, g.vendor, g.memory_mib) for g in nd.gpus} == {("H100", "NVIDIA", 81920)}
    assert nd.tags == (("env", "prod"), ("team", "llm-pretrain"))
    assert nd.started_at == FIXED_NOW - timedelta(days=4, hours=2)
    spot = machines["nc-a100-spot"]
    assert spot.lifecycle == "spot" and [(g.model, g.memory_mib) for g in spot.gpus] == [("A100", 81920)]
    t4 = machines["t4-batch"]
    assert (t4.state, t4.native_state, t4.started_at, t4.location) == (
        MachineState.STOPPED, "deallocated", None, "westus2")
    assert machines["jumpbox"].gpus == () and machines["jumpbox"].vcpus == 4
    skus = [p for _, p in arm.requests if p.endswith("/skus")]
    assert len(skus) == 2  # one per region, then cached:
    b.list_machines()
    assert len([p for _, p in arm.requests if p.endswith("/skus")]) == 2
    assert json.loads(b.describe("nc-a100-spot"))["properties"]["priority"] == "Spot"


def test_pages_groups_and_shared_names(arm: ArmFake, tmp_path: Path) -> None:
    arm.page_size = 2
    arm.add(DEMO_SUBSCRIPTION, "scratch", "jumpbox", "Standard_D8s_v5", "eastus")  # the same name in another group
    b = create("azure", arm_settings(arm, tmp_path))
    assert sorted(m.name for m in b.list_machines()) == [
        "jumpbox.platform", "jumpbox.scratch", "nc-a100-spot", "nd-h100-0", "nv-a10-serve", "t4-batch"]
    assert len([p for _, p in arm.requests if p.endswith("/virtualMachines")]) == 3  # 6 VMs, 2 a page
    with pytest.raises(BadInput, match=r"^azure: 2 instances are named 'jumpbox': use one of jumpbox\.platform, "):
        b.get_machine("jumpbox")
    assert b.get_machine("jumpbox.scratch").vcpus == 8
    grouped = create("azure", arm_settings(arm, tmp_path, resource_groups=["serving"]))
    assert sorted(m.name for m in grouped.list_machines()) == ["nv-a10-serve", "t4-batch"]


def test_every_action_read_back_through_the_sdk(arm: ArmFake, tmp_path: Path) -> None:
    b = create("azure", arm_settings(arm, tmp_path))
    stopped = b.act("nv-a10-serve", "stop")  # deallocate: the compute and its bill are released
    assert (stopped.state, stopped.native_state) == (MachineState.STOPPED, "deallocated")
    assert power(arm, tmp_path, "serving", "nv-a10-serve") == "deallocated"
    assert b.act("nv-a10-serve", "start").state is MachineState.RUNNING
    assert power(arm, tmp_path, "serving", "nv-a10-serve") == "running"
    off = b.act("jumpbox", "force-off")  # powered off, still allocated: the native state says it is billed
    assert (off.state, off.native_state) == (MachineState.STOPPED, "stopped (allocated)")
    assert ("POST", f"/subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/platform/providers/Microsoft.Compute/"
            "virtualMachines/jumpbox/powerOff") in arm.requests
    assert b.act("nd-h100-0", "reboot").state is MachineState.RUNNING
    with pytest.raises(Conflict, match=r"^azure: cannot restart t4-batch: Operation 'restart' is not allowed"):
        b.act("t4-batch", "reboot")
    polls = [p for _, p in arm.requests if "/operations/" in p]
    assert len(polls) == 8  # each of the 4 operations polled twice (InProgress, then Succeeded), at our endpoint
    before = json.loads(b.destroy("jumpbox", False))
    assert before["name"] == "jumpbox" and before["properties"]["hardwareProfile"]["vmSize"] == "Standard_D4s_v5"
    client = ComputeManagementClient(Token(), DEMO_SUBSCRIPTION, base_url=arm.url,
                                     connection_verify=str(tmp_path / "ca.pem"))
    with pytest.raises(ResourceNotFoundError):
        client.virtual_machines.get("platform", "jumpbox")


def test_throttling_is_retried_and_a_failing_subscription_is_degraded(arm: ArmFake, tmp_path: Path) -> None:
    b = create("azure", arm_settings(arm, tmp_path))
    arm.fail("/virtualMachines", 429, count=2, retry_after=0)
    assert len(b.list_machines()) == 5
    assert len([p for _, p in arm.requests if p.endswith("/virtualMachines")]) == 3  # two refusals, then data
    arm.fail("/virtualMachines", 503, count=3, retry_after=0)
    with pytest.raises(BackendError) as e:
        b.list_machines()
    assert str(e.value) == f"azure: {DEMO_SUBSCRIPTION}: list VMs: InternalServerError: injected by the test"
    arm.faults.clear()
    missing = "5e1d3c2b-0000-4000-8000-000000000000"
    both = create("azure", arm_settings(arm, tmp_path, subscriptions=[DEMO_SUBSCRIPTION, missing]))
    assert len(both.list_machines()) == 5
    assert both.degraded == {missing: f"{missing}: The subscription '{missing}' could not be found."}
    assert create("azure", arm_settings(arm, tmp_path, subscriptions=[OTHER_SUBSCRIPTION])).list_machines() == []


def test_tokens_are_checked_and_errors_are_one_line(arm: ArmFake, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "a-stale-token")
    with pytest.raises(Forbidden) as e:
        create("azure", arm_settings(arm, tmp_path)).list_machines()
    assert str(e.value) == f"azure: {DEMO_SUBSCRIPTION}: the token was refused (HTTP 401)"
    assert "a-stale-token" not in str(e.value)
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(BadInput, match=rf"^azure: token_env: the environment variable {TOKEN_ENV} is not set$"):
        create("azure", arm_settings(arm, tmp_path))


def test_script_mode_lists_stops_and_deletes_with_audit(tmp_path: Path, arm: ArmFake) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[sources.azure]\nkind = "azure"\n'
                      f'subscriptions = ["{DEMO_SUBSCRIPTION}"]\nendpoint = "{arm.url}"\n'
                      f'ca_bundle = "{tmp_path / "ca.pem"}"\ntoken_env = "ARM_TOKEN"\n')
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT), "ARM_TOKEN": TOKEN}
    script = "vm list\nvm stop azure/nd-h100-0\nvm terminate azure/jumpbox\nvm show azure/t4-batch\n"
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-", "-o", "json",
                        "--yes"], input=script, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    listed = {m["name"]: m for m in out[0]["data"]}
    assert listed["nc-a100-spot"]["lifecycle"] == "spot" and listed["nc-a100-spot"]["provider"] == "azure"
    assert out[3]["data"]["gpus"][0]["model"] == "T4" and out[3]["data"]["state"] == "stopped"
    assert power(arm, tmp_path, "ml-train", "nd-h100-0") == "deallocated"
    audit_text = (tmp_path / "state" / "cockpit" / "audit.jsonl").read_text()
    assert TOKEN not in audit_text
    audit = read_audit(tmp_path / "state" / "cockpit" / "audit.jsonl")
    assert [(a["command"], a["target"], a["result"], a["previous"]["state"]) for a in audit] == [
        ("vm stop", "azure/nd-h100-0", "ok", "running"), ("vm terminate", "azure/jumpbox", "ok", "running")]
    assert ("platform", "jumpbox") not in {(k[1], k[2]) for k in arm.vms}  # deleted, as the fake now holds it
