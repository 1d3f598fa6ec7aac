"""The app's latest picture of every source, refreshed by one poll loop.

One poller for the whole app (not one per screen) keeps the number of backend calls independent
of how many screens show machines; screens read this and re-render when told it changed.
Kubernetes sources answer from their watch caches, so polling them costs no API request.

A round of that loop asks each source as its own (source, role) unit, scheduled by
`cockpit.state.schedule` (a source in backoff is skipped, keeping its last answer); its answers
come back as a `Round`, which `merge` lays over whatever the app shows by then, source by source,
so an answer read before our own change to its source never paints over that change.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
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
from cockpit.providers import provider
from cockpit.state.schedule import Ask, SourcePolls

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

    def taking(self, other: Inventory, sources: Collection[str]) -> Inventory:
        """This picture with what `other` holds for `sources` (answers and errors alike; a source
        that has nothing there has nothing here), every other source as it is here."""
        names = frozenset(sources)
        if not names:
            return self
        fields: dict[str, Any] = {}
        for f in PER_SOURCE:
            mine: dict[str, Any] = getattr(self, f)
            theirs: dict[str, Any] = getattr(other, f)
            fields[f] = {k: v for k, v in mine.items() if k not in names} | {
                k: v for k, v in theirs.items() if k in names}
        history = {k: v for k, v in self.local_history.items() if k[0] not in names} | {
            k: v for k, v in other.local_history.items() if k[0] in names}
        return replace(self, **fields, local_history=history, answered=self.answered | (other.answered & names))


PER_SOURCE = ("machines", "gpus", "templates", "errors", "clusters", "cluster_errors", "models", "registry_errors",
              "local", "metrics_errors", "series", "series_errors", "degraded")
"""The Inventory's fields keyed by source name: what one source's answer (or error) sets."""


@dataclass(frozen=True, slots=True)
class Round:
    """One poll's answers so far (all of them once it is done), with what delivery needs to lay
    them over the picture shown by then: which sources answered or failed in it, and their write
    epochs when it began."""

    inventory: Inventory
    sources: frozenset[str]
    epochs: Mapping[str, int]
    full: bool
    """A periodic poll of the whole app (it sets `polled_at` and `loaded`), not a partial re-read."""


def merge(current: Inventory, rnd: Round, polls: SourcePolls) -> Inventory:
    """What to show once `rnd` is delivered: its answers for the sources it asked, except those
    our own change touched since it began (their re-read is newer), over `current` for the rest
    (another round may have delivered newer answers for them meanwhile)."""
    out = current.taking(rnd.inventory, polls.unchanged(rnd.epochs, rnd.sources))
    if rnd.full:
        out = replace(out, polled_at=rnd.inventory.polled_at, loaded=current.loaded or rnd.inventory.loaded)
    return out


LOCAL_HISTORY = 120


PICTURE_ROLES = (SERIES, CLUSTERS, REGISTRY, LOCAL_METRICS, MACHINES)
"""The roles the picture asks, in the order a kind's role is looked for (a cloud plays machines,
provisioning, spend and prices: the picture asks machines)."""


def picture_role(kind: str) -> str:
    """The role a source of this kind is asked in by the poll (its provider descriptor's)."""
    found = provider(kind)
    return next((r.name for r in PICTURE_ROLES if found is not None and found.plays(r.name)), MACHINES.name)


def _in_picture(kind: str) -> bool:
    found = provider(kind)
    return found is not None and any(found.plays(r.name) for r in PICTURE_ROLES)


def source_polls(hub: Hub, interval_s: float) -> SourcePolls:
    """One schedule per (source, role) the poll asks, on the hub's clock."""
    return SourcePolls(hub.now, interval_s, {s.name: picture_role(s.kind) for s in hub.sources()})


def _ask(hub: Hub, name: str, window_s: float | None, step_s: float | None) -> object:
    """One source's part of the picture, asked in the role its kind plays here."""
    cfg = hub.source(name)
    role = picture_role(cfg.kind)
    if role == SERIES.name:
        return hub.call(name, SERIES, lambda b: promql.snapshot(b, cfg, window_s, step_s))
    if role == CLUSTERS.name:
        return hub.call(name, CLUSTERS, lambda b: b.snapshot(wait=SNAPSHOT_WAIT_S))
    if role == REGISTRY.name:
        return hub.call(name, REGISTRY, lambda b: tuple(b.models()))
    if role == LOCAL_METRICS.name:
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


def poll(hub: Hub, previous: Inventory, *, window_s: float | None = None, step_s: float | None = None,
         metrics_only: bool = False, only: Collection[str] | None = None) -> Inventory:
    """Blocking: every source's answer (or error) over `previous`, asked now, all of them (a
    command's read, a test): `poll_round` without a schedule, its picture alone."""
    return poll_round(hub, previous, window_s=window_s, step_s=step_s, metrics_only=metrics_only,
                      only=only).inventory


def poll_round(hub: Hub, previous: Inventory, on_partial: Callable[[Round], None] | None = None, *,
               window_s: float | None = None, step_s: float | None = None, metrics_only: bool = False,
               only: Collection[str] | None = None, polls: SourcePolls | None = None) -> Round:
    """Blocking: ask the sources for what they hold (runs in a thread). Sources answer at their
    own pace; `on_partial` gets the round after each answer, so a slow source (mlflow's first
    import, a cluster's first lists) never holds back the others on screen. `metrics_only` (the
    Metrics screen's faster loop) and `only` (the sources our own change touched) ask some sources
    and keep the others' last answers and errors. With `polls`, a periodic round asks only the
    sources their schedule says are due (a skipped one keeps its last answer and error) and tells
    it how each ask went; `only` asks its sources regardless (a re-read must see our change)."""
    machine_sources = {s.name for s in hub.sources("machines")}
    registries = {s.name for s in hub.sources("registry")}
    locals_ = {s.name for s in hub.sources("metrics")}
    series_sources = {s.name for s in hub.sources("series")}
    sources = [s.name for s in hub.sources() if _in_picture(s.kind)]
    if metrics_only:  # the Metrics screen's faster loop: the other sources keep their last answer
        sources = [s for s in sources if s in locals_ or s in series_sources]
    if only is not None:
        sources = [s for s in sources if s in only]
    full = not metrics_only and only is None
    ask = polls.begin(sources, force=only is not None) if polls is not None else Ask(
        tuple(sources), (), frozenset(sources), {})
    sources = list(ask.asked)
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
        got: Any = None
        try:
            got = _ask(hub, name, window_s, step_s)
        except CockpitError as e:
            got = e
        finally:  # whatever happened (a bug included), the schedule hears of this ask
            if polls is not None:
                polls.record(name, got is not None and not isinstance(got, CockpitError), ask)
        with lock:
            answers[name] = got
            partial = Round(build(dict(answers), previous.loaded), frozenset(answers), ask.epochs, full)
        if on_partial is not None and len(answers) < len(sources):
            on_partial(partial)

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Round(build(answers, True if full else previous.loaded), frozenset(answers), ask.epochs, full)


def poll_clusters(hub: Hub) -> dict[str, ClusterSnapshot]:
    """Blocking: the clusters' snapshots from their watch caches (no API request); a source that
    fails here keeps its last snapshot (the main poll reports its health)."""
    sources = [s.name for s in hub.sources("clusters")]
    return {name: got for name, got in hub.call_many(sources, CLUSTERS, lambda b: b.snapshot(wait=0)).items()
            if isinstance(got, ClusterSnapshot)}
