"""What the demo's exporter reports: DCGM GPU series for the demo clusters' GPU nodes and the
libvirt GPU VMs, and request counters and latency histograms for the served models.

Every value is a function of time, so the exporter (live, through prometheus_client) and the
history written for promtool (OpenMetrics text) tell one continuous story. `steady` makes every
value constant (utilisation, latency) or linear (counters), for tests that check exact figures.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class GpuHost:
    cluster: str  # "" for a VM outside Kubernetes
    node: str
    gpus: int
    model: str
    memory_mib: int
    util: float
    """Mean utilisation, percent; each GPU varies around it."""
    mig_slices: int = 0


@dataclass(frozen=True, slots=True)
class Served:
    cluster: str
    namespace: str
    workload: str
    pod: str
    rps: float
    p50: float
    """Seconds; the histogram's other buckets scale with it."""
    error_ratio: float = 0.0


FLEET: tuple[GpuHost, ...] = (
    GpuHost("gpu-prod", "a100-01", 8, "NVIDIA A100-SXM4-80GB", 81920, 78.0),
    GpuHost("gpu-prod", "a100-02", 8, "NVIDIA A100-SXM4-80GB", 81920, 41.0),
    GpuHost("gpu-prod", "h100-01", 8, "NVIDIA H100 80GB HBM3", 81559, 93.0),
    GpuHost("gpu-prod", "l4-01", 4, "NVIDIA L4", 23034, 2.0),
    GpuHost("gpu-prod", "a100-mig-01", 1, "NVIDIA A100-SXM4-40GB", 40960, 55.0, mig_slices=7),
    GpuHost("gpu-eu", "l40s-01", 4, "NVIDIA L40S", 46068, 64.0),
    GpuHost("gpu-eu", "l40s-02", 4, "NVIDIA L40S", 46068, 3.0),
    GpuHost("", "a100-node-01", 4, "NVIDIA A100-SXM4-80GB", 81920, 88.0),
    GpuHost("", "a100-node-02", 2, "NVIDIA A100-SXM4-80GB", 81920, 1.0),
    GpuHost("", "h100-node-01", 4, "NVIDIA H100 80GB HBM3", 81559, 71.0),
    # the demo's EC2 instances (a DCGM exporter on each reports its Name as Hostname)
    GpuHost("", "llm-pretrain-0", 8, "NVIDIA A100-SXM4-40GB", 40960, 96.0),
    GpuHost("", "llm-pretrain-1", 8, "NVIDIA A100-SXM4-40GB", 40960, 94.0),
    GpuHost("", "infer-a10g-1", 1, "NVIDIA A10G", 22888, 47.0),
    GpuHost("", "batch-embed", 4, "NVIDIA A10G", 22888, 2.0),
)
"""gpu-prod's l4-02 is NotReady in the demo cluster: no exporter answers for it."""

CLOUD_GPUS: tuple[GpuHost, ...] = (
    # the demo's Compute Engine and Azure GPU instances; the tests' steady fleet leaves them out, so
    # that the figures the tests compute by hand stay those of the clusters, HPC hosts and EC2
    GpuHost("", "a3-pretrain-0", 8, "NVIDIA H100 80GB HBM3", 81559, 91.0),
    GpuHost("", "a2-finetune", 1, "NVIDIA A100-SXM4-40GB", 40960, 1.0),
    GpuHost("", "l4-serve-0", 1, "NVIDIA L4", 23034, 38.0),
    GpuHost("", "nd-h100-0", 8, "NVIDIA H100 80GB HBM3", 81559, 89.0),
    GpuHost("", "nc-a100-spot", 1, "NVIDIA A100 80GB PCIe", 81920, 2.0),
    GpuHost("", "nv-a10-serve", 1, "NVIDIA A10", 23028, 52.0),
)

SERVED: tuple[Served, ...] = (
    Served("gpu-prod", "inference", "llama-70b", "llama-70b-6f7d9c8b5-x7k2p", 42.0, 0.62, 0.004),
    Served("gpu-prod", "inference", "embedder", "embedder-5c8f7b9d4-m2x9q", 310.0, 0.018),
    Served("gpu-prod", "inference", "reranker", "reranker-7b9c5d8f6-q4w8z", 95.0, 0.045, 0.021),
    Served("gpu-prod", "inference", "router", "router-84d6f9c7b5-h3j5k", 450.0, 0.004),
    Served("gpu-prod", "inference", "mistral-7b-predictor", "mistral-7b-predictor-00003-deployment-7d8f9-r6t2y",
           28.0, 0.35, 0.002),
    Served("gpu-eu", "inference", "llama-8b", "llama-8b-59b8c7d6f4-p9l3m", 120.0, 0.21, 0.001),
    Served("gpu-eu", "inference", "embedder", "embedder-6d9c8b7f5-v5n8b", 85.0, 0.022),
)


@dataclass(frozen=True, slots=True)
class Host:
    """A machine with a node exporter: the demo's GPU hypervisors and cluster nodes."""

    instance: str
    cpus: int
    memory_gib: int
    cpu: float
    """Mean busy share, percent."""
    memory: float


HOSTS: tuple[Host, ...] = (
    Host("gpu-host-a:9100", 128, 1024, 46.0, 71.0),
    Host("gpu-host-b:9100", 192, 2048, 38.0, 64.0),
    Host("a100-01:9100", 96, 1024, 22.0, 40.0),
    Host("h100-01:9100", 192, 2048, 61.0, 83.0),
    Host("l40s-01:9100", 64, 512, 35.0, 52.0),
)


def _phase(*parts: object) -> float:
    return (zlib.crc32("/".join(map(str, parts)).encode()) % 1000) / 1000 * 2 * math.pi


def _wave(t: float, period: float, phase: float) -> float:
    return math.sin(2 * math.pi * t / period + phase)


class Fleet:
    def __init__(self, *, steady: bool = False, t0: float = 0.0) -> None:
        self.steady = steady
        self.t0 = t0
        """Counters count from here (a test's start, or the start of the demo's history)."""
        self.extra: Callable[[], Sequence[Served]] = lambda: ()
        """Pods the cluster runs beside the fixed fleet (a rollout's canary): served too, so a guarded
        rollout reads the canary's own figures (cockpit.sandbox.canaries wires the demo's cluster)."""

    def served(self) -> tuple[Served, ...]:
        return (*SERVED, *self.extra())

    # -- GPUs --------------------------------------------------------------------------------
    def gpu_units(self) -> Iterator[tuple[GpuHost, dict[str, str]]]:
        """Each GPU (or MIG slice) with its DCGM labels."""
        for h in FLEET if self.steady else FLEET + CLOUD_GPUS:
            for i in range(h.gpus):
                base = {"Hostname": h.node, "gpu": str(i), "UUID": f"GPU-{zlib.crc32(f'{h.node}{i}'.encode()):08x}",
                        "device": f"nvidia{i}", "modelName": h.model}
                if h.cluster:
                    base["cluster"] = h.cluster
                if h.mig_slices:
                    for s in range(h.mig_slices):
                        yield h, base | {"GPU_I_ID": str(s + 7), "GPU_I_PROFILE": "1g.10gb"}
                else:
                    yield h, base

    def gpu_values(self, h: GpuHost, labels: dict[str, str], t: float) -> dict[str, float]:
        """DCGM field -> value for one GPU at time t."""
        key = (h.node, labels["gpu"], labels.get("GPU_I_ID", ""))
        jitter = 0.0 if self.steady else 12 * _wave(t, 900, _phase(*key)) + 4 * _wave(t, 97, _phase(*key, 1))
        if h.util < 5:  # an idle GPU stays idle (under 5% all the time), as `cost idle` expects of one
            jitter *= h.util / 40
        util = max(0.0, min(100.0, h.util + jitter))
        mem_total = h.memory_mib // (h.mig_slices or 1)
        used = round(mem_total * (0.2 + 0.7 * util / 100))
        out = {"DCGM_FI_DEV_FB_USED": float(used), "DCGM_FI_DEV_FB_FREE": float(mem_total - used)}
        if labels.get("GPU_I_ID"):
            out["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] = round(util / 100, 4)
        else:
            out["DCGM_FI_DEV_GPU_UTIL"] = round(util)
            out["DCGM_FI_DEV_POWER_USAGE"] = round(60 + util * 3.4, 1)
            out["DCGM_FI_DEV_GPU_TEMP"] = round(34 + util * 0.42)
            out["DCGM_FI_DEV_XID_ERRORS"] = 0.0
        return out

    # -- hosts (node exporter) -----------------------------------------------------------------
    def host_samples(self, h: Host, t: float) -> Iterator[tuple[str, dict[str, str], float]]:
        """CPU seconds by mode (idle and user) of one CPU standing for the machine's average (node
        exporter has one per CPU: the panel's avg() gives the same) and memory, at time t."""
        dt = max(0.0, t - self.t0)
        busy = h.cpu / 100
        w = 2 * math.pi / 1800
        ph = _phase(h.instance)
        swing = 0.0 if self.steady else 0.15 * (math.cos(ph) - math.cos(w * dt + ph)) / w
        user = busy * dt + swing
        labels = {"instance": h.instance}
        yield "node_cpu_seconds_total", labels | {"cpu": "0", "mode": "user"}, round(user, 3)
        yield "node_cpu_seconds_total", labels | {"cpu": "0", "mode": "idle"}, round(dt - user, 3)
        total = h.memory_gib * 1024**3
        used = h.memory / 100 * (1 if self.steady else 1 + 0.05 * _wave(t, 1200, ph))
        yield "node_memory_MemTotal_bytes", labels, float(total)
        yield "node_memory_MemAvailable_bytes", labels, float(round(total * (1 - used)))

    # -- serving -----------------------------------------------------------------------------
    def requests(self, s: Served, t: float) -> float:
        """Requests served since t0: the integral of a rate that breathes over the day."""
        dt = max(0.0, t - self.t0)
        if self.steady:
            return s.rps * dt
        w = 2 * math.pi / 3600
        ph = _phase(s.cluster, s.workload)
        return s.rps * (dt + 0.3 * (math.cos(ph) - math.cos(w * dt + ph)) / w)

    def latency_cdf(self, s: Served) -> list[float]:
        """Share of requests at or under each bucket: a log-normal-ish shape around p50."""
        out = []
        for le in BUCKETS:
            z = math.log(le / s.p50) / 0.6
            out.append(0.5 * (1 + math.erf(z / math.sqrt(2))))
        return out

    def serving_samples(self, s: Served, t: float) -> Iterator[tuple[str, dict[str, str], float]]:
        """(sample name, labels, value): counter by code, histogram buckets, count and sum."""
        n = self.requests(s, t)
        labels = {"namespace": s.namespace, "pod": s.pod, "cluster": s.cluster}
        errors = math.floor(n * s.error_ratio)
        yield "http_requests_total", labels | {"code": "200"}, float(math.floor(n) - errors)
        if s.error_ratio:
            yield "http_requests_total", labels | {"code": "503"}, float(errors)
        for le, share in zip(BUCKETS, self.latency_cdf(s), strict=True):
            yield "http_request_duration_seconds_bucket", labels | {"le": str(le)}, float(math.floor(n * share))
        yield "http_request_duration_seconds_bucket", labels | {"le": "+Inf"}, float(math.floor(n))
        yield "http_request_duration_seconds_count", labels, float(math.floor(n))
        yield "http_request_duration_seconds_sum", labels, round(n * s.p50 * 1.2, 3)


def openmetrics(fleet: Fleet, start: float, end: float, step: float, extra: dict[str, str]) -> Iterator[str]:
    """History for `promtool tsdb create-blocks-from openmetrics`: every family's samples together,
    `extra` labels (job, instance) as the live scrape adds them, so history and live are one series.
    `step` should be the scrape interval: rate() over samples spaced unevenly (history, then live)
    extrapolates less and reads low near the seam."""
    times = [end - i * step for i in range(int((end - start) // step), -1, -1)]  # the last one at `end`

    def fmt(name: str, labels: dict[str, str], value: float, t: float) -> str:
        body = ",".join(f'{k}="{v}"' for k, v in sorted((extra | labels).items()) if v)  # a host's own instance
        return f"{name}{{{body}}} {float(value)!r} {t:.0f}"

    fields = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE",
              "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    units = list(fleet.gpu_units())
    for field in fields:
        yield f"# TYPE {field} gauge"
        for h, labels in units:
            for t in times:
                value = fleet.gpu_values(h, labels, t).get(field)
                if value is not None:
                    yield fmt(field, labels, value, t)
    yield "# TYPE node_cpu_seconds counter"
    for node in HOSTS:
        for mode in ("user", "idle"):
            for t in times:
                for name, labels, value in fleet.host_samples(node, t):
                    if name == "node_cpu_seconds_total" and labels["mode"] == mode:
                        yield fmt(name, labels, value, t)
    for gauge in ("node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes"):
        yield f"# TYPE {gauge} gauge"
        for node in HOSTS:
            for t in times:
                for name, labels, value in fleet.host_samples(node, t):
                    if name == gauge:
                        yield fmt(name, labels, value, t)
    yield "# TYPE http_requests counter"
    for s in SERVED:
        for code in ("200", "503"):
            for t in times:
                for name, labels, value in fleet.serving_samples(s, t):
                    if name == "http_requests_total" and labels["code"] == code:
                        yield fmt(name, labels, value, t)
    yield "# TYPE http_request_duration_seconds histogram"
    for s in SERVED:
        for t in times:
            for name, labels, value in fleet.serving_samples(s, t):
                if name.startswith("http_request_duration_seconds"):
                    yield fmt(name, labels, value, t)
    yield "# EOF"


def main(argv: list[str] | None = None) -> None:
    """`python -m cockpit.sandbox.prom.fleet OUT START END STEP T0 STEADY JOB INSTANCE`: the history
    file, written in its own process so that the UI's thread keeps the GIL while the demo starts."""
    import sys

    out, start, end, step, t0, steady, job, instance = (argv if argv is not None else sys.argv[1:])
    fleet = Fleet(steady=steady == "1", t0=float(t0))
    with open(out, "w", encoding="utf-8") as f:
        for line in openmetrics(fleet, float(start), float(end), float(step), {"job": job, "instance": instance}):
            f.write(line + "\n")


if __name__ == "__main__":
    main()
