"""The demo cluster: a CPU pool, GPU nodes (A100, H100, L4 and one MIG-partitioned A100), an
inference namespace with Deployments (some with rollout history), HPAs and KServe
InferenceServices, and a training namespace whose jobs hold GPUs."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube import store as store_mod
from cockpit.sandbox.kube.controller import node_ip
from cockpit.sandbox.kube.server import KubeFake
from cockpit.sandbox.kube.store import Obj


def aged(obj: Obj, days: float) -> Obj:
    """Backdate an object, so the demo's ages look like a cluster that has been running a while."""
    when = store_mod.CLOCK[0]() - timedelta(days=days)
    obj.setdefault("metadata", {})["creationTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


def _t(group: str, version: str, plural: str) -> res.ResourceType:
    t = res.find(group, version, plural)
    assert t is not None
    return t


def node(name: str, *, cpu: int, mem_gib: int, gpus: int = 0, product: str = "", gpu_mem_mib: int = 0,
         pool: str, mig: str = "", ready: bool = True, taint_gpu: bool = False) -> Obj:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": pool,
              "cockpit.dev/pool": pool}
    capacity: dict[str, Any] = {"cpu": str(cpu), "memory": f"{mem_gib}Gi", "pods": "110"}
    allocatable: dict[str, Any] = {"cpu": str(cpu - 1), "memory": f"{mem_gib - 4}Gi", "pods": "110"}
    if product:  # GPU feature discovery labels the product even when every GPU is MIG-partitioned
        labels |= {"nvidia.com/gpu.product": product, "nvidia.com/gpu.count": str(gpus or 1),
                   "nvidia.com/gpu.memory": str(gpu_mem_mib), "nvidia.com/gpu.present": "true"}
    if gpus:
        capacity["nvidia.com/gpu"] = allocatable["nvidia.com/gpu"] = str(gpus)
    if mig:
        labels |= {"nvidia.com/mig.strategy": "mixed", "nvidia.com/mig.config": mig,
                   "nvidia.com/mig-1g.10gb.count": "7"}
        capacity["nvidia.com/mig-1g.10gb"] = allocatable["nvidia.com/mig-1g.10gb"] = "7"
    spec: dict[str, Any] = {"podCIDR": "10.244.0.0/24"}
    if taint_gpu:
        spec["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    return {"metadata": {"name": name, "labels": labels}, "spec": spec, "status": {
        "capacity": capacity, "allocatable": allocatable,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "kubelet is posting ready status" if ready else "PLEG is not healthy"},
                       {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"}],
        "nodeInfo": {"kubeletVersion": "v1.30.4", "containerRuntimeVersion": "containerd://1.7.20",
                     "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "6.5.0-1024", "architecture": "amd64"},
        "addresses": [{"type": "InternalIP", "address": node_ip(name)}]}}


def deployment(name: str, image: str, replicas: int, *, gpus: int = 0, model: str = "",
               tolerate_gpu: bool = False, mig: str = "") -> Obj:
    container: dict[str, Any] = {"name": name, "image": image, "ports": [{"containerPort": 8080}],
                                 "resources": {"requests": {"cpu": "2", "memory": "8Gi"}}}
    if gpus:
        container["resources"]["limits"] = {"nvidia.com/gpu": str(gpus)}
    if mig:  # one MIG slice of that profile per replica
        container["resources"]["limits"] = {f"nvidia.com/mig-{mig}": "1"}
    if model:
        container["env"] = [{"name": "MODEL_URI", "value": model}]
    spec: dict[str, Any] = {"containers": [container]}
    if tolerate_gpu:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return {"metadata": {"name": name, "labels": {"app": name},
                         "annotations": {"cockpit.dev/model": model} if model else {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
"""What lets a pod onto the tainted GPU nodes."""


def isvc(name: str, storage_uri: str, *, revision: int = 1, gpus: int = 1) -> Obj:
    """A settled InferenceService whose revision number `revision` takes all traffic (the status
    KServe would have written); `roll` makes the next revision, as a change of model does."""
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "huggingface"}, "storageUri": storage_uri,
                                           "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}},
                                 "tolerations": [dict(GPU_TOLERATION)]}
    ready = [{"type": "Ready", "status": "True"}, {"type": "PredictorReady", "status": "True"}]
    latest = f"{name}-predictor-{revision:05d}"
    return {"metadata": {"name": name}, "spec": {"predictor": predictor}, "status": {
        "url": f"http://{name}.inference.example.com", "conditions": ready,
        "components": {"predictor": {"latestReadyRevision": latest, "latestCreatedRevision": latest,
                                     "traffic": [{"revisionName": latest, "percent": 100, "latestRevision": True}]}}}}


def roll(obj: Obj, storage_uri: str, canary: int | None = None) -> Obj:
    """The InferenceService pointed at another model (KServe rolls a new revision), with that
    share of traffic on it while the previous revision keeps the rest."""
    new = copy.deepcopy(obj)
    new["spec"]["predictor"]["model"]["storageUri"] = storage_uri
    if canary is not None:
        new["spec"]["predictor"]["canaryTrafficPercent"] = canary
    return new


def hpa(name: str, target: str, lo: int, hi: int, current: int, cpu: int) -> Obj:
    return {"metadata": {"name": name}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "minReplicas": lo, "maxReplicas": hi,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                "averageUtilization": cpu}}}]},
        "status": {"currentReplicas": current, "desiredReplicas": current}}


def seed(kube: KubeFake) -> None:
    s = kube.store
    ns, nodes = _t("", "v1", "namespaces"), _t("", "v1", "nodes")
    deploys, hpas = _t("apps", "v1", "deployments"), _t("autoscaling", "v2", "horizontalpodautoscalers")
    isvcs = _t("serving.kserve.io", "v1beta1", "inferenceservices")
    for n in ("default", "kube-system", "inference", "training"):
        s.create(ns, "", {"metadata": {"name": n}})
    for i in range(1, 4):
        s.create(nodes, "", aged(node(f"cpu-{i:02d}", cpu=32, mem_gib=128, pool="cpu-pool"), 97))
    for i in range(1, 3):
        s.create(nodes, "", aged(node(f"a100-{i:02d}", cpu=96, mem_gib=1024, gpus=8, product="NVIDIA-A100-SXM4-80GB",
                                      gpu_mem_mib=81920, pool="a100-pool", taint_gpu=True), 61))
    s.create(nodes, "", aged(node("h100-01", cpu=192, mem_gib=2048, gpus=8, product="NVIDIA-H100-80GB-HBM3",
                                  gpu_mem_mib=81559, pool="h100-pool", taint_gpu=True), 23))
    s.create(nodes, "", aged(node("l4-01", cpu=48, mem_gib=192, gpus=4, product="NVIDIA-L4", gpu_mem_mib=23034,
                                  pool="l4-pool", taint_gpu=True), 40))
    s.create(nodes, "", aged(node("a100-mig-01", cpu=96, mem_gib=1024, product="NVIDIA-A100-SXM4-40GB",
                                  gpu_mem_mib=40960, pool="a100-mig-pool", mig="all-1g.10gb", taint_gpu=True), 61))
    s.create(nodes, "", aged(node("l4-02", cpu=48, mem_gib=192, gpus=4, product="NVIDIA-L4", gpu_mem_mib=23034,
                                  pool="l4-pool", ready=False, taint_gpu=True), 40))
    llm = deployment("llama-70b", "vllm/vllm-openai:v0.5.4", 2, gpus=4, tolerate_gpu=True,
                     model="models:/llama-70b-chat/7")
    s.create(deploys, "inference", aged(llm, 12))
    kube.controller.wait_idle()
    newer = copy.deepcopy(s.get(deploys, "inference", "llama-70b"))
    newer["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm/vllm-openai:v0.6.1"
    newer["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "MODEL_URI",
                                                                   "value": "models:/llama-70b-chat/8"}]
    newer["metadata"]["annotations"]["cockpit.dev/model"] = "models:/llama-70b-chat/8"
    s.update(deploys, "inference", "llama-70b", newer)
    kube.controller.wait_idle()
    # one at a time, so the scheduler places them the same way on every run
    for ns_name, d in (
        ("inference", deployment("embedder", "ghcr.io/huggingface/text-embeddings-inference:1.5", 3, gpus=1,
                                 tolerate_gpu=True, model="models:/bge-large/3")),
        ("inference", deployment("router", "ghcr.io/example/router:2.1.0", 2)),
        ("training", deployment("pretrain-7b", "nvcr.io/nvidia/pytorch:24.07-py3", 1, gpus=8, tolerate_gpu=True)),
        ("inference", deployment("reranker", "ghcr.io/example/reranker:0.9.2", 3, mig="1g.10gb",
                                 tolerate_gpu=True, model="models:/bge-reranker/2")),
    ):
        s.create(deploys, ns_name, aged(d, 19))
        kube.controller.wait_idle()
    s.create(hpas, "inference", hpa("embedder", "embedder", 2, 8, 3, 70))
    s.create(hpas, "inference", hpa("router", "router", 2, 6, 2, 60))
    # each InferenceService as its history left it: revision 00002 served v2, then v3 rolled out as
    # 00003 (mistral-7b's still a 10% canary); one step at a time, so the pods land the same way
    # every run (on a100-01, whose five free GPUs are the first with room)
    for name, model, age, canary in (("mistral-7b", "s3://models/mistral-7b-instruct/v", 6, 10),
                                     ("whisper-large", "s3://models/whisper-large/v", 15, None)):
        created = s.create(isvcs, "inference", aged(isvc(name, f"{model}2", revision=2), age))
        kube.controller.wait_idle()
        s.update(isvcs, "inference", name, roll(created, f"{model}3", canary))
        kube.controller.wait_idle()


def seed_edge(kube: KubeFake) -> None:
    """A second, smaller cluster (a European inference region on L40S): the demo's second context,
    so the Nodes and Deployments screens show one table across clusters."""
    s = kube.store
    ns, nodes = _t("", "v1", "namespaces"), _t("", "v1", "nodes")
    deploys = _t("apps", "v1", "deployments")
    for n in ("default", "kube-system", "inference"):
        s.create(ns, "", {"metadata": {"name": n}})
    s.create(nodes, "", aged(node("eu-cpu-01", cpu=16, mem_gib=64, pool="cpu-pool"), 130))
    for i in (1, 2):
        s.create(nodes, "", aged(node(f"l40s-{i:02d}", cpu=64, mem_gib=512, gpus=4, product="NVIDIA-L40S",
                                      gpu_mem_mib=46068, pool="l40s-pool", taint_gpu=True), 54))
    for d in (deployment("llama-8b", "vllm/vllm-openai:v0.6.1", 3, gpus=1, tolerate_gpu=True,
                         model="models:/llama-8b-instruct/4"),
              deployment("embedder", "ghcr.io/huggingface/text-embeddings-inference:1.5", 1, gpus=1,
                         tolerate_gpu=True, model="models:/bge-large/3")):
        s.create(deploys, "inference", aged(d, 8))
        kube.controller.wait_idle()
