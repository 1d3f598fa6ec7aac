"""The Compute Engine backend against the local fake of the Compute REST API, through the real
google-cloud-compute client: reads (types, accelerators, spot, labels, paging, zones), every
action read back through the SDK, throttling and 5xx, a failing project left out as degraded,
credentials, and script mode in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import NotFound as GoogleNotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from backends.gcp import create
from cockpit.contracts import BackendError, BackendUnavailable, BadInput, Forbidden
from cockpit.model import MachineState
from cockpit.sandbox.gcp import DEMO_PROJECT, GceFake
from tests.cloud_helpers import OTHER_PROJECT, gce, gce_settings
from tests.conftest import FIXED_NOW, ROOT, read_audit

__all__ = ["gce"]


def sdk(fake: GceFake) -> compute_v1.InstancesClient:
    return compute_v1.InstancesClient(credentials=AnonymousCredentials(),
                                      client_options=ClientOptions(api_endpoint=fake.url))


def status(fake: GceFake, zone: str, name: str) -> str:
    return str(sdk(fake).get(project=DEMO_PROJECT, zone=zone, instance=name).status)


def test_instances_with_type_accelerators_spot_and_labels(gce: GceFake) -> None:
    b = create("gcp", gce_settings(gce))
    b.ping()
    machines = {m.name: m for m in b.list_machines()}
    assert sorted(machines) == ["a2-finetune", "a3-pretrain-0", "ci-runner", "l4-serve-0", "t4-notebook"]
    a3 = machines["a3-pretrain-0"]
    assert (a3.provider, a3.location, a3.machine_type, a3.lifecycle, a3.state) == (
        "gcp", "us-central1-a", "a3-highgpu-8g", "spot", MachineState.RUNNING)
    assert (a3.vcpus, a3.memory_mib) == (208, 1916928)
    assert len(a3.gpus) == 8 and {(g.model, g.vendor, g.memory_mib) for g in a3.gpus} == {("H100", "NVIDIA", 81920)}
    assert a3.tags == (("team", "llm-pretrain"),) and a3.started_at == FIXED_NOW - timedelta(days=2, hours=5)
    assert a3.addresses[0].startswith("10.128.0.") and len(a3.addresses) == 2  # internal, then the NAT address
    t4 = machines["t4-notebook"]  # TERMINATED is Compute Engine's stopped; its T4 is attached, not in the size
    assert (t4.state, t4.native_state, t4.started_at) == (MachineState.STOPPED, "terminated", None)
    assert [(g.model, g.memory_mib) for g in t4.gpus] == [("T4", 16384)] and t4.machine_type == "n1-standard-8"
    assert machines["ci-runner"].gpus == () and machines["ci-runner"].lifecycle == "on-demand"
    types = [p for _, p in gce.requests if "/machineTypes/" in p]
    assert len(types) == 5  # one per size and zone, then cached:
    b.list_machines()
    assert len([p for _, p in gce.requests if "/machineTypes/" in p]) == 5
    assert json.loads(b.describe("a3-pretrain-0"))["scheduling"]["provisioningModel"] == "SPOT"


def test_pages_zones_and_shared_names(gce: GceFake) -> None:
    gce.page_size = 2
    gce.add(DEMO_PROJECT, "europe-west4-a", "a2-finetune", "e2-standard-4")  # the same name in another zone
    b = create("gcp", gce_settings(gce))
    names = sorted(m.name for m in b.list_machines())
    assert names == ["a2-finetune.europe-west4-a", "a2-finetune.us-central1-a", "a3-pretrain-0", "ci-runner",
                     "l4-serve-0", "t4-notebook"]
    assert len([p for _, p in gce.requests if p.endswith("/aggregated/instances")]) == 3  # 6 instances, 2 a page
    with pytest.raises(BadInput, match=r"^gcp: 2 instances are named 'a2-finetune': use one of a2-finetune\."):
        b.get_machine("a2-finetune")
    assert b.get_machine("a2-finetune.europe-west4-a").machine_type == "e2-standard-4"
    only = create("gcp", gce_settings(gce, zones=["europe-west4-a"]))
    assert sorted(m.name for m in only.list_machines()) == ["a2-finetune", "ci-runner", "t4-notebook"]


def test_every_action_read_back_through_the_sdk(gce: GceFake) -> None:
    b = create("gcp", gce_settings(gce))
    after = b.act("l4-serve-0", "stop")
    assert after.state is MachineState.STOPPED and status(gce, "us-central1-b", "l4-serve-0") == "TERMINATED"
    assert b.act("l4-serve-0", "start").state is MachineState.RUNNING
    assert status(gce, "us-central1-b", "l4-serve-0") == "RUNNING"
    assert b.act("a2-finetune", "suspend").state is MachineState.SUSPENDED
    assert status(gce, "us-central1-a", "a2-finetune") == "SUSPENDED"
    assert b.act("a2-finetune", "resume").state is MachineState.RUNNING
    assert b.act("ci-runner", "reboot").state is MachineState.RUNNING
    assert ("POST", f"/compute/v1/projects/{DEMO_PROJECT}/zones/europe-west4-a/instances/ci-runner/reset") in \
        gce.requests
    waits = [p for m, p in gce.requests if p.endswith("/wait")]
    assert len(waits) == 5  # every operation waited on through ZoneOperations, at our endpoint
    with pytest.raises(BackendError, match=r"^gcp: ml-research-demo: suspend t4-notebook: The resource .* is not "
                       r"ready$"):
        b.act("t4-notebook", "suspend")
    before = json.loads(b.destroy("ci-runner", False))
    assert before["name"] == "ci-runner" and before["machineType"].endswith("/e2-standard-4")
    with pytest.raises(GoogleNotFound):
        sdk(gce).get(project=DEMO_PROJECT, zone="europe-west4-a", instance="ci-runner")


def test_throttling_is_retried_and_a_failing_project_is_degraded(gce: GceFake) -> None:
    b = create("gcp", gce_settings(gce))
    gce.fail("/aggregated/instances", 429, count=2, retry_after=0)
    assert len(b.list_machines()) == 5
    assert len([p for _, p in gce.requests if p.endswith("/aggregated/instances")]) == 3  # two refusals, then data
    gce.fail("/aggregated/instances", 503, count=3)
    with pytest.raises(BackendError) as e:
        b.list_machines()
    assert str(e.value) == "gcp: ml-research-demo: list instances: HTTP 503: injected by the test"
    gce.faults.clear()
    gce.denied.add(OTHER_PROJECT)
    both = create("gcp", gce_settings(gce, projects=[DEMO_PROJECT, OTHER_PROJECT]))
    assert len(both.list_machines()) == 5
    assert both.degraded == {OTHER_PROJECT: f"{OTHER_PROJECT}: not allowed to list instances (Required "
                                            f"'compute.instances.list' permission for 'projects/{OTHER_PROJECT}')"}
    only_denied = create("gcp", gce_settings(gce, projects=[OTHER_PROJECT]))
    with pytest.raises(Forbidden):
        only_denied.list_machines()


def test_credentials_and_an_unreachable_endpoint_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # not on Google's cloud: do not ask a metadata server
    with pytest.raises(BackendUnavailable) as e:
        create("gcp", {"projects": ["p-1234"]})
    assert str(e.value) == ("gcp: no Application Default Credentials: run gcloud auth application-default login, "
                            "or set GOOGLE_APPLICATION_CREDENTIALS")
    down = create("gcp", {"projects": ["p-1234"], "endpoint": "http://127.0.0.1:9", "anonymous": True,
                          "max_attempts": 1})
    with pytest.raises(BackendUnavailable, match=r"^gcp: cannot reach Compute Engine at http://127.0.0.1:9$"):
        down.list_machines()
    with pytest.raises(BadInput, match="anonymous = true needs an endpoint"):
        create("gcp", {"projects": ["p-1234"], "anonymous": True})


def test_script_mode_lists_stops_and_deletes_with_audit(tmp_path: Path, gce: GceFake) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'local_machine = false\n[sources.gcp]\nkind = "gcp"\nprojects = ["{DEMO_PROJECT}"]\n'
                      f'endpoint = "{gce.url}"\nanonymous = true\n')
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    script = "vm list\nvm stop gcp/a3-pretrain-0\nvm terminate gcp/ci-runner\nvm show gcp/t4-notebook\n"
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-", "-o", "json",
                        "--yes"], input=script, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    listed = {m["name"]: m for m in out[0]["data"]}
    assert listed["a3-pretrain-0"]["machine_type"] == "a3-highgpu-8g" and listed["a3-pretrain-0"]["provider"] == "gcp"
    assert out[3]["data"]["gpus"][0]["model"] == "T4" and out[3]["data"]["state"] == "stopped"
    assert status(gce, "us-central1-a", "a3-pretrain-0") == "TERMINATED"
    with pytest.raises(GoogleNotFound):
        sdk(gce).get(project=DEMO_PROJECT, zone="europe-west4-a", instance="ci-runner")
    audit = read_audit(tmp_path / "state" / "cockpit" / "audit.jsonl")
    assert [(a["command"], a["target"], a["result"], a["previous"]["state"]) for a in audit] == [
        ("vm stop", "gcp/a3-pretrain-0", "ok", "running"), ("vm terminate", "gcp/ci-runner", "ok", "running")]
    assert json.loads(audit[1]["previous"]["definition"])["name"] == "ci-runner"
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), "--script", "-"],
                       input="vm reboot gcp/nowhere\n", capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().endswith(f"gcp: no instance 'nowhere' in {DEMO_PROJECT}")
