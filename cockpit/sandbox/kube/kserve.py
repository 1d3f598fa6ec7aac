"""A small KServe controller for the fake: InferenceService revisions and canary traffic.

A change to the predictor (other than canaryTrafficPercent) rolls a new revision; the traffic
split follows canaryTrafficPercent between the latest and the previously rolled-out revision,
as KServe's serverless mode reports it in status.components.predictor.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from typing import Any

from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube.resources import ResourceType
from cockpit.sandbox.kube.store import ApiError, Obj, Store


def _predictor_hash(obj: Obj) -> str:
    predictor = copy.deepcopy((obj.get("spec") or {}).get("predictor") or {})
    predictor.pop("canaryTrafficPercent", None)
    return hashlib.sha256(json.dumps(predictor, sort_keys=True).encode()).hexdigest()[:12]


def _number(revision: str) -> int:
    tail = revision.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def traffic(name: str, latest: str, previous: str, canary: Any) -> list[dict[str, Any]]:
    if previous and isinstance(canary, int) and canary < 100:
        return [{"revisionName": previous, "percent": 100 - canary, "latestRevision": False, "tag": "prev"},
                {"revisionName": latest, "percent": canary, "latestRevision": True, "tag": "latest"}]
    return [{"revisionName": latest, "percent": 100, "latestRevision": True}]


class KServeController:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.type: ResourceType | None = res.find("serving.kserve.io", "v1beta1", "inferenceservices")
        self._seen: dict[tuple[str, str], str] = {}
        self._local = threading.local()
        store.listeners.append(self._on_event)

    def _on_event(self, t: ResourceType, typ: str, obj: Obj) -> None:
        if self.type is None or t.plural != self.type.plural or getattr(self._local, "busy", False):
            return
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if typ == "DELETED":
            self._seen.pop(key, None)
            return
        self._local.busy = True
        try:
            self._reconcile(key, obj)
        except ApiError:
            pass  # deleted meanwhile
        finally:
            self._local.busy = False

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
        self._seen[key] = h
        canary = ((obj.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
        comp.update(latestReadyRevision=latest, latestCreatedRevision=latest,
                    traffic=traffic(name, latest, previous, canary))
        if previous:
            comp["previousRolledoutRevision"] = previous
        status.setdefault("url", f"http://{name}.{ns}.example.com")
        status.setdefault("conditions", [{"type": "Ready", "status": "True"},
                                         {"type": "PredictorReady", "status": "True"}])
        if status != obj.get("status"):
            self.store.update(self.type, ns, name, {**obj, "status": status}, subresource="status")
