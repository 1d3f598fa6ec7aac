"""`cockpit --script` against a Kubernetes source from a config file: every kube command in a real
subprocess, JSON lines checked, and the cluster read back with kubectl afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cockpit.sandbox.kube.server import KubeFake
from tests.conftest import ROOT, read_audit
from tests.kube_helpers import kget, kubectl_missing

pytestmark = kubectl_missing


def cockpit(tmp_path: Path, kube: KubeFake, *args: str, stdin: str | None = None,
            extra_config: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[sources.lab]\nkind = "kubernetes"\nkubeconfig = "{kube.kubeconfig}"\ncontext = "admin"\n'
                      + extra_config)
    env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args], capture_output=True,
                          text=True, input=stdin, env=env, timeout=120)


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in out.splitlines()]


def test_every_kube_command_in_one_script(tmp_path: Path, kube: KubeFake) -> None:
    script = """\
node list --gpu
node show a100-mig-01
node cordon l4-01
node uncordon l4-01
node drain a100-01 --dry-run
deploy list --namespace inference
deploy history inference/llama-70b
deploy scale inference/router 3
deploy restart inference/router --no-wait
deploy status inference/router --timeout 30s
deploy set-image inference/embedder ghcr.io/hf/tei:1.6
deploy rollback inference/llama-70b
hpa list
hpa set inference/router --max 9
isvc list
isvc canary inference/whisper-large 25
isvc rollback inference/mistral-7b
isvc promote inference/whisper-large
node drain a100-01
"""
    r = cockpit(tmp_path, kube, "--script", "-", "-o", "json", "--yes", stdin=script)
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert [o["status"] for o in out] == ["ok"] * 4 + ["planned"] + ["ok"] * 14
    by = {o["command"]: o for o in out}
    gpu_nodes = {n["name"]: n for n in out[0]["data"]}
    assert gpu_nodes["a100-02"]["gpu_allocated"] == 8 and gpu_nodes["l4-01"]["gpu_free"] == 4
    assert by["node show"]["data"]["mig"] == [{"profile": "1g.10gb", "capacity": 7, "allocatable": 7,
                                               "allocated": 3}]
    assert by["deploy history"]["data"]["current"] == 2
    assert by["deploy status"]["data"]["rollout"] == "complete"
    assert by["deploy rollback"]["data"]["images"] == ["vllm/vllm-openai:v0.5.4"]
    assert [i["name"] for i in by["isvc list"]["data"]] == ["mistral-7b", "whisper-large"]
    # read back what the cockpit changed, with kubectl
    assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 3
    assert kget(kube, "deploy", "embedder", "-n", "inference")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "ghcr.io/hf/tei:1.6"
    assert kget(kube, "hpa", "router", "-n", "inference")["spec"]["maxReplicas"] == 9
    assert kget(kube, "isvc", "mistral-7b", "-n", "inference")["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert "canaryTrafficPercent" not in kget(kube, "isvc", "whisper-large", "-n", "inference")["spec"]["predictor"]
    assert kget(kube, "node", "a100-01")["spec"]["unschedulable"] is True
    audit = read_audit(tmp_path / "state" / "cockpit" / "audit.jsonl")
    assert [a["command"] for a in audit] == [
        "node cordon", "node uncordon", "deploy scale", "deploy restart", "deploy set-image", "deploy rollback",
        "hpa set", "isvc canary", "isvc rollback", "isvc promote", "node drain"]
    assert audit[6]["previous"] == {"min": 2, "max": 6}


def test_mutations_need_yes_and_read_only_refuses(tmp_path: Path, kube: KubeFake) -> None:
    r = cockpit(tmp_path, kube, "deploy", "scale", "inference/router", "5")
    assert r.returncode == 3 and "add --yes to run it or --dry-run" in r.stderr
    r = cockpit(tmp_path, kube, "--read-only", "--yes", "deploy", "scale", "inference/router", "5")
    assert r.returncode == 3 and "read-only" in r.stderr
    r = cockpit(tmp_path, kube, "--yes", "deploy", "scale", "lab/inference/router", "5",
                extra_config="read_only = true\n")
    assert r.returncode == 3 and "source 'lab' is read-only" in r.stderr
    assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 2


def test_rollout_timeout_exits_1_and_says_why(tmp_path: Path, kube: KubeFake) -> None:
    kube.controller.ready_delay = 30  # pods start but do not turn Ready in time
    r = cockpit(tmp_path, kube, "--yes", "deploy", "scale", "inference/router", "4", "--timeout", "1s")
    assert r.returncode == 1
    assert "lab/inference/router: rollout not complete after 1s: 2 of 4 updated replicas available" in r.stderr
    assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 4  # the change itself stands


def test_unreachable_cluster_and_missing_kubeconfig(tmp_path: Path, kube: KubeFake) -> None:
    kube.stop()
    r = cockpit(tmp_path, kube, "node", "list")
    assert r.returncode == 1 and "lab: " in r.stderr and "Traceback" not in r.stderr
    missing = tmp_path / "nope.yaml"
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[sources.lab]\nkind = "kubernetes"\nkubeconfig = "{missing}"\n')
    r = subprocess.run([sys.executable, "-m", "cockpit", "--config", str(cfg), "node", "list"], capture_output=True,
                       text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
                                       "XDG_STATE_HOME": str(tmp_path / "s")}, timeout=60)
    assert r.returncode == 1 and f"lab: kubeconfig {missing} does not exist" in r.stderr


def test_a_rollout_past_its_progress_deadline_fails(tmp_path: Path, kube: KubeFake) -> None:
    from tests.kube_helpers import kubectl

    kubectl(kube, "patch", "deployment", "llama-70b", "-n", "inference", "-p",
            '{"spec": {"progressDeadlineSeconds": 2}}')
    # 4 more replicas of 4 GPUs each: the cluster has no room, the new pods stay Pending
    r = cockpit(tmp_path, kube, "--yes", "deploy", "scale", "inference/llama-70b", "6", "--timeout", "30s")
    assert r.returncode == 1
    assert r.stderr.strip().endswith("lab/inference/llama-70b: rollout failed: progress deadline exceeded: "
                                     'ReplicaSet "llama-70b-27585a7294" has timed out progressing.')
    status = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "rollout", "status",
                             "deploy/llama-70b", "-n", "inference"], capture_output=True, text=True, timeout=30)
    assert status.returncode != 0 and "exceeded its progress deadline" in status.stderr
