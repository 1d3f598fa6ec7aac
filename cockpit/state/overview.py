"""What the Overview says, as plain records: the problems first (each one actionable, naming the
key or command that goes where it can be dealt with), then one line per healthy source, then the
GPU summaries. Pure functions over the hub's health, the inventory and the journal, shared with
any text view that wants the same words; the screen only styles them.

Unknown is never counted as free: a GPU on a NotReady or cordoned node is said to be there, not
added to the free ones; a machine that is not running has no GPU figure (its exporter's series is
stale by definition), so it is neither idle nor busy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cockpit import format as fmt
from cockpit.allocation import budgets_now
from cockpit.costs import Burn
from cockpit.freshness import STALE_MARK
from cockpit.hub import Hub
from cockpit.model import HealthState, Machine, MachineState
from cockpit.model_kube import ClusterSnapshot, KubeNode, product
from cockpit.model_metrics import NvmlState, PromSnapshot
from cockpit.ops.journal import Operation
from cockpit.prices import Catalogue
from cockpit.state.inventory import Inventory
from cockpit.state.schedule import describe
from cockpit.waste import THRESHOLD, GpuPeak, Waste, idle_gpus

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that needs a person: what, and where to go about it (`2 Machines`, `:ops`)."""

    severity: str
    """error (down, over budget, did not finish) | warning (degraded, idle, NotReady)."""
    subject: str
    text: str
    go: str


@dataclass(frozen=True, slots=True)
class SourceLine:
    """A source that answers (or has not yet): its kind, where it looks, and what it holds."""

    name: str
    kind: str
    scope: str
    summary: str
    waiting: bool = False
    """Never answered yet: the summary says so, in a quieter style."""


@dataclass(frozen=True, slots=True)
class GpuModelLine:
    """One GPU model in one cluster: `8 GPUs · 0 allocated · 4 free · 4 on NotReady l4-02`."""

    product: str
    total: int
    allocated: int
    free: int
    unusable: tuple[tuple[str, str, int], ...]
    """(why: NotReady | cordoned, node, GPUs) of nodes whose GPUs no pod can be scheduled onto."""
    mig: str = ""
    nodes: int = 0

    def describe(self) -> str:
        parts = [plural(self.total, "GPU"), f"{self.allocated} allocated", f"{self.free} free"] if self.total else []
        by_why: dict[str, list[tuple[str, int]]] = {}
        for why, node, n in self.unusable:
            by_why.setdefault(why, []).append((node, n))
        for why, nodes in by_why.items():
            parts.append(f"{sum(n for _, n in nodes)} on {why} {', '.join(node for node, _ in nodes)}")
        if self.mig:
            parts.append(self.mig)
        return " · ".join(parts)


def plural(n: int, noun: str) -> str:
    """`1 GPU`, `4 GPUs`."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def window_text(seconds: float) -> str:
    """`1h`, `15m`, `90s`: a Prometheus window as its config would write it."""
    s = int(seconds)
    return f"{s // 3600}h" if s % 3600 == 0 else f"{s // 60}m" if s % 60 == 0 else f"{s}s"


# -- problems -------------------------------------------------------------------------------------
def source_problems(hub: Hub, inv: Inventory, next_try: Callable[[str], datetime | None]) -> list[Problem]:
    """Sources down or degraded, with why and since when (and their next try); sources whose last
    answer was an error whatever their health says (a cluster none of whose lists answered);
    sources that answered only in part (a cloud's missing region, a cluster's failed list)."""
    return [p for s in hub.sources() if (p := _trouble(hub, inv, s.name, s.kind, next_try)[0]) is not None]


def _trouble(hub: Hub, inv: Inventory, name: str, kind: str, next_try: Callable[[str], datetime | None]
             ) -> tuple[Problem | None, bool]:
    """The source's problem, if any, and whether it is out altogether (no line among the healthy)."""
    h = hub.health(name)
    go = _go(kind)
    if h.state in (HealthState.DOWN, HealthState.DEGRADED):
        return Problem(ERROR if h.state is HealthState.DOWN else WARNING, name,
                       f"{kind} {describe(h, next_try(name))}", f"ctrl+r retries · {go}"), True
    failed = last_error(inv, name)
    if failed:
        return Problem(ERROR, name, f"{kind} failed: {failed}", f"ctrl+r retries · {go}"), True
    snap = inv.clusters.get(name)
    if snap is not None and snap.errors:
        by_why: dict[str, list[str]] = {}
        for what, why in sorted(snap.errors.items()):
            by_why.setdefault(why, []).append(what)
        said = "; ".join(f"{', '.join(what)}: {why}" for why, what in by_why.items())
        if not snap.nodes and {"nodes", "pods"} <= set(snap.errors):
            return Problem(ERROR, name, f"{kind} cannot list {said}", f"ctrl+r retries · {go}"), True
        return Problem(WARNING, name, f"{kind} answered in part: cannot list {said}", go), False
    if name in inv.degraded:
        return Problem(WARNING, name, f"{kind} answered in part: {inv.degraded[name]}", go), False
    return None, False


def last_error(inv: Inventory, name: str) -> str | None:
    """The error the source's last ask gave, whichever role it plays."""
    for errors in (inv.errors, inv.cluster_errors, inv.registry_errors, inv.metrics_errors, inv.series_errors):
        if name in errors:
            return errors[name]
    return None


def node_problems(snaps: Iterable[ClusterSnapshot]) -> list[Problem]:
    """NotReady nodes, with the GPUs they hold that no pod can use now."""
    out = []
    for snap in sorted(snaps, key=lambda c: c.source):
        for n in snap.nodes:
            if n.ready:
                continue
            gpus = f", {plural(n.gpu_allocatable, product(n) + ' GPU')} unusable" if n.gpu_allocatable else ""
            out.append(Problem(WARNING, f"{snap.source}/{n.name}", f"node NotReady{gpus}", "3 Nodes"))
    return out


def machine_problems(machines: Iterable[Machine]) -> list[Problem]:
    return [Problem(ERROR, m.ref, "machine crashed" + (f", holding {fmt.gpu_summary(m.gpus)}" if m.gpus else ""),
                    "2 Machines") for m in machines if m.state is MachineState.CRASHED]


def budget_problems(b: Burn, hub: Hub, snaps: Iterable[ClusterSnapshot], cat: Catalogue) -> list[Problem]:
    return [Problem(ERROR, f"budget {use.key}",
                    f"projected {fmt.dollars(use.projected)} of {fmt.dollars(use.budget)} ({use.ratio:.0%}), "
                    f"over by {fmt.dollars(use.projected - use.budget)}", "6 Costs")
            for use in budgets_now(b, hub.config.budgets, snaps, cat, hub.config.onprem) if use.over]


def unfinished_problems(ops: Sequence[Operation]) -> list[Problem]:
    """The last few operations a crash or a lost session left half done."""
    return [Problem(ERROR, "did not finish:", op.describe(), ":ops") for op in ops[-3:]]


def idle_problem(inv: Inventory, cat: Catalogue, hub: Hub) -> Problem | None:
    """GPUs that stayed under 5% over the metrics window, with what they cost per hour. Read from
    the Overview's own Prometheus answers (no extra query); `:cost idle` asks for the exact peaks."""
    w = idle_now(inv, cat, hub)
    if w is None or not w.idle:
        return None
    window = window_text(min(s.window_s for s in inv.series.values()))
    where = Counter(g.where for g in w.idle)
    named = ", ".join(f"{ref} ×{n}" if n > 1 else ref for ref, n in where.most_common(3))
    more = f" +{len(where) - 3} more" if len(where) > 3 else ""
    cost = f" wasting {fmt.dollars(w.hourly)}/h" if any(g.hourly for g in w.idle) else ""
    return Problem(WARNING, f"{plural(len(w.idle), 'GPU')} idle",
                   f"(<{THRESHOLD:g}% for {window}){cost}: {named}{more}", ":cost idle")


def idle_now(inv: Inventory, cat: Catalogue, hub: Hub) -> Waste | None:
    """The GPUs under the threshold over each Prometheus source's window, priced; None when no
    source has GPU series. A GPU of a machine that is not running is left out: its series is stale."""
    off = {m.name for m in inv.all_machines() if m.state is not MachineState.RUNNING}
    peaks = [p for snap in inv.series.values() for p in _peaks(snap) if p.host not in off]
    if not peaks:
        return None
    return idle_gpus(peaks, inv.all_machines(), inv.clusters.values(), cat, hub.config.onprem)


def _peaks(snap: PromSnapshot) -> list[GpuPeak]:
    util = snap.panel("gpu_util")
    out = []
    for s in util.series if util else ():
        values = [v for v in s.values if not math.isnan(v)]
        if values:
            out.append(GpuPeak(snap.source, s.label(snap.cluster_label) or snap.cluster, s.label(snap.node_label),
                               s.label("gpu"), s.label("modelName"), max(values), s.label("GPU_I_ID")))
    return out


# -- sources ----------------------------------------------------------------------------------------
def source_lines(hub: Hub, inv: Inventory, interval_s: float | None = None) -> list[SourceLine]:
    """One line per source that is not out (down, degraded, failing: those are problems); a metrics
    source's figures older than twice the poll's interval say so, with their time."""
    out = []
    for s in hub.sources():
        if _trouble(hub, inv, s.name, s.kind, lambda _name: None)[1]:
            continue
        h = hub.health(s.name)
        scope, summary = _describe_source(s.name, s.kind, inv)
        if s.kind == "prometheus" and s.name in inv.series:
            fresh = inv.series_freshness(s.name, hub.now(), interval_s)
            summary = f"{STALE_MARK} {fresh.describe()}: {summary}" if fresh.stale else summary
        waiting = h.state is HealthState.UNKNOWN
        out.append(SourceLine(s.name, s.kind, scope, "waiting for its first answer" if waiting else summary, waiting))
    return out


def _describe_source(name: str, kind: str, inv: Inventory) -> tuple[str, str]:
    if kind == "kubernetes":
        snap = inv.clusters.get(name)
        if snap is None:
            return "-", ""
        return (f"context {snap.context}", f"{len(snap.nodes)} nodes · {snap.pod_count} pods · "
                f"{len(snap.deployments)} deployments · {len(snap.inference_services)} InferenceServices")
    if kind == "local":
        here = inv.local.get(name)
        if here is None:
            return "this machine", ""
        gpus = (f"{plural(len(here.gpus), 'GPU')} (driver {here.driver_version})" if here.nvml is NvmlState.OK
                else f"{here.nvml.value}: {here.nvml_reason}" if here.nvml_reason else here.nvml.value)
        return (f"this machine {here.host.hostname}", f"CPU {here.host.cpu_percent:.0f}% of {here.host.cpu_count} · "
                f"memory {fmt.mib(here.host.memory_used_mib)}/{fmt.mib(here.host.memory_total_mib)} · {gpus}")
    if kind == "prometheus":
        snap_p = inv.series.get(name)
        return ("-", "") if snap_p is None else (snap_p.url, prometheus_summary(snap_p))
    if kind == "mlflow":
        models = inv.models.get(name)
        return "model registry", "" if models is None else f"{plural(len(models), 'model')} (4 Models)"
    machines = inv.machines.get(name)
    if machines is None:
        return "-", ""
    return _places(machines), machines_summary(machines)


def machines_summary(machines: Sequence[Machine]) -> str:
    """`6 machines (4 running, 1 paused, 1 stopped) · running 84 vCPU, 584G`."""
    states = Counter(m.state.value for m in machines)
    on = [m for m in machines if m.state.is_on]
    counts = ", ".join(f"{n} {st}" for st, n in sorted(states.items(), key=lambda x: (-x[1], x[0])))
    text = plural(len(machines), "machine") + (f" ({counts})" if counts else "")
    return text + (f" · running {sum(m.vcpus for m in on)} vCPU, {fmt.mib(sum(m.memory_mib for m in on))}"
                   if on else "")


def prometheus_summary(snap: PromSnapshot) -> str:
    """`74 GPUs, mean use 60%, 9 idle (<5%) · 7 workloads, 1,138 req/s` (figures at the last point)."""
    util = snap.panel("gpu_util")
    now = [s.last for s in util.series if s.last is not None and not math.isnan(s.last)] if util else []
    rps = snap.panel("rps")
    traffic = sum(s.last for s in rps.series if s.last is not None and not math.isnan(s.last)) if rps else 0.0
    idle = sum(1 for v in now if v < THRESHOLD)
    gpus = (f"{plural(len(now), 'GPU')}, mean use {sum(now) / len(now):.0f}%, {idle} idle (<{THRESHOLD:g}%)"
            if now else (util.reason if util and util.reason else "no GPU series"))
    serving = (f"{len(rps.series)} workloads, {traffic:,.0f} req/s" if rps and rps.series
               else (rps.reason if rps and rps.reason else "no request series"))
    return f"{gpus} · {serving}"


def _places(machines: Sequence[Machine]) -> str:
    """A libvirt source's host; a cloud account's zones or regions (as many as fit)."""
    places = sorted({m.location for m in machines if m.location})
    text = ", ".join(places) or "-"
    return text if len(text) <= 32 else text[:31] + "…"


def _go(kind: str) -> str:
    return {"kubernetes": "3 Nodes", "mlflow": "4 Models", "prometheus": "7 Metrics", "local": "7 Metrics"}.get(
        kind, "2 Machines")


# -- summaries ----------------------------------------------------------------------------------
def gpu_models(snap: ClusterSnapshot) -> list[GpuModelLine]:
    """Per GPU model of a cluster: total, allocated, free on schedulable nodes, and the GPUs on
    nodes no pod can go to now (NotReady, cordoned), by node: never counted as free."""
    by_product: dict[str, list[KubeNode]] = {}
    for n in snap.nodes:
        if n.gpu_capacity or n.mig:
            by_product.setdefault(product(n), []).append(n)
    out = []
    for name, nodes in sorted(by_product.items()):
        unusable = tuple(("NotReady" if not n.ready else "cordoned", n.name, n.gpu_allocatable - n.gpu_allocated)
                         for n in nodes if (not n.ready or n.unschedulable) and n.gpu_allocatable > n.gpu_allocated)
        mig = ", ".join(f"MIG {s.profile} {s.allocated}/{s.allocatable}" for n in nodes for s in n.mig)
        out.append(GpuModelLine(name, sum(n.gpu_allocatable for n in nodes), sum(n.gpu_allocated for n in nodes),
                                sum(n.gpu_free for n in nodes), unusable, mig, len(nodes)))
    return out
