"""The app's latest picture of every source, refreshed by one poll loop.

One poller for the whole app (not one per screen) keeps the number of backend calls independent
of how many screens show machines; screens read this and re-render when told it changed.
Kubernetes sources answer from their watch caches, so polling them costs no API request.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cockpit import promql
from cockpit.contracts import CLUSTERS, LOCAL_METRICS, MACHINES, REGISTRY, SERIES, CockpitError, MachineBackend
from cockpit.freshness import Freshness, judge
from cockpit.hub import Hub
from cockpit.model import HostGpu, Machine, Template
from cockpit.model_kube import ClusterSnapshot, Deployment, InferenceService, KubeNode
from cockpit.model_metrics import LocalSnapshot, PromSnapshot
from cockpit.model_registry import RegisteredModel

SNAPSHOT_WAIT_S = 5.0
"""How long a first poll waits for a cluster's initial lists (the rest arrive by watch)."""


@dataclass(frozen=True, slots=True)
class Inventory:
    machines: dict[str, tuple[Machine, ...]] = field(default_factory=dict)
    gpus: dict[str, tuple[HostGpu, ...]] = field(default_factory=dict)
    templates: dict[str, tuple[Template, ...]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    polled_at: datetime | None = None
    loaded: bool = False
    clusters: dict[str, ClusterSnapshot] = field(default_factory=dict)
    cluster_errors: dict[str, str] = field(default_factory=dict)
    models: dict[str, tuple[RegisteredModel, ...]] = field(default_factory=dict)
    registry_errors: dict[str, str] = field(default_factory=dict)
    local: dict[str, LocalSnapshot] = field(default_factory=dict)
    metrics_errors: dict[str, str] = field(default_factory=dict)
    answered: frozenset[str] = frozenset()
    """Sources that have answered at least once (a screen may say "no X" once its sources did)."""
    series: dict[str, PromSnapshot] = field(default_factory=dict)
    series_errors: dict[str, str] = field(default_factory=dict)
    local_history: dict[tuple[str, int], tuple[float, ...]] = field(default_factory=dict)
    """Each local GPU's utilisation at each poll, newest last (NVML keeps no history of its own)."""
    degraded: dict[str, str] = field(default_factory=dict)
    """Machine sources that answered in part: "us-west-2 missing: cannot reach EC2 ..."."""

    def series_freshness(self, source: str, now: datetime, interval_s: float | None) -> Freshness:
        """How fresh a Prometheus source's figures are, refreshed every `interval_s` (the main poll's,
        or the Metrics screen's faster loop while it is shown): stale once it failed since or fell
        two intervals behind."""
        snap = self.series.get(source)
        return judge(snap.as_of if snap else None, now, interval_s, self.series_errors.get(source))

    def has_answered(self, sources: list[str]) -> bool:
        return self.loaded or any(s in self.answered for s in sources)

    def all_models(self) -> list[RegisteredModel]:
        return [m for ms in self.models.values() for m in ms]

    def all_machines(self) -> list[Machine]:
        return [m for ms in self.machines.values() for m in ms]

    def find(self, ref: str) -> Machine | None:
        source, _, name = ref.partition("/")
        for m in self.machines.get(source, ()):
            if m.name == name:
                return m
        return None

    def nodes(self) -> list[KubeNode]:
        return [n for c in self.clusters.values() for n in c.nodes]

    def node(self, ref: str) -> KubeNode | None:
        source, _, name = ref.partition("/")
        snap = self.clusters.get(source)
        return next((n for n in snap.nodes if n.name == name), None) if snap else None

    def deployments(self) -> list[Deployment]:
        return [d for c in self.clusters.values() for d in c.deployments]

    def inference_services(self) -> list[InferenceService]:
        return [i for c in self.clusters.values() for i in c.inference_services]


LOCAL_HISTORY = 120
METRIC_KINDS = frozenset({"local", "prometheus"})


def _ask(hub: Hub, name: str, window_s: float | None, step_s: float | None) -> object:
    """One source's part of the picture, asked in the role its kind plays here."""
    cfg = hub.source(name)
    if cfg.kind == "prometheus":
        return hub.call(name, SERIES, lambda b: promql.snapshot(b, cfg, window_s, step_s))
    if cfg.kind == "kubernetes":
        return hub.call(name, CLUSTERS, lambda b: b.snapshot(wait=SNAPSHOT_WAIT_S))
    if cfg.kind == "mlflow":
        return hub.call(name, REGISTRY, lambda b: tuple(b.models()))
    if cfg.kind == "local":
        return hub.call(name, LOCAL_METRICS, lambda b: b.snapshot())
    return hub.call(name, MACHINES, _machines)


def _history(previous: dict[tuple[str, int], tuple[float, ...]], snap: LocalSnapshot
             ) -> dict[tuple[str, int], tuple[float, ...]]:
    out = dict(previous)
    for g in snap.gpus:
        key = (snap.source, g.index)
        value = g.utilization if g.utilization is not None else math.nan
        out[key] = (*out.get(key, ())[-(LOCAL_HISTORY - 1):], value)
    return out


def _machines(backend: MachineBackend
              ) -> tuple[Sequence[Machine], Sequence[HostGpu], Sequence[Template], dict[str, str]]:
    machines = backend.list_machines()
    # a cloud source whose regions partly failed lists the rest and says which are missing
    # (`degraded`: the cloud adapters' own attribute, not part of the role)
    return machines, backend.host_gpus(), backend.templates(), dict(getattr(backend, "degraded", None) or {})


def poll(hub: Hub, previous: Inventory, on_partial: Callable[[Inventory], None] | None = None, *,
         window_s: float | None = None, step_s: float | None = None, metrics_only: bool = False,
         only: Collection[str] | None = None) -> Inventory:
    """Blocking: ask every source for what it holds (runs in a thread). Sources answer at their
    own pace; `on_partial` gets the picture after each answer, so a slow source (mlflow's first
    import, a cluster's first lists) never holds back the others on screen. `metrics_only` (the
    Metrics screen's faster loop) and `only` (the sources our own change touched) ask some sources
    and keep the others' last answers and errors."""
    machine_sources = {s.name for s in hub.sources("machines")}
    registries = {s.name for s in hub.sources("registry")}
    locals_ = {s.name for s in hub.sources() if s.kind == "local"}
    series_sources = {s.name for s in hub.sources("series")}
    sources = [s.name for s in hub.sources() if s.name in machine_sources or s.kind == "kubernetes"
               or s.name in registries or s.name in locals_ or s.name in series_sources]
    if metrics_only:  # the Metrics screen's faster loop: the other sources keep their last answer
        sources = [s for s in sources if s in locals_ or s in series_sources]
    if only is not None:
        sources = [s for s in sources if s in only]
    full = not metrics_only and only is None
    asked = frozenset(sources)
    answers: dict[str, Any] = {}
    lock = threading.Lock()

    def build(done: dict[str, Any], loaded: bool) -> Inventory:
        machines, gpus, templates = dict(previous.machines), dict(previous.gpus), dict(previous.templates)
        clusters, models, local = dict(previous.clusters), dict(previous.models), dict(previous.local)
        series, history = dict(previous.series), previous.local_history
        def kept(old: dict[str, str]) -> dict[str, str]:
            """A source not asked this time keeps its error; an asked one's is what it says now."""
            return {k: v for k, v in old.items() if k not in asked}

        errors, cluster_errors = kept(previous.errors), kept(previous.cluster_errors)
        registry_errors, metrics_errors = kept(previous.registry_errors), kept(previous.metrics_errors)
        series_errors, degraded = kept(previous.series_errors), kept(previous.degraded)
        for source in [s for s in sources if s in done]:  # config order, whatever order they answered in
            got = done[source]
            if isinstance(got, CockpitError):  # keep the last good rows, marked stale by the status bar
                where = errors if source in machine_sources else (
                    registry_errors if source in registries else metrics_errors if source in locals_
                    else series_errors if source in series_sources else cluster_errors)
                where[source] = got.message
            elif isinstance(got, LocalSnapshot):
                local[source] = got
                history = _history(history, got)
            elif isinstance(got, PromSnapshot):
                series[source] = replace(got, as_of=hub.now())  # "as of" on the hub's clock, like the rest
            elif isinstance(got, ClusterSnapshot):
                clusters[source] = got
            elif source in registries:
                models[source] = got
            else:
                machines[source] = tuple(sorted(got[0], key=lambda m: m.name))
                gpus[source] = tuple(got[1])
                templates[source] = tuple(got[2])
                if got[3]:
                    degraded[source] = "; ".join(f"{where} missing: {why}" for where, why in sorted(got[3].items()))
        return Inventory(machines, gpus, templates, errors, hub.now() if full else previous.polled_at, loaded,
                         clusters, cluster_errors, models, registry_errors, local, metrics_errors,
                         previous.answered | frozenset(done), series, series_errors, history, degraded)

    def one(name: str) -> None:
        try:
            got: Any = _ask(hub, name, window_s, step_s)
        except CockpitError as e:
            got = e
        with lock:
            answers[name] = got
            partial = build(dict(answers), previous.loaded)
        if on_partial is not None and len(answers) < len(sources):
            on_partial(partial)

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return build(answers, True if full else previous.loaded)


def poll_clusters(hub: Hub) -> dict[str, ClusterSnapshot]:
    """Blocking: the clusters' snapshots from their watch caches (no API request); a source that
    fails here keeps its last snapshot (the main poll reports its health)."""
    sources = [s.name for s in hub.sources("clusters")]
    return {name: got for name, got in hub.call_many(sources, CLUSTERS, lambda b: b.snapshot(wait=0)).items()
            if isinstance(got, ClusterSnapshot)}
