"""Metrics: every panel as rows of one table, a row per series with its value now, its range over
the window and a sparkline. The local machine first (CPU, memory, and each NVIDIA GPU, or an
explicit "no NVIDIA driver"), then each Prometheus source's GPU panels (DCGM), serving panels
(requests/s, error rate, latency p50/p95/p99 per workload) and the config's own PromQL panels.

A sparkline is one string in one cell, so a refresh that moves a value rewrites a few bytes.
`w` and `t` choose the window and step, enter plots the series under the cursor at full size.
While this screen is up it refreshes the metrics sources on their own faster loop.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.css.query import NoMatches
from textual.timer import Timer

from cockpit import format as fmt
from cockpit import promql
from cockpit.freshness import STALE_MARK, Freshness, marked
from cockpit.model_metrics import LocalSnapshot, NvmlState, PanelSpec, PromSnapshot, Series
from cockpit.sparkline import bounds, plot, time_axis
from cockpit.state.metric_rows import LOCAL_SPECS, PanelRow, local_rows, prom_rows
from screens.detail_table import DetailTableScreen
from screens.widgets.dialogs import PickScreen, TextScreen
from screens.widgets.virtual_table import Column, Row, tag_style

COLUMNS = (
    Column("source", "SOURCE", min_width=5, max_width=10, priority=3),
    Column("panel", "PANEL", min_width=8, max_width=12, priority=0),
    Column("series", "SERIES", min_width=12, max_width=30, grow=True, priority=0),
    Column("now", "NOW", min_width=6, max_width=8, align="right", priority=0),
    Column("min", "MIN", min_width=6, max_width=8, align="right", priority=4),
    Column("max", "MAX", min_width=6, max_width=8, align="right", priority=4),
    Column("trend", "TREND", min_width=24, max_width=24, priority=2),
)
LEVEL_STYLE = {"warn": "vt--warn", "bad": "vt--bad"}
WINDOWS = (("300", "5m"), ("900", "15m"), ("3600", "1h"), ("10800", "3h"), ("21600", "6h"), ("86400", "24h"),
           ("604800", "7d"))
STEPS = (("0", "auto (about 60 points)"), ("5", "5s"), ("15", "15s"), ("30", "30s"), ("60", "1m"), ("300", "5m"),
         ("900", "15m"), ("3600", "1h"))
NO_PROMETHEUS = ("no Prometheus source: add [sources.prom] kind = \"prometheus\", url = \"http://...:9090\" to "
                 "config.toml for DCGM GPU and serving panels")


class MetricsScreen(DetailTableScreen):
    VIEW = "metrics"
    PREFIX = "metrics"
    COLUMNS = COLUMNS
    LOADING = "reading this machine and the metrics sources..."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="metrics.filter"),
        Binding("w", "window", "Window", id="metrics.window"),
        Binding("t", "step", "Step", id="metrics.step"),
        Binding("p", "plot", "Plot", id="metrics.plot"),
        Binding("d", "toggle_detail", "Detail", id="metrics.detail"),
    ]
    _timer: Timer | None = None
    _prom_cache: dict[str, tuple[object, list[Row]]]
    _detail_wanted = False
    """The sparklines are the point here: the detail pane waits for `d` (or a row's plot)."""

    def on_mount(self) -> None:
        self._prom_cache = {}
        super().on_mount()
        self.query_one("#detail").display = False

    # -- the faster loop while shown ---------------------------------------------------------
    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._timer is None:
            self._timer = self.set_interval(self.cockpit.metrics_refresh_s, self.cockpit.request_metrics_poll,
                                            name="metrics")

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # -- rows --------------------------------------------------------------------------------
    def inventory_changed(self) -> None:
        inv = self.cockpit.inventory
        colours = self.source_colours()
        rows: list[Row] = []
        for snap in inv.local.values():
            rows += self._rows(local_rows(snap, inv.local_history), colours)
        for psnap in inv.series.values():
            stale = self._freshness(psnap).stale
            cached = self._prom_cache.get(psnap.source)
            if cached is None or cached[0] != (psnap.panels, stale):  # the same answer: the same rows
                cached = self._prom_cache[psnap.source] = ((psnap.panels, stale),
                                                           self._rows(prom_rows(psnap), colours, stale))
            rows += cached[1]
        problems = [f"{src}: {e}" for src, e in sorted({**inv.metrics_errors, **inv.series_errors}.items())]
        sources = self.cockpit.hub.sources()
        has_series = any(s.kind == "prometheus" for s in sources)
        self.show_rows(rows, noun="metrics", configured=bool(sources and (has_series or any(
            s.kind == "local" for s in sources))), unconfigured=NO_PROMETHEUS, problems=problems,
            role="series" if has_series else "metrics")

    def _freshness(self, psnap: PromSnapshot) -> Freshness:
        """Judged against the faster loop's interval: while this screen is shown, that is the promise."""
        return self.cockpit.inventory.series_freshness(psnap.source, self.cockpit.hub.now(),
                                                        self.cockpit.metrics_refresh_s)

    def _rows(self, found: Iterable[PanelRow], colours: dict[str, str | None], stale: bool = False) -> list[Row]:
        out = []
        for key, cells, level in found:
            style = "vt--warn" if stale else LEVEL_STYLE.get(level or "")
            if stale:  # the NOW of a source that stopped answering is what it said last: marked
                cells = (*cells[:3], marked(cells[3], True), *cells[4:])
            out.append(Row(key, cells, tag_style(colours.get(cells[0])),
                           (None, None, None, style, None, None, style) if style else ()))
        return out

    def summary_text(self) -> str:
        inv = self.cockpit.inventory
        parts = []
        for s in inv.local.values():
            h = s.host
            gpus = (f"{fmt.plural(len(s.gpus), 'GPU')}, driver {s.driver_version}" + (f", CUDA {s.cuda_version}"
                                                                       if s.cuda_version else "")
                    if s.nvml is NvmlState.OK else s.nvml.value)
            parts.append(f"{h.hostname}: CPU {h.cpu_percent:.0f}% of {h.cpu_count}, load {h.load_1m:.2f} · {gpus}")
        for p in inv.series.values():
            gpus = len({(s.label(p.cluster_label), s.label(p.node_label), s.label("gpu"), s.label("GPU_I_ID"))
                        for r in p.panels if r.spec.kind == promql.GPU_KIND for s in r.series})
            workloads = len({s.labels for r in p.panels if r.spec.id == "rps" for s in r.series})
            fresh = self._freshness(p)
            line = (f"{p.source}: {fmt.plural(gpus, 'GPU')}, {fmt.plural(workloads, 'workload')} · "
                    f"window {fmt.duration(p.window_s)} "
                    f"step {fmt.duration(p.step_s)} · {fresh.describe()}")
            if fresh.stale:  # first, so a line cut at the screen's edge never hides it
                parts.insert(0, f"{STALE_MARK} STALE {line}")
            else:
                parts.append(line)
        if not any(s.kind == "prometheus" for s in self.cockpit.hub.sources()):
            parts.append("no Prometheus source (DCGM and serving panels need one)")
        return " · ".join(parts)

    # -- what the cursor is on ---------------------------------------------------------------
    def _find(self, key: Hashable) -> tuple[PanelSpec, str, Series | None, object] | None:
        """(panel, series name, Prometheus series or None, the snapshot) for a row key."""
        source, _, rest = str(key).partition("/")
        panel_id, _, name = rest.partition("/")
        inv = self.cockpit.inventory
        psnap = inv.series.get(source)
        if psnap is not None:
            result = psnap.panel(panel_id)
            if result is None:
                return None
            series = next((s for s in result.series if promql.legend(s, result.spec) == name), None)
            return result.spec, name, series, psnap
        lsnap = inv.local.get(source)
        spec = LOCAL_SPECS.get(panel_id)
        if lsnap is None or spec is None:
            return None
        return spec, name, None, lsnap

    def _values(self, found: tuple[PanelSpec, str, Series | None, object]) -> list[float]:
        spec, name, series, snap = found
        if series is not None:
            return list(series.values)
        if isinstance(snap, LocalSnapshot) and spec.id == "gpu_util":
            index = _local_gpu(name)
            return list(self.cockpit.inventory.local_history.get((snap.source, index), ())) if index >= 0 else []
        return []

    def detail_for(self, key: Hashable) -> Content | None:
        found = self._find(key)
        if found is None:
            return None
        spec, name, series, snap = found
        if isinstance(snap, LocalSnapshot):
            return self._local_detail(snap, spec, name)
        assert isinstance(snap, PromSnapshot)
        lines = [Content.from_markup("[b]$t[/] $n", t=spec.title, n=name),
                 Content.from_markup("[$muted]$q[/]", q=spec.query)]
        if series is None:
            result = snap.panel(spec.id)
            lines.append(Content(result.reason if result and result.reason else "no series"))
            return Content("\n").join(lines)
        lines += [Content(f"  {k}={v}") for k, v in series.labels]
        values = self._values(found)
        finite = [v for v in values if not math.isnan(v)]
        if finite:
            mean = sum(finite) / len(finite)
            lines.append(Content(f"now {promql.fmt_value(series.last, spec.unit)}  mean "
                                 f"{promql.fmt_value(mean, spec.unit)}  over {fmt.duration(snap.window_s)}, "
                                 f"{len(values)} points at {fmt.duration(snap.step_s)}"))
        limits = [f"{w} {promql.fmt_value(v, spec.unit)}" for w, v in (("warn", spec.warn), ("crit", spec.crit))
                  if v is not None]
        if limits:
            lines.append(Content("thresholds: " + ", ".join(limits) + (" (lower is worse)" if spec.lower_is_worse
                                                                         else "")))
        lo, hi = bounds(values, spec.unit)
        width, label = self._pane_width(), _axis_label(spec.unit, hi)
        chart = plot(values, width, 6, lo, hi, label) + time_axis(width, label.format(hi), snap.window_s, fmt.duration)
        lines += [Content(line) for line in chart]
        lines.append(Content.from_markup("[$muted]enter or p: a larger plot[/]"))
        return Content("\n").join(lines)

    def _local_detail(self, snap: LocalSnapshot, spec: PanelSpec, name: str) -> Content:
        h = snap.host
        lines = [Content.from_markup("[b]$t[/] $n", t=spec.title, n=name),
                 Content(f"{h.hostname}: CPU {h.cpu_percent:.0f}% of {h.cpu_count}, load {h.load_1m:.2f}, memory "
                         f"{h.memory_used_mib / 1024:.1f}/{h.memory_total_mib / 1024:.1f}G")]
        if snap.nvml is not NvmlState.OK:
            lines.append(Content(f"{snap.nvml.value}: {snap.nvml_reason}"))
            return Content("\n").join(lines)
        g = next((g for g in snap.gpus if g.index == _local_gpu(name)), None)
        if g is None:
            return Content("\n").join(lines)
        lines += [Content(g.uuid), Content(f"PCI {g.pci_bus_id or '-'}   MIG {'on' if g.mig_mode else 'off'}"),
                  Content(f"util {'-' if g.utilization is None else f'{g.utilization:.0f}%'}   "
                          f"memory {g.memory_used_mib}/{g.memory_total_mib} MiB"),
                  Content.from_markup("[b]Processes[/] ($n)", n=str(len(g.processes)))]
        lines += [Content(f"  {p.pid:>7} {p.name:<18} {'-' if p.used_mib is None else f'{p.used_mib} MiB'}")
                  for p in g.processes] or [Content("  none")]
        return Content("\n").join(lines)

    def _pane_width(self) -> int:
        """The detail pane's text width, so the mini plot never wraps (it was drawn 44 wide into a
        pane with 41 columns of room at 120x40)."""
        try:
            pane = self.query_one("#detail")
        except NoMatches:  # not composed yet
            return 40
        return max(24, pane.content_region.width - 1 if pane.content_region.width else 40)

    # -- actions -----------------------------------------------------------------------------
    def on_virtual_table_selected(self, _event: object) -> None:
        self.action_plot()

    def action_plot(self) -> None:
        key = self.table.cursor_key
        found = self._find(key) if key is not None else None
        if found is None:
            self.notify("no series under the cursor", severity="warning")
            return
        values = self._values(found)
        spec, name = found[0], found[1]
        if not values:
            self.notify(f"{spec.title} {name}: no history to plot", severity="warning")
            return
        # the text dialog is 90% of the screen, at most 100 wide, less its border, padding and scrollbar
        width = max(30, min(100, self.size.width * 9 // 10) - 5)
        height = max(6, self.size.height - 16)
        lo, hi = bounds(values, spec.unit)
        snap = found[3]
        label = _axis_label(spec.unit, hi)
        lines = plot(values, width, height, lo, hi, label)
        if isinstance(snap, PromSnapshot):
            span = f"last {fmt.duration(snap.window_s)}, step {fmt.duration(snap.step_s)}"
            lines += time_axis(width, label.format(hi), snap.window_s, fmt.duration)
        else:
            span = f"last {len(values)} refreshes"
        text = "\n".join([*lines, f"{span} · now {promql.fmt_value(values[-1], spec.unit)}"])
        self.app.push_screen(TextScreen(f"{spec.title} · {name}", text))

    def action_window(self) -> None:
        current = str(int(self.cockpit.metrics_window or 3600))
        options = list(WINDOWS)
        highlight = next((i for i, (v, _) in enumerate(options) if v == current), 2)

        def picked(value: str | None) -> None:
            if value:
                self.cockpit.metrics_window = float(value)
                self.cockpit.metrics_step = None
                self.cockpit.request_metrics_poll()

        self.app.push_screen(PickScreen("Time window", "enter picks, esc cancels", options, highlight), picked)

    def action_step(self) -> None:
        def picked(value: str | None) -> None:
            if value is not None:
                self.cockpit.metrics_step = float(value) or None
                self.cockpit.request_metrics_poll()

        self.app.push_screen(PickScreen("Step (resolution)", "enter picks, esc cancels", list(STEPS)), picked)


def _local_gpu(name: str) -> int:
    """The GPU index in a local row's series name, `HOST/gpu3 NAME` (-1 for the host rows)."""
    index = name.partition("/gpu")[2].split(" ", 1)[0]
    return int(index) if index.isdigit() else -1


def _axis_label(unit: str, hi: float) -> str:
    if unit == "s":
        return "{:.3f}s" if hi < 1 else "{:.1f}s"
    return "{:.0f}" + (unit if unit in ("%", "W", "C") else "") if hi >= 10 else "{:.2f}"

