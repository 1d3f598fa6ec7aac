"""The Kubernetes backend against the seeded fake: reads, watches (410, reconnect), RBAC, and every
operation through the command registry, read back with kubectl."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.audit import AuditLog
from cockpit.commands import Context
from cockpit.config import Config
from cockpit.contracts import CLUSTERS
from cockpit.hub import Hub
from cockpit.sandbox import kube_source
from cockpit.sandbox.kube.server import KubeFake
from tests.conftest import FIXED_NOW, audit_entries
from tests.kube_helpers import eventually, kget, kubectl, kubectl_missing


@pytest.fixture
def khub(kube: KubeFake, tmp_path: Path) -> Iterator[Hub]:
    config = Config(sources=(kube_source("gpu-prod", kube.kubeconfig),
                             kube_source("viewer", kube.kubeconfig, "viewer", colour="blue")),
                    audit_path=tmp_path / "audit.jsonl")
    h = Hub(config, now=lambda: FIXED_NOW)
    yield h
    h.close()


@pytest.fixture
def kctx(khub: Hub) -> Context:
    return Context(hub=khub, audit=AuditLog(khub.config.audit_path), origin="script")


def run(registry: Any, kctx: Context, line: str, **kw: Any) -> Any:
    r = registry.run_line(line, kctx, yes=True, **kw)
    assert r.status in ("ok", "planned"), (line, r.status, r.error)
    return r


def test_snapshot_nodes_gpus_mig_and_workloads(khub: Hub) -> None:
    snap = khub.call("gpu-prod", CLUSTERS, lambda b: b.snapshot())
    nodes = {n.name: n for n in snap.nodes}
    assert snap.synced and not snap.errors and len(nodes) == 9
    a100 = nodes["a100-02"]
    assert (a100.gpu_product, a100.gpu_capacity, a100.gpu_allocatable, a100.gpu_allocated, a100.gpu_free) == (
        "NVIDIA-A100-SXM4-80GB", 8, 8, 8, 0)
    assert {p.name.rsplit("-", 2)[0] for p in a100.gpu_pods} == {"llama-70b"}
    # the embedder's 3 and one for each InferenceService revision with traffic (mistral-7b 00002 and
    # 00003, whisper-large 00003): KServe's predictor pods
    assert nodes["a100-01"].gpu_allocated == 6 and nodes["a100-01"].gpu_free == 2
    assert sorted(p.isvc for p in nodes["a100-01"].gpu_pods if p.isvc) == ["mistral-7b", "mistral-7b",
                                                                           "whisper-large"]
    mig = nodes["a100-mig-01"]
    assert mig.mig_strategy == "mixed" and [(s.profile, s.allocatable) for s in mig.mig] == [("1g.10gb", 7)]
    assert not nodes["l4-02"].ready and nodes["l4-02"].gpu_free == 0  # NotReady: nothing is free there
    assert nodes["l4-01"].taints == ("nvidia.com/gpu=present:NoSchedule",)
    deploys = {d.name: d for d in snap.deployments}
    llama = deploys["llama-70b"]
    assert (llama.revision, llama.ready, llama.gpus_per_replica, llama.model) == (2, 2, 4, "models:/llama-70b-chat/8")
    assert llama.rollout.value == "complete"
    hpas = {h.name: h for h in snap.hpas}
    assert (hpas["embedder"].min_replicas, hpas["embedder"].max_replicas, hpas["embedder"].targets) == (
        2, 8, "cpu ?%/70%")
    isvc = {i.name: i for i in snap.inference_services}["mistral-7b"]
    assert isvc.canary_percent == 10 and isvc.storage_uri == "s3://models/mistral-7b-instruct/v3"
    assert [(t.percent, t.latest) for t in isvc.traffic] == [(90, False), (10, True)]


@kubectl_missing
def test_watch_brings_changes_without_relisting(khub: Hub, kube: KubeFake) -> None:
    khub.call("gpu-prod", CLUSTERS, lambda b: b.snapshot())
    kubectl(kube, "cordon", "cpu-02")
    kubectl(kube, "scale", "deployment/router", "-n", "inference", "--replicas=3")
    eventually(lambda: {n.name: n for n in khub.call("gpu-prod", CLUSTERS, lambda b: b.snapshot()).nodes}["cpu-02"]
               .unschedulable, what="cordon seen through the watch")
    eventually(lambda: {d.name: d for d in khub.call("gpu-prod", CLUSTERS, lambda b: b.snapshot()).deployments}
               ["router"].ready == 3, what="scale seen through the watch")
    backend = khub.call("gpu-prod", CLUSTERS, lambda b: b)
    assert all(inf.relists == 0 for g in backend.cache.informers.values() for inf in g)


@kubectl_missing
def test_410_gone_relists_and_a_restart_reconnects(khub: Hub, kube: KubeFake,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import backends.kubernetes.cache as cache

    monkeypatch.setattr(cache, "WATCH_SECONDS", 1)
    backend = khub.call("gpu-prod", CLUSTERS, lambda b: b)
    backend.snapshot()
    nodes = backend.cache.informers["nodes"][0]
    eventually(lambda: nodes.events == 0 and nodes.resource_version, what="a quiet watch")
    # as if it had fallen far behind and missed a deletion: its version is compacted away
    with nodes.lock:
        nodes.resource_version = "101"
        del nodes.items["/cpu-03"]
    kube.store._events.extend([kube.store._events[-1]] * kube.store._events.maxlen)
    eventually(lambda: nodes.relists >= 1, what="a relist after 410")
    eventually(lambda: "cpu-03" in {n.name for n in backend.snapshot().nodes}, what="the relist's full picture")
    # the API server goes away and comes back on the same port: the watches reconnect
    port = int(kube.url.rsplit(":", 1)[1])
    kube.stop()
    eventually(lambda: "cannot reach" in backend.snapshot().errors.get("nodes", ""),
               what="the lost server reported")
    kube.start(port)
    kubectl(kube, "uncordon", "cpu-03")
    kubectl(kube, "label", "node", "cpu-01", "team=infra")
    eventually(lambda: not backend.snapshot().errors and ("team", "infra") in
               {n.name: n for n in backend.snapshot().nodes}["cpu-01"].labels, timeout=15,
               what="watches reconnected")


def test_forbidden_list_shows_as_forbidden_not_empty(khub: Hub, kube: KubeFake, registry: Any, kctx: Context) -> None:
    kube.api.forbidden.add(("viewer", "list", "nodes"))
    kube.api.forbidden.add(("viewer", "watch", "nodes"))
    snap = khub.call("viewer", CLUSTERS, lambda b: b.snapshot())
    assert snap.errors["nodes"] == "forbidden: list nodes"
    assert snap.deployments  # the rest of that cluster still reads
    r = registry.run_line("node list --source viewer", kctx)
    assert r.status == "failed" and r.outcome.error.message == "viewer: forbidden: list nodes"
    assert r.outcome.table.rows == ()


@kubectl_missing
def test_scale_restart_set_image_and_rollback_read_back_with_kubectl(registry: Any, kctx: Context,
                                                                     kube: KubeFake) -> None:
    r = run(registry, kctx, "deploy scale gpu-prod/inference/router 4")
    assert r.outcome.data["rollout"] == "complete" and "scaled 2 -> 4" in r.outcome.text
    assert kget(kube, "deploy", "router", "-n", "inference")["spec"]["replicas"] == 4

    run(registry, kctx, "deploy restart gpu-prod/inference/router")
    tpl = kget(kube, "deploy", "router", "-n", "inference")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in tpl["metadata"]["annotations"]

    run(registry, kctx, "deploy set-image gpu-prod/inference/embedder ghcr.io/hf/tei:1.6")
    d = kget(kube, "deploy", "embedder", "-n", "inference")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/hf/tei:1.6"
    assert "successfully rolled out" in kubectl(kube, "rollout", "status", "deploy/embedder", "-n", "inference")

    plan = run(registry, kctx, "deploy rollback gpu-prod/inference/llama-70b", dry_run=True)
    assert plan.status == "planned" and "to revision 1 (vllm/vllm-openai:v0.5.4, model models:/llama-70b-chat/7)" \
        in plan.outcome.text
    run(registry, kctx, "deploy rollback gpu-prod/inference/llama-70b")
    d = kget(kube, "deploy", "llama-70b", "-n", "inference")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "vllm/vllm-openai:v0.5.4"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = kubectl(kube, "rollout", "history", "deploy/llama-70b", "-n", "inference")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    run(registry, kctx, "deploy rollback gpu-prod/inference/llama-70b --to-revision 2")
    assert kget(kube, "deploy", "llama-70b", "-n", "inference")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "vllm/vllm-openai:v0.6.1"

    entries = audit_entries(kctx)
    by_cmd = {e["command"]: e for e in entries}
    assert by_cmd["deploy scale"]["previous"] == {"replicas": 2}
    assert by_cmd["deploy set-image"]["previous"] == {"images": {"embedder":
                                                                  "ghcr.io/huggingface/text-embeddings-inference:1.5"}}
    assert [e["previous"]["revision"] for e in entries if e["command"] == "deploy rollback"] == [2, 3]


@kubectl_missing
def test_cordon_uncordon_and_drain_with_a_pdb(registry: Any, kctx: Context, kube: KubeFake) -> None:
    run(registry, kctx, "node cordon gpu-prod/l4-01")
    assert kget(kube, "node", "l4-01")["spec"]["unschedulable"] is True
    r = registry.run_line("node cordon gpu-prod/l4-01", kctx, yes=True)
    assert r.outcome.text == "gpu-prod/l4-01 is already cordoned"
    run(registry, kctx, "node uncordon gpu-prod/l4-01")
    assert not kget(kube, "node", "l4-01")["spec"].get("unschedulable")

    pods_before = {p["metadata"]["name"] for p in kget(kube, "pods", "-A", "--field-selector",
                                                       "spec.nodeName=a100-01")["items"]}
    dry = run(registry, kctx, "node drain gpu-prod/a100-01", dry_run=True)
    assert dry.status == "planned" and all(f"evict inference/{p}" in dry.outcome.text for p in pods_before)
    assert not kget(kube, "node", "a100-01")["spec"].get("unschedulable")  # the dry run changed nothing

    kubectl(kube, "create", "poddisruptionbudget", "embedder", "-n", "inference", "--selector=app=embedder",
            "--min-available=3")
    r = registry.run_line("node drain gpu-prod/a100-01 --timeout 1s", kctx, yes=True)
    assert r.status == "failed" and "PodDisruptionBudget" in r.error
    assert kget(kube, "node", "a100-01")["spec"]["unschedulable"] is True
    left = {p["metadata"]["name"] for p in kget(kube, "pods", "-n", "inference", "--field-selector",
                                                "spec.nodeName=a100-01")["items"]}
    assert left and all(name.startswith("embedder-") for name in left)

    kubectl(kube, "delete", "poddisruptionbudget", "embedder", "-n", "inference")
    run(registry, kctx, "node drain gpu-prod/a100-01 --timeout 5s")
    kube.controller.wait_idle()
    assert not (pods_before & {p["metadata"]["name"] for p in kget(kube, "pods", "-A")["items"]})
    drains = [e for e in audit_entries(kctx) if e["command"] == "node drain"]
    assert drains[-1]["previous"]["unschedulable"] is True and drains[0]["result"] == "failed"


@kubectl_missing
def test_hpa_set_and_isvc_canary_promote_rollback(registry: Any, kctx: Context, kube: KubeFake) -> None:
    run(registry, kctx, "hpa set gpu-prod/inference/embedder --min 3 --max 12")
    spec = kget(kube, "hpa", "embedder", "-n", "inference")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    bad = registry.run_line("hpa set gpu-prod/inference/embedder --min 20", kctx, yes=True)
    assert bad.status == "invalid" and bad.error == "hpa set: --min 20 is above --max 12"

    path = ("inferenceservice", "mistral-7b", "-n", "inference")
    run(registry, kctx, "isvc canary gpu-prod/inference/mistral-7b 30")
    isvc = kget(kube, *path)
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 30
    assert [t["percent"] for t in isvc["status"]["components"]["predictor"]["traffic"]] == [70, 30]
    run(registry, kctx, "isvc rollback gpu-prod/inference/mistral-7b")
    assert kget(kube, *path)["spec"]["predictor"]["canaryTrafficPercent"] == 0
    r = run(registry, kctx, "isvc promote gpu-prod/inference/mistral-7b")
    isvc = kget(kube, *path)
    assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]
    assert [t["percent"] for t in isvc["status"]["components"]["predictor"]["traffic"]] == [100]
    assert r.outcome.new["canaryTrafficPercent"] is None  # and the split by revision, for the audit's CHANGE
    assert list(r.outcome.new["traffic"].values()) == [100]
    prev = [e["previous"]["canaryTrafficPercent"] for e in audit_entries(kctx) if e["command"].startswith("isvc")]
    assert prev == [10, 30, 0]


@pytest.mark.parametrize(("line", "error"), [
    ("deploy scale nowhere/inference/router 2", "unknown cluster 'nowhere' in 'nowhere/inference/router' "
                                                "(clusters: gpu-prod, viewer)"),
    ("deploy scale inference/router 2", "'inference/router' is ambiguous: write CLUSTER/NAMESPACE/NAME "
                                        "(clusters: gpu-prod, viewer)"),
    ("deploy scale gpu-prod/inference/Router 2", "name: 'Router' is not a valid Kubernetes name "
                                                 "(lowercase letters, digits, '-', '.')"),
    ("deploy scale gpu-prod/inference/router two", "N: 'two' is not a whole number"),
    ("deploy rollback gpu-prod/inference/llama-70b --to-revision 9",
     "gpu-prod: deployment inference/llama-70b has no revision 9 (revisions: 1, 2)"),
    ("deploy scale gpu-prod/inference/nope 2", "gpu-prod: get deployments/nope: not found"),
    ("isvc canary gpu-prod/inference/mistral-7b 150", "PERCENT: 150 is out of range (0..100)"),
    ("node drain gpu-prod/a100-01 --timeout soon", "--timeout: 'soon' is not a duration (examples: 30s, 5m, 1h)"),
])
def test_bad_input_gives_one_clear_line(registry: Any, kctx: Context, line: str, error: str) -> None:
    r = registry.run_line(line, kctx, yes=True)
    assert r.status in ("invalid", "failed") and r.error == error
    assert audit_entries(kctx) == []


def test_namespaces_from_config_limit_the_namespaced_kinds(kube: KubeFake, tmp_path: Path) -> None:
    from dataclasses import replace

    src = kube_source("lab", kube.kubeconfig)
    src = replace(src, settings={**src.settings, "namespaces": ["inference"]})
    h = Hub(Config(sources=(src,), audit_path=tmp_path / "a.jsonl"), now=lambda: FIXED_NOW)
    try:
        snap = h.call("lab", CLUSTERS, lambda b: b.snapshot())
        assert {d.namespace for d in snap.deployments} == {"inference"}
        assert len(snap.nodes) == 9  # nodes are cluster-scoped
        nodes = {n.name: n for n in snap.nodes}
        # the training job's 8 H100s are not counted: its namespace is not watched
        assert nodes["h100-01"].gpu_allocated == 0 and nodes["a100-02"].gpu_allocated == 8
        assert snap.notes["pods"] == "GPUs allocated count pods in inference only (namespaces in config)"
    finally:
        h.close()
