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
