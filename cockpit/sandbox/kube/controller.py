"""The controllers of the fake: Deployment -> ReplicaSets (with revision annotations, so that
`kubectl rollout history/undo` work), ReplicaSet -> Pods, a small GPU-aware scheduler, garbage
collection through ownerReferences, and PodDisruptionBudgets checked on eviction."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import threading
import time
import zlib
from typing import Any

from cockpit.sandbox.kube import resources as res
from cockpit.sandbox.kube.resources import ResourceType
from cockpit.sandbox.kube.selectors import label_selector
from cockpit.sandbox.kube.store import ApiError, Obj, Store, now_rfc3339

log = logging.getLogger(__name__)

REVISION = "deployment.kubernetes.io/revision"


def _t(group: str, version: str, plural: str) -> ResourceType:
    t = res.find(group, version, plural)
    assert t is not None
    return t


DEPLOY, RS, POD, NODE, PDB = (_t("apps", "v1", "deployments"), _t("apps", "v1", "replicasets"),
                              _t("", "v1", "pods"), _t("", "v1", "nodes"), _t("policy", "v1", "poddisruptionbudgets"))


def _octet(text: str, mod: int) -> int:
    """A stable number from a name (str hash() changes every process: addresses must not)."""
    return zlib.crc32(text.encode()) % mod


def node_ip(node: str) -> str:
    return f"10.0.{_octet(node, 200)}.{_octet(node[::-1], 200)}"


def template_hash(template: Obj) -> str:
    clean = copy.deepcopy(template)
    (clean.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:10]


def owned_by(obj: Obj, uid: str) -> bool:
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def extended_requests(pod: Obj) -> dict[str, int]:
    """Device-plugin resources the pod asks for (nvidia.com/gpu, nvidia.com/mig-1g.10gb ...);
    for these, limits are the requests."""
    total: dict[str, int] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        r = c.get("resources") or {}
        wanted = {**(r.get("requests") or {}), **(r.get("limits") or {})}
        for key, value in wanted.items():
            if "/" in key:
                total[key] = total.get(key, 0) + int(value)
    return total


class Controller:
    def __init__(self, store: Store, ready_delay: float = 0.0) -> None:
        self.store = store
        self.ready_delay = ready_delay
        self._pod_seq: dict[str, int] = {}
        self._progressing: dict[tuple[str, str, str], tuple[float, int]] = {}
        """Rollouts under way: since when, and with how many ready pods (progress resets the clock)."""
        """Seconds a started pod takes to turn Ready; above 0, rollouts show their progress."""
        self._work: set[tuple[str, str, str]] = set()
        self._cond = threading.Condition()
        self._busy = False
        store.listeners.append(self._on_event)
        threading.Thread(target=self._loop, name="kube-fake-controller", daemon=True).start()
        threading.Thread(target=self._tick, name="kube-fake-deadlines", daemon=True).start()

    def _tick(self) -> None:
        """Look at unfinished rollouts every second, so a deadline passes without a new event."""
        while True:
            time.sleep(1.0)
            with self._cond:
                for ns, name, _rs in list(self._progressing):
                    self._work.add(("deploy", ns, name))
                self._cond.notify_all()

    # -- queue ---------------------------------------------------------------------------------
    def _on_event(self, t: ResourceType, typ: str, obj: Obj) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        with self._cond:
            if t.plural == "deployments":
                self._work.add(("deploy", ns, meta["name"]))
            elif t.plural == "replicasets":
                self._work.add(("rs", ns, meta["name"]))
                for ref in meta.get("ownerReferences") or []:
                    self._work.add(("deploy", ns, ref["name"]))
            elif t.plural == "pods":
                for ref in meta.get("ownerReferences") or []:
                    self._work.add(("rs", ns, ref["name"]))
                if typ == "DELETED":
                    self._work.add(("schedule", "", ""))
            elif t.plural == "nodes":
                self._work.add(("schedule", "", ""))
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Until every queued change is reconciled (tests and the seeding use this)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._work and not self._busy, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._work))
                item = sorted(self._work)[0]
                self._work.discard(item)
                self._busy = True
            try:
                kind, ns, name = item
                if kind == "deploy":
                    self._deployment(ns, name)
                elif kind == "rs":
                    self._replicaset(ns, name)
                else:
                    self._schedule_pending()
            except ApiError:
                pass  # the object went away meanwhile: the next event brings it back
            except (ValueError, TypeError, KeyError, AttributeError):
                # an object it cannot read (replicas "two"): a real controller reports it and goes on
                # with the others; it must not stop reconciling the whole cluster
                log.warning("kube fake controller: cannot reconcile %s", item, exc_info=True)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    # -- deployments ---------------------------------------------------------------------------
    def _deployment(self, ns: str, name: str) -> None:
        try:
            d = self.store.get(DEPLOY, ns, name)
        except ApiError:
            for key in [k for k in self._progressing if k[:2] == (ns, name)]:
                del self._progressing[key]
            self._collect(RS, ns, name)
            return
        uid = d["metadata"]["uid"]
        rss, _ = self.store.select(RS, ns, lambda o: owned_by(o, uid))
        template = d["spec"]["template"]
        h = template_hash(template)
        revisions = [int(r["metadata"].get("annotations", {}).get(REVISION, "0")) for r in rss]
        newest = max(revisions, default=0)
        current = next((r for r in rss if r["metadata"].get("labels", {}).get("pod-template-hash") == h), None)
        replicas = int(d["spec"].get("replicas", 1))
        olds = [r for r in rss if current is None or r["metadata"]["name"] != current["metadata"]["name"]]
        target, cuts = _rolling_step(d, current, olds, replicas)
        if current is None:
            current = self._new_rs(d, h, newest + 1, target)
        else:
            rev = int(current["metadata"].get("annotations", {}).get(REVISION, "0"))
            if rev != newest:  # a rollback: the old template becomes the newest revision
                current["metadata"].setdefault("annotations", {})[REVISION] = str(newest + 1)
            current["spec"]["replicas"] = target
            current = self.store.update(RS, ns, current["metadata"]["name"], current)
        for r in olds:
            keep = r["spec"].get("replicas", 0) - cuts.get(r["metadata"]["name"], 0)
            if keep != r["spec"].get("replicas", 0):
                r["spec"]["replicas"] = keep
                self.store.update(RS, ns, r["metadata"]["name"], r)
        rev = current["metadata"]["annotations"][REVISION]
        if d["metadata"].setdefault("annotations", {}).get(REVISION) != rev:
            d["metadata"]["annotations"][REVISION] = rev
            d = self.store.update(DEPLOY, ns, name, d)
        self._deployment_status(d, current["metadata"]["name"])

    def _new_rs(self, d: Obj, h: str, revision: int, replicas: int) -> Obj:
        meta = d["metadata"]
        template = copy.deepcopy(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        selector = copy.deepcopy(d["spec"].get("selector") or {"matchLabels": {}})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = h
        rs = {"metadata": {"name": f"{meta['name']}-{h}", "labels": dict(template["metadata"]["labels"]),
                           "annotations": {REVISION: str(revision)},
                           "ownerReferences": [_owner(d, "apps/v1", "Deployment")]},
              "spec": {"replicas": replicas, "selector": selector, "template": template}}
        return self.store.create(RS, meta["namespace"], rs)

    def _deployment_status(self, d: Obj, current_rs: str) -> None:
        ns, uid = d["metadata"]["namespace"], d["metadata"]["uid"]
        rss, _ = self.store.select(RS, ns, lambda o: owned_by(o, uid))
        total = ready = updated = 0
        for r in rss:
            st = r.get("status") or {}
            total += st.get("replicas", 0)
            ready += st.get("readyReplicas", 0)
            if r["metadata"]["name"] == current_rs:
                updated = st.get("replicas", 0)
        want = int(d["spec"].get("replicas", 1))
        done = updated == want and total == want and ready == want
        key = (ns, d["metadata"]["name"], current_rs)
        for other in [k for k in self._progressing if k[:2] == key[:2] and k != key]:
            del self._progressing[other]  # a newer rollout replaced that one
        if done:
            self._progressing.pop(key, None)
        else:  # no progress within progressDeadlineSeconds: the rollout has failed, as in Kubernetes
            since = self._progressing.setdefault(key, (time.monotonic(), ready))
            if ready > since[1]:
                since = self._progressing[key] = (time.monotonic(), ready)
        deadline = float(d["spec"].get("progressDeadlineSeconds", 600))
        stuck = not done and time.monotonic() - self._progressing[key][0] > deadline
        if stuck:
            progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{current_rs}" has timed out progressing.'}
        else:
            progressing = {"type": "Progressing", "status": "True",
                           "reason": "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                           "message": f'ReplicaSet "{current_rs}" '
                                      + ("has successfully progressed." if done else "is progressing.")}
        status = {
            "observedGeneration": d["metadata"].get("generation", 1), "replicas": total, "updatedReplicas": updated,
            "readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": max(0, want - ready),
            "conditions": [
                {"type": "Available", "status": "True" if ready >= want else "False",
                 "reason": "MinimumReplicasAvailable" if ready >= want else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if ready >= want else
                 "Deployment does not have minimum availability."},
                progressing,
            ],
        }
        old = d.get("status") or {}
        kept = {c["type"]: c for c in old.get("conditions") or []}
        for c in status["conditions"]:
            prev = kept.get(c["type"])
            same = prev and all(prev.get(k) == c[k] for k in ("status", "reason"))
            c["lastUpdateTime"] = c["lastTransitionTime"] = (prev or {}).get("lastTransitionTime") if same else \
                now_rfc3339()
        if status != old:
            self.store.update(DEPLOY, ns, d["metadata"]["name"], {**d, "status": status}, subresource="status")

    # -- replica sets and pods -----------------------------------------------------------------
    def _replicaset(self, ns: str, name: str) -> None:
        try:
            rs = self.store.get(RS, ns, name)
        except ApiError:
            self._collect(POD, ns, name)
            return
        uid = rs["metadata"]["uid"]
        pods, _ = self.store.select(POD, ns, lambda o: owned_by(o, uid))
        want = int(rs["spec"].get("replicas", 1))
        for _ in range(want - len(pods)):
            pods.append(self._new_pod(rs))
        newest_first = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
        for pod in newest_first[: max(0, len(pods) - want)]:
            self.store.delete(POD, ns, pod["metadata"]["name"])
            pods.remove(pod)
        ready = sum(1 for p in pods if _ready(p))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        if rs.get("status") != status:
            self.store.update(RS, ns, name, {**rs, "status": status}, subresource="status")

    def _new_pod(self, rs: Obj) -> Obj:
        template = copy.deepcopy(rs["spec"]["template"])
        # names derive from the ReplicaSet and a counter, so a seeded cluster looks the same every run
        rs_name = rs["metadata"]["name"]
        self._pod_seq[rs_name] = self._pod_seq.get(rs_name, 0) + 1
        suffix = hashlib.sha256(f"{rs_name}/{self._pod_seq[rs_name]}".encode()).hexdigest()[:5]
        pod = {"metadata": {"name": f"{rs_name}-{suffix}",
                            "labels": template.get("metadata", {}).get("labels", {}),
                            "annotations": template.get("metadata", {}).get("annotations", {}),
                            "ownerReferences": [_owner(rs, "apps/v1", "ReplicaSet")]},
               "spec": template.get("spec", {}), "status": {"phase": "Pending"}}
        created = self.store.create(POD, rs["metadata"]["namespace"], pod)
        return self._place(created)

    def _place(self, pod: Obj) -> Obj:
        """Bind a pending pod to a ready, schedulable node with room for its GPUs, and start it."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        node = self._fit(pod)
        if node is None:
            n = len(self.store.select(NODE, "")[0])
            wanted = ", ".join(extended_requests(pod)) or "cpu"
            reason = f"0/{n} nodes are available: insufficient {wanted} or unschedulable."
            status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                           "reason": "Unschedulable", "message": reason}]}
            if pod.get("status") != status:
                return self.store.update(POD, ns, name, {**pod, "status": status}, subresource="status")
            return pod
        pod["spec"]["nodeName"] = node
        pod = self.store.update(POD, ns, name, pod)
        t = now_rfc3339()
        ready = self.ready_delay <= 0
        status = {"phase": "Running", "startTime": t, "hostIP": node_ip(node), "podIP": f"10.244.0.{_octet(name, 250)}",
                  "conditions": [{"type": c, "status": "True" if ready or c in ("PodScheduled", "Initialized")
                                  else "False", "lastTransitionTime": t}
                                 for c in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                  "containerStatuses": [_container_status(c, name, t, ready) for c in pod["spec"].get("containers")
                                        or []]}
        if not ready:
            timer = threading.Timer(self.ready_delay, self._turn_ready, (ns, name))
            timer.daemon = True
            timer.start()
        return self.store.update(POD, ns, name, {**pod, "status": status}, subresource="status")

    def _turn_ready(self, ns: str, name: str) -> None:
        """The kubelet's readiness probe passing, `ready_delay` after the start."""
        try:
            pod = self.store.get(POD, ns, name)
        except ApiError:
            return  # deleted before it became ready
        status = copy.deepcopy(pod.get("status") or {})
        for c in status.get("conditions") or []:
            c["status"] = "True"
        for c in status.get("containerStatuses") or []:
            c["ready"] = True
        try:
            self.store.update(POD, ns, name, {**pod, "status": status}, subresource="status")
        except ApiError:
            return

    def _fit(self, pod: Obj) -> str | None:
        need = extended_requests(pod)
        nodes, _ = self.store.select(NODE, "")
        running, _ = self.store.select(POD, "", lambda p: bool(p["spec"].get("nodeName")))
        used: dict[str, dict[str, int]] = {}
        for p in running:
            held = used.setdefault(p["spec"]["nodeName"], {})
            for key, k in extended_requests(p).items():
                held[key] = held.get(key, 0) + k
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        for n in nodes:
            labels = n["metadata"].get("labels") or {}
            if n["spec"].get("unschedulable") or not _node_ready(n):
                continue
            if any(labels.get(k) != v for k, v in selector.items()):
                continue
            if any(t.get("effect") == "NoSchedule" for t in n["spec"].get("taints") or []) and not \
                    (pod.get("spec") or {}).get("tolerations"):
                continue
            allocatable = (n.get("status") or {}).get("allocatable", {})
            held = used.get(n["metadata"]["name"], {})
            if all(int(allocatable.get(key, 0)) - held.get(key, 0) >= k for key, k in need.items()):
                return str(n["metadata"]["name"])
        return None

    def _schedule_pending(self) -> None:
        pending, _ = self.store.select(POD, "", lambda p: not p["spec"].get("nodeName"))
        for pod in pending:
            placed = self._place(pod)
            for ref in placed["metadata"].get("ownerReferences") or []:
                with self._cond:
                    self._work.add(("rs", placed["metadata"]["namespace"], ref["name"]))

    def _collect(self, t: ResourceType, ns: str, owner_name: str) -> None:
        """Garbage collection: objects whose owner is gone go too."""
        for o in self.store.select(t, ns, lambda o: any(r.get("name") == owner_name
                                                      for r in o["metadata"].get("ownerReferences") or []))[0]:
            self.store.delete(t, ns, o["metadata"]["name"])

    # -- eviction ------------------------------------------------------------------------------
    def check_eviction(self, ns: str, name: str) -> None:
        pod = self.store.get(POD, ns, name)
        labels = pod["metadata"].get("labels") or {}
        for pdb in self.store.select(PDB, ns)[0]:
            match_labels = (pdb["spec"].get("selector") or {}).get("matchLabels") or {}
            if not match_labels:
                continue
            matches = label_selector(",".join(f"{k}={v}" for k, v in match_labels.items()))
            if not matches(labels):
                continue
            covered = [p for p in self.store.select(POD, ns)[0] if matches(p["metadata"].get("labels") or {})]
            healthy = [p for p in covered if _ready(p)]
            spec = pdb["spec"]
            if "minAvailable" in spec:
                allowed = len(healthy) - int(spec["minAvailable"])
            else:
                allowed = int(spec.get("maxUnavailable", 1)) - (len(covered) - len(healthy))
            if allowed <= 0 or (not _ready(pod) and allowed < 0):
                raise ApiError(429, "TooManyRequests",
                               "Cannot evict pod as it would violate the pod's disruption budget.")


def _percent_or_int(value: Any, of: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = of * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def _rolling_step(d: Obj, current: Obj | None, olds: list[Obj], want: int) -> tuple[int, dict[str, int]]:
    """One step of a RollingUpdate, as the Deployment controller takes it: the new ReplicaSet may
    grow to `want + maxSurge` pods in all, and old pods go only while `want - maxUnavailable`
    stay ready. Returns the new ReplicaSet's size and how many pods to take from each old one."""
    old_spec = sum(int(r["spec"].get("replicas", 0)) for r in olds)
    strategy = (d.get("spec") or {}).get("strategy") or {}
    if not old_spec:
        return want, {}
    if strategy.get("type") == "Recreate":
        return (want if not any((r.get("status") or {}).get("replicas") for r in olds) else 0), {
            r["metadata"]["name"]: int(r["spec"].get("replicas", 0)) for r in olds}
    ru = strategy.get("rollingUpdate") or {}
    surge = _percent_or_int(ru.get("maxSurge", "25%"), want, round_up=True)
    unavailable = _percent_or_int(ru.get("maxUnavailable", "25%"), want, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    cur_spec = int(current["spec"].get("replicas", 0)) if current else 0
    target = min(want, max(cur_spec, want + surge - old_spec))
    ready = sum(int((r.get("status") or {}).get("readyReplicas", 0)) for r in [*olds, *([current] if current else [])])
    can_cut = max(0, ready - (want - unavailable))
    cuts: dict[str, int] = {}
    for r in sorted(olds, key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0"))):
        spec = int(r["spec"].get("replicas", 0))
        unready = max(0, spec - int((r.get("status") or {}).get("readyReplicas", 0)))
        cut = min(spec, unready + can_cut)  # pods that are not ready cost no availability
        can_cut -= max(0, cut - unready)
        if cut:
            cuts[r["metadata"]["name"]] = cut
    return target, cuts


def _container_status(c: Obj, pod: str, started: str, ready: bool = True) -> Obj:
    """What a kubelet reports for a running container; the client requires every one of these keys."""
    image = c.get("image", "")
    digest = hashlib.sha256(image.encode()).hexdigest()
    return {"name": c.get("name", "main"), "image": image, "imageID": f"{image}@sha256:{digest}",
            "containerID": "containerd://" + hashlib.sha256(f"{pod}/{c.get('name')}".encode()).hexdigest(),
            "ready": ready, "restartCount": 0, "started": True, "state": {"running": {"startedAt": started}}}


def _owner(obj: Obj, api_version: str, kind: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _node_ready(node: Obj) -> bool:
    conds = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds) or not conds
