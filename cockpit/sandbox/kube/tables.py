"""Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for (Accept:
`application/json;as=Table;...`), with the columns a real API server prints for each kind, so
`kubectl get nodes/pods/deployments/...` against the fake reads like against a cluster."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cockpit.sandbox.kube.store import CLOCK, Obj

Cells = Callable[[Obj], list[Any]]


def _age(obj: Obj) -> str:
    text = (obj.get("metadata") or {}).get("creationTimestamp")
    if not text:
        return "<unknown>"
    s = int((CLOCK[0]() - datetime.fromisoformat(text)).total_seconds())
    if s < 120:
        return f"{max(s, 0)}s"
    if s < 3600 * 3:
        return f"{s // 60}m"
    if s < 86400 * 2:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _node(o: Obj) -> list[Any]:
    labels = o["metadata"].get("labels") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (o.get("status") or {}).get("conditions") or [])
    status = ("Ready" if ready else "NotReady") + (",SchedulingDisabled" if (o.get("spec") or {}).get(
        "unschedulable") else "")
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")))
    info = (o.get("status") or {}).get("nodeInfo") or {}
    return [o["metadata"]["name"], status, roles or "<none>", _age(o), info.get("kubeletVersion", "")]


def _pod(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    containers = (o.get("spec") or {}).get("containers") or []
    statuses = st.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    return [o["metadata"]["name"], f"{ready}/{len(containers)}", st.get("phase", "Pending"), restarts, _age(o),
            st.get("podIP", "<none>"), (o.get("spec") or {}).get("nodeName", "<none>")]


def _deployment(o: Obj) -> list[Any]:
    st, want = o.get("status") or {}, (o.get("spec") or {}).get("replicas", 1)
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{want}", st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), _age(o)]


def _replicaset(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    return [o["metadata"]["name"], (o.get("spec") or {}).get("replicas", 0), st.get("replicas", 0),
            st.get("readyReplicas", 0), _age(o)]


def _hpa(o: Obj) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    targets = []
    for m in spec.get("metrics") or []:
        target = ((m.get("resource") or {}).get("target") or {})
        if "averageUtilization" in target:
            targets.append(f"<unknown>/{target['averageUtilization']}%")
    return [o["metadata"]["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}", ", ".join(targets) or "<none>",
            spec.get("minReplicas", 1), spec.get("maxReplicas", 0), st.get("currentReplicas", 0), _age(o)]


def _isvc(o: Obj) -> list[Any]:
    st = o.get("status") or {}
    ready = next((c.get("status") for c in st.get("conditions") or [] if c.get("type") == "Ready"), "Unknown")
    traffic = ((st.get("components") or {}).get("predictor") or {}).get("traffic") or []
    prev = next((t.get("percent") for t in traffic if not t.get("latestRevision")), None)
    latest = next((t.get("percent") for t in traffic if t.get("latestRevision")), None)
    rev = ((st.get("components") or {}).get("predictor") or {}).get("latestReadyRevision", "")
    return [o["metadata"]["name"], st.get("url", ""), ready, "" if prev is None else prev,
            "" if latest is None else latest, rev, _age(o)]


def _generic(o: Obj) -> list[Any]:
    return [o["metadata"]["name"], _age(o)]


def _cols(*spec: str) -> list[dict[str, Any]]:
    """`Name` or `IP:1` (priority 1: shown by -o wide)."""
    out = []
    for s in spec:
        name, _, prio = s.partition(":")
        out.append({"name": name, "type": "string", "format": "name" if name == "Name" else "", "description": "",
                    "priority": int(prio or 0)})
    return out


PRINTERS: dict[str, tuple[list[dict[str, Any]], Cells]] = {
    "nodes": (_cols("Name", "Status", "Roles", "Age", "Version"), _node),
    "pods": (_cols("Name", "Ready", "Status", "Restarts", "Age", "IP:1", "Node:1"), _pod),
    "deployments": (_cols("Name", "Ready", "Up-to-date", "Available", "Age"), _deployment),
    "replicasets": (_cols("Name", "Desired", "Current", "Ready", "Age"), _replicaset),
    "horizontalpodautoscalers": (_cols("Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"),
                                 _hpa),
    "inferenceservices": (_cols("Name", "URL", "Ready", "Prev", "Latest", "LatestReadyRevision:1", "Age"), _isvc),
}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def table(plural: str, objects: list[Obj], resource_version: str) -> Obj:
    columns, cells = PRINTERS.get(plural, (_cols("Name", "Age"), _generic))
    rows = [{"cells": cells(o), "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                           "metadata": o["metadata"]}} for o in objects]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": columns, "rows": rows}
