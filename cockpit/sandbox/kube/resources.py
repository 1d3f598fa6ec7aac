"""The resource types the fake serves, and the discovery documents built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",)),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), ("status",)),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), ("status", "eviction")),
    ResourceType("", "v1", "services", "Service", True, ("svc",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale")),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status", "scale")),
    ResourceType("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",),
                 ("status",)),
    ResourceType("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",),
                 ("status",)),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",)),
    # kubectl 1.20 (Debian 12's kubernetes-client) still writes PDBs at v1beta1
    ResourceType("policy", "v1beta1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",)),
    ResourceType("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService", True, ("isvc",),
                 ("status",)),
)


def find(group: str, version: str, plural: str) -> ResourceType | None:
    for t in TYPES:
        if (t.group, t.version, t.plural) == (group, version, plural):
            return t
    return None


def storage_key(t: ResourceType) -> tuple[str, str]:
    """Objects are stored once per (group, plural), whatever version they are read at."""
    return (t.group, t.plural)


def groups() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for t in TYPES:
        if t.group and t.version not in out.setdefault(t.group, []):
            out[t.group].append(t.version)
    return out


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def api_group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [api_group(g, vs) for g, vs in groups().items()]}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    types = [t for t in TYPES if (t.group, t.version) == (group, version)]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for t in types:
        resources.append({"name": t.plural, "singularName": t.kind.lower(), "namespaced": t.namespaced,
                          "kind": t.kind, "verbs": VERBS, "shortNames": list(t.short_names)})
        for sub in t.subresources:
            if sub == "scale":
                resources.append({"name": f"{t.plural}/scale", "singularName": "", "namespaced": t.namespaced,
                                  "group": "autoscaling", "version": "v1", "kind": "Scale",
                                  "verbs": ["get", "patch", "update"]})
            elif sub == "eviction":
                resources.append({"name": f"{t.plural}/eviction", "singularName": "", "namespaced": True,
                                  "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]})
            else:
                resources.append({"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced,
                                  "kind": t.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": types[0].group_version,
            "resources": resources}
