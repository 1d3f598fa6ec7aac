"""The Metrics screen's rows and `metrics panels`' table alike: one row per series of each panel,
with now, min, max and a sparkline, so the screen and `--script` say the same thing."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cockpit import promql
from cockpit.model_metrics import LocalSnapshot, NvmlState, PanelSpec, PromSnapshot
from cockpit.sparkline import bounds, spark

TREND_WIDTH = 24


# -- panel rows: (key, cells, level) -----------------------------------------------------------
PanelRow = tuple[str, tuple[str, ...], str | None]

LOCAL_SPECS = {
    "cpu": PanelSpec("cpu", "CPU", "", "%", warn=90.0),
    "memory": PanelSpec("memory", "Memory", "", "%", warn=90.0, crit=97.0),
    "gpu_util": PanelSpec("gpu_util", "GPU util", "", "%", warn=90.0),
    "gpu_mem": PanelSpec("gpu_mem", "GPU memory", "", "%", warn=90.0, crit=97.0),
    "gpu_power": PanelSpec("gpu_power", "GPU power", "", "W"),
    "gpu_temp": PanelSpec("gpu_temp", "GPU temp", "", "C", warn=80.0, crit=87.0),
}
"""The local machine's figures read like the DCGM panels, so one filter ("GPU util") finds both."""


def stat(values: Sequence[float], pick: Any) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return pick(finite) if finite else None


def series_cells(source: str, spec: PanelSpec, name: str, values: Sequence[float], lo: float, hi: float
                 ) -> tuple[str, ...]:
    last = values[-1] if values else None
    unit = spec.unit
    return (source, spec.title, name, promql.fmt_value(last, unit), promql.fmt_value(stat(values, min), unit),
            promql.fmt_value(stat(values, max), unit), spark(values, TREND_WIDTH, lo, hi))


def prom_rows(snap: PromSnapshot) -> Iterator[PanelRow]:
    """A row per series of every panel; a panel with no series is one row saying why."""
    for result in snap.panels:
        spec = result.spec
        if not result.series:
            if result.reason:
                yield f"{snap.source}/{spec.id}", (snap.source, spec.title, result.reason, "-", "", "", ""), None
            continue
        shared = bounds([v for s in result.series for v in s.values], spec.unit)
        named = sorted(((promql.legend(s, spec), s) for s in result.series), key=lambda p: promql.natural(p[0]))
        for name, s in named:
            # percentages share 0..100 so GPUs compare; other units scale per series to show their shape
            lo, hi = shared if spec.unit == "%" else bounds(s.values, spec.unit)
            yield (f"{snap.source}/{spec.id}/{name}", series_cells(snap.source, spec, name, s.values, lo, hi),
                   promql.level(s.last, spec))


def local_rows(snap: LocalSnapshot, history: Mapping[tuple[str, int], Sequence[float]]) -> Iterator[PanelRow]:
    """CPU and memory of the host, then each GPU's utilisation (with its history), memory, power and
    temperature; without a driver, one row that says so."""
    h, src = snap.host, snap.source
    host_values = {"cpu": h.cpu_percent, "memory": 100 * h.memory_used_mib / max(1, h.memory_total_mib)}
    for key, value in host_values.items():
        spec = LOCAL_SPECS[key]
        yield (f"{src}/{key}", series_cells(src, spec, h.hostname, [value], 0, 100), promql.level(value, spec))
    if snap.nvml is not NvmlState.OK:
        yield f"{src}/gpu", (src, "GPU", f"{snap.nvml.value}: {snap.nvml_reason}", "-", "", "", ""), None
        return
    for g in snap.gpus:
        name = f"{h.hostname}/gpu{g.index} {g.name}"
        nan = math.nan
        figures = {"gpu_util": list(history.get((src, g.index), ())) or [g.utilization or nan],
                   "gpu_mem": [100 * g.memory_used_mib / max(1, g.memory_total_mib)],
                   "gpu_power": [g.power_w if g.power_w is not None else nan],
                   "gpu_temp": [float(g.temperature_c) if g.temperature_c is not None else nan]}
        for key, values in figures.items():
            spec = LOCAL_SPECS[key]
            lo, hi = bounds(values, spec.unit)
            yield (f"{src}/{key}/{g.index}", series_cells(src, spec, name, values, lo, hi),
                   promql.level(values[-1], spec))
