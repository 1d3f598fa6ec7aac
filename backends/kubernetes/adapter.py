"""The Kubernetes backend: one kubeconfig context per source.

Reads come from the watch cache (`snapshot`); a command's planning reads the object fresh from
the API server (the audit's previous value must be what the server held, not what a watch last
said); changes are the same requests kubectl sends, so `kubectl` reads them back the same way.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from backends.kubernetes import translate as tr
from backends.kubernetes.cache import ClusterCache, attach_pods
from backends.kubernetes.transport import JSON_PATCH, MERGE, STRATEGIC, TooManyRequests, Transport
from cockpit.contracts import BadInput, CockpitError, NotFound, Unsubscribe
from cockpit.model_kube import (
    ClusterSnapshot,
    Deployment,
    DrainPlan,
    DrainResult,
    Hpa,
    InferenceService,
    KubeNode,
    PodRef,
    Revision,
)

APPS = "/apis/apps/v1"
KSERVE = "/apis/serving.kserve.io/v1beta1"
HPA_VERSIONS = ("/apis/autoscaling/v2", "/apis/autoscaling/v1")
MIRROR = "kubernetes.io/config.mirror"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
WRITE_SEEN_S = 5.0
"""At most this long (and at most the request timeout) a change waits for the watch to bring it: a
healthy watch takes milliseconds; this stays well inside a source's timeout_seconds."""


def _now() -> datetime:
    return datetime.now(UTC)


class KubeBackend:
    kind = "kubernetes"

    def __init__(self, source: str, *, kubeconfig: str | None = None, context: str | None = None,
                 namespaces: tuple[str, ...] | None = None, read_only: bool = False,
                 request_timeout: float = 15.0, now: Callable[[], datetime] = _now) -> None:
        self.source = source
        self.read_only = read_only
        self.namespaces = namespaces
        self.transport = Transport(source, kubeconfig, context, request_timeout)
        self.context = self.transport.context
        self.cache = ClusterCache(self.transport, namespaces, now)

    def _get(self, path: str, **query: Any) -> Any:
        return self.transport.request("GET", path, query=query or None)

    def _patch(self, path: str, body: Any, content_type: str) -> Any:
        return self._write("PATCH", path, body, content_type)

    def _write(self, method: str, path: str, body: Any, content_type: str | None = None) -> Any:
        """Every change goes through here: send it, then wait (bounded) until the watch cache holds
        it, so the read after our change shows it (`snapshot` serves reads from that cache)."""
        answer = self.transport.request(method, path, body=body, content_type=content_type)
        self._await_seen(path, answer)
        return answer

    def _await_seen(self, path: str, answer: Any) -> None:
        segs = [p for p in path.split("/") if p]
        head = 2 if segs[:1] == ["api"] else 3  # /api/v1 or /apis/GROUP/VERSION
        rest, ns = segs[head:], ""
        if len(rest) >= 4 and rest[0] == "namespaces":
            ns, rest, head = rest[1], rest[2:], head + 2
        if len(rest) < 2 or not self.cache.started:
            return  # not an object, or nothing cached yet: the first read lists afresh
        plural, name = rest[0], rest[1]
        meta = answer.get("metadata") if isinstance(answer, dict) and answer.get("kind") != "Status" else None
        rv = (meta or {}).get("resourceVersion")
        if not rv:
            # the answer is not the object (an eviction answers a Status): read the object itself
            # (404: it is gone, and must be gone from the cache too)
            try:
                rv = self._get("/" + "/".join(segs[:head + 2]))["metadata"]["resourceVersion"]
            except NotFound:
                rv = None
            except (CockpitError, KeyError, TypeError):
                return  # the change is made; whether the cache saw it cannot be told
        self.cache.await_write(plural, ns, f"{ns}/{name}", rv, min(self.transport.timeout, WRITE_SEEN_S))

    # -- reads -------------------------------------------------------------------------------
    def ping(self) -> None:
        self._get("/version")

    def snapshot(self, wait: float = 10.0) -> ClusterSnapshot:
        """The watch cache as records; the first call starts the watches and waits for their lists."""
        self.cache.start()
        self.cache.wait_synced(wait)
        return self.cache.snapshot()

    def watch(self, on_change: Callable[[str], None]) -> Unsubscribe | None:
        self.cache.start()
        return self.cache.subscribe(on_change)

    def close(self) -> None:
        self.cache.stop()
        self.transport.close()

    # -- nodes -------------------------------------------------------------------------------
    def _pods_on(self, name: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._get("/api/v1/pods", fieldSelector=f"spec.nodeName={name}").get("items", [])
        return items

    def node(self, name: str) -> KubeNode:
        obj = self._get(f"/api/v1/nodes/{name}")
        return attach_pods([tr.node(self.source, obj)], [tr.pod(p) for p in self._pods_on(name)])[0]

    def set_unschedulable(self, name: str, value: bool) -> KubeNode:
        self._patch(f"/api/v1/nodes/{name}", {"spec": {"unschedulable": True if value else None}}, STRATEGIC)
        return self.node(name)

    def drain_plan(self, name: str) -> DrainPlan:
        node = self._get(f"/api/v1/nodes/{name}")
        evict: list[PodRef] = []
        daemonsets: list[PodRef] = []
        unmanaged: list[PodRef] = []
        mirror: list[PodRef] = []
        for obj in sorted(self._pods_on(name), key=lambda o: (o["metadata"].get("namespace", ""),
                                                                 o["metadata"]["name"])):
            p = tr.pod(obj)
            ref = PodRef(p.namespace, p.name, p.phase, p.gpus, p.mig,
                         f"{p.owner_kind}/{p.owner_name}" if p.owner_kind else "")
            annotations = obj["metadata"].get("annotations") or {}
            if MIRROR in annotations:
                mirror.append(ref)
            elif p.owner_kind == "DaemonSet":
                daemonsets.append(ref)
            elif not p.owner_kind:
                unmanaged.append(ref)
            else:
                evict.append(ref)
        return DrainPlan(name, tuple(evict), tuple(daemonsets), tuple(unmanaged), tuple(mirror),
                         bool((node.get("spec") or {}).get("unschedulable")))

    def drain(self, name: str, *, force: bool = False, timeout: float = 60.0) -> DrainResult:
        """Cordon, then evict (the Eviction API, so PodDisruptionBudgets are honoured) and retry
        refused evictions until `timeout`, as `kubectl drain` does."""
        plan = self.drain_plan(name)
        if plan.unmanaged and not force:
            names = ", ".join(f"{p.namespace}/{p.name}" for p in plan.unmanaged)
            raise BadInput(f"{self.source}: node {name}: pods not managed by a controller would be lost: "
                           f"{names} (add --force to delete them)")
        if not plan.already_cordoned:
            self.set_unschedulable(name, True)
        pending = list(plan.evict) + (list(plan.unmanaged) if force else [])
        evicted: list[str] = []
        gone: list[str] = []
        blocked: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while pending:
            retry = []
            for p in pending:
                ref = f"{p.namespace}/{p.name}"
                body = {"apiVersion": "policy/v1", "kind": "Eviction",
                        "metadata": {"name": p.name, "namespace": p.namespace}}
                try:
                    self._write("POST", f"/api/v1/namespaces/{p.namespace}/pods/{p.name}/eviction", body)
                    evicted.append(ref)
                    blocked.pop(ref, None)
                except NotFound:
                    gone.append(ref)
                except TooManyRequests as e:
                    blocked[ref] = e.message.rsplit(": ", 1)[-1]
                    retry.append(p)
            pending = retry
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        return DrainResult(name, tuple(evicted), tuple(sorted(blocked.items())), tuple(gone))

    # -- deployments -------------------------------------------------------------------------
    def _deploy_path(self, ns: str, name: str) -> str:
        return f"{APPS}/namespaces/{ns}/deployments/{name}"

    def deployment_object(self, ns: str, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self._get(self._deploy_path(ns, name))
        return obj

    def deployment(self, ns: str, name: str) -> Deployment:
        return tr.deployment(self.source, self.deployment_object(ns, name))

    def scale(self, ns: str, name: str, replicas: int) -> Deployment:
        self._patch(self._deploy_path(ns, name) + "/scale", {"spec": {"replicas": replicas}}, MERGE)
        return self.deployment(ns, name)

    def restart(self, ns: str, name: str) -> Deployment:
        stamp = _now().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        self._patch(self._deploy_path(ns, name), body, STRATEGIC)
        return self.deployment(ns, name)

    def _replicasets(self, d: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = d["metadata"]
        labels = (d.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        items = self._get(f"{APPS}/namespaces/{meta['namespace']}/replicasets",
                          labelSelector=selector or None).get("items", [])
        return [r for r in items if any(o.get("uid") == meta.get("uid") for o in
                                        r["metadata"].get("ownerReferences") or [])]

    def history(self, ns: str, name: str) -> list[Revision]:
        revs = [tr.revision(r) for r in self._replicasets(self.deployment_object(ns, name))]
        return sorted((r for r in revs if r.number), key=lambda r: r.number)

    def rollback_template(self, ns: str, name: str, to_revision: int | None) -> tuple[Revision, dict[str, Any], bool]:
        """The revision `deploy rollback` would restore, its pod template, and whether the
        Deployment already runs that template. Without a number: the one before the current."""
        d = self.deployment_object(ns, name)
        current = int((d["metadata"].get("annotations") or {}).get(tr.REVISION) or 0)
        rss = {int((r["metadata"].get("annotations") or {}).get(tr.REVISION) or 0): r for r in self._replicasets(d)}
        numbers = sorted(n for n in rss if n)
        if to_revision is None:
            older = [n for n in numbers if n < current]
            if not older:
                raise NotFound(f"{self.source}: deployment {ns}/{name} has no revision before {current} "
                               "to roll back to")
            to_revision = older[-1]
        if to_revision not in rss:
            raise NotFound(f"{self.source}: deployment {ns}/{name} has no revision {to_revision} "
                           f"(revisions: {', '.join(map(str, numbers)) or 'none'})")
        template = _strip_hash(rss[to_revision]["spec"]["template"])
        same = _strip_hash(d["spec"]["template"]) == template
        return tr.revision(rss[to_revision]), template, same

    def rollback(self, ns: str, name: str, to_revision: int | None) -> Deployment:
        """What `kubectl rollout undo` does: copy the chosen ReplicaSet's template back."""
        _rev, template, _same = self.rollback_template(ns, name, to_revision)
        self._patch(self._deploy_path(ns, name), [{"op": "replace", "path": "/spec/template", "value": template}],
                    JSON_PATCH)
        return self.deployment(ns, name)

    def set_image(self, ns: str, name: str, images: Mapping[str, str]) -> Deployment:
        d = self.deployment(ns, name)
        unknown = [c for c in images if c not in d.containers]
        if unknown:
            raise BadInput(f"{self.source}: deployment {ns}/{name} has no container {unknown[0]!r} "
                           f"(containers: {', '.join(d.containers)})")
        body = {"spec": {"template": {"spec": {"containers": [{"name": c, "image": i} for c, i in images.items()]}}}}
        self._patch(self._deploy_path(ns, name), body, STRATEGIC)
        return self.deployment(ns, name)

    def set_env(self, ns: str, name: str, container: str, key: str, value: str) -> Deployment:
        """Set one env var of one container (strategic merge: env entries merge by name)."""
        body = {"spec": {"template": {"spec": {"containers": [{"name": container, "env": [
            {"name": key, "value": value}]}]}}}}
        self._patch(self._deploy_path(ns, name), body, STRATEGIC)
        return self.deployment(ns, name)

    def canary_deployment(self, ns: str, name: str, container: str, key: str, value: str,
                          replicas: int) -> Deployment:
        canary = f"{name}-canary"
        try:
            self._get(self._deploy_path(ns, canary))
        except NotFound:
            raw = self._get(self._deploy_path(ns, name))
            template = copy.deepcopy(raw["spec"]["template"])
            labels = dict(template.get("metadata", {}).get("labels") or {}) | {"track": "canary"}
            template.setdefault("metadata", {})["labels"] = labels
            for c in template["spec"]["containers"]:
                if c.get("name") == container:
                    env = [e for e in c.get("env") or [] if e.get("name") != key]
                    c["env"] = [*env, {"name": key, "value": value}]
            selector = dict(raw["spec"]["selector"].get("matchLabels") or {}) | {"track": "canary"}
            body = {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": canary, "namespace": ns,
                                 "labels": dict(raw["metadata"].get("labels") or {}) | {"track": "canary"},
                                 "annotations": {"cockpit.dev/canary-of": name}},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": template}}
            answer = self.transport.request("POST", f"{APPS}/namespaces/{ns}/deployments", body=body)
            self._await_seen(self._deploy_path(ns, canary), answer)  # a create answers on the collection's path
            return self.deployment(ns, canary)
        self.set_env(ns, canary, container, key, value)
        return self.scale(ns, canary, replicas)

    def delete_deployment(self, ns: str, name: str) -> None:
        self._write("DELETE", self._deploy_path(ns, name), None)

    # -- autoscalers -------------------------------------------------------------------------
    def _hpa_path(self, ns: str, name: str) -> tuple[str, dict[str, Any]]:
        last: NotFound | None = None
        for base in HPA_VERSIONS:
            path = f"{base}/namespaces/{ns}/horizontalpodautoscalers/{name}"
            try:
                return path, self._get(path)
            except NotFound as e:
                last = e
        assert last is not None
        raise NotFound(f"{self.source}: no HorizontalPodAutoscaler {ns}/{name}") from None

    def hpa(self, ns: str, name: str) -> Hpa:
        return tr.hpa(self.source, self._hpa_path(ns, name)[1])

    def hpa_set(self, ns: str, name: str, minimum: int, maximum: int) -> Hpa:
        path, _ = self._hpa_path(ns, name)
        return tr.hpa(self.source, self._patch(path, {"spec": {"minReplicas": minimum, "maxReplicas": maximum}},
                                               MERGE))

    # -- KServe ------------------------------------------------------------------------------
    def _isvc_path(self, ns: str, name: str) -> str:
        return f"{KSERVE}/namespaces/{ns}/inferenceservices/{name}"

    def inference_service(self, ns: str, name: str) -> InferenceService:
        try:
            return tr.inference_service(self.source, self._get(self._isvc_path(ns, name)))
        except NotFound:
            raise NotFound(f"{self.source}: no InferenceService {ns}/{name}") from None

    def isvc_storage(self, ns: str, name: str, uri: str, canary: int | None = None) -> InferenceService:
        """Point the predictor at another model (a new revision rolls out; with canaryTrafficPercent
        set, KServe splits traffic between it and the previous one). `canary` sets that percent in
        the same patch: two patches would give the old canary the new share for a moment."""
        obj = self._get(self._isvc_path(ns, name))
        predictor = (obj.get("spec") or {}).get("predictor") or {}
        block = "model" if isinstance(predictor.get("model"), dict) else next(
            (k for k, v in predictor.items() if isinstance(v, dict) and "storageUri" in v), "model")
        change: dict[str, Any] = {block: {"storageUri": uri}}
        if canary is not None:
            change["canaryTrafficPercent"] = canary
        self._patch(self._isvc_path(ns, name), {"spec": {"predictor": change}}, MERGE)
        return self.inference_service(ns, name)

    def isvc_canary(self, ns: str, name: str, percent: int | None) -> InferenceService:
        """Set canaryTrafficPercent; None removes it (KServe's promotion: the latest takes all)."""
        body = {"spec": {"predictor": {"canaryTrafficPercent": percent}}}
        self._patch(self._isvc_path(ns, name), body, MERGE)
        return self.inference_service(ns, name)  # read again: KServe's controller may have moved traffic


def _strip_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(dict(template))
    t.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return t


if TYPE_CHECKING:  # the roles cockpit.providers gives "kubernetes": mypy checks the class against each role's Protocol
    from cockpit.contracts import ClusterBackend

    _clusters: type[ClusterBackend] = KubeBackend
