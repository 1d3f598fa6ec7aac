"""`cockpit demo up` / `cockpit demo down`, as a newcomer uses them: up, the printed lines pointing
kubectl and boto3 at the kept emulators, `cockpit --demo` following what those tools see and change,
`demo up` again saying it is up, then down and every process gone. Subprocesses throughout, each
with its own XDG directories, so nothing here meets the person's own state or another test's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.sandbox.keep import read_state, running
from cockpit.sandbox.needs import check_all

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(600)


def cockpit(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    for var in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        e[var] = str(tmp_path / var.lower())
    for var in ("KUBECONFIG", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        e.pop(var, None)
    return e


def test_demo_up_serves_the_tools_and_the_cockpit_follows_them(env: dict[str, str], tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (./dev installs Debian's kubernetes-client)")
    if check_all(["gpu-prod", "aws"]):
        pytest.skip(f"not installed: {check_all(['gpu-prod', 'aws'])}")
    import boto3  # type: ignore[import-untyped]

    up = cockpit(env, "demo", "up")
    where = Path(env["XDG_STATE_HOME"]) / "cockpit" / "demo-up"
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        kept = read_state(where)
        assert kept is not None and running(kept.pid, kept.create_time)
        kubeconfig = re.search(r"export KUBECONFIG=(\S+)", up.stdout)
        aws = re.search(r"AWS_ENDPOINT_URL=(\S+) AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) "
                        r"AWS_DEFAULT_REGION=(\S+) aws ec2 describe-instances", up.stdout)
        assert kubeconfig and aws, up.stdout
        for said in ("MLFLOW_TRACKING_URI=", "/api/v1/query?query=DCGM_FI_DEV_GPU_UTIL", "/aggregated/instances",
                     "--cacert"):
            assert said in up.stdout

        # kubectl, with the printed kubeconfig, sees the demo cluster (and its second context)
        kenv = env | {"KUBECONFIG": kubeconfig.group(1)}
        nodes = subprocess.run(["kubectl", "get", "nodes", "-o", "name"], capture_output=True, text=True,
                               env=kenv, timeout=60)
        assert nodes.returncode == 0, nodes.stderr
        assert "node/a100-01" in nodes.stdout.split()
        eu = subprocess.run(["kubectl", "--context", "gpu-eu", "get", "nodes", "-o", "name"], capture_output=True,
                            text=True, env=kenv, timeout=60)
        assert eu.returncode == 0 and eu.stdout.split(), eu.stderr

        # a change made with kubectl (l4-01 is schedulable in the seed) ...
        unschedulable = ["kubectl", "get", "node", "l4-01", "-o", "jsonpath={.spec.unschedulable}"]
        assert subprocess.run(unschedulable, capture_output=True, text=True, env=kenv, timeout=60).stdout == ""
        cordon = subprocess.run(["kubectl", "cordon", "l4-01"], capture_output=True, text=True, env=kenv, timeout=60)
        assert cordon.returncode == 0, cordon.stderr

        # ... and boto3, with the printed endpoint and keys, listing the instances
        endpoint, key, secret, region = aws.groups()
        ec2 = boto3.client("ec2", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                           region_name=region)
        ids = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
        assert ids

        # the cockpit sees the same instance ids (so it used the kept moto rather than starting and
        # seeding its own) and the node kubectl cordoned
        script = subprocess.run([sys.executable, "-m", "cockpit", "--demo", "--script", "-", "-o", "json"],
                                input="vm list --source aws\nnode list --source gpu-prod\n", capture_output=True,
                                text=True, env=env, cwd=ROOT, timeout=240)
        assert script.returncode == 0, script.stderr
        machines, nodes_now = (json.loads(line) for line in script.stdout.splitlines())
        assert {m["uid"] for m in machines["data"] if m["location"].startswith(region)} == ids
        assert {n["name"]: n["unschedulable"] for n in nodes_now["data"]}["l4-01"] is True

        # up again: it says so, and it is the same keeper
        again = cockpit(env, "demo", "up")
        assert again.returncode == 0
        assert f"already up (pid {kept.pid}" in again.stderr
        assert read_state(where) == kept
    finally:
        down = cockpit(env, "demo", "down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert f"stopped (pid {kept.pid})" in down.stdout
    assert kept.children, "moto and Prometheus run as the keeper's children"
    for pid, started in ((kept.pid, kept.create_time), *kept.children):
        assert not running(pid, started), f"process {pid} outlived `cockpit demo down`"
    assert not where.exists()
    # with nothing kept, `demo down` is a no-op and `demo status` says it is not up
    assert cockpit(env, "demo", "down").stdout.strip() == "cockpit demo: not up"
    status = cockpit(env, "demo", "status")
    assert status.returncode == 1 and "not up" in status.stdout
