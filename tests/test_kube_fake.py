"""The Kubernetes API fake, checked with the official Python client and with kubectl itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube.server import KubeFake

kubectl_missing = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

NODE = {"spec": {}, "status": {"allocatable": {"nvidia.com/gpu": "4", "cpu": "64"},
                               "capacity": {"nvidia.com/gpu": "4", "cpu": "64"},
                               "conditions": [{"type": "Ready", "status": "True"}]}}


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeFake]:
    with KubeFake(tmp_path / "kube") as k:
        ns, node = res.find("", "v1", "namespaces"), res.find("", "v1", "nodes")
        assert ns and node
        k.store.create(ns, "", {"metadata": {"name": "default"}})
        for i in (1, 2):
            k.store.create(node, "", {"metadata": {"name": f"gpu-{i}", "labels": {"nvidia.com/gpu.product": "A100"}},
                                      **json.loads(json.dumps(NODE))})
        yield k


def kubectl(kube: KubeFake, *args: str) -> str:
    r = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), *args], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def client(kube: KubeFake, context: str = "admin"):  # type: ignore[no-untyped-def]
    from kubernetes import client as k8s
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kube.kubeconfig), context=context), k8s


def get_json(kube: KubeFake, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(kubectl(kube, "get", *args, "-o", "json"))


@kubectl_missing
def test_kubectl_rollout_cycle(kube: KubeFake) -> None:
    kubectl(kube, "create", "deployment", "llm", "--image=vllm:0.5", "--replicas=2")
    kube.controller.wait_idle()
    d = get_json(kube, "deployment", "llm")
    assert d["status"]["readyReplicas"] == 2
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert len(get_json(kube, "pods", "-l", "app=llm")["items"]) == 2
    kubectl(kube, "scale", "deployment/llm", "--replicas=3")
    kubectl(kube, "set", "image", "deployment/llm", "vllm=vllm:0.6")
    assert "successfully rolled out" in kubectl(kube, "rollout", "status", "deployment/llm", "--timeout=20s")
    history = kubectl(kube, "rollout", "history", "deployment/llm")
    assert [ln.split()[0] for ln in history.splitlines()[2:] if ln.strip()] == ["1", "2"]
    kubectl(kube, "rollout", "undo", "deployment/llm")
    kube.controller.wait_idle()
    d = get_json(kube, "deployment", "llm")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "vllm:0.5"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert d["status"]["readyReplicas"] == 3 and d["status"]["updatedReplicas"] == 3
    pods = get_json(kube, "pods", "-l", "app=llm")["items"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"vllm:0.5"} and len(pods) == 3


@kubectl_missing
def test_kubectl_cordon_drain_respects_pdb(kube: KubeFake) -> None:
    kubectl(kube, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    kube.controller.wait_idle()
    kubectl(kube, "cordon", "gpu-2")
    assert get_json(kube, "node", "gpu-2")["spec"]["unschedulable"] is True
    kubectl(kube, "uncordon", "gpu-2")
    assert "unschedulable" not in get_json(kube, "node", "gpu-2")["spec"]
    kubectl(kube, "create", "pdb", "web", "--selector=app=web", "--min-available=2")
    r = subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig), "drain", "gpu-1", "--timeout=3s"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "disruption budget" in r.stderr
    kubectl(kube, "delete", "pdb", "web")
    kubectl(kube, "drain", "gpu-1", "--timeout=20s")
    kube.controller.wait_idle()
    pods = get_json(kube, "pods", "-l", "app=web")["items"]
    assert len(pods) == 2 and {p["spec"]["nodeName"] for p in pods} == {"gpu-2"}


def test_gpu_requests_are_scheduled_and_unschedulable_pods_wait(kube: KubeFake) -> None:
    api, k8s = client(kube)
    apps = k8s.AppsV1Api(api)
    body = {"metadata": {"name": "train"}, "spec": {
        "replicas": 3, "selector": {"matchLabels": {"app": "train"}},
        "template": {"metadata": {"labels": {"app": "train"}}, "spec": {"containers": [
            {"name": "t", "image": "torch", "resources": {"limits": {"nvidia.com/gpu": "3"}}}]}}}}
    apps.create_namespaced_deployment("default", body)
    kube.controller.wait_idle()
    pods = k8s.CoreV1Api(api).list_namespaced_pod("default", label_selector="app=train").items
    placed = sorted(p.spec.node_name or "" for p in pods)
    assert placed == ["", "gpu-1", "gpu-2"]  # 4 GPUs a node: the third pod does not fit anywhere
    pending = next(p for p in pods if not p.spec.node_name)
    assert pending.status.phase == "Pending" and "insufficient nvidia.com/gpu" in pending.status.conditions[0].message
    apps.patch_namespaced_deployment_scale("train", "default", {"spec": {"replicas": 2}})
    kube.controller.wait_idle()
    d = apps.read_namespaced_deployment("train", "default")
    assert d.spec.replicas == 2 and d.status.ready_replicas == 2


def test_watch_streams_changes_and_410_on_expired_versions(kube: KubeFake) -> None:
    from kubernetes import watch

    api, k8s = client(kube)
    core = k8s.CoreV1Api(api)
    listing = core.list_node()
    rv = listing.metadata.resource_version
    seen: list[tuple[str, str]] = []

    def run() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_node, resource_version=rv, timeout_seconds=5):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    core.patch_node("gpu-1", {"metadata": {"labels": {"x": "1"}}})
    core.delete_node("gpu-2")
    t.join(10)
    assert seen == [("MODIFIED", "gpu-1"), ("DELETED", "gpu-2")]
    from kubernetes.client.rest import ApiException

    kube.store._events.extend([kube.store._events[-1]] * kube.store._events.maxlen)  # compact the history
    with pytest.raises(ApiException) as info:
        for _ in watch.Watch().stream(core.list_node, resource_version="1", timeout_seconds=2):
            pass
    assert info.value.status == 410


def test_selectors_conflicts_and_forbidden(kube: KubeFake) -> None:
    from kubernetes.client.rest import ApiException

    api, k8s = client(kube)
    core = k8s.CoreV1Api(api)
    assert [n.metadata.name for n in core.list_node(label_selector="nvidia.com/gpu.product=A100").items] == [
        "gpu-1", "gpu-2"]
    assert [n.metadata.name for n in core.list_node(field_selector="metadata.name=gpu-2").items] == ["gpu-2"]
    assert core.list_node(label_selector="nvidia.com/gpu.product in (H100,L4)").items == []
    node = core.read_node("gpu-1")
    core.patch_node("gpu-1", {"metadata": {"labels": {"y": "2"}}})
    node.metadata.labels["z"] = "3"
    with pytest.raises(ApiException) as info:
        core.replace_node("gpu-1", node)  # stale resourceVersion
    assert info.value.status == 409
    kube.api.forbidden.add(("viewer", "list", "nodes"))
    viewer, _ = client(kube, "viewer")
    with pytest.raises(ApiException) as info:
        k8s.CoreV1Api(viewer).list_node()
    assert info.value.status == 403
    assert 'User \\"viewer\\" cannot list resource \\"nodes\\"' in info.value.body or \
        'User "viewer" cannot list resource "nodes"' in info.value.body


@kubectl_missing
def test_seeded_demo_cluster(tmp_path: Path) -> None:
    from cockpit.sandbox.kube.seed import seed

    with KubeFake(tmp_path / "seeded") as kube:
        seed(kube)
        nodes = {n["metadata"]["name"]: n for n in get_json(kube, "nodes")["items"]}
        products = {n["metadata"]["labels"].get("nvidia.com/gpu.product") for n in nodes.values()}
        assert {"NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3", "NVIDIA-L4", "NVIDIA-A100-SXM4-40GB"} <= products
        assert nodes["a100-mig-01"]["metadata"]["labels"]["nvidia.com/mig.strategy"] == "mixed"
        assert nodes["l4-02"]["status"]["conditions"][0]["status"] == "False"
        history = kubectl(kube, "rollout", "history", "-n", "inference", "deployment/llama-70b")
        assert [ln.split()[0] for ln in history.splitlines()[2:] if ln.strip()] == ["1", "2"]
        pods = get_json(kube, "pods", "-A")["items"]
        assert all(p["status"]["phase"] == "Running" for p in pods)
        gpu_nodes = {p["spec"]["nodeName"] for p in pods if p["metadata"]["name"].startswith(("llama", "embedder"))}
        assert gpu_nodes <= {"a100-01", "a100-02", "h100-01"}  # tolerations let them onto tainted GPU nodes
        router_nodes = {p["spec"]["nodeName"] for p in pods if p["metadata"]["name"].startswith("router")}
        assert router_nodes <= {"cpu-01", "cpu-02", "cpu-03"}  # no toleration: never on a GPU node
        isvcs = get_json(kube, "inferenceservices", "-n", "inference")["items"]
        mistral = next(i for i in isvcs if i["metadata"]["name"] == "mistral-7b")
        assert mistral["spec"]["predictor"]["canaryTrafficPercent"] == 10
        hpas = get_json(kube, "hpa", "-n", "inference")["items"]
        assert {h["metadata"]["name"] for h in hpas} == {"embedder", "router"}


@kubectl_missing
def test_kubectl_get_prints_the_columns_of_a_real_server(tmp_path: Path) -> None:
    from cockpit.sandbox.kube.seed import seed

    with KubeFake(tmp_path / "kube") as k:
        seed(k)
        nodes = kubectl(k, "get", "nodes").splitlines()
        assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        assert [line.split()[:2] for line in nodes if line.startswith("l4-02")] == [["l4-02", "NotReady"]]
        pods = kubectl(k, "get", "pods", "-n", "training", "-o", "wide").splitlines()
        assert pods[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and "NODE" in pods[0]
        assert pods[1].split()[2] == "Running" and pods[1].split()[-1] == "h100-01"
        isvc = kubectl(k, "get", "isvc", "-n", "inference").splitlines()
        assert isvc[0].split() == ["NAME", "URL", "READY", "PREV", "LATEST", "AGE"]
        assert isvc[1].split()[:5] == ["mistral-7b", "http://mistral-7b.inference.example.com", "True", "90", "10"]
