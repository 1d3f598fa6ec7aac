"""Watches that keep one cluster's records current: list once, then follow the watch stream
from that resourceVersion; relist only on 410 Gone; reconnect with backoff. No periodic relists.

Each watched kind (nodes, pods, ...) in each namespace is one `Informer` thread holding its
records. `ClusterCache` joins them into a `ClusterSnapshot`, recomputed only when something
changed since the last one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from backends.kubernetes import translate as tr
from backends.kubernetes.transport import Gone, Transport
from cockpit.contracts import BackendError, Forbidden, NotFound
from cockpit.model_kube import ClusterSnapshot, KubeNode, KubePod, MigSlice, PodRef

log = logging.getLogger(__name__)
WATCH_SECONDS = 240
PAGE = 500
BACKOFF_MAX = 30.0
NOTIFY_S = 0.25


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    group_path: str  # /api/v1 or /apis/apps/v1
    plural: str
    namespaced: bool
    translate: Callable[[str, Mapping[str, Any]], Any]
    missing_note: str = ""
    part_of_another: Callable[[Mapping[str, Any]], bool] | None = None
    """Objects of this kind that are shown as part of another record (KServe's predictor
    Deployments, as their InferenceService): not kept, so every reader agrees."""

    def kept(self, obj: Mapping[str, Any]) -> bool:
        return self.part_of_another is None or not self.part_of_another(obj)

    def path(self, namespace: str | None) -> str:
        if namespace and self.namespaced:
            return f"{self.group_path}/namespaces/{namespace}/{self.plural}"
        return f"{self.group_path}/{self.plural}"


KINDS: tuple[Kind, ...] = (
    Kind("nodes", "/api/v1", "nodes", False, tr.node),
    Kind("pods", "/api/v1", "pods", True, lambda _s, o: tr.pod(o)),
    Kind("deployments", "/apis/apps/v1", "deployments", True, tr.deployment, part_of_another=tr.part_of_isvc),
    Kind("hpas", "/apis/autoscaling/v2", "horizontalpodautoscalers", True, tr.hpa,
         "autoscaling/v2 is not served"),
    Kind("inferenceservices", "/apis/serving.kserve.io/v1beta1", "inferenceservices", True, tr.inference_service,
         "KServe is not installed (no InferenceService CRD)"),
)


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


@dataclass
class Informer:
    """One list+watch loop; `items` maps namespace/name to the translated record."""

    transport: Transport
    kind: Kind
    namespace: str | None
    changed: Callable[[], None]
    items: dict[str, Any] = field(default_factory=dict)
    synced: bool = False
    error: str | None = None
    note: str | None = None
    relists: int = 0
    reconnects: int = 0
    busy_s: float = 0.0
    """Time spent applying watch events (decoded JSON in, record stored): the benchmark's figure."""
    events: int = 0
    resource_version: str = ""
    stopped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_change: Callable[[str, Any, Any], None] | None = None
    """Told (key, old record, new record) of each change, under the lock: the cache's indexes."""
    on_reset: Callable[[dict[str, Any]], None] | None = None
    """Told the whole new set after a (re)list."""
    bad: dict[str, str] = field(default_factory=dict)
    """Objects the server holds that cannot be made into records (key -> why): skipped, and named in
    the kind's error, while the rest of the kind stays current."""
    seen_rv: int = 0
    """The highest resourceVersion applied to `items` and told to the cache (its snapshot shows it);
    `cond` is signalled when it moves, for a writer waiting to read its own write."""
    cond: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.cond = threading.Condition(self.lock)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"kube-{self.transport.source}-{self.kind.name}",
                         daemon=True).start()

    def _run(self) -> None:
        """Like client-go's reflector: list once, then watch from the last resourceVersion seen,
        reconnecting with backoff when the connection breaks; list again only when the server
        says 410 Gone (or the list itself failed)."""
        delay, need_list = 1.0, True
        while not self.stopped:
            try:
                if need_list:
                    self._list()
                    need_list = False
                self._watch()
                delay = 1.0
                continue
            except Gone:
                self.relists += 1  # history compacted past our resourceVersion: list again, at once
                need_list = True
                continue
            except NotFound:
                self._fail(None, self.kind.missing_note or f"{self.kind.plural} are not served")
                need_list, delay = True, 300.0
            except Forbidden as e:
                self._fail(_plain(e), None)
                need_list, delay = True, 60.0
            except BackendError as e:
                self._fail(_plain(e), None)
                self.reconnects += 1
            except Exception as e:  # a bug in translation must not kill the loop silently
                log.exception("informer %s crashed", self.kind.name)
                self._fail(f"{self.kind.name}: {type(e).__name__}: {e}", None)
                need_list = True
            if self.stopped:
                return
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX) if delay < 60 else 1.0

    def _fail(self, error: str | None, note: str | None) -> None:
        with self.lock:
            self.error, self.note = error, note
            if note:
                self.items.clear()
                self.bad.clear()
                if self.on_reset is not None:
                    self.on_reset({})
                self.synced = True  # nothing to wait for: the resource does not exist here
        self._publish(None)

    def _publish(self, rv: Any) -> None:
        """Tell the cache (its snapshot is rebuilt), then a writer waiting for `rv`: in this order, so
        that a writer woken here reads a snapshot that holds its write."""
        self.changed()
        with self.cond:
            self.seen_rv = max(self.seen_rv, _rv(rv) or 0)
            self.cond.notify_all()

    def _translate(self, obj: Mapping[str, Any], key: str) -> Any:
        """The record, or `_Bad` naming the object when it cannot be made into one: one bad object (a
        field of the wrong type, an annotation that is not a number) is skipped and reported, never
        allowed to fail the whole kind, whose other objects stay current. The caller updates `bad`."""
        try:
            return self.kind.translate(self.transport.source, obj)
        except Exception as e:
            why = f"{key.lstrip('/')}: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            log.warning("%s: %s %s", self.transport.source, self.kind.name, why)
            raise _Bad(why) from None

    def problem(self) -> str | None:
        """The kind's error as a reader sees it: the loop's failure and the objects skipped."""
        parts = [self.error] if self.error else []
        if self.bad:
            first = sorted(self.bad)[0]
            more = len(self.bad) - 1
            parts.append(f"{self.kind.name}: {self.bad[first]}" + (f" (and {more} more)" if more else ""))
        return "; ".join(parts) or None

    def _list(self) -> None:
        items: dict[str, Any] = {}
        bad: dict[str, str] = {}
        query: dict[str, Any] = {"limit": PAGE}
        while True:
            page = self.transport.request("GET", self.kind.path(self.namespace), query=query, timeout=60)
            for obj in page.get("items") or []:
                if not self.kind.kept(obj):
                    continue
                key = _key(obj)
                try:
                    items[key] = self._translate(obj, key)
                except _Bad as e:
                    bad[key] = str(e)
            meta = page.get("metadata") or {}
            if not meta.get("continue"):
                break
            query["continue"] = meta["continue"]
        with self.lock:
            self.items, self.bad = items, bad
            if self.on_reset is not None:
                self.on_reset(items)
            self.resource_version = str(meta.get("resourceVersion", ""))
            self.synced, self.error, self.note = True, None, None
        self._publish(self.resource_version)

    def _watch(self) -> None:
        query = {"watch": "true", "resourceVersion": self.resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": WATCH_SECONDS}
        source = self.transport.source
        stream = self.transport.stream(self.kind.path(self.namespace), query, WATCH_SECONDS + 30)
        if self.error:
            with self.lock:
                self.error = None  # connected again
            self._publish(None)
        for event in stream:
            if self.stopped:
                return
            typ, obj = event.get("type"), event.get("object") or {}
            if typ == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(f"{source}: watch {self.kind.plural}: {obj.get('message', 'gone')}")
                raise BackendError(f"{source}: watch {self.kind.plural}: {obj.get('message', 'error')}")
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if typ == "BOOKMARK":
                with self.cond:
                    self.resource_version = str(rv or self.resource_version)
                    self.seen_rv = max(self.seen_rv, _rv(rv) or 0)  # nothing of ours is still to come
                    self.cond.notify_all()
                continue
            started = time.perf_counter()
            key = _key(obj)
            why = None
            try:  # an object no longer kept (relabelled) goes as if deleted
                record = None if typ == "DELETED" or not self.kind.kept(obj) else self._translate(obj, key)
            except _Bad as e:
                record, why = None, str(e)  # what we held of it is no longer what the server holds
            with self.lock:
                old = self.items.pop(key, None) if record is None else self.items.get(key)
                if record is not None:
                    self.items[key] = record
                if why is None:
                    self.bad.pop(key, None)
                else:
                    self.bad[key] = why
                if self.on_change is not None:
                    self.on_change(key, old, record)
                self.resource_version = str(rv or self.resource_version)
                self.events += 1
            self._publish(rv)
            self.busy_s += time.perf_counter() - started


class _Bad(Exception):
    """One object that cannot be translated (the message names it and why)."""


def _rv(rv: Any) -> int | None:
    """A resourceVersion as a number. Kubernetes calls them opaque, but an etcd-backed API server
    gives one increasing integer (etcd's revision) across every kind; anything else is not compared."""
    text = str(rv or "")
    return int(text) if text.isdigit() else None


def _plain(e: BackendError) -> str:
    """The error without the source prefix: the screens already say which source it is."""
    text = e.message
    return text.split(": ", 1)[1] if ": " in text else text


class ClusterCache:
    def __init__(self, transport: Transport, namespaces: tuple[str, ...] | None,
                 now: Callable[[], Any]) -> None:
        self.transport = transport
        self.namespaces = namespaces
        self._now = now
        self._listeners: list[Callable[[str], None]] = []
        self._version = 0
        self._built: tuple[int, ClusterSnapshot] | None = None
        self._lock = threading.Lock()
        self.informers: dict[str, list[Informer]] = {}
        self.started = False
        self._notify_pending = False
        # pods by node (per informer, for relists) and each node's last joined view
        self._idx_lock = threading.Lock()
        self._by_node: dict[str, dict[str, KubePod]] = {}
        self._views: dict[str, KubeNode] = {}
        self._dirty: set[str] = set()
        self._all_dirty = True

    def start(self) -> None:
        with self._lock:
            if self.started:
                return
            self.started = True
            for kind in KINDS:
                spaces: tuple[str | None, ...] = (None,) if not kind.namespaced or not self.namespaces \
                    else self.namespaces
                self.informers[kind.name] = [Informer(self.transport, kind, ns, self._changed) for ns in spaces]
            for inf in self.informers["pods"]:
                inf.on_change, inf.on_reset = self._pod_changed, self._make_pods_reset(inf)
            for inf in self.informers["nodes"]:
                inf.on_change = lambda key, _old, _new: self._mark_dirty(key.lstrip("/"))
                inf.on_reset = lambda items: self._mark_dirty(*[k.lstrip("/") for k in items], everything=True)
        for group in self.informers.values():
            for inf in group:
                inf.start()

    def stop(self) -> None:
        for group in self.informers.values():
            for inf in group:
                with inf.cond:
                    inf.stopped = True
                    inf.cond.notify_all()

    def await_write(self, plural: str, namespace: str, key: str, rv: str | None, timeout: float) -> bool:
        """Read your own writes: block until the watches of that kind covering `namespace` have
        brought the change the API server answered with resourceVersion `rv` (no `rv`: the object is
        gone, and must be gone from the cache too), so that a read right after our change shows it,
        not the state from before its watch event arrived. At most `timeout`; not at all for a kind
        not watched (its first read lists afresh) or an informer that is failing (its read reports
        that failure). False when it gave up."""
        informers = [inf for kind in KINDS if kind.plural == plural for inf in self.informers.get(kind.name, ())
                     if inf.namespace is None or inf.namespace == namespace]
        target = _rv(rv) if rv else None
        if rv and target is None:
            return False  # an API server whose versions are not numbers: nothing to compare with
        end = time.monotonic() + timeout
        caught_up = True
        for inf in informers:
            def seen(inf: Informer = inf) -> bool:
                if inf.stopped or inf.error or inf.note:
                    return True
                if target is not None:
                    return inf.seen_rv >= target
                return inf.synced and key not in inf.items and key not in inf.bad
            with inf.cond:
                caught_up = inf.cond.wait_for(seen, max(0.0, end - time.monotonic())) and caught_up
        if not caught_up:
            log.warning("%s: the watch of %s has not brought our change (resourceVersion %s) after %gs",
                        self.transport.source, plural, rv or f"deletion of {key}", timeout)
        return caught_up

    def subscribe(self, fn: Callable[[str], None]) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _changed(self) -> None:
        """Count the change; tell listeners at most every NOTIFY_S, however many events arrive."""
        with self._lock:
            self._version += 1  # several informer threads count here: `+=` alone could lose one
            if self._notify_pending:
                return
            self._notify_pending = True
        timer = threading.Timer(NOTIFY_S, self._notify)
        timer.daemon = True
        timer.start()

    def _notify(self) -> None:
        with self._lock:
            self._notify_pending = False
        for fn in list(self._listeners):
            fn(self.transport.source)

    @property
    def synced(self) -> bool:
        return all(inf.synced or inf.error for g in self.informers.values() for inf in g)

    def wait_synced(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while not self.synced:
            if time.monotonic() >= end:
                return False
            time.sleep(0.02)
        return True

    # -- the pods-by-node index: a snapshot after K events costs O(K + nodes), not O(pods) --------
    def _mark_dirty(self, *nodes: str, everything: bool = False) -> None:
        with self._idx_lock:
            self._dirty.update(nodes)
            self._all_dirty = self._all_dirty or everything

    def _pod_changed(self, key: str, old: KubePod | None, new: KubePod | None) -> None:
        with self._idx_lock:
            if old is not None:
                self._by_node.get(old.node, {}).pop(key, None)
                self._dirty.add(old.node)
            if new is not None:
                self._by_node.setdefault(new.node, {})[key] = new
                self._dirty.add(new.node)

    def _make_pods_reset(self, inf: Informer) -> Callable[[dict[str, Any]], None]:
        def reset(items: dict[str, Any]) -> None:
            with self._idx_lock:
                for pods in self._by_node.values():  # drop what this informer's scope held before
                    for key in [k for k in pods if inf.namespace is None or k.split("/", 1)[0] == inf.namespace]:
                        del pods[key]
                for key, pod in items.items():
                    self._by_node.setdefault(pod.node, {})[key] = pod
                self._all_dirty = True
        return reset

    def _node_views(self) -> list[KubeNode]:
        nodes: list[KubeNode] = self.records("nodes")
        with self._idx_lock:
            dirty, everything = self._dirty, self._all_dirty
            self._dirty, self._all_dirty = set(), False
            views = {}
            for n in nodes:
                view = self._views.get(n.name)
                if everything or view is None or n.name in dirty:
                    view = attach_pods([n], list(self._by_node.get(n.name, {}).values()))[0]
                views[n.name] = view
            self._views = views
        return list(views.values())

    def records(self, kind: str) -> list[Any]:
        out: list[Any] = []
        for inf in self.informers.get(kind, ()):
            with inf.lock:
                out.extend(inf.items.values())
        return out

    def snapshot(self) -> ClusterSnapshot:
        version = self._version
        built = self._built
        if built is not None and built[0] == version:
            return built[1]
        problems: dict[str, list[str]] = {}
        notes: dict[str, str] = {}
        for name, group in self.informers.items():
            for inf in group:
                with inf.lock:
                    problem = inf.problem()
                if problem and problem not in problems.setdefault(name, []):
                    problems[name].append(problem)  # one line per kind, whatever its namespaces say
                if inf.note:
                    notes[name] = inf.note
        if self.namespaces:
            notes["pods"] = f"GPUs allocated count pods in {', '.join(self.namespaces)} only (namespaces in config)"
        errors = {name: "; ".join(found) for name, found in problems.items() if found}
        pod_count = sum(len(inf.items) for inf in self.informers.get("pods", ()))
        nodes = self._node_views()
        snap = ClusterSnapshot(
            source=self.transport.source, context=self.transport.context, server=self.transport.server,
            nodes=tuple(sorted(nodes, key=lambda n: n.name)),
            deployments=tuple(sorted(self.records("deployments"), key=lambda d: (d.namespace, d.name))),
            hpas=tuple(sorted(self.records("hpas"), key=lambda h: (h.namespace, h.name))),
            inference_services=tuple(sorted(self.records("inferenceservices"), key=lambda i: (i.namespace, i.name))),
            pod_count=pod_count, errors=errors, notes=notes, synced=self.synced, as_of=self._now(),
        )
        self._built = (version, snap)
        return snap


def attach_pods(nodes: list[KubeNode], pods: list[KubePod]) -> list[KubeNode]:
    """Each node with its pods and what they hold: GPUs allocated = the GPU requests of the
    active pods bound to it (what the scheduler counts), MIG slices likewise per profile."""
    by_node: dict[str, list[KubePod]] = {}
    for p in pods:
        if p.active:
            by_node.setdefault(p.node, []).append(p)
    out = []
    for n in nodes:
        held = by_node.get(n.name, [])
        gpus = sum(p.gpus for p in held)
        mig_used: dict[str, int] = {}
        for p in held:
            for profile, k in p.mig:
                mig_used[profile] = mig_used.get(profile, 0) + k
        mig = tuple(MigSlice(s.profile, s.capacity, s.allocatable, mig_used.get(s.profile, 0)) for s in n.mig)
        refs = tuple(PodRef(p.namespace, p.name, p.phase, p.gpus, p.mig, f"{p.owner_kind}/{p.owner_name}"
                            if p.owner_kind else "", p.cpu_m, p.memory_mib, p.isvc)
                     for p in sorted(held, key=lambda p: (p.namespace, p.name)))
        out.append(replace(n, gpu_allocated=gpus, mig=mig, pods=refs, cpu_requested_m=sum(p.cpu_m for p in held),
                           memory_requested_mib=sum(p.memory_mib for p in held)))
    return out
