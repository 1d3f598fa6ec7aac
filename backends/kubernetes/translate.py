"""Pure functions from the API's JSON objects (plain dicts) to the cockpit's records.

The backend reads raw JSON rather than the client's generated models: deserialising 100,000
pods into those classes costs seconds, and the cockpit keeps only a few fields of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from backends.kubernetes.quantity import count, mib, millicores
from cockpit.model_kube import (
    GPU_RESOURCE,
    MIG_PREFIX,
    Condition,
    Deployment,
    Hpa,
    InferenceService,
    KubeNode,
    KubePod,
    MigSlice,
    Revision,
    RolloutState,
    TrafficTarget,
)

Obj = Mapping[str, Any]
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
MODEL_ANNOTATIONS = ("cockpit.dev/model", "mlflow.org/model-uri", "serving.kserve.io/model")
MODEL_ENV = ("MODEL_URI", "MLFLOW_MODEL_URI", "MODEL_ID", "MODEL_NAME", "STORAGE_URI")
MODEL_ARG = re.compile(r"models:/[^\s,;\"']+")
"""A registry reference in a container's command line (`--model=models:/llama-70b-chat/7`)."""
ISVC_LABEL = "serving.kserve.io/inferenceservice"
"""KServe labels every predictor pod with its InferenceService: the cost of serving it is theirs."""


def timestamp(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _dict(obj: Obj, *path: str) -> Obj:
    cur: Any = obj
    for key in path:
        cur = cur.get(key) if isinstance(cur, Mapping) else None
    return cur if isinstance(cur, Mapping) else {}


def _list(obj: Obj, *path: str) -> list[Any]:
    *head, last = path
    value = _dict(obj, *head).get(last)
    return value if isinstance(value, list) else []


# -- nodes -----------------------------------------------------------------------------------
def node(source: str, obj: Obj) -> KubeNode:
    meta = _meta(obj)
    labels: Mapping[str, str] = meta.get("labels") or {}
    status = _dict(obj, "status")
    capacity, allocatable = _dict(status, "capacity"), _dict(status, "allocatable")
    conditions = tuple(Condition(str(c.get("type", "")), str(c.get("status", "")), str(c.get("reason") or ""),
                                 str(c.get("message") or "")) for c in _list(status, "conditions"))
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    roles = tuple(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")))
    taints = tuple(f"{t.get('key', '')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect', '')}"
                   for t in _list(obj, "spec", "taints"))
    mig = tuple(sorted(
        (MigSlice(k[len(MIG_PREFIX):], count(v), count(allocatable.get(k))) for k, v in capacity.items()
         if k.startswith(MIG_PREFIX)), key=lambda s: s.profile))
    gpu_mem = labels.get("nvidia.com/gpu.memory")
    return KubeNode(
        source=source, name=str(meta.get("name", "")), ready=ready,
        unschedulable=bool(_dict(obj, "spec").get("unschedulable")), roles=roles or ("<none>",),
        version=str(_dict(status, "nodeInfo").get("kubeletVersion", "")),
        created_at=timestamp(meta.get("creationTimestamp")),
        cpu_capacity_m=millicores(capacity.get("cpu")), cpu_allocatable_m=millicores(allocatable.get("cpu")),
        memory_capacity_mib=mib(capacity.get("memory")), memory_allocatable_mib=mib(allocatable.get("memory")),
        gpu_capacity=count(capacity.get(GPU_RESOURCE)), gpu_allocatable=count(allocatable.get(GPU_RESOURCE)),
        gpu_product=str(labels.get("nvidia.com/gpu.product", "")),
        gpu_memory_mib=int(gpu_mem) if gpu_mem and gpu_mem.isdigit() else None,
        mig_strategy=str(labels.get("nvidia.com/mig.strategy", "")), mig=mig, conditions=conditions,
        taints=taints, labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        addresses=tuple(str(a.get("address")) for a in _list(status, "addresses") if a.get("type") == "InternalIP"),
        instance_type=str(labels.get("node.kubernetes.io/instance-type")
                          or labels.get("beta.kubernetes.io/instance-type") or ""),
        zone=str(labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone")
                 or ""),
    )


# -- pods ------------------------------------------------------------------------------------
def _requests(containers: Iterable[Any]) -> dict[str, int]:
    """Summed requests (limits stand in for requests of extended resources such as GPUs)."""
    total: dict[str, int] = {}
    for c in containers:
        res = c.get("resources") or {} if isinstance(c, Mapping) else {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        for key in set(limits) | set(requests):
            raw = requests.get(key, limits.get(key))
            if key == "cpu":
                value = millicores(raw)
            elif key == "memory":
                value = mib(raw)
            elif key == GPU_RESOURCE or key.startswith(MIG_PREFIX):
                value = count(raw)
            else:
                continue
            total[key] = total.get(key, 0) + value
    return total


def pod(obj: Obj) -> KubePod:
    meta, spec, status = _meta(obj), _dict(obj, "spec"), _dict(obj, "status")
    want = _requests(spec.get("containers") or [])
    for init in spec.get("initContainers") or []:  # the scheduler reserves the larger of the two
        for key, value in _requests([init]).items():
            want[key] = max(want.get(key, 0), value)
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")),
                 (meta.get("ownerReferences") or [{}])[0])
    statuses = status.get("containerStatuses") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return KubePod(
        namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
        node=str(spec.get("nodeName") or ""), phase=str(status.get("phase") or "Pending"), ready=ready,
        gpus=want.get(GPU_RESOURCE, 0), cpu_m=want.get("cpu", 0), memory_mib=want.get("memory", 0),
        owner_kind=str(owner.get("kind", "")), owner_name=str(owner.get("name", "")),
        mig=tuple(sorted((k[len(MIG_PREFIX):], v) for k, v in want.items() if k.startswith(MIG_PREFIX) and v)),
        restarts=sum(int(c.get("restartCount") or 0) for c in statuses),
        created_at=timestamp(meta.get("creationTimestamp")),
        isvc=str((meta.get("labels") or {}).get(ISVC_LABEL) or ""),
    )


# -- deployments -----------------------------------------------------------------------------
def part_of_isvc(obj: Obj) -> bool:
    """A Deployment KServe runs for one revision of an InferenceService (Knative's
    `{revision}-deployment`, labelled with the InferenceService): part of that InferenceService,
    not a workload of its own. The cockpit shows the InferenceService's row, to which the same label
    charges these pods' cost; listing the Deployments too would show each model twice, once
    without its traffic split, and offer scale or set-image on objects KServe puts back as they were."""
    return bool((_meta(obj).get("labels") or {}).get(ISVC_LABEL))


def model_reference(meta: Obj, template: Obj) -> str:
    """The model a workload serves: what its pods get (template annotation, then env, then a
    `models:/` URI in a container's command or args, as `vllm serve models:/x/7` or
    `--model=models:/x/7`) wins over the object's own annotation, which a rollback or a
    `set-image` leaves behind."""
    sources: list[Mapping[str, Any]] = [_dict(template, "metadata", "annotations")]
    for c in _list(template, "spec", "containers"):
        sources.append({str(e.get("name")): e.get("value") for e in c.get("env") or [] if isinstance(e, Mapping)})
        words = [str(w) for w in [*(c.get("command") or []), *(c.get("args") or [])]]
        sources.append({MODEL_ENV[0]: next((m.group(0) for w in words if (m := MODEL_ARG.search(w))), "")})
    sources.append(meta.get("annotations") or {})
    for i, found in enumerate(sources):
        keys = MODEL_ENV if 0 < i < len(sources) - 1 else MODEL_ANNOTATIONS
        for key in keys:
            if found.get(key):
                return str(found[key])
    return ""


def model_env(template: Obj) -> tuple[str, str] | None:
    for c in _list(template, "spec", "containers"):
        for env in c.get("env") or []:
            if isinstance(env, Mapping) and env.get("name") in MODEL_ENV:
                return str(c.get("name", "")), str(env["name"])
    return None


def rollout(obj: Obj) -> tuple[RolloutState, str]:
    """What `kubectl rollout status` would say, as a state and its message."""
    meta, spec, status = _meta(obj), _dict(obj, "spec"), _dict(obj, "status")
    want = int(spec.get("replicas", 1))
    if spec.get("paused"):
        return RolloutState.PAUSED, "rollout is paused"
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return RolloutState.PROGRESSING, "waiting for the spec update to be observed"
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return RolloutState.FAILED, f"progress deadline exceeded: {c.get('message') or ''}".rstrip(": ")
    updated, total = int(status.get("updatedReplicas") or 0), int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < want:
        return RolloutState.PROGRESSING, f"{updated} of {want} new replicas updated"
    if total > updated:
        return RolloutState.PROGRESSING, f"{total - updated} old replicas pending termination"
    if available < updated:
        return RolloutState.PROGRESSING, f"{available} of {updated} updated replicas available"
    if want == 0:
        return RolloutState.SCALED_DOWN, "scaled to 0"
    return RolloutState.COMPLETE, "successfully rolled out"


def _images(template: Obj) -> tuple[str, ...]:
    return tuple(str(c.get("image", "")) for c in _list(template, "spec", "containers"))


def deployment(source: str, obj: Obj) -> Deployment:
    meta, spec, status = _meta(obj), _dict(obj, "spec"), _dict(obj, "status")
    template = _dict(spec, "template")
    state, message = rollout(obj)
    wants = _requests(_list(template, "spec", "containers"))
    gpus = wants.get(GPU_RESOURCE, 0)
    return Deployment(
        source=source, namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
        replicas=int(spec.get("replicas", 1)), updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0), available=int(status.get("availableReplicas") or 0),
        images=_images(template), revision=int((meta.get("annotations") or {}).get(REVISION) or 0),
        rollout=state, rollout_message=message, generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0), model=model_reference(meta, template),
        gpus_per_replica=gpus, created_at=timestamp(meta.get("creationTimestamp")),
        selector=tuple(sorted(_dict(spec, "selector", "matchLabels").items())),
        containers=tuple(str(c.get("name", "")) for c in _list(template, "spec", "containers")),
        mig_per_replica=tuple(sorted((k[len(MIG_PREFIX):], v) for k, v in wants.items() if k.startswith(MIG_PREFIX))),
        model_env=model_env(template),
    )


def revision(obj: Obj) -> Revision:
    meta = _meta(obj)
    annotations = meta.get("annotations") or {}
    template = _dict(obj, "spec", "template")
    return Revision(
        number=int(annotations.get(REVISION) or 0), replicaset=str(meta.get("name", "")), images=_images(template),
        created_at=timestamp(meta.get("creationTimestamp")), replicas=int(_dict(obj, "status").get("replicas") or 0),
        model=model_reference(_meta(template), template), change_cause=str(annotations.get(CHANGE_CAUSE) or ""),
    )


# -- autoscalers -----------------------------------------------------------------------------
def _metric_text(spec_metric: Obj, current: Obj | None) -> str:
    kind = spec_metric.get("type", "")
    body = _dict(spec_metric, kind[:1].lower() + kind[1:]) if kind else {}
    name = str(body.get("name") or _dict(body, "metric").get("name") or kind.lower())
    target = _dict(body, "target")
    cur = _dict(current or {}, kind[:1].lower() + kind[1:], "current") if current else {}
    if "averageUtilization" in target:
        now = cur.get("averageUtilization")
        return f"{name} {'?' if now is None else now}%/{target['averageUtilization']}%"
    want = target.get("averageValue") or target.get("value") or "?"
    now = cur.get("averageValue") or cur.get("value")
    return f"{name} {'?' if now is None else now}/{want}"


def hpa(source: str, obj: Obj) -> Hpa:
    meta, spec, status = _meta(obj), _dict(obj, "spec"), _dict(obj, "status")
    ref = _dict(spec, "scaleTargetRef")
    metrics = spec.get("metrics") or []
    current = status.get("currentMetrics") or []
    targets = ", ".join(_metric_text(m, current[i] if i < len(current) else None) for i, m in enumerate(metrics))
    if not metrics and "targetCPUUtilizationPercentage" in spec:  # autoscaling/v1
        now = status.get("currentCPUUtilizationPercentage")
        targets = f"cpu {'?' if now is None else now}%/{spec['targetCPUUtilizationPercentage']}%"
    return Hpa(
        source=source, namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
        target_kind=str(ref.get("kind", "")), target_name=str(ref.get("name", "")),
        min_replicas=int(spec.get("minReplicas") or 1), max_replicas=int(spec.get("maxReplicas") or 0),
        current_replicas=int(status.get("currentReplicas") or 0),
        desired_replicas=int(status.get("desiredReplicas") or 0), targets=targets,
    )


# -- KServe ----------------------------------------------------------------------------------
def _predictor_model(predictor: Obj) -> tuple[str, Obj]:
    """The predictor's model block: `model:` (current KServe) or a framework key (sklearn:...)."""
    if isinstance(predictor.get("model"), Mapping):
        return str(_dict(predictor, "model", "modelFormat").get("name", "")), _dict(predictor, "model")
    for key, value in predictor.items():
        if isinstance(value, Mapping) and ("storageUri" in value or "resources" in value) and key != "containers":
            return key, value
    containers = predictor.get("containers") or []
    return ("custom", containers[0]) if containers and isinstance(containers[0], Mapping) else ("", {})


def inference_service(source: str, obj: Obj) -> InferenceService:
    meta, status = _meta(obj), _dict(obj, "status")
    predictor = _dict(obj, "spec", "predictor")
    fmt, model = _predictor_model(predictor)
    resources = _dict(model, "resources")
    limits, requests = _dict(resources, "limits"), _dict(resources, "requests")
    conditions = status.get("conditions") or []
    ready_cond: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    comp = _dict(status, "components", "predictor")
    canary = predictor.get("canaryTrafficPercent")
    return InferenceService(
        source=source, namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")),
        ready=ready_cond.get("status") == "True", url=str(status.get("url") or ""),
        storage_uri=str(model.get("storageUri") or ""), model_format=fmt,
        canary_percent=int(canary) if isinstance(canary, int | float) else None,
        latest_ready_revision=str(comp.get("latestReadyRevision") or ""),
        latest_created_revision=str(comp.get("latestCreatedRevision") or ""),
        previous_revision=str(comp.get("previousRolledoutRevision") or ""),
        traffic=tuple(TrafficTarget(str(t.get("revisionName", "")), int(t.get("percent") or 0),
                                    bool(t.get("latestRevision")), str(t.get("tag") or ""))
                      for t in comp.get("traffic") or []),
        gpus=count(limits.get(GPU_RESOURCE) or requests.get(GPU_RESOURCE)),
        cpu=str(requests.get("cpu") or limits.get("cpu") or ""),
        memory=str(requests.get("memory") or limits.get("memory") or ""),
        message=str(ready_cond.get("message") or ready_cond.get("reason") or ""),
        created_at=timestamp(meta.get("creationTimestamp")),
    )
