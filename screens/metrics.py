"""Metrics: the local machine's truth first (host CPU and memory; every NVIDIA GPU with its
utilisation, memory, power, temperature and processes, or an explicit "no NVIDIA driver").
Prometheus panels (DCGM, latency, throughput) are the rest of the metrics work and say so."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content

from cockpit.commands.metrics import gpu_cells
from cockpit.model_metrics import NvmlState
from screens.detail_table import DetailTableScreen
from screens.widgets.virtual_table import Column, Row


def _util_style(value: str) -> str | None:
    try:
        pct = float(value.rstrip("%"))
    except ValueError:
        return None
    return "vt--good" if pct >= 50 else ("vt--warn" if pct >= 5 else "vt--dim")


COLUMNS = (
    Column("source", "SOURCE", min_width=5, max_width=10, priority=4),
    Column("host", "HOST", min_width=4, max_width=16, priority=3),
    Column("gpu", "GPU", min_width=3, max_width=3, align="right", priority=0),
    Column("name", "NAME", min_width=8, max_width=26, priority=1),
    Column("util", "UTIL", min_width=4, max_width=5, align="right", priority=0, style=_util_style),
    Column("memory", "MEMORY", min_width=9, max_width=13, align="right", priority=0),
    Column("power", "POWER", min_width=5, max_width=11, align="right", priority=2),
    Column("temp", "TEMP", min_width=4, max_width=5, align="right", priority=2),
    Column("procs", "PROCS", min_width=5, max_width=5, align="right", priority=1),
    Column("top", "TOP PROCESSES", min_width=8, max_width=60, grow=True, priority=5),
)


class MetricsScreen(DetailTableScreen):
    VIEW = "metrics"
    PREFIX = "metrics"
    COLUMNS = COLUMNS
    LOADING = "reading this machine..."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="metrics.filter"),
        Binding("d", "toggle_detail", "Detail", id="metrics.detail"),
    ]

    def inventory_changed(self) -> None:
        inv = self.cockpit.inventory
        rows = [Row(f"{s.source}/{g.index}", gpu_cells(s.source, s.host.hostname, g)) for s in inv.local.values()
                for g in s.gpus]
        problems = [f"{s.source} ({s.host.hostname}): {s.nvml.value}: {s.nvml_reason}" for s in inv.local.values()
                    if s.nvml is not NvmlState.OK]
        problems += [f"{src}: {e}" for src, e in sorted(inv.metrics_errors.items())]
        self.show_rows(rows, noun="GPUs", configured=any(s.kind == "local" for s in self.cockpit.hub.sources()),
                       unconfigured="the local machine is left out (local_machine = false in config.toml)",
                       problems=problems, role="metrics")

    def summary_text(self) -> str:
        inv = self.cockpit.inventory
        parts = []
        for s in inv.local.values():
            h = s.host
            gpus = f"{len(s.gpus)} GPUs, driver {s.driver_version}" + (f", CUDA {s.cuda_version}" if s.cuda_version
                                                                          else "") if s.nvml is NvmlState.OK \
                else s.nvml.value
            parts.append(f"{h.hostname}: CPU {h.cpu_percent:.0f}% of {h.cpu_count}, load {h.load_1m:.2f}, "
                         f"memory {h.memory_used_mib / 1024:.1f}/{h.memory_total_mib / 1024:.1f}G · {gpus}")
        parts.append("Prometheus panels (DCGM, latency, throughput): not in this build yet")
        return " · ".join(parts)

    def detail_for(self, key: Hashable) -> Content | None:
        source, _, index = str(key).partition("/")
        snap = self.cockpit.inventory.local.get(source)
        g = next((g for g in snap.gpus if str(g.index) == index), None) if snap else None
        if g is None:
            return None
        lines = [Content.from_markup("[b]GPU $i[/] $n", i=str(g.index), n=g.name), Content(g.uuid),
                 Content(f"PCI {g.pci_bus_id or '-'}   MIG {'on' if g.mig_mode else 'off'}"),
                 Content(f"util {'-' if g.utilization is None else f'{g.utilization:.0f}%'}   "
                         f"memory {g.memory_used_mib}/{g.memory_total_mib} MiB"),
                 Content.from_markup("[b]Processes[/] ($n)", n=str(len(g.processes)))]
        lines += [Content(f"  {p.pid:>7} {p.name:<18} {'-' if p.used_mib is None else f'{p.used_mib} MiB'}")
                  for p in g.processes] or [Content("  none")]
        return Content("\n").join(lines)
