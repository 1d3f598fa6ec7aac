"""Metric records: the local machine (psutil + NVML) now; Prometheus series later.

`NvmlState` is explicit: "no NVIDIA driver" is a state to show, not an error or an empty list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class NvmlState(enum.Enum):
    OK = "ok"
    NO_DRIVER = "no NVIDIA driver"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class GpuProcess:
    pid: int
    name: str
    used_mib: int | None
    kind: str  # compute | graphics


@dataclass(frozen=True, slots=True)
class GpuSample:
    index: int
    name: str
    uuid: str
    utilization: float | None
    memory_used_mib: int
    memory_total_mib: int
    power_w: float | None
    power_limit_w: float | None
    temperature_c: int | None
    mig_mode: bool = False
    processes: tuple[GpuProcess, ...] = ()
    pci_bus_id: str = ""


@dataclass(frozen=True, slots=True)
class HostSample:
    hostname: str
    cpu_percent: float
    cpu_count: int
    load_1m: float
    memory_used_mib: int
    memory_total_mib: int


@dataclass(frozen=True, slots=True)
class LocalSnapshot:
    source: str
    host: HostSample
    nvml: NvmlState
    nvml_reason: str = ""
    driver_version: str = ""
    cuda_version: str = ""
    gpus: tuple[GpuSample, ...] = ()
    as_of: datetime | None = None


# -- Prometheus --------------------------------------------------------------------------------
Labels = tuple[tuple[str, str], ...]
"""A series' label set, sorted by name (hashable, so a series can key a table row)."""


@dataclass(frozen=True, slots=True)
class Series:
    labels: Labels
    points: tuple[tuple[float, float], ...]
    """(unix time, value) along the window; one point for an instant query. NaN is kept as NaN."""
    text: str | None = None
    """A string result (a PromQL string literal): the string; its one point's value is then NaN."""

    def label(self, name: str, default: str = "") -> str:
        for k, v in self.labels:
            if k == name:
                return v
        return default

    @property
    def last(self) -> float | None:
        return self.points[-1][1] if self.points else None

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(v for _, v in self.points)


@dataclass(frozen=True, slots=True)
class PanelSpec:
    """One PromQL panel: built in (GPU utilisation, latency p95...) or from the config's `panels`."""

    id: str
    title: str
    query: str
    unit: str = ""
    """How values read: % | MiB | W | C | req/s | s | count | "" (a plain number)."""
    legend: tuple[str, ...] = ()
    """The labels that name a series in the table (default: all of them)."""
    warn: float | None = None
    crit: float | None = None
    lower_is_worse: bool = False
    """Thresholds colour the panel: above warn/crit is bad, or below them when lower is worse."""
    missing: str = ""
    """What an empty answer means ("no DCGM exporter in this Prometheus"), instead of a bare n/a."""
    kind: str = "panel"
    """gpu | serving | panel: the built-in joins (node and deployment columns) read gpu and serving."""


@dataclass(frozen=True, slots=True)
class PanelResult:
    spec: PanelSpec
    series: tuple[Series, ...] = ()
    reason: str = ""
    """Why there is nothing: the spec's `missing` text, "query timed out after 10s", a PromQL error."""


@dataclass(frozen=True, slots=True)
class PromSnapshot:
    source: str
    url: str
    """Credentials removed."""
    window_s: float
    step_s: float
    panels: tuple[PanelResult, ...] = ()
    cluster_label: str = "cluster"
    node_label: str = "Hostname"
    cluster: str = ""
    """The cockpit cluster source this Prometheus measures, when the config says so."""
    as_of: datetime | None = None

    def panel(self, panel_id: str) -> PanelResult | None:
        return next((p for p in self.panels if p.spec.id == panel_id), None)
