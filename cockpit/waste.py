"""Idle waste: GPUs whose utilisation stayed under a threshold (default 5 %) for a whole window
(default 1 h), each with what it costs per hour and per day, and who holds it: the pod (DCGM's
Kubernetes labels, else the node's GPU pods) or the VM.

The peak comes from `max_over_time` in Prometheus, not from sampled points, so a burst between two
samples still counts as use. A GPU's price is its share of its machine's or node's price, split by
the on-prem model's weights as the cluster allocation does; a MIG slice costs its share of a GPU.
Pure functions over records; the PromQL is built here, the query runs in the caller's worker.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.allocation import mig_fraction, split_prices, unit_prices
from cockpit.costs import OnPremModel, machine_rate, node_rate
from cockpit.model import Machine
from cockpit.model_kube import ClusterSnapshot, KubeNode
from cockpit.model_metrics import Series
from cockpit.prices import Catalogue
from cockpit.promql import DEFAULTS, gpu_labels

THRESHOLD, WINDOW = 5.0, "1h"
HOURS_PER_DAY = 24


@dataclass(frozen=True, slots=True)
class GpuPeak:
    """One GPU's (or MIG slice's) highest utilisation, in percent, over the window."""

    source: str
    cluster: str
    host: str
    gpu: str
    model: str
    peak: float
    instance: str = ""
    """The MIG GPU instance id; empty for a whole GPU."""
    profile: str = ""
    namespace: str = ""
    pod: str = ""


@dataclass(frozen=True, slots=True)
class IdleGpu:
    where: str
    """The node (`cluster/node`) or machine (`source/name`) ref, or the exporter's host name when
    neither is known."""
    gpu: str
    model: str
    peak: float
    hourly: float | None
    holders: tuple[str, ...]
    why: str = ""
    """Why there is no price (an unknown host, a machine type without one)."""

    @property
    def daily(self) -> float | None:
        return None if self.hourly is None else self.hourly * HOURS_PER_DAY


@dataclass(frozen=True, slots=True)
class Waste:
    idle: tuple[IdleGpu, ...]
    checked: int
    threshold: float
    window: str

    @property
    def hourly(self) -> float:
        return round(sum(g.hourly or 0.0 for g in self.idle), 6)

    @property
    def daily(self) -> float:
        return round(self.hourly * HOURS_PER_DAY, 6)


def peaks_query(settings: Mapping[str, Any], window: str) -> str:
    """Each GPU's peak utilisation over the window: DCGM's GPU_UTIL, or for a MIG slice (which has
    none) its graphics engine activity, as the GPU utilisation panel reads them."""
    by = ", ".join((*gpu_labels(settings), "GPU_I_PROFILE", "namespace", "pod"))
    return (f"max by ({by}) (max_over_time(DCGM_FI_DEV_GPU_UTIL[{window}])) or "
            f"max by ({by}) (max_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE[{window}]) * 100)")


def to_peaks(source: str, settings: Mapping[str, Any], series: Iterable[Series]) -> list[GpuPeak]:
    cluster_label = settings.get("cluster_label") or DEFAULTS["cluster_label"]
    node_label = settings.get("node_label") or DEFAULTS["node_label"]
    out = []
    for s in series:
        value = s.last
        if value is None or math.isnan(value):
            continue
        out.append(GpuPeak(source, s.label(cluster_label) or str(settings.get("cluster") or ""), s.label(node_label),
                           s.label("gpu"), s.label("modelName"), value, s.label("GPU_I_ID"),
                           s.label("GPU_I_PROFILE"), s.label("namespace"), s.label("pod")))
    return out


def _node_for(p: GpuPeak, snaps: Iterable[ClusterSnapshot]) -> KubeNode | None:
    for snap in snaps:
        if p.cluster and p.cluster not in (snap.source, snap.context, snap.source.rsplit("-", 1)[-1]):
            continue
        hit = next((n for n in snap.nodes if n.name == p.host), None)
        if hit is not None:
            return hit
    return None


def idle_gpus(peaks: Iterable[GpuPeak], machines: Iterable[Machine], snaps: Iterable[ClusterSnapshot],
              catalogue: Catalogue, onprem: OnPremModel, threshold: float = THRESHOLD,
              window: str = WINDOW) -> Waste:
    """The GPUs that stayed under `threshold` percent for the window, dearest first."""
    peaks, snaps = list(peaks), list(snaps)
    by_name = {m.name: m for m in machines}
    idle = []
    for p in peaks:
        if p.peak >= threshold:
            continue
        share = mig_fraction(p.profile or "1g.", p.model) if p.instance else 1.0
        gpu = f"{p.gpu}/mig{p.instance}" if p.instance else p.gpu
        node = _node_for(p, snaps)
        if node is not None:
            rate = node_rate(node, catalogue, onprem)
            hourly = None if rate.hourly is None else unit_prices(node, rate.hourly, onprem).gpu * share
            holders = ((f"{p.namespace}/{p.pod}",) if p.pod else
                       tuple(f"{r.namespace}/{r.name}" for r in node.gpu_pods) or ("no pod holds GPUs",))
            idle.append(IdleGpu(node.ref, gpu, p.model, p.peak, hourly, holders, rate.why))
            continue
        m = by_name.get(p.host)
        if m is None:
            idle.append(IdleGpu(p.host, gpu, p.model, p.peak, None, (),
                                f"no machine or node named {p.host} to price it by"))
            continue
        rate = machine_rate(m, catalogue, onprem)
        model = m.gpus[0].model if m.gpus else p.model
        hourly = None if rate.hourly is None else split_prices(
            rate.hourly, len(m.gpus) or 1, model, m.vcpus, m.memory_mib / 1024, onprem).gpu * share
        idle.append(IdleGpu(m.ref, gpu, p.model, p.peak, hourly, (m.ref,), rate.why))
    idle.sort(key=lambda g: (-(g.hourly or 0.0), g.where, g.gpu))
    return Waste(tuple(idle), len(peaks), threshold, window)
