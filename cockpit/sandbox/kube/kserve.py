"""A small KServe controller for the fake: InferenceService revisions, canary traffic, and the
predictor pods that serve each revision.

A change to the predictor (other than canaryTrafficPercent) rolls a new revision; the traffic
split follows canaryTrafficPercent between the latest and the previously rolled-out revision,
as KServe's serverless mode reports it in status.components.predictor.

Each revision that takes traffic runs as a Deployment `{revision}-deployment`, as Knative names
it, labelled with its InferenceService and revision and owned by the InferenceService; a revision
whose traffic drops to 0 loses it (Knative scales it to zero). The Deployment controller then
makes its ReplicaSet and pods and schedules them, so an InferenceService holds GPUs on nodes like
any workload. Each revision keeps the predictor it was made from (Knative keeps one Revision
object per revision): after a new model rolls out as a canary, the previous revision still
serves the previous model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube.controller import DEPLOY
from cockpit.sandbox.kube.resources import ResourceType
from cockpit.sandbox.kube.store import ApiError, Obj, Store

log = logging.getLogger(__name__)
ISVC_LABEL = "serving.kserve.io/inferenceservice"
REVISION_LABEL = "serving.knative.dev/revision"
CONTAINER = "kserve-container"
POD_FIELDS = ("tolerations", "nodeSelector", "affinity", "serviceAccountName", "priorityClassName",
              "imagePullSecrets")
"""The predictor's pod-level fields KServe copies into the revision's pod spec."""
RUNTIMES = {"huggingface": "kserve/huggingfaceserver:v0.14.0", "sklearn": "kserve/sklearnserver:v0.14.0",
            "xgboost": "kserve/xgbserver:v0.14.0", "lightgbm": "kserve/lgbserver:v0.14.0",
            "pytorch": "pytorch/torchserve-kfs:0.9.0", "tensorflow": "tensorflow/serving:2.6.2",
            "triton": "nvcr.io/nvidia/tritonserver:23.05-py3"}
"""The serving runtime's image for a model format (KServe's ClusterServingRuntimes)."""


def _predictor(obj: Obj) -> Obj:
    """The predictor spec a revision is made of (the traffic split is not part of it)."""
    predictor = copy.deepcopy((obj.get("spec") or {}).get("predictor") or {})
    predictor.pop("canaryTrafficPercent", None)
    return dict(predictor)


def _predictor_hash(obj: Obj) -> str:
    return hashlib.sha256(json.dumps(_predictor(obj), sort_keys=True).encode()).hexdigest()[:12]


def _number(revision: str) -> int:
    tail = revision.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def traffic(name: str, latest: str, previous: str, canary: Any) -> list[dict[str, Any]]:
    if previous and isinstance(canary, int) and canary < 100:
        return [{"revisionName": previous, "percent": 100 - canary, "latestRevision": False, "tag": "prev"},
                {"revisionName": latest, "percent": canary, "latestRevision": True, "tag": "latest"}]
    return [{"revisionName": latest, "percent": 100, "latestRevision": True}]


def model_block(predictor: Obj) -> tuple[str, Obj]:
    """The predictor's model: `model:` (current KServe), a framework key (`sklearn:`), or the
    first custom container; with its format's name."""
    if isinstance(predictor.get("model"), dict):
        return str((predictor["model"].get("modelFormat") or {}).get("name", "")), predictor["model"]
    for key, value in predictor.items():
        if isinstance(value, dict) and ("storageUri" in value or "resources" in value):
            return key, value
    containers = predictor.get("containers") or []
    return ("custom", containers[0]) if containers and isinstance(containers[0], dict) else ("", {})


def predictor_deployment(isvc: Obj, revision: str, predictor: Obj) -> Obj:
    """The Deployment that serves one revision: KServe's container (`kserve-container`, the
    model's storageUri in STORAGE_URI, the model block's resources) with the predictor's pod
    fields (tolerations, nodeSelector ...), owned by the InferenceService."""
    meta = isvc["metadata"]
    name = meta["name"]
    fmt, model = model_block(predictor)
    labels = {ISVC_LABEL: name, REVISION_LABEL: revision, "component": "predictor"}
    container: dict[str, Any] = {
        "name": CONTAINER, "image": str(model.get("image") or RUNTIMES.get(fmt) or f"kserve/{fmt}server:v0.14.0"),
        "args": [f"--model_name={name}", "--model_dir=/mnt/models"],
        "env": [{"name": "STORAGE_URI", "value": str(model.get("storageUri") or "")}],
        "ports": [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}],
        "resources": copy.deepcopy(model.get("resources") or {}),
    }
    pod_spec: dict[str, Any] = {"containers": [container]}
    pod_spec |= {k: copy.deepcopy(predictor[k]) for k in POD_FIELDS if k in predictor}
    owner = {"apiVersion": isvc.get("apiVersion", "serving.kserve.io/v1beta1"), "kind": "InferenceService",
             "name": name, "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}
    return {"metadata": {"name": f"{revision}-deployment", "labels": dict(labels), "ownerReferences": [owner]},
            "spec": {"replicas": int(predictor.get("minReplicas") or 1),
                     "selector": {"matchLabels": {REVISION_LABEL: revision}},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec}}}


def _owned(obj: Obj, uid: str) -> bool:
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


class KServeController:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.type: ResourceType | None = res.find("serving.kserve.io", "v1beta1", "inferenceservices")
        self._seen: dict[tuple[str, str], str] = {}
        self._revisions: dict[tuple[str, str, str], Obj] = {}
        """(namespace, name, revision) -> the predictor it was made from: Knative's Revision objects,
        kept while the InferenceService lives, so a revision scaled to zero comes back as it was."""
        self._local = threading.local()
        store.listeners.append(self._on_event)

    def _on_event(self, t: ResourceType, typ: str, obj: Obj) -> None:
        """Store events arrive synchronously from the write that made them, and this controller
        writes too (status, Deployments): its own writes come back here and are ignored."""
        if self.type is None or getattr(self._local, "busy", False):
            return
        if t.plural == self.type.plural:
            self._guarded(lambda: self._isvc_event(typ, obj))
        elif t.plural == "deployments" and typ == "DELETED" and ISVC_LABEL in (obj["metadata"].get("labels") or {}):
            self._guarded(lambda: self._deployment_gone(obj))

    def _guarded(self, work: Callable[[], None]) -> None:
        """One reconcile at a time under the store's lock (re-entrant: events of our own writes
        arrive on this thread while it is held), so two writers never interleave a reconcile."""
        with self.store.cond:
            self._local.busy = True
            try:
                work()
            except ApiError:
                pass  # deleted meanwhile
            except (ValueError, TypeError, KeyError, AttributeError):
                # an object it cannot read (minReplicas "two"): the write that told us stands, and
                # the controller goes on with the others, as a real one would
                log.warning("kube fake kserve: cannot reconcile", exc_info=True)
            finally:
                self._local.busy = False

    def _isvc_event(self, typ: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if typ == "DELETED":
            self._forget(key, str(meta.get("uid", "")))
            return
        self._reconcile(key, obj)

    def _deployment_gone(self, d: Obj) -> None:
        """Someone deleted a revision's Deployment: Knative makes it again while it takes traffic."""
        ns, name = d["metadata"].get("namespace", ""), d["metadata"]["labels"][ISVC_LABEL]
        assert self.type is not None
        isvc = self.store.get(self.type, ns, name)
        if _owned(d, isvc["metadata"]["uid"]):
            self._reconcile((ns, name), isvc)

    def _forget(self, key: tuple[str, str], uid: str) -> None:
        """The InferenceService is gone: its revisions and (garbage collection through the owner
        reference) their Deployments go too."""
        ns = key[0]
        self._seen.pop(key, None)
        for k in [k for k in self._revisions if k[:2] == key]:
            del self._revisions[k]
        for d in self.store.select(DEPLOY, ns, lambda o: _owned(o, uid))[0]:
            self.store.delete(DEPLOY, ns, d["metadata"]["name"])

    def _reconcile(self, key: tuple[str, str], obj: Obj) -> None:
        assert self.type is not None
        ns, name = key
        h = _predictor_hash(obj)
        status = copy.deepcopy(obj.get("status") or {})
        comp = status.setdefault("components", {}).setdefault("predictor", {})
        latest = comp.get("latestReadyRevision") or f"{name}-predictor-00001"
        previous = comp.get("previousRolledoutRevision") or ""
        old = self._seen.get(key)
        if old is not None and old != h:  # a new model or resources: a new revision takes over
            previous = latest
            latest = f"{name}-predictor-{_number(latest) + 1:05d}"
            self._revisions[(ns, name, latest)] = _predictor(obj)
        self._seen[key] = h
        # a revision this controller did not make (a status written with the object) is taken to
        # serve what the spec says now
        self._revisions.setdefault((ns, name, latest), _predictor(obj))
        canary = ((obj.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
        split = traffic(name, latest, previous, canary)
        comp.update(latestReadyRevision=latest, latestCreatedRevision=latest, traffic=split)
        if previous:
            comp["previousRolledoutRevision"] = previous
            self._revisions.setdefault((ns, name, previous), _predictor(obj))
        status.setdefault("url", f"http://{name}.{ns}.example.com")
        status.setdefault("conditions", [{"type": "Ready", "status": "True"},
                                         {"type": "PredictorReady", "status": "True"}])
        if status != obj.get("status"):
            obj = self.store.update(self.type, ns, name, {**obj, "status": status}, subresource="status")
        self._serve(obj, [str(t["revisionName"]) for t in split if t["percent"] > 0])

    def _serve(self, isvc: Obj, revisions: list[str]) -> None:
        """Keep one Deployment per revision with traffic, as its revision's predictor says; remove
        the others of this InferenceService (scaled to zero)."""
        meta = isvc["metadata"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        have = {d["metadata"]["name"]: d for d in self.store.select(DEPLOY, ns, lambda o: _owned(o, uid))[0]}
        wanted = {f"{r}-deployment": predictor_deployment(isvc, r, self._revisions[(ns, name, r)])
                  for r in revisions}
        for gone in sorted(set(have) - set(wanted)):
            self.store.delete(DEPLOY, ns, gone)
        for dname, want in sorted(wanted.items()):
            current = have.get(dname)
            if current is None:
                self.store.create(DEPLOY, ns, want)
                continue
            merged = copy.deepcopy(current)
            merged["metadata"]["labels"] = {**(current["metadata"].get("labels") or {}), **want["metadata"]["labels"]}
            merged["spec"] |= want["spec"]
            if merged != current:  # someone edited it (scaled, set an env): the revision's spec wins
                self.store.update(DEPLOY, ns, dname, merged)
