"""The demo's canaries serve too: a pod the demo cluster runs for a rollout gets request and
latency series in the demo's Prometheus, with the figures of the model it runs, so a guarded
rollout in the demo reads the canary's own p95 and error rate and decides by them. Two kinds:
a Deployment's canary (`NAME-canary-*`, its model in MODEL_URI) and an InferenceService
revision's predictor pod (`{revision}-deployment-*`, its model in STORAGE_URI) that the fixed
fleet does not already list.

Some versions are bad on purpose, three times slower and failing 6% of their requests:
llama-70b-chat v7, so `rollout start registry/llama-70b-chat --version 7 ...` rolls itself back
while v6 (as healthy as the stable) promotes itself; and mistral-7b-instruct v5, so a rollout of
it to the mistral-7b InferenceService rolls back while one of v4 promotes.
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.sandbox.kube.controller import POD
from cockpit.sandbox.kube.kserve import ISVC_LABEL, REVISION_LABEL
from cockpit.sandbox.kube.store import Obj, Store
from cockpit.sandbox.prom.fleet import SERVED, Served

QUALITY: Mapping[str, tuple[float, float]] = {
    "models:/llama-70b-chat/7": (3.0, 0.06),
    "s3://models/mistral-7b-instruct/v5": (3.0, 0.06),
}
"""model URI -> (how many times slower its median answer is, the share of requests it fails)."""

PREDICTOR_BASES: Mapping[tuple[str, str], tuple[float, float, float]] = {
    ("gpu-prod", "whisper-large-predictor"): (6.0, 0.8, 0.001),
}
"""(cluster, NAME-predictor) -> (requests/s, median seconds, error share) of an InferenceService
the fixed fleet has no series for: what its revisions serve at the quality of a healthy model."""


def _running(store: Store, match: str) -> list[Obj]:
    pods, _rv = store.select(POD, "", lambda o: match in o["metadata"]["name"]
                             and (o.get("status") or {}).get("phase") == "Running")
    return pods


def _env(pod: Obj) -> dict[str, str]:
    return {str(e.get("name")): str(e.get("value", "")) for c in pod["spec"].get("containers") or []
            for e in c.get("env") or []}


def _base(cluster: str, workload: str) -> Served | None:
    """The fixed fleet's figures for a workload, or an InferenceService's base from the table."""
    found = next((s for s in SERVED if s.cluster == cluster and s.workload == workload), None)
    if found is not None or (cluster, workload) not in PREDICTOR_BASES:
        return found
    rps, p50, errors = PREDICTOR_BASES[(cluster, workload)]
    return Served(cluster, "", workload, "", rps, p50, errors)


def _as_model(base: Served, namespace: str, workload: str, pod: str, model: str) -> Served:
    slower, errors = QUALITY.get(model, (1.0, base.error_ratio))
    return Served(base.cluster, namespace, workload, pod, base.rps, base.p50 * slower, errors)


def deployment_canaries(store: Store, cluster: str) -> list[Served]:
    """Each running canary pod of a workload the fleet serves, as the model in its env serves."""
    out = []
    for p in _running(store, "-canary-"):
        name, ns = p["metadata"]["name"], p["metadata"]["namespace"]
        workload = name.split("-canary-")[0]
        base = _base(cluster, workload)
        if base is not None:
            out.append(_as_model(base, ns, f"{workload}-canary", name, _env(p).get("MODEL_URI", "")))
    return out


def predictor_pods(store: Store, cluster: str) -> list[Served]:
    """Each running predictor pod of an InferenceService revision the fixed fleet does not list
    (it names one pod per revision it serves), as the model in its STORAGE_URI serves."""
    out = []
    for p in _running(store, "-deployment-"):
        labels = p["metadata"].get("labels") or {}
        isvc, revision = labels.get(ISVC_LABEL), labels.get(REVISION_LABEL)
        ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
        if not isvc or not revision or any(s.cluster == cluster and s.namespace == ns
                                           and s.pod.startswith(f"{revision}-") for s in SERVED):
            continue
        base = _base(cluster, f"{isvc}-predictor")
        if base is not None:
            out.append(_as_model(base, ns, f"{isvc}-predictor", name, _env(p).get("STORAGE_URI", "")))
    return out


def canary_pods(store: Store, cluster: str) -> list[Served]:
    """Every pod of the demo cluster that serves beside the fixed fleet: Deployment canaries and
    InferenceService revisions (Fleet.extra)."""
    return [*deployment_canaries(store, cluster), *predictor_pods(store, cluster)]
