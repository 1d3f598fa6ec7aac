"""KServe in the Kubernetes fake serves like KServe's serverless mode: each InferenceService
revision with traffic runs as a Deployment `{revision}-deployment` whose pods hold GPUs on a node,
with the model of that revision; a revision whose traffic drops to 0 loses its pods; deleting the
InferenceService removes them. Read back as a user would, with kubectl, and through the cockpit,
which shows the InferenceService (with the cost of those pods), never the Deployments KServe made."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.allocation import allocate
from cockpit.audit import AuditLog
from cockpit.commands import Context, build_registry
from cockpit.config import Config
from cockpit.contracts import CLUSTERS
from cockpit.costs import OnPremModel
from cockpit.hub import Hub
from cockpit.prices import bundled
from cockpit.sandbox import kube_source
from cockpit.sandbox.canaries import canary_pods
from cockpit.sandbox.kube.server import KubeFake
from tests.conftest import FIXED_NOW
from tests.kube_helpers import kget, kubectl, kubectl_missing
from tests.prom_helpers import prometheus_missing
from tests.rollout_helpers import own_prometheus, rollout_context

pytestmark = kubectl_missing

ISVC = "serving.kserve.io/inferenceservice"
REV = "serving.knative.dev/revision"


def predictor_pods(kube: KubeFake, isvc: str) -> dict[str, dict[str, Any]]:
    """revision -> its pod (each revision runs one replica here), as kubectl lists them."""
    kube.controller.wait_idle()
    pods = kget(kube, "pods", "-n", "inference", "-l", f"{ISVC}={isvc}")["items"]
    by_rev: dict[str, dict[str, Any]] = {}
    for p in pods:
        rev = p["metadata"]["labels"][REV]
        assert rev not in by_rev, f"two pods for {rev}"
        by_rev[rev] = p
    return by_rev


def storage(pod: dict[str, Any]) -> str:
    (c,) = pod["spec"]["containers"]
    assert c["name"] == "kserve-container"
    return str(next(e["value"] for e in c["env"] if e["name"] == "STORAGE_URI"))


def patch(kube: KubeFake, isvc: str, body: dict[str, Any]) -> None:
    kubectl(kube, "patch", "isvc", isvc, "-n", "inference", "--type=merge", "-p", json.dumps(body))


def canary(percent: int | None) -> dict[str, Any]:
    return {"spec": {"predictor": {"canaryTrafficPercent": percent}}}


def test_each_revision_with_traffic_runs_its_own_model_on_a_gpu_node(kube: KubeFake) -> None:
    pods = predictor_pods(kube, "mistral-7b")
    assert sorted(pods) == ["mistral-7b-predictor-00002", "mistral-7b-predictor-00003"]  # 90% and 10%
    for rev, p in pods.items():
        assert p["metadata"]["name"].startswith(f"{rev}-deployment-")
        assert p["metadata"]["labels"]["component"] == "predictor"
        assert p["status"]["phase"] == "Running"
        # the seeded cluster's first GPU node with room: a100-01 had 5 of its 8 GPUs free
        assert p["spec"]["nodeName"] == "a100-01"
        assert p["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in p["spec"]["tolerations"]
    # the previous revision still serves the previous model while the new one is the canary
    assert storage(pods["mistral-7b-predictor-00002"]) == "s3://models/mistral-7b-instruct/v2"
    assert storage(pods["mistral-7b-predictor-00003"]) == "s3://models/mistral-7b-instruct/v3"
    whisper = predictor_pods(kube, "whisper-large")
    assert sorted(whisper) == ["whisper-large-predictor-00003"]  # 00002 has no traffic: scaled to zero
    d = kget(kube, "deployment", "mistral-7b-predictor-00003-deployment", "-n", "inference")
    (owner,) = d["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("InferenceService", "mistral-7b", True)
    assert d["spec"]["selector"]["matchLabels"] == {REV: "mistral-7b-predictor-00003"}
    node = kget(kube, "node", "a100-01")
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "8"


def test_a_canary_at_zero_loses_its_pods_and_a_promotion_the_old_ones(kube: KubeFake) -> None:
    patch(kube, "mistral-7b", canary(0))
    pods = predictor_pods(kube, "mistral-7b")
    assert sorted(pods) == ["mistral-7b-predictor-00002"]
    assert storage(pods["mistral-7b-predictor-00002"]) == "s3://models/mistral-7b-instruct/v2"
    patch(kube, "mistral-7b", canary(30))  # back again, with the model it had
    pods = predictor_pods(kube, "mistral-7b")
    assert {r: storage(p) for r, p in pods.items()} == {
        "mistral-7b-predictor-00002": "s3://models/mistral-7b-instruct/v2",
        "mistral-7b-predictor-00003": "s3://models/mistral-7b-instruct/v3"}
    patch(kube, "mistral-7b", canary(None))  # promoted: the latest takes all traffic
    pods = predictor_pods(kube, "mistral-7b")
    assert sorted(pods) == ["mistral-7b-predictor-00003"]
    assert [t["percent"] for t in kget(kube, "isvc", "mistral-7b", "-n", "inference")["status"]["components"]
            ["predictor"]["traffic"]] == [100]


def test_a_new_model_is_a_new_revision_beside_the_one_it_replaces(kube: KubeFake) -> None:
    patch(kube, "whisper-large", {"spec": {"predictor": {"canaryTrafficPercent": 20,
                                                         "model": {"storageUri": "s3://models/whisper-large/v4"}}}})
    pods = predictor_pods(kube, "whisper-large")
    assert {r: storage(p) for r, p in pods.items()} == {
        "whisper-large-predictor-00003": "s3://models/whisper-large/v3",
        "whisper-large-predictor-00004": "s3://models/whisper-large/v4"}
    patch(kube, "whisper-large", canary(0))  # rolled back: the new revision's pods go
    assert {r: storage(p) for r, p in predictor_pods(kube, "whisper-large").items()} == {
        "whisper-large-predictor-00003": "s3://models/whisper-large/v3"}


def test_deleting_the_inference_service_removes_its_pods(kube: KubeFake) -> None:
    assert predictor_pods(kube, "mistral-7b")
    kubectl(kube, "delete", "isvc", "mistral-7b", "-n", "inference")
    assert predictor_pods(kube, "mistral-7b") == {}
    left = kget(kube, "deployments", "-n", "inference", "-l", f"{ISVC}=mistral-7b")["items"]
    assert left == [] and kget(kube, "replicasets", "-n", "inference", "-l", f"{ISVC}=mistral-7b")["items"] == []
    assert sorted(predictor_pods(kube, "whisper-large")) == ["whisper-large-predictor-00003"]  # the other stays


def test_a_deleted_revision_deployment_comes_back_while_it_takes_traffic(kube: KubeFake) -> None:
    kubectl(kube, "delete", "deployment", "mistral-7b-predictor-00002-deployment", "-n", "inference")
    pods = predictor_pods(kube, "mistral-7b")
    assert storage(pods["mistral-7b-predictor-00002"]) == "s3://models/mistral-7b-instruct/v2"


def test_the_cockpit_shows_the_inference_service_with_the_cost_of_its_pods(kube: KubeFake, tmp_path: Path) -> None:
    kube.controller.wait_idle()
    h = Hub(Config(sources=(kube_source("gpu-prod", kube.kubeconfig),), audit_path=tmp_path / "audit.jsonl"),
            now=lambda: FIXED_NOW)
    try:
        snap = h.call("gpu-prod", CLUSTERS, lambda b: b.snapshot())
        assert [d.name for d in snap.deployments] == ["embedder", "llama-70b", "reranker", "router", "pretrain-7b"]
        a100 = {n.name: n for n in snap.nodes}["a100-01"]
        assert (a100.gpu_allocated, a100.gpu_free) == (6, 2)  # 3 embedder + 2 mistral + 1 whisper
        assert {p.isvc for p in a100.gpu_pods} == {"", "mistral-7b", "whisper-large"}
        hourly = allocate([snap], bundled(), OnPremModel()).workload_hourly()
        # one A100 each at the on-prem model's $1.30/GPU-h (no CPU or memory requested)
        assert hourly["gpu-prod/inference/InferenceService/mistral-7b"] == pytest.approx(2.60)
        assert hourly["gpu-prod/inference/InferenceService/whisper-large"] == pytest.approx(1.30)
        assert not [k for k in hourly if "-deployment" in k]
        ctx = Context(hub=h, audit=AuditLog(h.config.audit_path), origin="script")
        listed = build_registry().run_line("deploy list", ctx)
        assert listed.status == "ok"
        assert not [d for d in listed.outcome.data if "predictor" in d["name"]]
        assert len(listed.outcome.data) == 5
    finally:
        h.close()


def test_the_demo_serves_each_revision_not_in_the_fixed_fleet(kube: KubeFake) -> None:
    """The fixed fleet names a pod for mistral-7b's revision 00003; 00002 and whisper-large's
    revision serve from their real pods, with their base's figures and their model's quality."""
    kube.controller.wait_idle()
    served = {s.pod.split("-deployment-")[0]: s for s in canary_pods(kube.store, "gpu-prod")}
    assert sorted(served) == ["mistral-7b-predictor-00002", "whisper-large-predictor-00003"]
    assert (served["mistral-7b-predictor-00002"].p50, served["mistral-7b-predictor-00002"].error_ratio) == (
        0.35, 0.002)
    patch(kube, "mistral-7b", {"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {
        "storageUri": "s3://models/mistral-7b-instruct/v5"}}}})
    kube.controller.wait_idle()
    bad = next(s for s in canary_pods(kube.store, "gpu-prod") if s.pod.startswith("mistral-7b-predictor-00004-"))
    assert (bad.workload, bad.error_ratio) == ("mistral-7b-predictor", 0.06) and bad.p50 == pytest.approx(1.05)


def test_an_inference_service_it_cannot_read_does_not_fail_the_write(kube: KubeFake) -> None:
    from cockpit.sandbox.kube import resources as res

    t = res.find("serving.kserve.io", "v1beta1", "inferenceservices")
    assert t is not None
    made = kube.store.create(t, "inference", {"metadata": {"name": "odd"}, "spec": {"predictor": {
        "minReplicas": "two", "model": {"storageUri": "s3://models/odd/v1"}}}})
    assert made["metadata"]["name"] == "odd"  # stored; its Deployment is not made, the others stand
    assert predictor_pods(kube, "odd") == {} and sorted(predictor_pods(kube, "whisper-large")) == [
        "whisper-large-predictor-00003"]


ROLLOUT = ("rollout start reg/mistral-7b-instruct --to gpu-prod/inference/mistral-7b --steps 50,100 --interval 6s "
           "--prometheus prom --gate 'error_rate < 1%' --gate 'p95 < 3s' ")


@pytest.fixture
def demo(kube: KubeFake, db: Path, tmp_path: Path) -> Iterator[Context]:
    """The demo's wiring, with its own Prometheus (the revisions' series must not reach the
    session's, which the Metrics snapshots read): the cluster's predictor pods serve there."""
    with own_prometheus(kube) as server, rollout_context(kube, db, tmp_path, server.url) as ctx:
        yield ctx


@prometheus_missing
def test_the_demo_rollout_to_an_inference_service_promotes_v4_and_rolls_v5_back(demo: Context,
                                                                                 kube: KubeFake) -> None:
    """From the seeded 10% canary (v3 over v2): v4 becomes the canary beside v3, its own pods'
    series hold the gates, and it takes all traffic; v5 (slow, 6% errors) fails them and goes."""
    good = build_registry().run_line(ROLLOUT + "--version 4", demo, yes=True)
    assert good.status == "ok", good.error
    isvc = kget(kube, "isvc", "mistral-7b", "-n", "inference")
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == "s3://models/mistral-7b-instruct/v4"
    assert {r: storage(p) for r, p in predictor_pods(kube, "mistral-7b").items()} == {
        "mistral-7b-predictor-00004": "s3://models/mistral-7b-instruct/v4"}

    bad = build_registry().run_line(ROLLOUT + "--version 5", demo, yes=True)
    assert (bad.status, bad.exit_code) == ("failed", 1), bad.error
    assert "rolled back at 50%" in str(bad.error) and re.search(r"error_rate < 1%: [\d.]+% FAILS", str(bad.error))
    traffic = kget(kube, "isvc", "mistral-7b", "-n", "inference")["status"]["components"]["predictor"]["traffic"]
    assert [(t["revisionName"], t["percent"]) for t in traffic] == [("mistral-7b-predictor-00004", 100),
                                                                    ("mistral-7b-predictor-00005", 0)]
    assert {r: storage(p) for r, p in predictor_pods(kube, "mistral-7b").items()} == {
        "mistral-7b-predictor-00004": "s3://models/mistral-7b-instruct/v4"}  # the canary's pods are gone
