"""Cluster cost allocation: hand-built clusters with figures computed by hand (the on-prem model's
defaults: A100 $1.30/GPU-h, $0.015/vCPU-h, $0.002/GiB-h; the bundled catalogue's row quoted), then
a real cluster (the Kubernetes fake) through `cockpit cost by ...` and namespace budgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.allocation import IDLE, NAMESPACE, WORKLOAD, allocate, mig_fraction, namespace_hourly
from cockpit.costs import OnPremModel
from cockpit.model_kube import ClusterSnapshot, Deployment, KubeNode, PodRef, RolloutState
from cockpit.prices import bundled
from cockpit.sandbox.kube import seed as kseed
from cockpit.sandbox.kube.server import KubeFake
from tests.conftest import ROOT
from tests.kube_helpers import kubectl_missing

CAT = bundled()
ONPREM = OnPremModel()
GIB = 1024


def node(source: str, name: str, *, gpus: int = 0, product: str = "", cpu: int, mem_gib: int,
         labels: dict[str, str] | None = None, instance_type: str = "", zone: str = "",
         pods: tuple[PodRef, ...] = ()) -> KubeNode:
    return KubeNode(source=source, name=name, ready=True, unschedulable=False, roles=(), version="v1.30.4",
                    created_at=None, cpu_capacity_m=cpu * 1000, cpu_allocatable_m=cpu * 1000 - 1000,
                    memory_capacity_mib=mem_gib * GIB, memory_allocatable_mib=(mem_gib - 4) * GIB, gpu_capacity=gpus,
                    gpu_allocatable=gpus, gpu_product=product, labels=tuple((labels or {}).items()),
                    instance_type=instance_type, zone=zone, pods=pods)


def pod(ns: str, name: str, *, gpus: int = 0, cpu_m: int = 0, mem_gib: float = 0, owner: str = "",
        isvc: str = "", mig: tuple[tuple[str, int], ...] = ()) -> PodRef:
    return PodRef(ns, name, "Running", gpus, mig, owner, cpu_m, int(mem_gib * GIB), isvc)


def deployment(source: str, ns: str, name: str) -> Deployment:
    return Deployment(source, ns, name, 1, 1, 1, 1, (), 1, RolloutState.COMPLETE, "")


def clusters() -> list[ClusterSnapshot]:
    # bare metal: 8 x 1.30 + 64 x 0.015 + 512 x 0.002 = 10.40 + 0.96 + 1.024 = 12.384 $/h
    metal = node("lab", "a100-01", gpus=8, product="NVIDIA-A100-SXM4-80GB", cpu=64, mem_gib=512, pods=(
        pod("inference", "llama-7d9f8-x1", gpus=4, cpu_m=8000, mem_gib=64, owner="ReplicaSet/llama-7d9f8"),
        pod("inference", "mistral-predictor-00003-deployment-6c-z", gpus=1, cpu_m=4000, mem_gib=16,
            owner="ReplicaSet/mistral-predictor-00003-deployment-6c", isvc="mistral"),
        pod("training", "pretrain-0", gpus=2, cpu_m=16000, mem_gib=128, owner="Job/pretrain"),
        pod("default", "debug", cpu_m=500, mem_gib=1)))
    # every GPU MIG-partitioned (GPU feature discovery counts 1): 1.30 + 32 x 0.015 + 256 x 0.002 = 2.292 $/h
    mig = node("lab", "mig-01", product="NVIDIA-A100-SXM4-40GB", cpu=32, mem_gib=256,
               labels={"nvidia.com/gpu.count": "1"}, pods=tuple(
                   pod("inference", f"reranker-5c4-{i}", mig=(("1g.10gb", 1),), cpu_m=2000, mem_gib=8,
                       owner="ReplicaSet/reranker-5c4") for i in (1, 2)))
    lab = ClusterSnapshot("lab", "lab", "https://lab", nodes=(metal, mig),
                          deployments=(deployment("lab", "inference", "llama"),
                                       deployment("lab", "inference", "reranker")))
    # aws,p4d.24xlarge,A100,8,96,1152,us-east-1,32.7726,5.0933: spot $5.0933/h; a pod of half of everything
    spot = node("eks", "ip-10-0-0-5", gpus=8, product="NVIDIA-A100-SXM4-40GB", cpu=96, mem_gib=1152,
                labels={"eks.amazonaws.com/capacityType": "SPOT"}, instance_type="p4d.24xlarge", zone="us-east-1a",
                pods=(pod("training", "finetune-0", gpus=4, cpu_m=48000, mem_gib=576, owner="Job/finetune"),))
    unknown = node("eks", "ip-10-0-0-9", cpu=2, mem_gib=8, labels={"eks.amazonaws.com/nodegroup": "sys"},
                   instance_type="t3.large", zone="us-east-1a",
                   pods=(pod("kube-system", "coredns-1", cpu_m=100, mem_gib=0.07, owner="ReplicaSet/coredns-55"),))
    eks = ClusterSnapshot("eks", "eks", "https://eks", nodes=(spot, unknown))
    return [lab, eks]


def test_mig_shares() -> None:
    assert mig_fraction("1g.10gb", "NVIDIA-A100-SXM4-80GB") == pytest.approx(1 / 7)
    assert mig_fraction("3g.40gb", "NVIDIA-A100-SXM4-80GB") == pytest.approx(3 / 7)
    assert mig_fraction("7g.80gb", "NVIDIA-H100-80GB-HBM3") == 1.0
    assert mig_fraction("1g.6gb", "NVIDIA A30") == 0.25


def test_each_node_split_across_its_pods_with_the_rest_idle() -> None:
    a = allocate(clusters(), CAT, ONPREM)
    # llama: 4 x 1.30 + 8 x 0.015 + 64 x 0.002 = 5.448; mistral: 1.30 + 0.06 + 0.032 = 1.392
    # pretrain: 2.60 + 0.24 + 0.256 = 3.096; debug: 0.0075 + 0.002 = 0.0095; a100-01 idle: 12.384 - 9.9455 = 2.4385
    # reranker (each): 1.30 / 7 + 0.03 + 0.016 = 0.231714; mig-01 idle: 2.292 - 0.463429 = 1.828571
    # finetune: half of the spot node, 2.54665, and the other half idle
    assert a.hourly == pytest.approx(12.384 + 2.292 + 5.0933)
    assert a.unpriced == (("eks/ip-10-0-0-9", "no price for t3.large in us-east-1 (bundled catalogue)"),)
    got = {s.key: (round(s.hourly, 6), s.pods) for s in a.by(WORKLOAD)}
    assert got == {
        "lab/inference/Deployment/llama": (5.448, 1), "lab/training/Job/pretrain": (3.096, 1),
        "eks/training/Job/finetune": (2.54665, 1), "lab/inference/InferenceService/mistral": (1.392, 1),
        "lab/inference/Deployment/reranker": (0.463429, 2), "lab/default/Pod/debug": (0.0095, 1),
        IDLE: (6.813721, 3)}  # 2.4385 + 1.828571 + 2.54665
    assert [s.key for s in a.by(WORKLOAD)][:3] == ["lab/inference/Deployment/llama", "lab/training/Job/pretrain",
                                                     "eks/training/Job/finetune"]
    assert a.by(WORKLOAD)[-1].key == IDLE
    by_ns = a.by(NAMESPACE)
    assert [(s.key, round(s.hourly, 6), s.pods) for s in by_ns] == [
        ("lab/inference", 7.303429, 4), ("lab/training", 3.096, 1), ("eks/training", 2.54665, 1),
        ("lab/default", 0.0095, 1), (IDLE, 6.813721, 3)]
    llama = next(s for s in a.by(WORKLOAD) if s.key.endswith("llama"))
    assert (llama.gpu, llama.cpu, llama.memory) == pytest.approx((5.20, 0.12, 0.128))
    # every dollar of the priced nodes lands somewhere
    assert sum(s.hourly for s in by_ns) == pytest.approx(a.hourly)
    assert namespace_hourly(a)["eks/training"] == pytest.approx(2.54665)


def test_a_cluster_with_no_pods_is_all_idle() -> None:
    bare = ClusterSnapshot("lab", "lab", "https://lab", nodes=(node("lab", "cpu-01", cpu=32, mem_gib=128),))
    a = allocate([bare], CAT, ONPREM)
    assert [(s.key, s.hourly) for s in a.by(NAMESPACE)] == [(IDLE, pytest.approx(0.48 + 0.256))]


@kubectl_missing
def test_cost_by_deployment_on_a_real_cluster_and_a_namespace_budget(tmp_path: Path) -> None:
    kube = KubeFake(tmp_path / "kube").start()
    try:
        nodes, deploys = kseed._t("", "v1", "nodes"), kseed._t("apps", "v1", "deployments")
        kube.store.create(kseed._t("", "v1", "namespaces"), "", {"metadata": {"name": "ml"}})
        # 8 x 1.30 + 96 x 0.015 + 1024 x 0.002 = 10.40 + 1.44 + 2.048 = 13.888 $/h
        kube.store.create(nodes, "", kseed.node("gpu-01", cpu=96, mem_gib=1024, gpus=8, product="NVIDIA-A100-SXM4-80GB",
                                                gpu_mem_mib=81920, pool="a100-pool"))
        kube.store.create(deploys, "ml", kseed.deployment("llm", "vllm/vllm-openai:v0.6.1", 2, gpus=2))
        predictor = kseed.deployment("mistral-predictor", "kserve/huggingfaceserver:v0.13", 1, gpus=1)
        predictor["spec"]["template"]["metadata"]["labels"]["serving.kserve.io/inferenceservice"] = "mistral"
        kube.store.create(deploys, "ml", predictor)
        kube.controller.wait_idle()
        config = tmp_path / "config.toml"
        config.write_text(f'local_machine = false\n[sources.lab]\nkind = "kubernetes"\n'
                          f'kubeconfig = "{kube.kubeconfig}"\ncontext = "admin"\n'
                          '[costs.budgets]\n"lab/ml" = 3000\n')
        env = {"PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path),
               "PYTHONPATH": str(ROOT)}

        def cockpit(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "cockpit", "--config", str(config), *args],
                                  capture_output=True, text=True, env=env, timeout=120)

        r = cockpit("-o", "json", "cost", "by", "deployment")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)["data"]
        # each replica asks 2 cores and 8 GiB: llm 2 x (2.60 + 0.03 + 0.016) = 5.292, mistral 1.346, idle 7.25
        assert data["hourly_usd"] == pytest.approx(13.888)
        assert [(x["key"], round(x["hourly_usd"], 6), x.get("pods", x.get("nodes"))) for x in data["lines"]] == [
            ("lab/ml/Deployment/llm", 5.292, 2), ("lab/ml/InferenceService/mistral", 1.346, 1), (IDLE, 7.25, 1)]
        text = cockpit("cost", "by", "namespace").stdout
        assert "lab/ml" in text and "$6.64" in text and "(idle)" in text and "$7.25" in text
        r = cockpit("-o", "json", "cost", "budgets")
        # lab/ml: 6.638 $/h x 720 = 4779.36 against 3000
        assert json.loads(r.stdout)["data"] == [{"budget": "lab/ml", "kind": "namespace", "budget_usd": 3000.0,
                                                 "projected_usd": 4779.36, "ratio": 1.5931, "over": True}]
    finally:
        kube.stop()
