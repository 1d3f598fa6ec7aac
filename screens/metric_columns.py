"""Prometheus figures as columns of the Nodes, Machines and Deployments screens: GPU utilisation
and memory per node or VM (DCGM), requests/s and p95 latency per workload. A row without figures
shows "-", and its detail pane says why (no source, no exporter, no series for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

from cockpit.freshness import STALE_MARK, marked
from cockpit.model import Machine, MachineState
from cockpit.promql import Figures, NodeGpuFigures, WorkloadFigures, fmt_value
from screens.widgets.virtual_table import Column

if TYPE_CHECKING:
    from screens.app import CockpitApp


def util_style(value: str) -> str | None:
    if value.startswith(STALE_MARK):
        return "vt--warn"
    try:
        pct = float(value.rstrip("%"))
    except ValueError:
        return None
    return "vt--dim" if pct < 5 else ("vt--warn" if pct >= 90 else "vt--good")


# planned widths (Column.width) of what these figures usually print: `93%`, `3.0%`, `12.5/s`, `180ms`;
# a stale one (`~93%`) widens its column only where there is room, else it is cut, never another column
GPU_UTIL = Column("gutil", "GPU%", min_width=4, max_width=5, align="right", priority=2, style=util_style, width=4)
GPU_MEM = Column("gmem", "GMEM", min_width=4, max_width=5, align="right", priority=3, width=4)
RPS = Column("rps", "RPS", min_width=4, max_width=7, align="right", priority=1, width=6)
P95 = Column("p95", "P95", min_width=4, max_width=7, align="right", priority=2, width=5)


def figures(app: CockpitApp) -> Figures:
    """The app's Prometheus figures, each judged against the main poll's interval (what refreshes
    these columns): a source that failed since, or stopped refreshing, gives stale figures."""
    inv = app.inventory
    return Figures(inv.series.values(), inv.series_errors, bool(app.hub.sources("series")), now=app.hub.now(),
                   interval_s=app.refresh_s or None)


def machine_gpu(figs: Figures | None, m: Machine) -> NodeGpuFigures | None:
    """A VM's DCGM figures (its exporter reports the VM's name as Hostname), only while it runs: a
    stopped or paused VM's series is stale by definition (Prometheus keeps its last sample for
    minutes, and a cloud's exporter may outlive the stop), so it has no GPU figure at all."""
    if figs is None or not m.gpus or m.state is not MachineState.RUNNING:
        return None
    return figs.node("", m.name)


def machine_gpu_why(figs: Figures, m: Machine) -> str:
    """Why a VM's detail pane has no GPU figure."""
    if m.state is not MachineState.RUNNING:
        return f"none while {m.state.value} (its DCGM series would be stale)"
    return figs.why_no_gpu(m.name)


def gpu_cells(fig: NodeGpuFigures | None) -> tuple[str, str]:
    if fig is None:
        return "-", "-"
    return marked(fmt_value(fig.util, "%"), fig.stale), marked(fmt_value(fig.memory, "%"), fig.stale)


def _stale(stale: bool) -> Content:
    return Content.from_markup(" [$warning]stale[/]") if stale else Content("")


def gpu_line(fig: NodeGpuFigures | None, why: str) -> Content:
    if fig is None:
        return Content.from_markup("[b]GPU use[/] [$muted]$w[/]", w=why)
    return Content.from_markup("[b]GPU use[/] $u util, $m memory [$muted]($n GPUs, $s)[/]",
                               u=fmt_value(fig.util, "%"), m=fmt_value(fig.memory, "%"), n=str(fig.gpus),
                               s=fig.source) + _stale(fig.stale)


def serving_cells(fig: WorkloadFigures | None) -> tuple[str, str]:
    if fig is None:
        return "-", "-"
    return marked(fmt_value(fig.rps, "req/s"), fig.stale), marked(fmt_value(fig.p95, "s"), fig.stale)


def serving_line(fig: WorkloadFigures | None, why: str) -> Content:
    if fig is None:
        return Content.from_markup("[b]traffic[/]   [$muted]$w[/]", w=why)
    return Content.from_markup("[b]traffic[/]   $r, p95 $p, errors $e [$muted]($s)[/]",
                               r=fmt_value(fig.rps, "req/s"), p=fmt_value(fig.p95, "s"),
                               e=fmt_value(fig.errors, "%"), s=fig.source) + _stale(fig.stale)
