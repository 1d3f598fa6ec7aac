"""The PromQL behind the Metrics screen and the metric columns, and the joins from series back to
nodes, VMs and deployments. Pure functions over settings and records: no HTTP here.

DCGM exporter names are NVIDIA's (DCGM_FI_DEV_GPU_UTIL...); a MIG slice reports no GPU_UTIL, so the
utilisation panel falls back to DCGM_FI_PROF_GR_ENGINE_ACTIVE for series with a GPU instance id.
Serving metrics are a request counter and a latency histogram; the workload is a label
(`workload_label`) or, by default, the pod name less its ReplicaSet and pod suffixes, which works
for any Deployment scraped through Kubernetes service discovery.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cockpit.config import SourceConfig
from cockpit.contracts import SeriesBackend
from cockpit.freshness import STALE_MARK, judge
from cockpit.model_metrics import PanelResult, PanelSpec, PromSnapshot, Series

POD_WORKLOAD = "(.+?)(-[0-9]{5}-deployment)?-[a-z0-9]{5,10}-[a-z0-9]{5}"
"""A Deployment's pod name, NAME-RSHASH-SUFFIX, or a Knative revision's, NAME-00003-deployment-HASH-
SUFFIX (KServe serverless); label_replace anchors the regex at both ends."""

DEFAULTS: Mapping[str, Any] = {
    "node_label": "Hostname", "cluster_label": "cluster", "cluster": None,
    "requests_metric": "http_requests_total", "latency_metric": "http_request_duration_seconds",
    "error_selector": 'code=~"5.."', "workload_label": None, "rate_window": "2m",
}

GPU_KIND, SERVING_KIND, HOST_KIND = "gpu", "serving", "host"


def _s(settings: Mapping[str, Any], key: str) -> Any:
    value = settings.get(key)
    return DEFAULTS[key] if value is None else value


def gpu_labels(settings: Mapping[str, Any]) -> tuple[str, ...]:
    return (_s(settings, "cluster_label"), _s(settings, "node_label"), "gpu", "GPU_I_ID", "modelName")


def gpu_legend(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """What names a GPU in a table: cluster/node/gpuN[/migN]; the model is in the detail."""
    return gpu_labels(settings)[:4]


def serving_labels(settings: Mapping[str, Any]) -> tuple[str, ...]:
    return (_s(settings, "cluster_label"), "namespace", "workload")


def _with_workload(expr: str, settings: Mapping[str, Any]) -> str:
    label = settings.get("workload_label")
    if label:
        return f'label_replace({expr}, "workload", "$1", "{label}", "(.+)")'
    return f'label_replace({expr}, "workload", "$1", "pod", "{POD_WORKLOAD}")'


def _selector(metric: str, extra: str) -> str:
    return f"{metric}{{{extra}}}" if extra else metric


def builtin_panels(settings: Mapping[str, Any]) -> tuple[PanelSpec, ...]:
    """GPU utilisation, memory, power, temperature and XID errors per GPU (DCGM), then requests,
    errors and latency percentiles per workload, then CPU and memory per host (node exporter)."""
    by = ", ".join(gpu_labels(settings))
    gpu_missing = "no DCGM exporter in this Prometheus (no DCGM_FI_DEV_* series)"
    legend_gpu = gpu_legend(settings)
    gpu = [
        PanelSpec("gpu_util", "GPU util", f"max by ({by}) (DCGM_FI_DEV_GPU_UTIL) or max by ({by}) "
                  f"(DCGM_FI_PROF_GR_ENGINE_ACTIVE * 100)", "%", legend_gpu, 90.0, None, False, gpu_missing,
                  GPU_KIND),
        PanelSpec("gpu_mem", "GPU memory", f"max by ({by}) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + "
                  "DCGM_FI_DEV_FB_FREE) * 100)", "%", legend_gpu, 90.0, 97.0, False, gpu_missing, GPU_KIND),
        PanelSpec("gpu_power", "GPU power", f"max by ({by}) (DCGM_FI_DEV_POWER_USAGE)", "W", legend_gpu,
                  missing=gpu_missing, kind=GPU_KIND),
        PanelSpec("gpu_temp", "GPU temp", f"max by ({by}) (DCGM_FI_DEV_GPU_TEMP)", "C", legend_gpu, 80.0, 87.0,
                  missing=gpu_missing, kind=GPU_KIND),
        PanelSpec("gpu_xid", "XID errors", f"max by ({by}) (DCGM_FI_DEV_XID_ERRORS) > 0", "count", legend_gpu,
                  None, 1.0, missing="", kind=GPU_KIND),
    ]
    sby = ", ".join(serving_labels(settings))
    req, lat = _s(settings, "requests_metric"), _s(settings, "latency_metric")
    window = _s(settings, "rate_window")
    rate = _with_workload(f"rate({req}[{window}])", settings)
    errors = _with_workload(f"rate({_selector(req, _s(settings, 'error_selector'))}[{window}])", settings)
    buckets = _with_workload(f"rate({lat}_bucket[{window}])", settings)
    legend_s = serving_labels(settings)
    no_req = f"no {req} series in this Prometheus (set requests_metric in the source's config)"
    no_lat = f"no {lat}_bucket histogram in this Prometheus (set latency_metric in the source's config)"
    serving = [
        PanelSpec("rps", "Requests/s", f"sum by ({sby}) ({rate})", "req/s", legend_s, missing=no_req,
                  kind=SERVING_KIND),
        PanelSpec("errors", "Error rate", f"(sum by ({sby}) ({errors}) or sum by ({sby}) ({rate}) * 0) / "
                  f"sum by ({sby}) ({rate}) * 100", "%", legend_s, 1.0, 5.0, missing=no_req, kind=SERVING_KIND),
    ]
    for q, warn, crit in (("50", None, None), ("95", 1.0, 2.5), ("99", 2.0, 5.0)):
        serving.append(PanelSpec(f"p{q}", f"Latency p{q}", f"histogram_quantile(0.{q}, sum by ({sby}, le) "
                                 f"({buckets}))", "s", legend_s, warn, crit, missing=no_lat, kind=SERVING_KIND))
    window_h = _s(settings, "rate_window")
    no_node = "no node exporter in this Prometheus (no node_cpu_seconds_total series)"
    host = [
        PanelSpec("host_cpu", "Host CPU", f'100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}'
                  f"[{window_h}])))", "%", ("instance",), 90.0, None, False, no_node, HOST_KIND),
        PanelSpec("host_mem", "Host memory", "100 * (1 - node_memory_MemAvailable_bytes / "
                  "node_memory_MemTotal_bytes)", "%", ("instance",), 90.0, 97.0, False,
                  "no node exporter in this Prometheus (no node_memory_* series)", HOST_KIND),
    ]
    return (*gpu, *serving, *host)


def user_panels(raw: Iterable[Mapping[str, Any]]) -> tuple[PanelSpec, ...]:
    """The config's `[[sources.NAME.panels]]` (already validated at the edge)."""
    out = []
    for i, p in enumerate(raw):
        out.append(PanelSpec(f"user{i}", p["title"], p["query"], p.get("unit") or "", tuple(p.get("legend") or ()),
                             p.get("warn"), p.get("crit"), bool(p.get("lower_is_worse")),
                             "the query returned no series"))
    return tuple(out)


# -- reading series -------------------------------------------------------------------------
def legend(series: Series, spec: PanelSpec) -> str:
    """A series' name in a table: the legend labels that it has, joined by '/'."""
    names = spec.legend or tuple(k for k, _ in series.labels if k != "__name__")
    parts = []
    for name in names:
        value = series.label(name)
        if value:
            parts.append(f"gpu{value}" if name == "gpu" else f"mig{value}" if name == "GPU_I_ID" else value)
    return "/".join(parts) or "{}"


def natural(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key that puts gpu2 before gpu10."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", text) if p)


def fmt_value(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "%":
        return f"{value:.0f}%" if value >= 10 or value == 0 else f"{value:.1f}%"
    if unit == "s":
        return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"
    if unit in ("W", "C"):
        return f"{value:.0f}{unit}"
    if unit == "MiB":
        return f"{value / 1024:.1f}G" if value >= 1024 else f"{value:.0f}M"
    if unit == "req/s":
        return f"{value:.1f}/s" if value < 100 else f"{value:.0f}/s"
    return figure(value)


def figure(value: float) -> str:
    """A number without a unit as Prometheus' own table shows it, to 4 significant figures: a
    whole number whole (up to 1e15), a non-zero value never rounded to 0 (0.002445, 3.2e-07),
    a large one in exponent form (1.235e+18)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return f"{value:.0f}"
    if 1e4 <= abs(value) < 1e15:
        return f"{value:.0f}"  # 12346, not 1.235e+04: the digits left of the point stay
    return f"{value:.4g}"


def level(value: float | None, spec: PanelSpec) -> str | None:
    """"bad" past crit, "warn" past warn, None inside: the colour of a value under its thresholds."""
    if value is None or math.isnan(value):
        return None

    def past(limit: float) -> bool:
        return value <= limit if spec.lower_is_worse else value >= limit

    if spec.crit is not None and past(spec.crit):
        return "bad"
    if spec.warn is not None and past(spec.warn):
        return "warn"
    return None


# -- joins: GPU and serving figures per node, VM and workload --------------------------------
@dataclass(frozen=True, slots=True)
class NodeGpuFigures:
    gpus: int
    util: float | None
    memory: float | None
    """Mean over the node's GPUs (or MIG slices) of the latest utilisation and memory-used %."""
    source: str
    stale: bool = False
    """Its source failed since, or has not refreshed for two intervals: shown marked, with the reason."""


@dataclass(frozen=True, slots=True)
class WorkloadFigures:
    rps: float | None
    p95: float | None
    errors: float | None
    source: str
    stale: bool = False


def _latest(result: PanelResult | None) -> list[tuple[Series, float]]:
    if result is None:
        return []
    return [(s, s.last) for s in result.series if s.last is not None and not math.isnan(s.last)]


def node_figures(snaps: Iterable[PromSnapshot]) -> dict[tuple[str, str], NodeGpuFigures]:
    """(cluster, node) -> the node's GPU figures; cluster is "" when the series carry none and the
    source names none (then the node name alone matches)."""
    out: dict[tuple[str, str], NodeGpuFigures] = {}
    for snap in snaps:
        util: dict[tuple[str, str], list[float]] = {}
        mem: dict[tuple[str, str], list[float]] = {}
        for panel, into in (("gpu_util", util), ("gpu_mem", mem)):
            for s, v in _latest(snap.panel(panel)):
                key = (s.label(snap.cluster_label) or snap.cluster, s.label(snap.node_label))
                into.setdefault(key, []).append(v)
        for key in util.keys() | mem.keys():
            u, m = util.get(key), mem.get(key)
            out[key] = NodeGpuFigures(len(u or m or []), sum(u) / len(u) if u else None,
                                      sum(m) / len(m) if m else None, snap.source)
    return out


def workload_figures(snaps: Iterable[PromSnapshot]) -> dict[tuple[str, str, str], WorkloadFigures]:
    """(cluster, namespace, workload) -> requests/s, p95 latency and error %."""
    out: dict[tuple[str, str, str], WorkloadFigures] = {}
    for snap in snaps:
        figures: dict[tuple[str, str, str], dict[str, float]] = {}
        for panel in ("rps", "p95", "errors"):
            for s, v in _latest(snap.panel(panel)):
                key = (s.label(snap.cluster_label) or snap.cluster, s.label("namespace"), s.label("workload"))
                figures.setdefault(key, {})[panel] = v
        for key, f in figures.items():
            out[key] = WorkloadFigures(f.get("rps"), f.get("p95"), f.get("errors"), snap.source)
    return out


def lookup(table: Mapping[Any, Any], cluster_source: str, *rest: str) -> Any:
    """A figure for an object of a cockpit cluster source: the series' cluster label names the
    source (or the source's context), or the series have no cluster and the name alone matches."""
    for cluster in (cluster_source, cluster_source.rsplit("-", 1)[-1], ""):
        hit = table.get((cluster, *rest))
        if hit is not None:
            return hit
    return None


DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def prom_duration(text: str) -> float | None:
    """A Prometheus duration (30s, 5m, 1h) in seconds, or None when it is not one."""
    m = DURATION.match(text.strip())
    return int(m.group(1)) * SECONDS[m.group(2)] if m else None


def default_step(window_s: float, points: int = 60) -> float:
    """A step that gives about `points` points over the window, rounded to a readable duration."""
    raw = window_s / points
    for nice in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if raw <= nice:
            return float(nice)
    return float(math.ceil(raw / 3600) * 3600)


# -- one Prometheus source's picture ---------------------------------------------------------
def panels_for(settings: Mapping[str, Any]) -> tuple[PanelSpec, ...]:
    return (*builtin_panels(settings), *user_panels(settings.get("panels") or ()))


def window_of(settings: Mapping[str, Any], window_s: float | None = None,
              step_s: float | None = None) -> tuple[float, float]:
    """The window asked for (else the source's `window`, else 1h) and its step (asked, configured,
    or about 60 points)."""
    window = window_s or prom_duration(str(settings.get("window") or "1h")) or 3600.0
    configured = prom_duration(str(settings["step"])) if settings.get("step") else None
    step = step_s or (configured if not window_s else None) or default_step(window)
    return window, step


def snapshot(backend: SeriesBackend, cfg: SourceConfig, window_s: float | None = None, step_s: float | None = None,
             now: float | None = None, kinds: frozenset[str] | None = None) -> PromSnapshot:
    """Every panel of the source (or those of `kinds`) over the window, as one record (runs in a hub
    worker); the URL it keeps has its credentials masked."""
    from datetime import UTC, datetime

    from cockpit.secrets import redact_uri

    settings, source, url = cfg.settings, cfg.name, redact_uri(str(cfg.settings.get("url", "")))
    window, step = window_of(settings, window_s, step_s)
    specs = [p for p in panels_for(settings) if kinds is None or p.kind in kinds]
    results = backend.panels(specs, window, step, now)
    return PromSnapshot(source, url, window, step, tuple(results), _s(settings, "cluster_label"),
                        _s(settings, "node_label"), settings.get("cluster") or "", datetime.now(UTC))


class Figures:
    """Prometheus figures for the rows of other screens (nodes, VMs, deployments), and, where a
    row has none, why: no source, the source failing, no exporter, or no series for that object."""

    def __init__(self, snaps: Iterable[PromSnapshot], errors: Mapping[str, str], configured: bool, *,
                 now: datetime | None = None, interval_s: float | None = None) -> None:
        self.snaps = list(snaps)
        self.errors = dict(errors)
        self.configured = configured
        self.freshness = {s.source: judge(s.as_of, now, interval_s, self.errors.get(s.source)) for s in self.snaps}
        """Per source: kept figures from a source that failed since, or that stopped refreshing, are stale."""
        self.nodes = node_figures(self.snaps)
        self.workloads = workload_figures(self.snaps)

    def _stale(self, source: str) -> bool:
        fresh = self.freshness.get(source)
        return fresh is not None and fresh.stale

    def node(self, cluster: str, name: str) -> NodeGpuFigures | None:
        hit: NodeGpuFigures | None = lookup(self.nodes, cluster, name) if cluster else self.nodes.get(("", name))
        return replace(hit, stale=True) if hit is not None and self._stale(hit.source) else hit

    def workload(self, cluster: str, namespace: str, name: str) -> WorkloadFigures | None:
        for candidate in (name, f"{name}-predictor"):  # a KServe InferenceService serves from NAME-predictor
            hit: WorkloadFigures | None = lookup(self.workloads, cluster, namespace, candidate)
            if hit is not None:
                return replace(hit, stale=True) if self._stale(hit.source) else hit
        return None

    def stale_note(self) -> str | None:
        """One line for a screen's summary: which sources' figures are stale, why, and from when."""
        stale = [f"{source} {f.describe().removeprefix('stale, ')}" for source, f in sorted(self.freshness.items())
                 if f.stale]
        return f"{STALE_MARK} stale figures: " + "; ".join(stale) if stale else None

    def _why(self, panel: str, missing: str) -> str:
        if not self.configured:
            return "no Prometheus source in the config"
        if self.errors:
            return "; ".join(f"{s}: {e}" for s, e in sorted(self.errors.items()))
        if not self.snaps:
            return "waiting for Prometheus"
        reasons = {r.reason for s in self.snaps for r in s.panels if r.spec.id == panel and r.reason}
        return "; ".join(sorted(reasons)) if reasons and not any(
            (s.panel(panel) or PanelResult(PanelSpec("", "", ""))).series for s in self.snaps) else missing

    def why_no_gpu(self, name: str) -> str:
        return self._why("gpu_util", f"no DCGM series for {name} (no exporter on it, or another node_label)")

    def why_no_serving(self, name: str) -> str:
        return self._why("rps", f"no request series for {name} (not scraped, or another workload_label)")
